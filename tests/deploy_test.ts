/**
 * The platform entries run the way Deno Deploy runs them, as closely as this machine can: `server/serve.ts` under
 * `deno serve` (the module's default export), and `server/deploy.ts` under `deno run` (its own `Deno.serve`, which is
 * how Deploy runs an entrypoint: it passes no runtime flags and does not serve default exports). Both with the project's
 * `deno.json` (import map, unstable KV), config from `CONFIG_YAML`, `DENO_DEPLOYMENT_ID` set so KV is `Deno.openKv()`
 * with no path, and NO write permission (stricter than Deploy, whose disk is writable but ephemeral: the gateway must
 * not need it). It serves converse (fetch) and converse-stream (the AWS SDK), bills the
 * demo model as Claude 3.5 Sonnet ($0.000381 for the README's "Hello"), and the spend of a call answered right before
 * SIGINT (what Deploy sends to stop an instance) survives into the next run on the same KV.
 *
 * `--location` gives the run its own KV file (`$DENO_DIR/location_data/<sha256 of the origin>/`), removed at the end;
 * the working directory is an empty folder, which stays empty. Every child is bounded by a deadline.
 */
import assert from "node:assert/strict";
import { BedrockRuntimeClient, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const ROOT = new URL("../", import.meta.url).pathname;
const EXAMPLE = await Deno.readTextFile(`${ROOT}config.example.yaml`);
const HELLO = JSON.stringify({ messages: [{ role: "user", content: [{ text: "Hello" }] }] });
const MASTER = { authorization: "Bearer sk-1234", "content-type": "application/json" };

async function denoInfo(): Promise<{ originStorage: string }> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

interface Served {
  port: number;
  output(): string;
  stop(signal: Deno.Signal): Promise<number>;
}

type Entry = "serve" | "deploy";

/** The entry as Deploy runs it: no --allow-write, no --allow-ffi; the listening line read from stdout or stderr. */
function serve(entry: Entry, origin: string, cwd: string): Promise<Served> {
  const permissions = [
    "--config",
    `${ROOT}deno.json`,
    "--allow-read",
    "--allow-env",
    "--allow-net",
    `--location=${origin}`,
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args: entry === "serve"
      ? ["serve", ...permissions, "--host=127.0.0.1", "--port=0", `${ROOT}server/serve.ts`]
      : ["run", ...permissions, `${ROOT}server/deploy.ts`],
    cwd,
    env: { CONFIG_YAML: EXAMPLE, DENO_DEPLOYMENT_ID: "deploy-test", PORT: "0", HOST: "127.0.0.1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
  let text = "";
  const listening = Promise.withResolvers<number>();
  const read = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      const m = /[Ll]istening on http:\/\/127\.0\.0\.1:(\d+)/.exec(text);
      if (m) listening.resolve(Number(m[1]));
    }
  };
  const reading = Promise.all([read(child.stdout), read(child.stderr)]).then(() => {
    listening.reject(new Error(`deno serve ended before listening:\n${text}`));
  });
  return listening.promise.then((port) => ({
    port,
    output: () => text,
    async stop(signal) {
      child.kill(signal);
      const { code } = await child.status;
      clearTimeout(deadline);
      await reading;
      return code;
    },
  }), async (e) => {
    clearTimeout(deadline);
    await child.status;
    throw e;
  });
}

async function converse(port: number): Promise<{ usage: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}/bedrock/model/demo/converse`, {
    method: "POST",
    headers: MASTER,
    body: HELLO,
    signal: AbortSignal.timeout(20_000),
  });
  assert.equal(res.status, 200);
  return await res.json();
}

async function spendRows(port: number): Promise<Array<{ spend: number; model_group?: string; call_type: string }>> {
  const today = new Date().toISOString().slice(0, 10);
  const res = await fetch(
    `http://127.0.0.1:${port}/spend/logs?start_date=${today}&end_date=${today}&summarize=false`,
    { headers: MASTER, signal: AbortSignal.timeout(20_000) },
  );
  assert.equal(res.status, 200);
  return await res.json();
}

for (const entry of ["serve", "deploy"] as const) {
  const how = entry === "serve" ? "deno serve server/serve.ts" : "deno run server/deploy.ts";
  Deno.test(`Deno Deploy's way: ${how}, no write permission, Deno.openKv(), CONFIG_YAML; spend survives SIGINT`, async () => {
    const origin = `http://deploy-test-${crypto.randomUUID().slice(0, 8)}.invalid`;
    const kvDir = `${(await denoInfo()).originStorage}/${await sha256Hex(origin)}`;
    const cwd = await Deno.makeTempDir({ prefix: "deploy-test-" });
    try {
      const a = await serve(entry, origin, cwd);
      const ready = await fetch(`http://127.0.0.1:${a.port}/health/readiness`);
      assert.equal(ready.status, 200);
      assert.equal((await ready.json()).db, "connected");
      assert.deepEqual((await converse(a.port)).usage, { inputTokens: 2, outputTokens: 25, totalTokens: 27 });

      const client = new BedrockRuntimeClient({
        region: "us-west-2",
        endpoint: `http://127.0.0.1:${a.port}/bedrock`,
        token: { token: "sk-1234" },
        authSchemePreference: ["httpBearerAuth"],
        requestHandler: new NodeHttpHandler(),
        maxAttempts: 1,
      });
      const out = await client.send(
        new ConverseStreamCommand({ modelId: "demo", messages: [{ role: "user", content: [{ text: "Hello" }] }] }),
        { abortSignal: AbortSignal.timeout(20_000) },
      );
      const events: string[] = [];
      for await (const e of out.stream!) events.push(Object.keys(e)[0]);
      client.destroy();
      assert.deepEqual(
        [...new Set(events)],
        ["messageStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"],
      );

      // A call, then SIGINT at once: Deploy's way of stopping an instance.
      await converse(a.port);
      assert.equal(await a.stop("SIGINT"), 0);
      assert.doesNotMatch(a.output(), /NotCapable|PermissionDenied|error:/, "nothing tried to write the filesystem");
      assert.deepEqual(
        [...Deno.readDirSync(kvDir)].map((e) => e.name).filter((n) => n.startsWith("kv.sqlite3")).sort()[0],
        "kv.sqlite3",
      );

      // The next instance on the same KV sees every call billed: three, each the demo's $0.000381.
      const b = await serve(entry, origin, cwd);
      const rows = await spendRows(b.port);
      assert.equal(rows.length, 3, JSON.stringify(rows));
      for (const r of rows) assert.equal(r.spend, 0.000381);
      assert.equal(await b.stop("SIGTERM"), 0);
      assert.deepEqual([...Deno.readDirSync(cwd)], [], "the working directory stays empty (no .data/)");
    } finally {
      await Deno.remove(kvDir, { recursive: true }).catch(() => {});
      await Deno.remove(cwd, { recursive: true });
    }
  });
}
