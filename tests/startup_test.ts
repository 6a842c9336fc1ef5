/**
 * Start-up failures print one line on stderr (what, where, how to fix; a YAML error's excerpt below it) and exit 1
 * with no stack trace; warnings logged before the failure still reach stdout. An example master key on an address
 * other machines can reach is warned about.
 */
import assert from "node:assert/strict";
import { exampleKeyWarning } from "../server/boot.ts";
import { startGatewayProcess } from "../testing/gateway_process.ts";

const MOCK = `model_list:
  - model_name: demo
    litellm_params: { model: bedrock/x, mock_response: hi }
general_settings:
  master_key: sk-test-startup-0001
`;

async function failure(args: string[], files: Record<string, string> = {}) {
  const dir = await Deno.makeTempDir();
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(`${dir}/${name}`, text);
  const p = startGatewayProcess({ args: args.map((a) => a.replace("$DIR", dir)) });
  const end = await p.ended();
  await Deno.remove(dir, { recursive: true });
  assert.equal(end.code, 1, end.stderr);
  const lines = end.stderr.trimEnd().split("\n");
  assert.ok(lines[0].startsWith("error: "), end.stderr);
  assert.ok(!/^\s+at /m.test(end.stderr), `a stack trace: ${end.stderr}`);
  return { first: lines[0], stderr: end.stderr, stdout: end.stdout, dir };
}

Deno.test("a missing --config file: one line naming it and the flag", async () => {
  const { first } = await failure(["--config", "$DIR/nope.yaml", "--kv", ":memory:"]);
  assert.match(first, /^error: config file not found: .*nope\.yaml \(--config\); check the path/);
});

Deno.test("a YAML syntax error: the file, line, column and the whole message, with the parser's excerpt masked", async () => {
  const broken = "model_list:\n  - model_name: a\n    litellm_params:\n      model: bedrock/x\n     bad: 1\n";
  const { first, stderr } = await failure(["--config", "$DIR/broken.yaml", "--kv", ":memory:"], {
    "broken.yaml": broken,
  });
  assert.match(
    first,
    /^error: invalid config in .*broken\.yaml: line 5, column 1: YAML syntax error: All mapping items must start at the same column$/,
  );
  assert.doesNotMatch(first, /:\s*$/, "not cut off");
  assert.match(stderr, /\n\s+bad: …\n\s+\^/, "the excerpt with its caret, the key's value masked");
});

Deno.test("an empty config file says so", async () => {
  const { first } = await failure(["--config", "$DIR/empty.yaml", "--kv", ":memory:"], { "empty.yaml": "" });
  assert.match(first, /^error: invalid config in .*empty\.yaml: the file is empty: it needs at least a model_list/);
});

Deno.test("a corrupt KV file: one line naming it, and what to do", async () => {
  const { first } = await failure(["--config", "$DIR/c.yaml", "--kv", "$DIR/kv.sqlite"], {
    "c.yaml": MOCK,
    "kv.sqlite": "this is not a database ".repeat(200),
  });
  assert.match(first, /^error: cannot open the KV store .*kv\.sqlite: file is not a database; .*move it aside/);
});

Deno.test("port in use: one line with the port and --port; the warnings logged before it are not lost", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const withWarning = MOCK + "  some_unknown_setting: 1\n";
  const { first, stdout } = await failure(
    ["--config", "$DIR/c.yaml", "--kv", ":memory:", "--host", "127.0.0.1", "--port", String(port)],
    { "c.yaml": withWarning },
  );
  taken.close();
  assert.equal(
    first,
    `error: port ${port} is already in use on 127.0.0.1 (another gateway or program listens there): stop it, or ` +
      "start on another port with --port N (or PORT=N)",
  );
  assert.match(stdout, /general_settings\.some_unknown_setting: unknown key, ignored/);
});

Deno.test("an example master key is warned about when the gateway is reachable, not on loopback", async () => {
  assert.match(exampleKeyWarning("sk-1234", "0.0.0.0")!, /well-known example key.*reachable on 0\.0\.0\.0/);
  assert.match(exampleKeyWarning("sk-1234", undefined)!, /reachable from the network/);
  assert.equal(exampleKeyWarning("sk-1234", "127.0.0.1"), undefined);
  assert.equal(exampleKeyWarning("sk-1234", "::1"), undefined);
  assert.equal(exampleKeyWarning("sk-a-real-secret-3f9c", "0.0.0.0"), undefined);
  // The CLI logs it before serving.
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/c.yaml`, MOCK.replace("sk-test-startup-0001", "sk-1234"));
  await using p = startGatewayProcess({ args: ["--config", `${dir}/c.yaml`, "--kv", ":memory:", "--port", "0"] });
  await p.port();
  assert.match(p.stdout(), /EXAMPLE MASTER KEY: general_settings\.master_key is \\"sk-1234\\"/);
  await Deno.remove(dir, { recursive: true });
});
