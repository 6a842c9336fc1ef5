/**
 * The CLI's options (`server/cli/options.ts`): `--help` lists every option with its default and environment variable
 * (stdout, exit 0); bad usage says what is wrong and prints the usage line (stderr, exit 2) — an unknown option, a
 * bad port or worker count, a `:memory:` store for several workers; a flag wins over its variable, the variable over
 * the default. And the example config built in: started from an empty folder, the CLI serves the demo model.
 */
import assert from "node:assert/strict";
import { helpText, parseCli } from "../server/cli/options.ts";
import { startGatewayProcess } from "../testing/gateway_process.ts";

const MAIN = new URL("../server/main.ts", import.meta.url).pathname;

async function cli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("--help: every option with its default and environment variable, on stdout, exit 0", async () => {
  const { code, stdout, stderr } = await cli(["--help"]);
  assert.equal(code, 0);
  assert.equal(stderr, "");
  assert.equal(stdout.trim(), helpText());
  const expected: Array<[flag: string, env?: string, fallback?: string]> = [
    ["--config FILE", "CONFIG_YAML", "config.example.yaml"],
    ["--port N", "PORT", "default 4000"],
    ["--host H", "HOST", "default 0.0.0.0"],
    ["--kv PATH", "KV_PATH", "default ./.data/gateway.sqlite"],
    ["--workers N|auto", "NUM_WORKERS", "default 1"],
    ["--detailed-debug"],
    ["-h, --help"],
  ];
  for (const [flag, env, fallback] of expected) {
    const at = stdout.indexOf(`  ${flag} `);
    assert.ok(at >= 0, `${flag} is listed`);
    const entry = stdout.slice(at, stdout.indexOf("\n  -", at + 1));
    if (env) assert.match(entry, new RegExp(`env ${env}`), `${flag} names ${env}`);
    if (fallback) assert.ok(entry.includes(fallback), `${flag} says its default: ${fallback}`);
  }
  assert.match(stdout, /Also\s+--num_workers/);
  assert.match(stdout, /Also\s+--detailed_debug/);
  assert.equal((await cli(["-h"])).stdout, stdout);
});

Deno.test("bad usage: the problem and the usage line on stderr, exit 2, nothing started", async () => {
  const cases: Array<[args: string[], env: Record<string, string>, problem: RegExp]> = [
    [["--bogus"], {}, /Unknown option '--bogus'/],
    [["serve"], {}, /Unexpected argument 'serve'/],
    [["--port", "70000"], {}, /invalid port: 70000/],
    [[], { PORT: "eighty" }, /invalid port: eighty/],
    [["--workers", "0"], {}, /invalid --workers: 0/],
    [["--workers", "two"], {}, /invalid --workers: two/],
    [["--workers", "2", "--kv", ":memory:"], {}, /:memory: .* cannot be shared by 2 workers/],
    [[], { NUM_WORKERS: "2", KV_PATH: ":memory:" }, /:memory: .* cannot be shared by 2 workers/],
  ];
  for (const [args, env, problem] of cases) {
    const { code, stdout, stderr } = await cli(args, env);
    assert.equal(code, 2, `${args.join(" ")} ${JSON.stringify(env)}: exit 2`);
    assert.equal(stdout, "", "nothing on stdout");
    assert.match(stderr, problem);
    assert.match(stderr, /^usage: deno task start \[--config FILE\] .*\[--workers N\|auto\]/m);
    assert.match(stderr, /Run with --help/);
  }
});

Deno.test("options: a flag wins over its variable, the variable over the default; auto is one worker per CPU", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  const none = parseCli([], env({}), 8);
  assert.deepEqual(none, {
    kind: "run",
    options: {
      configPath: undefined,
      port: 4000,
      hostname: "0.0.0.0",
      kvPath: undefined,
      workers: 1,
      detailedDebug: false,
      logFormat: "json",
    },
  });
  const vars = env({ PORT: "5000", HOST: "127.0.0.1", KV_PATH: "/tmp/kv", NUM_WORKERS: "3" });
  const fromEnv = parseCli([], vars, 8);
  assert.ok(fromEnv.kind === "run");
  assert.deepEqual(
    [fromEnv.options.port, fromEnv.options.hostname, fromEnv.options.kvPath, fromEnv.options.workers],
    [5000, "127.0.0.1", "/tmp/kv", 3],
  );
  const flags = parseCli(
    ["--port", "0", "--host", "::1", "--kv", "/x", "--workers", "auto", "--config", "c.yaml", "--detailed-debug"],
    vars,
    8,
  );
  assert.ok(flags.kind === "run");
  assert.deepEqual(flags.options, {
    configPath: "c.yaml",
    port: 0,
    hostname: "::1",
    kvPath: "/x",
    workers: 8,
    detailedDebug: true,
    logFormat: "json",
  });
  const litellm = parseCli(["--num_workers", "2", "--detailed_debug"], env({}), 8);
  assert.ok(litellm.kind === "run");
  assert.deepEqual([litellm.options.workers, litellm.options.detailedDebug], [2, true], "LiteLLM's spellings");
  assert.deepEqual(parseCli(["--help", "--bogus"], env({}), 1).kind, "usage", "unknown options are never ignored");
});

Deno.test("--log-format: pretty on a terminal, json otherwise; LOG_FORMAT and the flag choose; anything else is usage", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  const format = (p: ReturnType<typeof parseCli>) => p.kind === "run" ? p.options.logFormat : p.kind;
  assert.equal(format(parseCli([], env({}), 1, true)), "pretty");
  assert.equal(format(parseCli([], env({}), 1, false)), "json");
  assert.equal(format(parseCli([], env({ LOG_FORMAT: "json" }), 1, true)), "json");
  assert.equal(format(parseCli(["--log-format", "pretty"], env({ LOG_FORMAT: "json" }), 1, false)), "pretty");
  assert.equal(format(parseCli(["--log-format", "xml"], env({}), 1, false)), "usage");
  assert.match(helpText(), /--log-format pretty\|json/);
});

Deno.test("from an empty folder (no config.yaml, no config.example.yaml) the CLI serves the example built in", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using p = startGatewayProcess({
      args: ["--port", "0", "--host", "127.0.0.1", "--kv", ":memory:"],
      script: MAIN,
      cwd: dir,
    });
    const line = await p.waitFor(/listening on/);
    assert.match(line, /\(config built-in config\.example\.yaml\) models: demo/);
    const res = await fetch(`http://127.0.0.1:${await p.port()}/bedrock/model/demo/converse`, {
      method: "POST",
      headers: { authorization: "Bearer sk-1234", "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: [{ text: "Hello" }] }] }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).usage, { inputTokens: 2, outputTokens: 25, totalTokens: 27 });
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written to the folder (KV in memory)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
