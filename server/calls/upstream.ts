/**
 * @module
 * Sending one signed request to one deployment's Bedrock endpoint.
 *
 * The body bytes are forwarded exactly as the client sent them (never re-serialized), signed fresh for every
 * attempt (a retry never replays stale `x-amz-*`), and none of the client's own headers are forwarded except
 * the few that Bedrock binds for the operation.
 */
import type { AwsCredentials, CredentialSource, CredentialSpec } from "../aws/mod.ts";
import type { Deployment, DeploymentAuth } from "../config/types.ts";
import { GatewayError } from "../core/errors.ts";
import { countTokensModelId } from "../bedrock/count_tokens_op.ts";
import type { ModelOperation } from "../bedrock/model_path.ts";
import type { SigV4Signer } from "../aws/mod.ts";
import { encodeModelId } from "../../wire/model_id.ts";
import type { WrittenInit } from "../upstream_client/mod.ts";

export interface UpstreamDeps {
  fetch: typeof fetch;
  signer: SigV4Signer;
  /** The credential source of a SigV4 spec (`server/aws`): asked for current credentials at every signature. */
  credentials: { source(spec: CredentialSpec): CredentialSource };
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
  /**
   * Told once Bedrock may have the request (and bill it): the native client says when the whole request was written
   * (`WrittenInit`); `fetch` (also the native client's fallback, which this module cannot tell apart) cannot, so an
   * attempt to an endpoint that answered in the last 5 minutes is told as it is handed over, whichever client (see
   * `REACHABLE_MS`). An answer says so too (the caller knows that one).
   */
  onSent?: () => void;
}

export function upstreamUrl(deployment: Deployment, operation: ModelOperation): string {
  const id = operation === "count-tokens" ? countTokensModelId(deployment.bedrockModelId) : deployment.bedrockModelId;
  return `${deployment.endpoint}/model/${encodeModelId(id)}/${operation}`;
}

/** Where one signed POST goes and how it is authenticated (a deployment, or the pass-through account). */
export interface SignedTarget {
  /** Full URL, its path already percent-encoded exactly as it will be sent. */
  url: string;
  region: string;
  auth: DeploymentAuth;
  /** Names the target in the error when it cannot be called (a deployment id, `bedrock_passthrough`). */
  name: string;
}

/** A source's credentials for a call, or a 503 naming the target, the source and why it has none (never a value). */
async function credentialsFor(source: CredentialSource, target: SignedTarget): Promise<AwsCredentials> {
  try {
    return await source.get();
  } catch (e) {
    throw new GatewayError(
      503,
      "ServiceUnavailableException",
      `${target.name} is unavailable: ${(e as Error).message}`,
      {
        litellmType: "service_unavailable",
      },
    );
  }
}

/**
 * How recently an endpoint must have answered for an attempt to it to count as sent when nothing else says so.
 * `fetch` does not tell when a request was written (a stream body would, but `fetch` pulls it before the connection
 * is up, and sends it chunked); an endpoint that answered within this long is reachable, so a request given up
 * after it was handed to `fetch` most likely reached Bedrock, which bills it. One that has not answered for longer —
 * never, when blackholed, or a DNS, TLS or proxy stall — is not billed for attempts that time out.
 */
const REACHABLE_MS = 5 * 60_000;

/** `https://host:port` of a URL built by {@link upstreamUrl} (no parse: the path starts after the authority). */
const originOf = (url: string) => {
  const path = url.indexOf("/", url.indexOf("//") + 2);
  return path < 0 ? url : url.slice(0, path);
};

/**
 * Creates the sender. One instance per gateway; it holds no per-request state, only when each endpoint last
 * answered ({@link REACHABLE_MS}: bounded by the configured endpoints).
 */
export function createUpstream(deps: UpstreamDeps) {
  const answeredAt = new Map<string, number>();
  // Precomputed URLs: the same few deployments are called over and over.
  const urls = new Map<string, string>();
  const urlFor = (d: Deployment, op: ModelOperation) => {
    const key = `${d.id}\u0000${op}`;
    let url = urls.get(key);
    if (url === undefined) urls.set(key, url = upstreamUrl(d, op));
    return url;
  };

  /**
   * POSTs `body` to `target`, signed fresh (SigV4 service `bedrock`, or the Bedrock API key); resolves with the
   * upstream response (any status but a 3xx, which is a 502) or throws a typed 502 (or the abort reason when
   * `signal` aborted).
   */
  async function post(
    target: SignedTarget,
    body: Uint8Array<ArrayBuffer>,
    extraHeaders: Record<string, string> | undefined,
    signal: AbortSignal | undefined,
    onSent?: () => void,
  ): Promise<Response> {
    const { url, auth } = target;
    const headers: Record<string, string> = { "content-type": "application/json", ...extraHeaders };
    if (auth.kind === "bearer") {
      headers["authorization"] = `Bearer ${auth.token}`;
    } else if (auth.kind === "sigv4") {
      // Cached credentials at once; a wait only for a source's very first resolution (never for a refresh).
      const source = deps.credentials.source(auth.credentials);
      const credentials = source.current() ?? await credentialsFor(source, target);
      Object.assign(
        headers,
        deps.signer.sign({
          method: "POST",
          url,
          headers,
          body,
          region: target.region,
          service: "bedrock",
          credentials,
          now: new Date(deps.now()),
        }),
      );
    } else {
      throw new GatewayError(500, "InternalServerException", `${target.name} cannot be called upstream`);
    }
    let res: Response;
    try {
      // Never followed: a redirect would re-send the prompt and the session token to another origin, and relay its
      // answer as Bedrock's. Bedrock does not redirect.
      const init: WrittenInit = { method: "POST", headers, body, signal, redirect: "manual", onRequestWritten: onSent };
      const origin = originOf(url);
      const last = answeredAt.get(origin);
      if (onSent && last !== undefined && deps.now() - last < REACHABLE_MS) onSent();
      res = await deps.fetch(url, init);
      answeredAt.set(origin, deps.now());
    } catch (e) {
      if (signal?.aborted) throw signal.reason ?? e;
      // Never echo the URL's credentials or headers: only the host and the error's class.
      throw new GatewayError(
        502,
        "ServiceUnavailableException",
        `upstream ${new URL(url).host} unreachable (${(e as Error).name})`,
        { litellmType: "api_connection_error" },
      );
    }
    if (res.status >= 300 && res.status < 400) {
      res.body?.cancel().catch(() => {});
      throw new GatewayError(
        502,
        "ServiceUnavailableException",
        `upstream ${new URL(url).host} answered a redirect (${res.status}), which Bedrock never sends: not followed`,
        { litellmType: "api_connection_error" },
      );
    }
    return res;
  }

  /** Sends a model call to one deployment; resolves with the upstream response (any status but a 3xx) or throws a typed 502. */
  function send(req: UpstreamRequest): Promise<Response> {
    const d = req.deployment;
    const target = { url: urlFor(d, req.operation), region: d.region, auth: d.auth, name: `deployment ${d.id}` };
    return post(target, req.body, req.headers, req.signal, req.onSent);
  }
  return { send, post };
}

export type Upstream = ReturnType<typeof createUpstream>;

/**
 * Response headers a Bedrock client needs; everything else (hop-by-hop, cookies, length) is dropped. The call id is
 * added as `x-litellm-call-id`, and as `x-amzn-requestid` when the upstream sent none (mock answers, odd upstreams),
 * so AWS SDKs always have a request id to report.
 *
 * A plain record (lower-case names), not a `Headers`: the answer's `Response` copies whatever it is given, and
 * copying a `Headers` iterates it again; `forEach` also skips the iterator's per-entry objects.
 */
export function relayHeaders(upstream: Headers, requestId: string): Record<string, string> {
  const out: Record<string, string> = {};
  upstream.forEach((value, name) => {
    if (
      name === "content-type" || name === "x-amzn-requestid" || name === "x-amzn-errortype" ||
      name === "retry-after" || name.startsWith("x-amzn-bedrock-") ||
      // InvokeAgent's session and memory ids (`x-amz-bedrock-agent-session-id`, `…-memory-id`).
      name.startsWith("x-amz-bedrock-agent-")
    ) out[name] = value;
  });
  out["x-litellm-call-id"] = requestId;
  out["x-amzn-requestid"] ??= requestId;
  return out;
}
