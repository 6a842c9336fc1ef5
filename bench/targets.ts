/**
 * @module
 * What the benchmark calls: the fake directly, the bare forwarder, the gateway (and optionally a baseline gateway
 * from another checkout and the peer gateway, see peer.ts), each a process with its own URL scheme and caller key.
 */
import { MODELS } from "./gateway_setup.ts";
import type { ServerProcess } from "./processes.ts";
import type { StreamCall } from "./streams.ts";

/**
 * `direct` = the fake, `bare` = the bare forwarder, `gateway` = this checkout, `workers` = this checkout with
 * `--workers N` (`--workers N`), `baseline` = `--baseline DIR`, `floor` = the floor gateway (`--floor`,
 * floor_gateway.ts), `peer` = Portkey's gateway (`--peer`).
 */
export type TargetName = "direct" | "bare" | "gateway" | "workers" | "baseline" | "floor" | "peer";

export interface Target {
  name: TargetName;
  process: ServerProcess;
  /** The key sent as `Authorization: Bearer` (every target gets the same headers, so the same request bytes). */
  key: string;
  /** The converse call, when it is not the Bedrock-shaped default (the peer: its own route and headers). */
  converse?: StreamCall;
}

export type Model = keyof typeof MODELS;
export type Operation = "converse" | "converse-stream";

/** A ~110-byte Converse request, the size the targets are stated for. */
export const BODY = JSON.stringify({
  messages: [{ role: "user", content: [{ text: "Hello, benchmark. Say hi." }] }],
  inferenceConfig: { maxTokens: 64 },
});

const isGateway = (t: Target) =>
  t.name === "gateway" || t.name === "workers" || t.name === "baseline" || t.name === "floor";

/** The fake's model ids (see fake_upstream.ts); the big stream's size is in the gateway config's model id. */
const FAKE_IDS: Record<Model, string> = { fixed: "bench.fixed", gated: "bench.gated", big: "bench.big-" };

export function urlOf(t: Target, model: Model, op: Operation, bigMiB = 0): string {
  if (isGateway(t)) return `${t.process.url}/bedrock/model/${MODELS[model]}/${op}`;
  const id = model === "big" ? `${FAKE_IDS.big}${bigMiB}` : FAKE_IDS[model];
  return `${t.process.url}/model/${id}/${op}`;
}

export function headersOf(t: Target): Record<string, string> {
  return { "content-type": "application/json", authorization: `Bearer ${t.key}` };
}

export function callOf(t: Target, model: Model, op: Operation, bigMiB = 0): StreamCall {
  return { url: urlOf(t, model, op, bigMiB), body: BODY, headers: headersOf(t) };
}

/** The non-streaming call a target is measured with: the fixed answer. */
export function converseCall(t: Target): StreamCall {
  return t.converse ?? callOf(t, "fixed", "converse");
}

/** Sends one converse call and reads the answer; throws on a non-2xx. */
export async function converseOnce(t: Target): Promise<void> {
  const c = converseCall(t);
  const res = await fetch(c.url, { method: "POST", headers: c.headers, body: c.body });
  const text = await res.text();
  if (!res.ok) throw new Error(`${t.name} converse answered ${res.status}: ${text.slice(0, 300)}`);
}
