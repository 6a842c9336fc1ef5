/**
 * @module
 * Zod schemas of the error bodies `errors.ts` writes, for `openapi.yaml` and the SDK's types: LiteLLM's
 * `{"error": {message, type, param, code}}` on admin routes, and Bedrock's `{"message"}` plus LiteLLM's `error`
 * object on `/bedrock/*`.
 */
import { z } from "zod";
import { BedrockErrorBody } from "../bedrock/schemas.ts";

/** LiteLLM's error object. */
export const LiteLLMError = z.looseObject({
  message: z.string(),
  type: z.string().meta({
    description: "LiteLLM error type, e.g. `auth_error`, `budget_exceeded`, `bad_request_error`.",
    examples: ["auth_error", "budget_exceeded", "bad_request_error", "key_model_access_denied", "not_found_error"],
  }),
  param: z.string().nullable().optional().meta({ description: "The offending field, when there is one." }),
  code: z.string().meta({ description: "The HTTP status, as a string." }),
}).meta({ id: "LiteLLMError" });
export type LiteLLMError = z.infer<typeof LiteLLMError>;

/** Error body on admin and health routes. */
export const LiteLLMErrorBody = z.looseObject({ error: LiteLLMError }).meta({ id: "LiteLLMErrorBody" });
export type LiteLLMErrorBody = z.infer<typeof LiteLLMErrorBody>;

/**
 * Error body on `/bedrock/*`: what Bedrock sends (the type travels in `x-amzn-ErrorType`), plus LiteLLM's `error`
 * object on errors the gateway itself raises.
 */
export const GatewayBedrockErrorBody = BedrockErrorBody.extend({ error: LiteLLMError.optional() }).meta({
  id: "GatewayBedrockErrorBody",
});
export type GatewayBedrockErrorBody = z.infer<typeof GatewayBedrockErrorBody>;
