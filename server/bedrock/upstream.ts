/**
 * @module
 * Sending one signed request to one deployment's Bedrock endpoint.
 *
 * The body bytes are forwarded exactly as the client sent them (never re-serialized), signed fresh for every
 * attempt (a retry never replays stale `x-amz-*`), and none of the client's own headers are forwarded except
 * the few that Bedrock binds for the operation.
 */
import type { Deployment } from "../config/types.ts";
import { GatewayError } from "../errors.ts";
import type { SigV4Signer } from "./sigv4.ts";

/** Bedrock operations on `/model/{modelId}/…`. */
export type ModelOperation = "converse" | "converse-stream" | "invoke" | "invoke-with-response-stream" | "count-tokens";

export interface UpstreamDeps {
  fetch: typeof fetch;
  signer: SigV4Signer;
  /** Wall clock in ms since the epoch (injected so signing dates are testable). */
  now: () => number;
}

export interface UpstreamRequest {
  deployment: Deployment;
  operation: ModelOperation;
  body: Uint8Array<ArrayBuffer>;
  /** Lower-case header names Bedrock binds for the operation (e.g. `accept`, `x-amzn-bedrock-trace`). */
  headers?: Record<string, string>;
  /** Aborts the upstream call: the client went away, or the router gave up on this attempt. */
  signal?: AbortSignal;
}

/**
 * The model id as one percent-encoded path segment, the way boto3 and the AWS SDKs send it
 * (`encodeURIComponent` plus `!'()*`), so an ARN's `:` and `/` never split the path.
 */
export function encodeModelId(id: string): string {
  return encodeURIComponent(id).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

export function upstreamUrl(deployment: Deployment, operation: ModelOperation): string {
  return `${deployment.endpoint}/model/${encodeModelId(deployment.bedrockModelId)}/${operation}`;
}

/** Creates the sender. One instance per gateway; it holds no per-request state. */
export function createUpstream(deps: UpstreamDeps) {
  // Precomputed URLs: the same few deployments are called over and over.
  const urls = new Map<string, string>();
  const urlFor = (d: Deployment, op: ModelOperation) => {
    const key = `${d.id}\u0000${op}`;
    let url = urls.get(key);
    if (url === undefined) urls.set(key, url = upstreamUrl(d, op));
    return url;
  };

  /** Sends the request; resolves with the upstream response (any status) or throws a typed 502. */
  async function send(req: UpstreamRequest): Promise<Response> {
    const d = req.deployment;
    const url = urlFor(d, req.operation);
    const headers: Record<string, string> = { "content-type": "application/json", ...req.headers };
    if (d.auth.kind === "bearer") {
      headers["authorization"] = `Bearer ${d.auth.token}`;
    } else if (d.auth.kind === "sigv4") {
      Object.assign(
        headers,
        deps.signer.sign({
          method: "POST",
          url,
          headers,
          body: req.body,
          region: d.region,
          service: "bedrock",
          credentials: d.auth.credentials,
          now: new Date(deps.now()),
        }),
      );
    } else {
      throw new GatewayError(500, "InternalServerException", `deployment ${d.id} cannot be called upstream`);
    }
    try {
      return await deps.fetch(url, { method: "POST", headers, body: req.body, signal: req.signal });
    } catch (e) {
      if (req.signal?.aborted) throw req.signal.reason ?? e;
      // Never echo the URL's credentials or headers: only the host and the error's class.
      throw new GatewayError(
        502,
        "ServiceUnavailableException",
        `upstream ${new URL(url).host} unreachable (${(e as Error).name})`,
        { litellmType: "api_connection_error" },
      );
    }
  }
  return { send };
}

export type Upstream = ReturnType<typeof createUpstream>;

/** Response headers a Bedrock client needs; everything else (hop-by-hop, cookies, length) is dropped. */
export function relayHeaders(upstream: Headers, requestId: string): Headers {
  const out = new Headers();
  for (const [name, value] of upstream) {
    if (
      name === "content-type" || name === "x-amzn-requestid" || name === "x-amzn-errortype" ||
      name === "retry-after" || name.startsWith("x-amzn-bedrock-")
    ) out.set(name, value);
  }
  out.set("x-litellm-call-id", requestId);
  return out;
}
