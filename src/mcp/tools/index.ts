/**
 * The tool table: every tool the server offers, in the order `tools/list` shows them (read tools
 * first). Adding a tool is adding a row here and naming its toolset in the tool itself.
 *
 * Toolsets (`--toolsets` / `SYNAPSE_MCP_TOOLSETS`; `context` is always offered):
 * | toolset    | tools                                                                                |
 * |------------|--------------------------------------------------------------------------------------|
 * | context    | get_context                                                                          |
 * | models     | list_models, get_model, create_model, update_model                                   |
 * | datasets   | list_ground_truth_events, list_ground_truths, list_ground_truth_versions,            |
 * |            | get_ground_truth_version, validate_coco, export_ground_truth, prepare_training_data  |
 * | evaluation | analyze_model_performance, compare_models, find_model_errors                         |
 * | deploy     | deploy_model                                                                         |
 * | jobs       | start_job, job                                                                       |
 *
 * Read-only mode drops the write tools except deploy_model and prepare_training_data, which there
 * only plan. The tool-list test checks this table against the tools.
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
import { findModelErrorsTool } from "./Evaluation.js"
import {
  getGroundTruthVersion,
  listGroundTruthEvents,
  listGroundTruths,
  listGroundTruthVersions
} from "./GroundTruth.js"
import { jobTools } from "./Jobs.js"
import { getModel, listModels } from "./Models.js"
import { analyzeModelPerformance, compareModelsTool, createModel } from "./ModelWorkflows.js"
import { deployModelTool, updateModel } from "./Serving.js"

/** What the tools need from the application. */
export type ToolRequirements = Models | GroundTruths | FileCache | SynapseClient | McpConfig | Backend

/** Every tool, read and write; the server offers the selected ones (`selectTools` in ToolList.ts). */
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
