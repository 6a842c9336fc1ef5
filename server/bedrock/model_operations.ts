/** @module The model operations by path name, each with what makes it different (see `operation.ts`). */
import { converseOperation } from "./converse_op.ts";
import { countTokensOperation } from "./count_tokens_op.ts";
import { invokeOperation } from "./invoke_op.ts";
import type { ModelOperationSpec } from "./operation.ts";
import type { ModelOperation } from "./model_path.ts";

export const MODEL_OPERATIONS: Readonly<Record<ModelOperation, ModelOperationSpec>> = {
  "converse": converseOperation(false),
  "converse-stream": converseOperation(true),
  "invoke": invokeOperation(false),
  "invoke-with-response-stream": invokeOperation(true),
  "count-tokens": countTokensOperation,
};
