/**
 * @module
 * Reading a non-stream upstream answer (Converse JSON, a model-native InvokeModel body, a pass-through answer)
 * and recording its outcome. Shared by every route that relays such answers, so they fail and record alike.
 */
import { GatewayError } from "../core/errors.ts";
import type { CallRecord } from "../core/call_record.ts";

const decoder = new TextDecoder();

/** Bedrock's `x-amzn-ErrorType` value without its fault suffix: `ThrottlingException:http://…` → `ThrottlingException`. */
export function errorTypeOf(headers: Headers): string | undefined {
  const raw = headers.get("x-amzn-errortype");
  if (!raw) return undefined;
  const colon = raw.indexOf(":");
  return colon >= 0 ? raw.slice(0, colon) : raw;
}

export interface ReadAnswerOptions {
  clientSignal: AbortSignal;
  /** Releases the attempt's timer and abort wiring, whatever happens. */
  dispose: () => void;
  storeResponse: boolean;
}

/**
 * Reads the whole answer (it is bounded like its request, and accounting needs it), then marks the record a
 * success (`client_disconnected` when the client left meanwhile: Bedrock served it, so it is billed all the same),
 * or a failure carrying the upstream's error type and message. A body cut off mid-read is noted on the record (the
 * caller settles it) and thrown as a typed 502.
 */
export async function readAnswer(
  response: Response,
  record: CallRecord,
  opts: ReadAnswerOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    record.status = opts.clientSignal.aborted ? "client_disconnected" : "failure";
    record.errorType = "ServiceUnavailableException";
    throw new GatewayError(502, "ServiceUnavailableException", `upstream response was cut off (${(e as Error).name})`);
  } finally {
    opts.dispose();
  }
  if (response.ok) {
    record.status = opts.clientSignal.aborted ? "client_disconnected" : "success";
    if (opts.storeResponse) record.responseBody = decoder.decode(bytes);
  } else {
    record.errorType = errorTypeOf(response.headers) ?? `HTTP${response.status}`;
    try {
      record.errorMessage = String((JSON.parse(decoder.decode(bytes)) as { message?: unknown }).message ?? "");
    } catch {
      record.errorMessage = undefined;
    }
  }
  return bytes;
}
