/**
 * @module
 * Errors as values with a status, turned into responses at one edge (`http/app.ts`'s `errorResponse`).
 *
 * On `/bedrock/*` the wire format is Bedrock's: an `x-amzn-ErrorType` header plus a JSON `message`, so
 * boto3 and the AWS SDKs raise the typed exception (`ThrottlingException`, …). LiteLLM's
 * `error: {message, type, code}` object rides along for clients that read LiteLLM's shape.
 * Admin routes answer LiteLLM's shape `{"error": {"message", "type", "param", "code"}}`.
 */

/** Bedrock's fault suffix on `x-amzn-ErrorType`; SDKs cut at the first `:`, so the type name is what counts. */
const ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/";

import type { Caller } from "./call_record.ts";

export interface GatewayErrorOptions {
  /** LiteLLM's error `type` (e.g. `budget_exceeded`); defaults to the Bedrock type. */
  litellmType?: string;
  /**
   * Why the gateway refused the request, when the status alone does not say (`rpm`, `tpm`, `parallel`,
   * `budget_held`, `unpriced`, `spend_unwritable`, …): the `reason` of the refusal's log line and counter.
   */
  reason?: string;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  /** The offending field, for admin errors. */
  param?: string;
}

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    /** A Bedrock exception name, e.g. `ValidationException`. */
    readonly type: string,
    message: string,
    readonly options: GatewayErrorOptions = {},
  ) {
    super(message);
    this.name = "GatewayError";
  }

  /** Who was refused (key alias and hash, never the key), where it is known: for the refusal's log line. */
  caller?: Caller;
  /** The error ended a call that settlement recorded (its call line logs it); not a refusal. */
  settled = false;
}

export const validation = (message: string, param?: string) =>
  new GatewayError(400, "ValidationException", message, { litellmType: "bad_request_error", param });

/** A refused request as the error edge (`http/app.ts`) reports it: logged and counted (`spend/refusals.ts`). */
export interface Refusal {
  requestId: string;
  method: string;
  /** The route pattern (`/key/{key}/regenerate`), never the path: a path may hold a raw key. */
  route: string;
  status: number;
  /** {@link refusalReason}. */
  reason: string;
  /** The error's Bedrock type (`ThrottlingException`, …). */
  errorType: string;
  /** The error's message, as the client got it (it names no secret). */
  message: string;
  /** Who was refused, when known: key alias and hash, never the key. */
  caller?: Caller;
  /** The model the request named (`/bedrock/model/{model}/…`). */
  model?: string;
  clientIp?: string;
  userAgent?: string;
  /** A `/bedrock/*` route: counted in LiteLLM's proxy request metrics too. */
  bedrock: boolean;
  /** It ended a call settlement recorded (counted there already). */
  settled: boolean;
}

/**
 * Why the gateway refused a request, for its log line and the `gateway_refused_requests_total{reason}` counter: the
 * error's own `reason`, else what its status and LiteLLM type say. Undefined when it is not a refusal: an upstream's
 * failure, a timeout, an internal error, or an error that ended a call settlement already recorded (unless it names a
 * reason of its own, as the refusal to call an unpriced deployment does).
 */
export function refusalReason(err: GatewayError): string | undefined {
  if (err.options.reason) return err.options.reason;
  if (err.settled) return undefined;
  const type = err.options.litellmType;
  switch (err.status) {
    case 400:
      return type === "budget_exceeded" ? "budget" : "validation";
    case 401:
      return "auth";
    case 403:
      if (type === "key_model_access_denied") return "model_not_allowed";
      return type === "key_route_access_denied" ? "route_not_allowed" : "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "too_large";
    case 429:
      return "rate_limit";
    case 503:
      return "unavailable";
  }
  return undefined;
}

/** A Bedrock-format error response. */
export function bedrockErrorResponse(err: GatewayError, requestId: string): Response {
  const body = {
    message: err.message,
    error: { message: err.message, type: err.options.litellmType ?? err.type, code: String(err.status) },
  };
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-amzn-errortype": err.type + ERROR_TYPE_SUFFIX,
    "x-amzn-requestid": requestId,
  };
  if (err.options.retryAfter !== undefined) headers["retry-after"] = String(Math.ceil(err.options.retryAfter));
  return new Response(JSON.stringify(body), { status: err.status, headers });
}

/** A LiteLLM-format error response, for admin routes. */
export function litellmErrorResponse(err: GatewayError, requestId: string): Response {
  const body = {
    error: {
      message: err.message,
      type: err.options.litellmType ?? err.type,
      param: err.options.param ?? null,
      code: String(err.status),
    },
  };
  const headers: Record<string, string> = { "content-type": "application/json", "x-litellm-call-id": requestId };
  if (err.options.retryAfter !== undefined) headers["retry-after"] = String(Math.ceil(err.options.retryAfter));
  return new Response(JSON.stringify(body), { status: err.status, headers });
}
