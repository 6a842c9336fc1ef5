/**
 * @module
 * Typed errors: one class per Bedrock exception name (what `x-amzn-ErrorType` or an in-stream exception frame
 * names), the gateway's own `AuthenticationError` and `BudgetExceededError`, all extending {@link ConverseError}
 * with `status`, `requestId`, `message` and `retryAfter`.
 *
 * @example
 * ```ts
 * import { createClient, ThrottlingException } from "./mod.ts";
 *
 * const client = createClient({ baseURL: "http://localhost:4000", apiKey: "sk-1234" });
 * try {
 *   await client.converse("claude", { messages: [{ role: "user", content: [{ text: "Hi" }] }] });
 * } catch (e) {
 *   if (e instanceof ThrottlingException) console.log(`retry in ${e.retryAfter ?? 1} s`);
 *   else throw e;
 * }
 * ```
 */

/** What an error knows besides its message. */
export interface ConverseErrorInit {
  /**
   * HTTP status; for an exception inside a stream, the status Bedrock gives that exception (429 for throttling);
   * 0 when no response arrived ({@link ConnectionError}).
   */
  status: number;
  /** The wire type: a Bedrock exception name (`ThrottlingException`) or LiteLLM's `error.type`. */
  type: string;
  requestId?: string;
  /** Seconds to wait before retrying, from `Retry-After`. */
  retryAfter?: number;
  /** The parsed error body (or exception payload). */
  body?: unknown;
  /** The underlying error (the `fetch` failure of a {@link ConnectionError}). */
  cause?: unknown;
}

/** Base class of every error the gateway answers with, and of the client's own {@link ConnectionError}. */
export class ConverseError extends Error {
  override name: string = "ConverseError";
  /** HTTP status; for an exception inside a stream, the status Bedrock gives that exception; 0 without a response. */
  readonly status: number;
  /** Bedrock exception name (`x-amzn-ErrorType`, `:exception-type`) or LiteLLM's `error.type`. */
  readonly type: string;
  /** `x-amzn-RequestId` of the failed call: quote it when reporting a problem. */
  readonly requestId?: string;
  /** Seconds to wait before retrying, when the gateway said (`Retry-After`). */
  readonly retryAfter?: number;
  /** The parsed error body (or exception payload). */
  readonly body?: unknown;

  constructor(message: string, init: ConverseErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.type = init.type;
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
    this.body = init.body;
  }
}

/** The input failed validation (400), or the body was too large (413). */
export class ValidationException extends ConverseError {
  override readonly name = "ValidationException";
}
/** The key may not call this model (403), or Bedrock denied the gateway. */
export class AccessDeniedException extends ConverseError {
  override readonly name = "AccessDeniedException";
}
/** Bedrock could not find the model or resource (404). */
export class ResourceNotFoundException extends ConverseError {
  override readonly name = "ResourceNotFoundException";
}
/** The model took too long (408). */
export class ModelTimeoutException extends ConverseError {
  override readonly name = "ModelTimeoutException";
}
/** The model failed (424); `originalStatusCode` and `resourceName` are in `body`. */
export class ModelErrorException extends ConverseError {
  override readonly name = "ModelErrorException";
}
/** Too many requests (429): wait `retryAfter` seconds when given. */
export class ThrottlingException extends ConverseError {
  override readonly name = "ThrottlingException";
}
/** The model is not ready yet (429). */
export class ModelNotReadyException extends ConverseError {
  override readonly name = "ModelNotReadyException";
}
/** Internal error (500). */
export class InternalServerException extends ConverseError {
  override readonly name = "InternalServerException";
}
/** Bedrock or the gateway's upstream is unavailable, unreachable or timed out (502, 503, 504). */
export class ServiceUnavailableException extends ConverseError {
  override readonly name = "ServiceUnavailableException";
}
/** A quota is exhausted (400): an AWS account quota, or a gateway key's budget ({@link BudgetExceededError}). */
export class ServiceQuotaExceededException extends ConverseError {
  override readonly name: "ServiceQuotaExceededException" | "BudgetExceededError" = "ServiceQuotaExceededException";
}
/** A conflicting request (400). */
export class ConflictException extends ConverseError {
  override readonly name = "ConflictException";
}
/** The model failed mid-stream (424); `originalStatusCode` and `originalMessage` are in `body`. */
export class ModelStreamErrorException extends ConverseError {
  override readonly name = "ModelStreamErrorException";
}
/** No route for this path or method (404, 405). */
export class UnknownOperationException extends ConverseError {
  override readonly name = "UnknownOperationException";
}
/** The key is missing or invalid (401), on any route. */
export class AuthenticationError extends ConverseError {
  override readonly name: "AuthenticationError" | "UnrecognizedClientException" = "AuthenticationError";
}
/** Bedrock's name for a missing or invalid key (401 on `/bedrock/*`); also an {@link AuthenticationError}. */
export class UnrecognizedClientException extends AuthenticationError {
  override readonly name = "UnrecognizedClientException";
}
/**
 * The key (or its user or team) is over budget: LiteLLM's `budget_exceeded` in the body, whatever the HTTP status
 * and `x-amzn-ErrorType`. Not a throttle: retrying does not help until the budget is raised or its window resets.
 * Also a {@link ServiceQuotaExceededException}, the class the AWS SDKs raise for it.
 */
export class BudgetExceededError extends ServiceQuotaExceededException {
  override readonly name = "BudgetExceededError";
}
/** A stream ended cleanly but before `messageStop`, so there is no complete message to collect. */
export class IncompleteStreamError extends ConverseError {
  override readonly name = "IncompleteStreamError";
}

/**
 * No answer from the gateway: the connection failed (refused, reset, DNS, TLS, CORS) or broke while the answer
 * was read. `cause` holds what `fetch` threw; `status` is 0. Retried (see `maxRetries`), like a 5xx.
 */
export class ConnectionError extends ConverseError {
  override readonly name: "ConnectionError" | "TimeoutError" = "ConnectionError";
}
/**
 * The client's `timeoutMs` ran out before the answer (for a stream: before its headers). Retried like any
 * {@link ConnectionError}. An abort by the caller's own signal is never turned into this: it throws the signal's
 * reason unchanged.
 */
export class TimeoutError extends ConnectionError {
  override readonly name = "TimeoutError";
}

type ErrorClass = new (message: string, init: ConverseErrorInit) => ConverseError;

/** Wire type name → class, and the status an in-stream exception of that type stands for. */
const BY_TYPE: Record<string, [ErrorClass, number]> = {
  ValidationException: [ValidationException, 400],
  AccessDeniedException: [AccessDeniedException, 403],
  ResourceNotFoundException: [ResourceNotFoundException, 404],
  ModelTimeoutException: [ModelTimeoutException, 408],
  ModelErrorException: [ModelErrorException, 424],
  ThrottlingException: [ThrottlingException, 429],
  ModelNotReadyException: [ModelNotReadyException, 429],
  InternalServerException: [InternalServerException, 500],
  ServiceUnavailableException: [ServiceUnavailableException, 503],
  ServiceQuotaExceededException: [ServiceQuotaExceededException, 400],
  ConflictException: [ConflictException, 400],
  ModelStreamErrorException: [ModelStreamErrorException, 424],
  UnknownOperationException: [UnknownOperationException, 404],
  UnrecognizedClientException: [UnrecognizedClientException, 401],
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** LiteLLM error types (admin routes carry no Bedrock name) → the class of the same meaning. */
const BY_LITELLM_TYPE: Record<string, ErrorClass> = {
  budget_exceeded: BudgetExceededError,
  auth_error: AuthenticationError,
  bad_request_error: ValidationException,
  not_found_error: ResourceNotFoundException,
};

/** Picks the class for a wire type; the LiteLLM type wins for budget errors, whatever Bedrock type they carry. */
function classify(type: string, status: number, litellmType: string | undefined): ErrorClass {
  if (litellmType === "budget_exceeded") return BudgetExceededError;
  if (Object.hasOwn(BY_TYPE, type)) return BY_TYPE[type][0];
  if (litellmType !== undefined && Object.hasOwn(BY_LITELLM_TYPE, litellmType)) return BY_LITELLM_TYPE[litellmType];
  return status === 401 ? AuthenticationError : ConverseError;
}

/** `Retry-After` as seconds: a number of seconds or an HTTP date. */
function retryAfterSeconds(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** The request id of a response: Bedrock's header, else the gateway's own. */
export function requestIdOf(headers: Headers): string | undefined {
  return headers.get("x-amzn-requestid") ?? headers.get("x-amz-request-id") ?? headers.get("x-litellm-call-id") ??
    undefined;
}

/**
 * The typed error for a non-2xx response, in either wire format: Bedrock's (`x-amzn-ErrorType` + `{message}`)
 * or LiteLLM's (`{error: {message, type, code}}`). Reads (and so consumes) the body.
 */
export async function errorFromResponse(res: Response): Promise<ConverseError> {
  const text = await res.text().catch(() => "");
  let body: unknown = text || undefined;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's HTML page, say): keep the text as the body.
  }
  const fields = isObject(body) ? body : {};
  const litellm = isObject(fields.error) ? fields.error : {};
  // Like the AWS SDKs: `Type:fault-uri` or `Type,…` in the header, else a body `__type` (`ns#Type`).
  const wireType = str(res.headers.get("x-amzn-errortype")?.split(/[:,]/)[0]) ??
    str(str(fields.__type)?.split("#").pop()) ?? str(litellm.type) ?? `HTTP${res.status}`;
  const message = str(fields.message) ?? str(fields.Message) ?? str(litellm.message) ??
    (text.slice(0, 500) || `HTTP ${res.status}`);
  const Class = classify(wireType, res.status, str(litellm.type));
  return new Class(message, {
    status: res.status,
    type: wireType,
    requestId: requestIdOf(res.headers),
    retryAfter: retryAfterSeconds(res.headers.get("retry-after")),
    body,
  });
}

/**
 * The typed error for an exception frame inside a stream (`:exception-type: throttlingException`) or an
 * unmodeled `:message-type: error` frame.
 * @param memberName the stream union member (lowerCamel) or error code
 * @param payload the frame's parsed payload
 * @param requestId the stream response's request id
 */
export function errorFromException(memberName: string, payload: unknown, requestId?: string): ConverseError {
  const type = memberName.charAt(0).toUpperCase() + memberName.slice(1);
  const fields = isObject(payload) ? payload : {};
  const entry = Object.hasOwn(BY_TYPE, type) ? BY_TYPE[type] : undefined;
  const Class = classify(type, entry?.[1] ?? 500, undefined);
  return new Class(str(fields.message) ?? str(fields.Message) ?? type, {
    status: entry?.[1] ?? 500,
    type,
    requestId,
    body: payload,
  });
}
