/**
 * The tool table: every tool the server offers, in the order `tools/list` shows them (read tools
 * first). Adding a tool is adding a row here.
 */
import type { FileCache } from "../../services/FileCache.js"
import type { GroundTruths } from "../../services/GroundTruths.js"
import type { Models } from "../../services/Models.js"
import type { SynapseClient } from "../../services/SynapseClient.js"
import type { Backend } from "../Backend.js"
import type { McpConfig } from "../Config.js"
import type { AnyTool } from "../Tool.js"
import { getContext } from "./Context.js"
import { exportGroundTruthTool, prepareTrainingDataTool, validateCoco } from "./Datasets.js"
import {
  getGroundTruthVersion,
  listGroundTruthEvents,
  listGroundTruths,
  listGroundTruthVersions
} from "./GroundTruth.js"
import { jobTools } from "./Jobs.js"
import { getModel, listModels } from "./Models.js"
import { analyzeModelPerformance, compareModelsTool, createModel } from "./ModelWorkflows.js"
import { findModelErrorsTool } from "./Evaluation.js"
import { deployModelTool, updateModel } from "./Serving.js"

/** What the tools need from the application. */
export type ToolRequirements = Models | GroundTruths | FileCache | SynapseClient | McpConfig | Backend

/** Every tool, read and write; the server drops write tools in read-only mode. */
export const allTools: ReadonlyArray<AnyTool<ToolRequirements>> = [
  getContext,
  listModels,
  getModel,
  listGroundTruthEvents,
  listGroundTruths,
  listGroundTruthVersions,
  getGroundTruthVersion,
  analyzeModelPerformance,
  compareModelsTool,
  findModelErrorsTool,
  validateCoco,
  createModel,
  updateModel,
  exportGroundTruthTool,
  prepareTrainingDataTool,
  deployModelTool,
  ...jobTools
]
