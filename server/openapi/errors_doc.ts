/**
 * @module
 * What each error status means on each wire format, for the reusable error responses in `openapi.yaml`. The
 * Bedrock exception names are the ones `server/core/errors.ts` and Bedrock itself put in `x-amzn-ErrorType`.
 */
import type { ErrorFormat } from "../api/route.ts";

/** Per status: the exception types (Bedrock format) and when they happen. */
const BEDROCK: Readonly<Record<number, string>> = {
  400: "`ValidationException`: malformed JSON, not a Converse request, unknown model; also relayed from Bedrock.",
  401: "`UnrecognizedClientException`: missing or invalid gateway key.",
  403: "`AccessDeniedException`: the key may not call this model (`error.type`: `key_model_access_denied`), or " +
    "Bedrock denied the gateway's credentials.",
  404: "`ResourceNotFoundException` from Bedrock, or `UnknownOperationException` for a route the gateway does not " +
    "serve.",
  405: "`UnknownOperationException`: wrong HTTP method.",
  408: "`ModelTimeoutException` from Bedrock.",
  413: "`ValidationException`: the body is over the gateway's `max_request_body_bytes`.",
  424: "`ModelErrorException` from Bedrock (`originalStatusCode`, `resourceName` in the body).",
  429: "`ThrottlingException` or `ModelNotReadyException`: slow down; `Retry-After` says for how long when known.",
  500: "`InternalServerException`.",
  502: "`ServiceUnavailableException`: Bedrock was unreachable or its answer was cut off.",
  503: "`ServiceUnavailableException`: no deployment available (e.g. unset credentials), or relayed from Bedrock.",
  504: "`ServiceUnavailableException`: Bedrock did not answer within the deployment's timeout.",
};

const LITELLM: Readonly<Record<number, string>> = {
  400: "Bad request (`bad_request_error`) or over budget (`budget_exceeded`).",
  401: "Missing or invalid key (`auth_error`).",
  403: "The key may not use this route.",
  404: "Not found (`not_found_error`).",
  429: "Rate limited; `Retry-After` says for how long when known.",
  500: "Internal error.",
  503: "Unavailable.",
};

/** A description of `status` on `format`, or a generic one for statuses without a specific meaning. */
export function errorDescription(format: ErrorFormat, status: number): string {
  const table = format === "bedrock" ? BEDROCK : LITELLM;
  return table[status] ?? `Error (HTTP ${status}).`;
}
