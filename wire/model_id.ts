/**
 * @module
 * A model id (or any Bedrock path label: a guardrail ARN, a session id) as one percent-encoded path segment, the way
 * boto3 and the AWS SDKs send it, so an ARN's `:` and `/` never split the path. The SDK builds its request paths with
 * it and the gateway its upstream paths; no imports, so both can share it.
 *
 * @example
 * ```ts
 * import { encodeModelId } from "./model_id.ts";
 *
 * encodeModelId("us.anthropic.claude-3-5-haiku-20241022-v1:0"); // "us.anthropic.claude-3-5-haiku-20241022-v1%3A0"
 * encodeModelId("it's(a)*test!"); // "it%27s%28a%29%2Atest%21"
 * ```
 */

/** `encodeURIComponent` plus `!'()*`, as the AWS SDKs encode a path label: `:` → `%3A`, `/` → `%2F`. */
export function encodeModelId(modelId: string): string {
  return encodeURIComponent(modelId).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
