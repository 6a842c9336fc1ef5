/**
 * The built SDK package (`deno task build:sdk`), installed the way others install it: `npm pack` in the built
 * directory, `npm install` of the tarball into a fresh Node project (offline: the package has no dependencies).
 * Plain `node` (no TypeScript) imports it by name and talks to a gateway started here; its `.d.ts` files
 * type-check a consumer the way `tsc` in a Node project would; its JSR manifest passes `deno publish --dry-run`;
 * the browser bundle stays within its 8 KB gzipped budget.
 */
import assert from "node:assert/strict";
import ts from "typescript";
import { FAKE_CREDENTIALS, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";

const ROOT = new URL("../", import.meta.url);
const SIZE_BUDGET = 8 * 1024;

/** Builds the package into a fresh temporary directory, exactly as `deno task build:sdk --outdir` does. */
async function build(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sdk-package-" });
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--allow-env",
      "scripts/build_sdk.ts",
      "--outdir",
      `${dir}/pkg`,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return dir;
}

/** Runs a command to completion; throws with its output when it fails. */
async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text}${new TextDecoder().decode(out.stderr)}`);
  return text;
}

const dir = await build();
const manifest = JSON.parse(await Deno.readTextFile(`${dir}/pkg/package.json`));

/** `npm pack` in the package, `npm install <tarball>` in an empty project: what a user outside this repo does. */
async function installInNodeProject(): Promise<string> {
  const packed = (await run("npm", ["pack", "--offline", "--pack-destination", dir], `${dir}/pkg`)).trim();
  const app = `${dir}/app`;
  await Deno.mkdir(app);
  await Deno.writeTextFile(`${app}/package.json`, '{ "name": "app", "private": true, "type": "module" }\n');
  const args = ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", `${dir}/${packed}`];
  await run("npm", args, app);
  return app;
}

const app = await installInNodeProject();

/** The script node runs: ESM, no TypeScript, only the package's public entry. */
const NODE_SCRIPT = `
import {
  createClient, converse, AuthenticationError, UnrecognizedClientException, ThrottlingException, ConverseError,
  ConnectionError,
} from "@converse-gateway/sdk";

const [url, key, closedPort] = process.argv.slice(2);
const messages = [{ role: "user", content: [{ text: "Hello" }] }];
const client = createClient({ baseURL: url, apiKey: key });
const out = {};

// Node's own "TypeError: fetch failed" arrives typed, with the cause, after the retries.
try {
  await createClient({ baseURL: "http://127.0.0.1:" + closedPort, sleep: async () => {} }).converse("claude", { messages });
} catch (e) {
  out.refused = { name: e.name, status: e.status, typed: e instanceof ConnectionError && e instanceof ConverseError,
    cause: e.cause?.name };
}
const invoked = await client.invoke("claude", { anthropic_version: "bedrock-2023-05-31", max_tokens: 5, messages: [] });
out.invoke = [invoked.body.content[0].text, invoked.inputTokens > 0];

out.converse = (await client.converse("claude", { messages })).output.message.content[0].text;
out.envConverse = (await converse("claude", { messages })).output.message.content[0].text;

const texts = [];
for await (const t of client.converseStream("claude", { messages }).textStream()) texts.push(t);
out.streamTexts = texts;

const tool = await client.converseStream("claude", { messages }).collect();
out.tool = tool.output.message.content;

try {
  await createClient({ baseUrl: url, apiKey: "sk-wrong" }).converse("claude", { messages });
} catch (e) {
  out.badKey = { name: e.name, status: e.status, auth: e instanceof AuthenticationError,
    unrecognized: e instanceof UnrecognizedClientException, base: e instanceof ConverseError };
}

try {
  for await (const _ of client.converseStream("claude", { messages })) {}
} catch (e) {
  out.midStream = { name: e.name, status: e.status, throttling: e instanceof ThrottlingException, message: e.message };
}

for await (const _ of client.converseStream("claude", { messages })) break;
out.health = await client.health.readiness();
out.keyAlias = (await client.keys.generate({ key_alias: "from-node" })).key_alias;
console.log(JSON.stringify(out));
// Stay alive until the test has seen the upstream cancelled, so it is the break (not exit) that cancelled it.
process.stdin.resume();
await new Promise((resolve) => process.stdin.on("end", resolve));
`;

Deno.test("the manifest: ESM, types and import conditions, a files list, no dependencies", () => {
  assert.equal(manifest.name, "@converse-gateway/sdk");
  assert.match(manifest.version, /^\d+\.\d+\.\d+$/);
  assert.equal(manifest.type, "module");
  assert.deepEqual(manifest.exports["."], { types: "./mod.d.ts", import: "./mod.js" });
  assert.equal(manifest.types, "./mod.d.ts");
  assert.ok(Array.isArray(manifest.files));
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    assert.equal(manifest[field], undefined, field);
  }
  // What npm installed is the tarball's copy (not a link to the build), and only the files list's files.
  const installed = `${app}/node_modules/@converse-gateway/sdk`;
  assert.equal(Deno.lstatSync(installed).isSymlink, false);
  const names = [...Deno.readDirSync(installed)].map((e) => e.name);
  assert.ok(names.includes("mod.js") && names.includes("mod.d.ts") && names.includes("converse-gateway.min.js"));
  assert.ok(!names.some((n) => n.endsWith(".ts") && !n.endsWith(".d.ts")), `sources shipped to npm: ${names}`);
});

Deno.test("node imports the installed package by name and uses it against a running gateway", async () => {
  await Deno.writeTextFile(`${app}/use.mjs`, NODE_SCRIPT);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = listener.addr.port;
  listener.close();
  const fake = await startFakeBedrock();
  await using gw = await startGateway({
    yaml: fakeConfig(fake.url),
    env: { AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey },
  });
  fake.enqueue(
    { kind: "converse", text: "from invoke", usage: { inputTokens: 3, outputTokens: 1 } },
    { kind: "converse", text: "from node" },
    { kind: "converse", text: "from env" },
    { kind: "stream" },
    {
      kind: "stream",
      events: [
        ["messageStart", { role: "assistant" }],
        ["contentBlockStart", { contentBlockIndex: 0, start: { toolUse: { toolUseId: "t1", name: "lookup" } } }],
        ["contentBlockDelta", { contentBlockIndex: 0, delta: { toolUse: { input: '{"q":' } } }],
        ["contentBlockDelta", { contentBlockIndex: 0, delta: { toolUse: { input: '"deno"}' } } }],
        ["contentBlockStop", { contentBlockIndex: 0 }],
        ["messageStop", { stopReason: "tool_use" }],
        ["metadata", { usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }, metrics: { latencyMs: 1 } }],
      ],
    },
    { kind: "stream", exceptionAt: { index: 1, type: "throttlingException", message: "node slow down" } },
    { kind: "stream", stallAfter: 1 },
  );
  const child = new Deno.Command("node", {
    args: ["use.mjs", gw.url, MASTER_KEY, String(closedPort)],
    cwd: app,
    env: { CONVERSE_GATEWAY_URL: gw.url, CONVERSE_GATEWAY_KEY: MASTER_KEY },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  // The first stdout line is the result; node then waits on stdin. The reader is kept (not cancelled) and
  // drained after node exits.
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { done, value } = await stdout.read();
    if (done) break;
    line += value;
  }
  // (Not assert.ok(…, `${await stderr}`): the message would wait for stderr to end, i.e. for node to exit.)
  if (!line.includes("\n")) assert.fail(`node printed no result: ${await stderr}`);
  const result = JSON.parse(line);
  assert.deepEqual(result, {
    refused: { name: "ConnectionError", status: 0, typed: true, cause: "TypeError" },
    invoke: ["from invoke", true],
    converse: "from node",
    envConverse: "from env",
    streamTexts: ["Hello", " from", " fake"],
    tool: [{ toolUse: { toolUseId: "t1", name: "lookup", input: { q: "deno" } } }],
    badKey: { name: "UnrecognizedClientException", status: 401, auth: true, unrecognized: true, base: true },
    midStream: { name: "ThrottlingException", status: 429, throttling: true, message: "node slow down" },
    health: { status: "healthy", db: "connected" },
    keyAlias: "from-node",
  });
  // The loop node broke out of cancelled the upstream stream while node was still running.
  assert.equal((await fake.whenAborted(6)).aborted, true);
  await child.stdin.close();
  while (!(await stdout.read()).done) { /* drain */ }
  const status = await child.status;
  assert.ok(status.success, await stderr);
  await fake.close();
});

Deno.test("the installed package's .d.ts files type-check a TypeScript consumer (NodeNext resolution)", () => {
  const consumer = `${app}/consumer.ts`;
  Deno.writeTextFileSync(
    consumer,
    `import { createClient, ThrottlingException, type ConverseStreamEvent } from "@converse-gateway/sdk";
import { createClient as fromBundle } from "@converse-gateway/sdk/browser";
const client = createClient({ baseURL: "http://localhost:4000", apiKey: "sk-1", maxRetries: 1 });
export const same: typeof createClient = fromBundle;
export async function run(): Promise<string | undefined> {
  const answer = await client.converse("claude", { messages: [{ role: "user", content: [{ text: "Hi" }] }] });
  for await (const e of client.converseStream("claude", { messages: [] })) {
    const event: ConverseStreamEvent = e;
    if (event.contentBlockDelta) return event.contentBlockDelta.delta.text;
  }
  // @ts-expect-error: role must be user or assistant
  await client.converse("claude", { messages: [{ role: "bot", content: [] }] });
  const e: unknown = null;
  if (e instanceof ThrottlingException) return String(e.retryAfter);
  const page = await client.keys.list({ return_full_object: true });
  return answer.output.message?.content[0].text ?? page.keys[0].token;
}
`,
  );
  const program = ts.createProgram([consumer], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
    types: [],
    strict: true,
    noEmit: true,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  assert.equal(
    diagnostics.length,
    0,
    ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => app,
      getNewLine: () => "\n",
    }),
  );
  // The declarations really were read (not an `any` fallback): the package's files are in the program.
  const read = program.getSourceFiles().map((f) => f.fileName);
  assert.ok(read.some((f) => f.endsWith("/node_modules/@converse-gateway/sdk/types.gen.d.ts")), String(read));
});

Deno.test("the JSR manifest publishes the TypeScript sources (deno publish --dry-run, with a license added)", async () => {
  const jsr = JSON.parse(await Deno.readTextFile(`${dir}/pkg/jsr.json`));
  assert.equal(jsr.name, manifest.name);
  assert.equal(jsr.version, manifest.version);
  assert.equal(jsr.exports, "./mod.ts");
  // The project has not chosen a license; JSR requires one, so a copy of the package gets a placeholder.
  const copy = `${dir}/jsr`;
  await Deno.mkdir(copy);
  for (const entry of Deno.readDirSync(`${dir}/pkg`)) {
    await Deno.copyFile(`${dir}/pkg/${entry.name}`, `${copy}/${entry.name}`);
  }
  await Deno.writeTextFile(`${copy}/jsr.json`, JSON.stringify({ ...jsr, license: "0BSD" }));
  const out = await run(Deno.execPath(), ["publish", "--dry-run", "--allow-dirty"], copy);
  assert.doesNotMatch(out, /error/i);
});

Deno.test("the minified browser bundle of the whole SDK is within 8 KB gzipped", async () => {
  const bundle = await Deno.readFile(`${dir}/pkg/converse-gateway.min.js`);
  const gzipped = await new Response(new Blob([bundle]).stream().pipeThrough(new CompressionStream("gzip"))).bytes();
  assert.ok(gzipped.length <= SIZE_BUDGET, `${gzipped.length} bytes gzipped, budget ${SIZE_BUDGET}`);
  // It is a real bundle of the client, not an empty file.
  const text = new TextDecoder().decode(bundle);
  for (
    const name of [
      "createClient",
      "invokeStream",
      "ConnectionError",
      "ThrottlingException",
      "application/vnd.amazon.eventstream",
    ]
  ) {
    assert.ok(text.includes(name), name);
  }
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
