/**
 * @module
 * Shared set-up for the cost-tracking tests: deployments with all four per-token prices, calls with fetch
 * (converse and converse-stream), and the spend routes' answers.
 */
import type { Usage } from "../server/core/usage.ts";
import { createLogger, type Logger } from "../server/core/log.ts";
import type { CallRecord } from "../server/core/call_record.ts";
import { Latch } from "../testing/latch.ts";
import { MASTER_KEY } from "../testing/harness.ts";
import {
  adminCall,
  type AdminResult,
  converseBody,
  type KeysSetup,
  type KeysSetupOptions,
  setupKeys,
} from "./keys_helpers.ts";

export { converseBody, MASTER_KEY };

/** Sonnet-like prices: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million tokens. */
export const SONNET_PRICES = "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n" +
  "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY\n" +
  "      input_cost_per_token: 0.000003\n" +
  "      output_cost_per_token: 0.000015\n" +
  "      cache_read_input_token_cost: 0.0000003\n" +
  "      cache_creation_input_token_cost: 0.00000375";

/** Nano-USD of a usage at SONNET_PRICES. */
export function sonnetNanos(u: { input?: number; output?: number; cacheRead?: number; cacheWrite?: number }): bigint {
  return BigInt(u.input ?? 0) * 3000n + BigInt(u.output ?? 0) * 15000n + BigInt(u.cacheRead ?? 0) * 300n +
    BigInt(u.cacheWrite ?? 0) * 3750n;
}

/** A deployment entry at SONNET_PRICES with a fixed deployment id. */
export const sonnet = (name: string, id: string) => ({
  name,
  params: `${SONNET_PRICES}\n    model_info:\n      id: ${id}`,
});

export interface CallOptions {
  model?: string;
  stream?: boolean;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Calls a model with fetch; the body is read to the end (streams too) unless a signal is given. */
export async function callModel(url: string, key: string, opts: CallOptions = {}): Promise<Response> {
  const op = opts.stream ? "converse-stream" : "converse";
  return await fetch(`${url}/bedrock/model/${encodeURIComponent(opts.model ?? "claude")}/${op}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...opts.headers },
    body: opts.body ?? converseBody(),
    signal: opts.signal,
  });
}

/** Calls and reads the whole body; returns the status and headers. */
export async function call(url: string, key: string, opts: CallOptions = {}): Promise<Response> {
  const res = await callModel(url, key, opts);
  await res.arrayBuffer();
  return res;
}

export async function setupSpend(opts: KeysSetupOptions = {}): Promise<KeysSetup> {
  return await setupKeys({ models: [sonnet("claude", "claude-usw2")], ...opts });
}

/** GET with the master key (or `key`). */
export const get = (url: string, path: string, key = MASTER_KEY): Promise<AdminResult> =>
  adminCall(url, "GET", path, undefined, key);

/**
 * A logger at debug level for a gateway under test, and a way to wait for one of its lines: the gateway's debug lines
 * say when it noticed a client leave, which orders a test's next step without any timing.
 */
export function debugLog(): { log: Logger; lines: string[]; logged(text: string, requestId?: string): Promise<void> } {
  const lines: string[] = [];
  const waiters: Array<{ match: (l: string) => boolean; latch: Latch }> = [];
  const log = createLogger({
    debug: true,
    write: (l) => {
      lines.push(l);
      for (const w of waiters) if (w.match(l)) w.latch.release();
    },
  });
  return {
    log,
    lines,
    logged(text, requestId) {
      const match = (l: string) => l.includes(text) && (!requestId || l.includes(requestId));
      const latch = new Latch();
      waiters.push({ match, latch });
      if (lines.some(match)) latch.release();
      return latch.wait();
    },
  };
}

/** USD (as the API shows it) → the exact nano-USD it stands for. */
export const nanos = (usd: number): bigint => BigInt(Math.round(usd * 1e9));

/** A usage with every count 0 but those given. */
export const usageOf = (u: Partial<Usage>): Usage => ({
  inputTokens: 0,
  outputTokens: 0,
  totalTokens: 0,
  cacheReadInputTokens: 0,
  cacheWriteInputTokens: 0,
  ...u,
});

/** A successful converse call on a deployment with this usage, for pricing it (`extra` overrides any field). */
export function pricedRecord(deploymentId: string, u: Partial<Usage>, extra: Partial<CallRecord> = {}): CallRecord {
  return {
    requestId: "r",
    callType: "converse",
    modelName: deploymentId,
    deploymentId,
    caller: {},
    startTime: 0,
    endTime: 0,
    status: "success",
    httpStatus: 200,
    retries: 0,
    usage: usageOf(u),
    ...extra,
  };
}
