/**
 * The README's calls, run as written against the gateway `deno task start` runs on a fresh machine (the CLI from an
 * empty folder: the built-in example config, its `demo` model, no AWS credentials): every `curl` (parsed, sent with
 * `fetch`, so the test needs no curl), the AWS SDK for JavaScript and SDK snippets (run with `deno run`), and the boto3
 * snippet when python3 has boto3. Only the address changes (`localhost:4000` → the test's port) and the SDK's package
 * name (→ `sdk/mod.ts`). The "Hello" call must cost what the README says it costs.
 */
import assert from "node:assert/strict";
import { startGatewayProcess } from "../testing/gateway_process.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const README = await Deno.readTextFile(`${ROOT}README.md`);
const DEMO_ANSWER = "Hello from the Converse Gateway demo model!";

/** The README's fenced code blocks in a language. */
function blocks(lang: string): string[] {
  return [...README.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === lang).map((m) => m[2]);
}

/** A command line split as `sh` splits it (quotes, backslash-newline continuations); enough for the README's curls. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  const text = command.replace(/\\\n/g, " ");
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      assert.ok(end > i, `unclosed quote in: ${command}`);
      word = (word ?? "") + text.slice(i + 1, end);
      i = end;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** A `curl URL -H … -d …` line as the request curl sends. */
function curlRequest(command: string, base: string): Request {
  const words = shellWords(command);
  assert.equal(words[0], "curl", command);
  const headers = new Headers();
  let url: string | undefined;
  let body: string | undefined;
  for (let i = 1; i < words.length; i++) {
    if (words[i] === "-H") {
      const h = words[++i];
      headers.append(h.slice(0, h.indexOf(":")), h.slice(h.indexOf(":") + 1).trim());
    } else if (words[i] === "-d") body = words[++i];
    else if (words[i].startsWith("-")) assert.fail(`curl option ${words[i]} is not understood by this test`);
    else url = words[i];
  }
  assert.ok(url, command);
  const full = (url.startsWith("http") ? url : `http://${url}`).replace(/^http:\/\/localhost:4000/, base);
  if (body !== undefined && !headers.has("content-type")) {
    headers.set("content-type", "application/x-www-form-urlencoded");
  }
  return new Request(full, { method: body === undefined ? "GET" : "POST", headers, body });
}

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

async function hasBoto3(): Promise<boolean> {
  try {
    return (await run("python3", ["-c", "import boto3"])).code === 0;
  } catch {
    return false;
  }
}

/** The README's snippets run against one gateway started as a fresh machine would start it. */
async function withGateway(fn: (base: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await using gateway = startGatewayProcess({
      args: ["--port", "0", "--host", "127.0.0.1", "--kv", ":memory:"],
      script: `${ROOT}server/main.ts`,
      cwd: dir,
    });
    assert.match(await gateway.waitFor(/listening on/), /\(config built-in config\.example\.yaml\) models: demo/);
    await fn(`http://127.0.0.1:${await gateway.port()}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the README's curl calls answer, and its Hello costs what the README says", async () => {
  const stated = /costs \*\*\$([0-9.]+)\*\*/.exec(README)?.[1];
  assert.ok(stated, "the README states the demo Hello's cost as **$…**");
  const curls = blocks("sh").flatMap((b) => b.split(/\n(?=curl )/)).filter((c) => c.startsWith("curl "));
  assert.ok(curls.length >= 2, `${curls.length} curl commands in the README`);
  await withGateway(async (base) => {
    for (const command of curls) {
      const res = await fetch(curlRequest(command.trim(), base));
      const text = await res.text();
      assert.equal(res.status, 200, `${command}\n→ ${res.status} ${text}`);
      if (command.includes("/converse")) {
        assert.ok(text.includes(DEMO_ANSWER), text);
        assert.equal(res.headers.get("x-litellm-response-cost"), stated);
      }
      if (command.includes("/key/generate")) assert.match(JSON.parse(text).key, /^sk-/);
    }
  });
});

Deno.test("the README's TypeScript snippets (AWS SDK for JavaScript, our SDK) run as written", async () => {
  const snippets = blocks("ts");
  assert.equal(snippets.length, 2, "the README has the AWS SDK and the SDK snippets");
  await withGateway(async (base) => {
    for (const snippet of snippets) {
      const file = await Deno.makeTempFile({ suffix: ".ts" });
      try {
        await Deno.writeTextFile(
          file,
          snippet.replaceAll("http://localhost:4000", base)
            .replaceAll('"@converse-gateway/sdk"', JSON.stringify(new URL("../sdk/mod.ts", import.meta.url).href)),
        );
        const out = await run(Deno.execPath(), ["run", "-A", "--config", `${ROOT}deno.json`, file]);
        assert.equal(out.code, 0, `${snippet}\n${out.stderr}`);
        assert.ok(out.stdout.includes(DEMO_ANSWER), out.stdout);
      } finally {
        await Deno.remove(file);
      }
    }
  });
});

Deno.test({
  name: "the README's boto3 snippet runs as written (when python3 has boto3)",
  ignore: !await hasBoto3(),
  fn: async () => {
    const [snippet] = blocks("python");
    assert.ok(snippet, "the README has a boto3 snippet");
    await withGateway(async (base) => {
      const out = await run("python3", ["-c", snippet.replaceAll("http://localhost:4000", base)]);
      assert.equal(out.code, 0, out.stderr);
      assert.ok(out.stdout.includes(DEMO_ANSWER), out.stdout);
    });
  },
});
