/**
 * @module
 * The peer gateway for `deno task bench --peer`: the open-source Portkey AI Gateway (`@portkey-ai/gateway`, a Hono
 * app on Node.js), measured in the converse section next to the bare forwarder and our gateway.
 *
 * It is installed at bench time with npm into a cache outside the repository (`$XDG_CACHE_HOME` or `~/.cache`,
 * `converse-gateway-bench/portkey-gateway-VERSION`), only when `--peer` is asked for, with `--ignore-scripts` (its
 * one script, `patch-package`, has no patches to apply in the published package). Nothing of it is committed.
 * Any failure (no node or npm, no registry, a call that does not answer 200) is reported and the peer skipped: it
 * never fails the run.
 *
 * Portkey is pointed at the bench's fake Bedrock with request headers: `x-portkey-provider: bedrock`,
 * `x-portkey-custom-host` (the fake's URL), and `x-portkey-aws-access-key-id` / `-secret-access-key` /
 * `-session-token` / `-region` (the same identity our gateway's config holds); it signs every call with SigV4
 * (`@smithy/signature-v4`) like our gateway. Two routes reach Bedrock Converse; the closer one to ours is tried first:
 * - pass-through, `POST /v1/model/{modelId}/converse`: the Converse body is forwarded (parsed and re-serialized) to
 *   `{custom-host}/model/{modelId}/converse`, the answer relayed.
 * - translation, `POST /v1/chat/completions` (OpenAI format): the body becomes a Converse request (for the bench's
 *   message, byte for byte the body the other targets send), the Converse answer becomes an OpenAI chat completion.
 */
import { AWS } from "./gateway_setup.ts";
import { runLoad } from "./load.ts";
import { type ServerProcess, spawnServer } from "./processes.ts";
import type { StreamCall } from "./streams.ts";
import { fmt } from "./format.ts";
import type { Plan } from "./sections.ts";
import { BODY, converseCall, type Target } from "./targets.ts";

export const PORTKEY_VERSION = "1.15.2";
const PACKAGE = "@portkey-ai/gateway";
/** The fake's model id for the fixed answer (targets.ts FAKE_IDS). */
const FAKE_MODEL = "bench.fixed";

/** Where the peer is installed: outside the repository, reused across runs. */
export function peerCacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") || `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/converse-gateway-bench/portkey-gateway-${PORTKEY_VERSION}`;
}

export type Installed = { dir: string; entry: string; node: string; nodeVersion: string } | { skipped: string };

async function run(cmd: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    const d = new TextDecoder();
    return { ok: r.success, out: (d.decode(r.stdout) + d.decode(r.stderr)).trim() };
  } catch (e) {
    return { ok: false, out: e instanceof Deno.errors.NotFound ? `${cmd} not found` : String(e) };
  }
}

async function installedVersion(dir: string): Promise<string | undefined> {
  try {
    const pkg = JSON.parse(await Deno.readTextFile(`${dir}/node_modules/${PACKAGE}/package.json`));
    return typeof pkg.version === "string" ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

/** Installs the peer into `dir` unless that version is already there; says why when it cannot (never throws). */
export async function installPeer(dir = peerCacheDir(), timeoutMs = 300_000): Promise<Installed> {
  try {
    return await install(dir, timeoutMs);
  } catch (e) {
    return { skipped: `could not install the peer into ${dir}: ${e}` };
  }
}

async function install(dir: string, timeoutMs: number): Promise<Installed> {
  const node = await run("node", ["--version"], 10_000);
  if (!node.ok) return { skipped: `node is needed to run the peer: ${node.out.slice(-300)}` };
  const entry = `${dir}/node_modules/${PACKAGE}/build/start-server.js`;
  if (await installedVersion(dir) !== PORTKEY_VERSION) {
    console.error(`  installing ${PACKAGE}@${PORTKEY_VERSION} into ${dir} (npm)`);
    await Deno.mkdir(dir, { recursive: true });
    const npm = await run("npm", [
      "install",
      "--prefix",
      dir,
      `${PACKAGE}@${PORTKEY_VERSION}`,
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
    ], timeoutMs);
    if (!npm.ok) {
      // npm's first error lines say what went wrong (code, then message); the rest is a stack and a log path.
      const why = npm.out.split("\n").filter((l) => l.startsWith("npm error")).slice(0, 3).join(" | ") || npm.out;
      return { skipped: `npm install ${PACKAGE}@${PORTKEY_VERSION} failed: ${why.slice(0, 500)}` };
    }
    if (await installedVersion(dir) !== PORTKEY_VERSION) {
      return { skipped: `npm install finished but ${PACKAGE}@${PORTKEY_VERSION} is not in ${dir}` };
    }
  }
  try {
    await Deno.stat(entry);
  } catch {
    return { skipped: `${entry} is missing` };
  }
  return { dir, entry, node: "node", nodeVersion: node.out.replace(/^v/, "") };
}

/** A port free right now (Portkey takes `--port=N` and cannot report a port it picked itself). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts Portkey (`--headless`: no UI routes). It prints `http://localhost:PORT` once serving. */
export async function startPeer(
  installed: Exclude<Installed, { skipped: string }>,
  cpus?: string,
): Promise<ServerProcess> {
  return await spawnServer({
    name: "peer",
    command: installed.node,
    args: [installed.entry, `--port=${freePort()}`, "--headless"],
    cwd: installed.dir,
    env: { NODE_ENV: "production" },
    listening: /localhost:(\d+)/,
    cpus,
  });
}

/** Portkey's headers for Bedrock at the fake. No `authorization`: the pass-through would forward it over SigV4's. */
export function peerHeaders(fakeUrl: string): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-portkey-provider": "bedrock",
    "x-portkey-custom-host": fakeUrl,
    "x-portkey-aws-access-key-id": AWS.aws_access_key_id,
    "x-portkey-aws-secret-access-key": AWS.aws_secret_access_key,
    "x-portkey-aws-session-token": AWS.aws_session_token,
    "x-portkey-aws-region": AWS.aws_region_name,
  };
}

/** The bench's Converse message in OpenAI chat-completions form; Portkey turns it back into {@link BODY}. */
export const CHAT_BODY = JSON.stringify({
  model: FAKE_MODEL,
  messages: [{ role: "user", content: "Hello, benchmark. Say hi." }],
  max_tokens: 64,
});

export type PeerRoute = "pass-through" | "chat-completions";

export interface PeerCall {
  route: PeerRoute;
  call: StreamCall;
  /** What was tried before this route and why it was not used. */
  notes: string[];
}

/**
 * Picks the route: the Converse pass-through when it answers a Converse 200, else chat completions when it answers
 * a chat completion. Throws when neither does (the caller then skips the peer).
 */
export async function choosePeerCall(peer: ServerProcess, fakeUrl: string): Promise<PeerCall> {
  const headers = peerHeaders(fakeUrl);
  const candidates: { route: PeerRoute; call: StreamCall; looksRight: (json: Record<string, unknown>) => boolean }[] = [
    {
      route: "pass-through",
      call: { url: `${peer.url}/v1/model/${FAKE_MODEL}/converse`, body: BODY, headers },
      looksRight: (j) => typeof j.output === "object" && j.output !== null,
    },
    {
      route: "chat-completions",
      call: { url: `${peer.url}/v1/chat/completions`, body: CHAT_BODY, headers },
      looksRight: (j) => Array.isArray(j.choices),
    },
  ];
  const notes: string[] = [];
  for (const c of candidates) {
    const res = await fetch(c.call.url, { method: "POST", headers: c.call.headers, body: c.call.body });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text);
    } catch { /* not JSON: not right */ }
    if (res.status === 200 && c.looksRight(json)) return { route: c.route, call: c.call, notes };
    notes.push(`${c.route} (${new URL(c.call.url).pathname}) answered ${res.status}: ${text.slice(0, 200)}`);
  }
  throw new Error(`no Portkey route answered 200: ${notes.join("; ")}`);
}

/**
 * Unmeasured load on the peer before the converse section. V8 optimizes a function after many calls; the Deno
 * targets serve thousands of calls in their 1 s warm-up, the peer (several ms of CPU per call) a few hundred. Run
 * alone at concurrency 32, its CPU per call kept falling for the first ~2,000 calls (about 8 ms → 3–4 ms on the
 * shared 2-core machine), and its first measured round ran at half the speed of the next. So it first gets twice
 * `plan.seconds` at concurrency 32 (printed, never counted).
 */
export async function warmUpPeer(peer: Target, plan: Plan): Promise<void> {
  const seconds = 2 * plan.seconds;
  const r = await runLoad({ ...converseCall(peer), connections: 32, seconds, warmupSeconds: 0 });
  console.error(`  peer warm-up: ${r.requests} calls in ${seconds} s (${fmt(r.rps)} req/s, not counted)`);
}
