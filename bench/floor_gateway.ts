/**
 * @module
 * The floor gateway (`deno task bench --floor`): the least work a Bedrock gateway with virtual keys, budgets and
 * spend tracking must do per call, and nothing else. It answers "how close to the bare forwarder can any gateway
 * doing the mandatory work get on this machine and runtime?", which is what the gateway's ratios should be
 * read against.
 *
 * Per call, using the gateway's own pieces where the work is the same:
 * - the bearer key hashed (SHA-256) and looked up in memory, its budget checked against in-memory spend;
 * - the body read, parsed and validated with the gateway's zod `ConverseRequest` schema;
 * - signed with the gateway's SigV4 signer, sent with the client `general_settings.upstream_client` names (as the
 *   gateway does: `fetch`, or the native HTTP/1.1 client), so the two are compared on the same transport;
 * - converse: the answer read whole, its usage priced with the gateway's `costNanos`, then relayed;
 *   converse-stream: the body relayed chunk by chunk as it arrives, each chunk decoded on the side (the project's
 *   `EventStreamDecoder`) for the `metadata` event's usage;
 * - the spend and one spend-log row queued, written to KV on disk in one atomic commit every 10 ms.
 *
 * What it leaves out, because the issue does not require it per call or it is the gateway's extra safety: a router
 * and framework, retries, timeouts, cooldowns and fallbacks, client-abort handling, request logs, metrics,
 * roll-ups, budget reads across instances, error mapping beyond a bare Bedrock-shaped error. It is a yardstick,
 * not a product: never point it at AWS.
 *
 * CLI like the gateway's, so the bench starts both alike:
 * `deno run -A bench/floor_gateway.ts --config FILE --kv FILE --port N [--host H]`.
 */
import { createHash } from "node:crypto";
import { loadConfig } from "../server/config/load.ts";
import type { Deployment } from "../server/config/types.ts";
import { ConverseRequest, ConverseStreamRequest } from "../server/bedrock/schemas.ts";
import { createSigV4Signer } from "../server/aws/mod.ts";
import { upstreamUrl } from "../server/calls/upstream.ts";
import { readUsage, type Usage } from "../server/core/usage.ts";
import { chunkReader } from "../server/calls/chunk_reader.ts";
import { costNanos } from "../server/pricing/cost.ts";
import { EventStreamDecoder } from "../wire/eventstream.ts";
import { createHttpClient } from "../server/upstream_client/mod.ts";

interface KeyRecord {
  maxBudgetNanos: bigint | undefined;
  spentNanos: bigint;
}

interface SpendRow {
  requestId: string;
  keyHash: string;
  model: string;
  costNanos: string;
  inputTokens: number;
  outputTokens: number;
  endTime: number;
}

const BATCH_MS = 10;
/** Spend-log rows per KV value (~200 bytes each), and values per commit. */
const PAGE_ROWS = 200;
const PAGES_PER_COMMIT = 10;
const MODEL_PATH = /^\/bedrock\/model\/([^/]+)\/(converse|converse-stream)$/;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function bedrockError(status: number, type: string, message: string): Response {
  return new Response(JSON.stringify({ message }), {
    status,
    headers: { "content-type": "application/json", "x-amzn-errortype": type },
  });
}

/**
 * The floor's request handler over `kv`; `flush` writes what is queued, `close` also closes its upstream client.
 * `fetchFn` replaces the upstream client (bench/in_process.ts passes a stub).
 */
export function createFloorGateway(configYaml: string, kv: Deno.Kv, fetchFn?: typeof fetch) {
  const config = loadConfig(configYaml, (name) => Deno.env.get(name));
  const client = !fetchFn && config.upstreamClient === "native" ? createHttpClient() : undefined;
  const upstreamFetch: typeof fetch = fetchFn ?? client?.fetch ?? fetch;
  const deployments = new Map<string, Deployment>();
  for (const [name, list] of config.byModelName) deployments.set(name, list[0]);
  const signer = createSigV4Signer();
  const keys = new Map<string, KeyRecord>();
  const masterHash = config.masterKey === undefined ? undefined : sha256(config.masterKey);
  const master: KeyRecord = { maxBudgetNanos: undefined, spentNanos: 0n };
  const decoder = new TextDecoder();

  const queued: Array<{ keyHash: string; nanos: bigint; row: SpendRow }> = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = async () => {
    clearTimeout(timer);
    timer = undefined;
    // One commit per page of rows: a page stays within Deno KV's 64 KiB per value, a commit within its 800 KiB.
    while (queued.length > 0) {
      const batch = queued.splice(0, PAGE_ROWS * PAGES_PER_COMMIT);
      const sums = new Map<string, bigint>();
      for (const q of batch) sums.set(q.keyHash, (sums.get(q.keyHash) ?? 0n) + q.nanos);
      const op = kv.atomic();
      for (const [keyHash, nanos] of sums) op.sum(["spend", keyHash], nanos);
      for (let i = 0; i < batch.length; i += PAGE_ROWS) {
        const page = batch.slice(i, i + PAGE_ROWS);
        op.set(["spend_log", Date.now(), page[0].row.requestId], page.map((q) => q.row));
      }
      await op.commit();
    }
  };
  const account = (keyHash: string, key: KeyRecord, model: string, usage: Usage | undefined, d: Deployment) => {
    if (!usage) return;
    const nanos = costNanos(d.prices, usage);
    key.spentNanos += nanos;
    const row: SpendRow = {
      requestId: crypto.randomUUID(),
      keyHash,
      model,
      costNanos: String(nanos),
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      endTime: Date.now(),
    };
    queued.push({ keyHash, nanos, row });
    timer ??= setTimeout(() => flush().catch((e) => console.error(`floor: spend write failed: ${e}`)), BATCH_MS);
  };

  async function generateKey(req: Request): Promise<Response> {
    if (req.headers.get("authorization") !== `Bearer ${config.masterKey}`) {
      return bedrockError(401, "AccessDeniedException", "master key required");
    }
    const body = await req.json() as { max_budget?: number };
    const key = `sk-${crypto.randomUUID()}`;
    const maxBudgetNanos = body.max_budget === undefined ? undefined : BigInt(Math.round(body.max_budget * 1e9));
    keys.set(sha256(key), { maxBudgetNanos, spentNanos: 0n });
    return Response.json({ key });
  }

  async function modelCall(req: Request, modelName: string, operation: string): Promise<Response> {
    const bearer = req.headers.get("authorization") ?? "";
    const keyHash = sha256(bearer.startsWith("Bearer ") ? bearer.slice(7) : "");
    // The master key calls unbudgeted (`deno task bench --caller master`), as on the gateway.
    const key = keys.get(keyHash) ?? (keyHash === masterHash ? master : undefined);
    if (!key) return bedrockError(403, "AccessDeniedException", "invalid key");
    if (key.maxBudgetNanos !== undefined && key.spentNanos >= key.maxBudgetNanos) {
      return bedrockError(400, "ValidationException", "budget exceeded");
    }
    const d = deployments.get(modelName);
    // The bench config gives keys, so every deployment's credentials are a static spec.
    if (!d || d.auth.kind !== "sigv4" || d.auth.credentials.kind !== "static") {
      return bedrockError(400, "ValidationException", "unknown model");
    }
    const credentials = d.auth.credentials;
    const body = new Uint8Array(await req.arrayBuffer());
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(body));
    } catch {
      return bedrockError(400, "ValidationException", "body is not JSON");
    }
    const stream = operation === "converse-stream";
    const schema = stream ? ConverseStreamRequest : ConverseRequest;
    if (!schema.safeParse(json).success) return bedrockError(400, "ValidationException", "invalid body");

    const url = upstreamUrl(d, stream ? "converse-stream" : "converse");
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: stream ? "application/vnd.amazon.eventstream" : "application/json",
    };
    Object.assign(
      headers,
      signer.sign({
        method: "POST",
        url,
        headers,
        body,
        region: d.region,
        service: "bedrock",
        credentials,
        now: new Date(),
      }),
    );
    const res = await upstreamFetch(url, { method: "POST", headers, body });
    const relayed = { "content-type": res.headers.get("content-type") ?? "application/json" };
    if (stream && res.ok && res.body) {
      // A pull relay (one upstream read per client read, nothing queued) that decodes each chunk on the side. The
      // gateway's chunk reader, not `getReader()`, which allocates 64 KiB per read on a fetch body (chunk_reader.ts).
      const frames = new EventStreamDecoder();
      const upstream = chunkReader(res.body);
      const relay = new ReadableStream<Uint8Array>({
        async pull(out) {
          const { done, value } = await upstream.read();
          if (done) return out.close();
          out.enqueue(value);
          for (const m of frames.push(value)) {
            if (m.headers[":event-type"] === "metadata") {
              account(keyHash, key, modelName, readUsage(JSON.parse(decoder.decode(m.payload)).usage), d);
            }
          }
        },
        cancel: (reason) => upstream.cancel(reason),
      }, { highWaterMark: 0 });
      return new Response(relay, { status: res.status, headers: relayed });
    }
    const answer = await res.text();
    if (res.ok) account(keyHash, key, modelName, readUsage(JSON.parse(answer).usage), d);
    return new Response(answer, { status: res.status, headers: relayed });
  }

  function fetchHandler(req: Request): Promise<Response> | Response {
    const url = req.url;
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    if (req.method === "POST" && path === "/key/generate") return generateKey(req);
    const m = MODEL_PATH.exec(path);
    if (req.method !== "POST" || !m) return bedrockError(404, "ResourceNotFoundException", "no such route");
    return modelCall(req, decodeURIComponent(m[1]), m[2]);
  }

  const close = async () => {
    await flush();
    client?.close();
  };
  return { fetch: fetchHandler, flush, close };
}

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

if (import.meta.main) {
  const configPath = arg("--config"), kvPath = arg("--kv");
  if (!configPath || !kvPath) {
    console.error("usage: floor_gateway.ts --config FILE --kv FILE [--port N] [--host H]");
    Deno.exit(2);
  }
  const kv = await Deno.openKv(kvPath);
  const floor = createFloorGateway(await Deno.readTextFile(configPath), kv);
  const server = Deno.serve({
    hostname: arg("--host") ?? "127.0.0.1",
    port: Number(arg("--port") ?? 0),
    onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}`),
  }, floor.fetch);
  Deno.addSignalListener("SIGTERM", async () => {
    await server.shutdown();
    await floor.close();
    kv.close();
    Deno.exit(0);
  });
}
