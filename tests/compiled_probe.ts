/**
 * @module
 * Run by `compile_test.ts` (inside `unshare -n` when it can): puts the built executable alone into an empty folder and
 * runs it there with an empty environment — `HOME` an empty folder (no Deno cache), `PATH` only the tools its header
 * uses (no `deno`) — then checks `--help`, bad usage, the demo model's converse (fetch) and converse-stream (the AWS
 * SDK) on the example config built in, `--kv` writing into the folder, SIGTERM, and a second (already unpacked) start
 * with `--config`. Prints one JSON object with what it saw; every child is bounded.
 *
 * `deno run -A tests/compiled_probe.ts <executable> <scratch dir>`
 */
import { BedrockRuntimeClient, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const [binary, scratch] = Deno.args;
const work = `${scratch}/empty`;
const home = `${scratch}/home`;
const tools = `${scratch}/tools`;
for (const d of [work, home, tools]) await Deno.mkdir(d, { recursive: true });
await Deno.copyFile(binary, `${work}/converse-gateway`);
await Deno.chmod(`${work}/converse-gateway`, 0o755);
const HEADER_TOOLS = ["sh", "tail", "tar", "gzip", "mktemp", "mkdir", "mv", "rm"];
for (const t of HEADER_TOOLS) {
  const found = ["/usr/bin", "/bin"].map((d) => `${d}/${t}`).find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  if (!found) throw new Error(`${t} not found in /usr/bin or /bin`);
  await Deno.symlink(found, `${tools}/${t}`);
}
const env = { HOME: home, PATH: tools, LANG: "C" };
const filesBefore = [...Deno.readDirSync(work)].map((e) => e.name);

async function run(args: string[]) {
  const out = await new Deno.Command(`${work}/converse-gateway`, {
    args,
    cwd: work,
    env,
    clearEnv: true,
    signal: AbortSignal.timeout(60_000),
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

async function start(args: string[]) {
  const started = performance.now();
  const child = new Deno.Command(`${work}/converse-gateway`, {
    args,
    cwd: work,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let port = 0;
  while (!port) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`exited before listening:\n${out}\n${await stderr}`);
    out += value;
    port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1] ?? 0);
  }
  const msToListen = Math.round(performance.now() - started);
  const draining = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += r.value;
  })();
  return {
    port,
    msToListen,
    listening: out.split("\n").find((l) => l.includes("listening on")) ?? "",
    async stop() {
      child.kill("SIGTERM");
      const { code } = await child.status;
      clearTimeout(deadline);
      await draining;
      return { code, stderr: await stderr };
    },
  };
}

const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];

async function converse(port: number, model: string) {
  const res = await fetch(`http://127.0.0.1:${port}/bedrock/model/${model}/converse`, {
    method: "POST",
    headers: { authorization: "Bearer sk-1234", "content-type": "application/json" },
    body: JSON.stringify({ messages }),
    signal: AbortSignal.timeout(20_000),
  });
  const body = await res.json();
  return { status: res.status, text: body.output?.message?.content?.[0]?.text, usage: body.usage };
}

async function converseStream(port: number, model: string) {
  const client = new BedrockRuntimeClient({
    region: "us-west-2",
    endpoint: `http://127.0.0.1:${port}/bedrock`,
    token: { token: "sk-1234" },
    authSchemePreference: ["httpBearerAuth"],
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  try {
    const res = await client.send(new ConverseStreamCommand({ modelId: model, messages }), {
      abortSignal: AbortSignal.timeout(20_000),
    });
    let text = "";
    const events: string[] = [];
    for await (const e of res.stream!) {
      events.push(Object.keys(e)[0]);
      text += e.contentBlockDelta?.delta?.text ?? "";
    }
    return { events: [...new Set(events)], text };
  } finally {
    client.destroy();
  }
}

// First run: unpacks, then serves the example built in; its KV file goes where --kv says.
const first = await start(["--port", "0", "--host", "127.0.0.1", "--kv", "./kv.sqlite"]);
const firstConverse = await converse(first.port, "demo");
const firstStream = await converseStream(first.port, "demo");
const firstStop = await first.stop();
const kvWritten = Deno.statSync(`${work}/kv.sqlite`).isFile;

const help = await run(["--help"]);
const bad = await run(["--bogus"]);

// Second run: already unpacked; --config from the folder.
await Deno.writeTextFile(
  `${work}/other.yaml`,
  "model_list:\n  - model_name: hello\n    litellm_params:\n      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0\n" +
    '      mock_response: "hi there"\ngeneral_settings:\n  master_key: sk-1234\n',
);
const second = await start(["--port", "0", "--host", "127.0.0.1", "--config", "other.yaml", "--kv", ":memory:"]);
const secondConverse = await converse(second.port, "hello");
const secondStream = await converseStream(second.port, "hello");
const secondStop = await second.stop();

console.log(JSON.stringify({
  filesBefore,
  first: {
    msToListen: first.msToListen,
    listening: first.listening,
    converse: firstConverse,
    stream: firstStream,
    exit: firstStop.code,
  },
  kvWritten,
  help: { code: help.code, stdout: help.stdout, stderr: help.stderr },
  bad: { code: bad.code, stdout: bad.stdout, stderr: bad.stderr },
  second: {
    msToListen: second.msToListen,
    listening: second.listening,
    converse: secondConverse,
    stream: secondStream,
    exit: secondStop.code,
  },
  unpacked: (() => {
    try {
      return [...Deno.readDirSync(`${home}/.cache/converse-gateway`)].map((e) => e.name);
    } catch {
      return []; // a true deno compile binary unpacks nothing
    }
  })(),
}));
