/**
 * @module
 * Shared set-up for the virtual-key tests: a fake Bedrock and a gateway on one injected clock, deployments with
 * known per-token prices, and small helpers for the `/key/*` admin API.
 */
import { FAKE_CREDENTIALS, type FakeBedrock, startFakeBedrock } from "../testing/fake_bedrock.ts";
import {
  converseBody,
  fakeConfig,
  type GatewayUnderTest,
  MASTER_KEY,
  startGateway,
  type StartOptions,
} from "../testing/harness.ts";

export { converseBody };

/** 100,000 ASCII characters: 25,000 tokens at the gateway's 4 characters per token. */
export const LONG_PROMPT = "word ".repeat(20_000);

/** A Converse conversation whose last turn returns a tool's output as JSON: `LONG_PROMPT` under `data`. */
export const toolResultBody = () =>
  JSON.stringify({
    messages: [
      { role: "user", content: [{ text: "Summarise the page." }] },
      { role: "assistant", content: [{ toolUse: { toolUseId: "t1", name: "fetch_page", input: { url: "x" } } }] },
      { role: "user", content: [{ toolResult: { toolUseId: "t1", content: [{ json: { data: LONG_PROMPT } }] } }] },
    ],
    inferenceConfig: { maxTokens: 100 },
  });

export const ENV = {
  AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
};

/** $1 per million input tokens, $2 per million output tokens. */
export const PRICE_PARAMS = "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n" +
  "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY\n" +
  "      input_cost_per_token: 0.000001\n" +
  "      output_cost_per_token: 0.000002";

/** The fake's default usage (10 input, 5 output tokens) at PRICE_PARAMS: 10 µ$ + 10 µ$. */
export const CALL_COST_NANOS = 20_000n;
export const CALL_COST_USD = 0.00002;

/** A settable clock shared by the gateway and the fake (whose SigV4 check allows ±15 minutes of skew). */
export class Clock {
  constructor(public t = Date.UTC(2025, 5, 1, 12, 0, 0)) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface KeysSetup extends AsyncDisposable {
  fake: FakeBedrock;
  gw: GatewayUnderTest;
  clock: Clock;
  /** Calls an admin route with the master key (or `key`); returns status and parsed JSON. */
  admin(method: "GET" | "POST", path: string, body?: unknown, key?: string): Promise<AdminResult>;
  /** Generates a key with these settings; throws unless it succeeds. */
  generate(settings?: Record<string, unknown>): Promise<Generated>;
  /** POSTs a converse call with `key`; returns the response (body unread). */
  converse(key: string, model?: string, body?: string): Promise<Response>;
}

export interface AdminResult {
  status: number;
  // deno-lint-ignore no-explicit-any -- JSON answers are inspected field by field in the tests
  json: any;
}

export interface Generated {
  key: string;
  token: string;
  // deno-lint-ignore no-explicit-any -- see AdminResult
  [field: string]: any;
}

export interface KeysSetupOptions extends Partial<Omit<StartOptions, "yaml">> {
  models?: Array<{ name: string; model?: string; params?: string }>;
  extra?: string;
  clock?: Clock;
}

export async function adminCall(
  url: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  key = MASTER_KEY,
): Promise<AdminResult> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

export function callModel(url: string, key: string, model = "claude", body = converseBody()): Promise<Response> {
  return fetch(`${url}/bedrock/model/${encodeURIComponent(model)}/converse`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body,
  });
}

export async function setupKeys(opts: KeysSetupOptions = {}): Promise<KeysSetup> {
  const clock = opts.clock ?? new Clock();
  const fake = await startFakeBedrock({ now: () => new Date(clock.now()) });
  const models = opts.models ?? [{ name: "claude", params: PRICE_PARAMS }];
  const gw = await startGateway({
    ...opts,
    yaml: fakeConfig(fake.url, { models, extra: opts.extra }),
    env: opts.env ?? ENV,
    now: clock.now,
  });
  const admin = (method: "GET" | "POST", path: string, body?: unknown, key?: string) =>
    adminCall(gw.url, method, path, body, key);
  return {
    fake,
    gw,
    clock,
    admin,
    async generate(settings = {}) {
      const r = await admin("POST", "/key/generate", settings);
      if (r.status !== 200) throw new Error(`generate failed: ${r.status} ${JSON.stringify(r.json)}`);
      return r.json;
    },
    converse: (key, model, body) => callModel(gw.url, key, model, body),
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await fake.close();
    },
  };
}

/** Every key and value in a KV store (or those `keep` accepts), as text, for scanning for secrets. */
export async function dumpKv(kv: Deno.Kv, keep: (key: Deno.KvKey) => boolean = () => true): Promise<string> {
  const parts: string[] = [];
  const text = (v: unknown) =>
    JSON.stringify(
      v,
      (_, x) =>
        typeof x === "bigint"
          ? x.toString()
          : x instanceof Deno.KvU64
          ? x.value.toString()
          : x instanceof Uint8Array
          ? new TextDecoder().decode(x)
          : x,
    );
  for await (const e of kv.list({ prefix: [] })) if (keep(e.key)) parts.push(text(e.key), text(e.value));
  return parts.join("\n");
}

/** The KV value of a counter (0 when absent). */
export async function counter(kv: Deno.Kv, key: Deno.KvKey): Promise<bigint> {
  const e = await kv.get<Deno.KvU64>(key);
  return e.value?.value ?? 0n;
}

/** A key's spend in KV (nano-USD), summed over its budget windows. */
export async function kvSpendNanos(kv: Deno.Kv, token: string): Promise<bigint> {
  const record = (await kv.get<{ id: string }>(["keys", token])).value;
  if (!record) throw new Error("no such key record");
  let total = 0n;
  for await (const e of kv.list<Deno.KvU64>({ prefix: ["key_spend", record.id] })) total += e.value.value;
  return total;
}
