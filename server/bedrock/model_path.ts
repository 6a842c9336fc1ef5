/**
 * @module
 * Parsing `/bedrock/model/{modelId}/{operation}`.
 *
 * boto3 and the AWS SDKs percent-encode the model id as one segment (`%3A`, `%2F`), while
 * `@anthropic-ai/bedrock-sdk` sends it unencoded (`us.anthropic…-v1:0`, ARNs with a literal `/`). Both
 * must resolve to the same name, so the operation is taken from the LAST segment and the rest is the id,
 * decoded exactly once.
 */
import { validation } from "../core/errors.ts";

/** Bedrock operations on `/model/{modelId}/…`. */
export type ModelOperation = "converse" | "converse-stream" | "invoke" | "invoke-with-response-stream" | "count-tokens";

const OPERATIONS: Record<string, ModelOperation> = {
  "converse": "converse",
  "converse-stream": "converse-stream",
  "invoke": "invoke",
  "invoke-with-response-stream": "invoke-with-response-stream",
  "count-tokens": "count-tokens",
  // LiteLLM's issue #14478: some clients send the underscore form.
  "count_tokens": "count-tokens",
};

export interface ModelPath {
  modelName: string;
  operation: ModelOperation;
}

/**
 * `rest` is the raw (still encoded) path after `/bedrock/model/`. Returns undefined when the operation is not
 * a model operation (the caller answers 404); throws a ValidationException for an undecodable id.
 */
export function parseModelPath(rest: string): ModelPath | undefined {
  const slash = rest.lastIndexOf("/");
  if (slash <= 0) return undefined;
  const operation = OPERATIONS[rest.slice(slash + 1)];
  if (!operation) return undefined;
  const encoded = rest.slice(0, slash);
  // Most names have nothing encoded: nothing to decode.
  if (!encoded.includes("%")) return { modelName: encoded, operation };
  let modelName: string;
  try {
    modelName = decodeURIComponent(encoded);
  } catch {
    throw validation("model id in the path is not valid percent-encoding");
  }
  return { modelName, operation };
}
