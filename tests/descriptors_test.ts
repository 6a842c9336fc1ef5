/**
 * Descriptor limits: the soft RLIMIT_NOFILE is raised to the hard one through libc (FFI), the default connection cap
 * follows from it, and a gateway whose descriptors run out (EMFILE on accept, hard limit 64) stays up, keeps serving
 * and accepts again once descriptors are back, logging once per burst.
 */
import assert from "node:assert/strict";
import { defaultMaxConnections } from "../server/http/descriptors.ts";
import { startGatewayProcess } from "../testing/gateway_process.ts";

Deno.test("default max_connections: half of the soft limit after a reserve of 128, between 64 and 16,384", () => {
  assert.equal(defaultMaxConnections({ soft: 1024 }), 448);
  assert.equal(defaultMaxConnections({ soft: 20_000 }), 9936);
  assert.equal(defaultMaxConnections({ soft: 1_048_576 }), 16_384);
  assert.equal(defaultMaxConnections({ soft: 64 }), 64);
  assert.equal(defaultMaxConnections(undefined), 1024);
});

const linux = Deno.build.os === "linux";

Deno.test({
  name: "raiseDescriptorLimit: a soft limit below the hard one is raised to it (child process, limit lowered first)",
  ignore: !linux,
}, async () => {
  const module = new URL("../server/http/descriptors.ts", import.meta.url).href;
  const code = `
    import { raiseDescriptorLimit } from "${module}";
    const libc = Deno.dlopen("libc.so.6", { setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
      getrlimit: { parameters: ["i32", "buffer"], result: "i32" } });
    const r = new BigUint64Array(2);
    libc.symbols.getrlimit(7, new Uint8Array(r.buffer));
    r[0] = 256n; // lower the soft limit, keep the hard one
    libc.symbols.setrlimit(7, new Uint8Array(r.buffer));
    console.log(JSON.stringify({ hard: Number(r[1]), got: raiseDescriptorLimit() }));`;
  const out = await new Deno.Command(Deno.execPath(), { args: ["eval", "--ext=ts", code], stdout: "piped" }).output();
  const { hard, got } = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.deepEqual(got, { soft: hard, hard, before: 256 });
});

Deno.test({
  name: "EMFILE: with 64 descriptors and 100 connections the gateway stays up, serves, and accepts again",
  ignore: !linux,
}, async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/c.yaml`,
    `model_list:
  - model_name: demo
    litellm_params: { model: bedrock/x, mock_response: hi }
general_settings:
  master_key: sk-test-emfile-0001
  max_connections: 1000 # above what the descriptors allow, so accept itself fails
`,
  );
  await using p = startGatewayProcess({
    shell: "ulimit -n 64;",
    args: ["--config", `${dir}/c.yaml`, "--kv", ":memory:", "--host", "127.0.0.1", "--port", "0"],
  });
  const port = await p.port();
  assert.match(p.stdout(), /"open_files":\{"soft":64,"hard":64/);
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < 100; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  await p.waitFor(/accepting connections failed/);
  for (const c of conns.splice(0, 90)) c.close();
  const res = await fetch(`http://127.0.0.1:${port}/bedrock/model/demo/converse`, {
    method: "POST",
    headers: { authorization: "Bearer sk-test-emfile-0001", "content-type": "application/json" },
    body: '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}',
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await p.waitFor(/accepting connections again/);
  for (const c of conns) c.close();
  const failedLines = p.stdout().split("\n").filter((l) => l.includes("accepting connections failed"));
  const againLines = p.stdout().split("\n").filter((l) => l.includes("accepting connections again"));
  assert.ok(failedLines.length >= 1 && failedLines.length <= againLines.length + 1, "one line per burst");
  assert.ok(JSON.parse(againLines[0]).failed_accepts >= 1);
  assert.match(failedLines[0], /Too many open files/);
  await Deno.remove(dir, { recursive: true });
});
