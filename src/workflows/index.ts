/**
 * The `Workflows` namespace: programs composed from the SDK services. Each workflow module adds
 * its line here; `src/index.ts` re-exports this module as `Workflows` (and the COCO validator as
 * `Coco`).
 */
export * from "./Analyze.js"
export * from "./ClassificationMetrics.js"
export * from "./Compare.js"
export * from "./Deploy.js"
export * from "./DetectionMetrics.js"
export * from "./ErrorAnalysis.js"
export * from "./Export.js"
export * from "./GroundTruthSummary.js"
export * from "./Manifest.js"
export * from "./ModelErrors.js"
export * from "./Predictions.js"
export * from "./report/Report.js"
export * from "./Scoring.js"
export * from "./Split.js"
