/**
 * `deno task compile` (`scripts/compile.ts`): one executable file that, copied alone into an empty folder and run there
 * with an empty environment (no Deno cache, no `deno` on PATH, only the tools its header needs), serves the demo model's
 * converse and converse-stream with the CLI's options, `--help` and all. Built into a temporary folder, checked by
 * `compiled_probe.ts` — inside `unshare -n` (a network namespace with only loopback: proof that nothing is downloaded)
 * when this machine allows it, else on loopback with `--no-remote --no-npm` and an empty cache as the guarantee; the
 * test says which. Bounded: the build and the probe each have a deadline.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

/** Whether a network namespace with loopback up can be made here (root, or unprivileged namespaces, and `ip`). */
async function canUnshare(): Promise<boolean> {
  try {
    const out = await new Deno.Command("unshare", {
      args: ["-n", "sh", "-c", "ip link set lo up"],
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(10_000),
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

Deno.test("deno task compile: one file, alone in an empty folder, serves converse and converse-stream", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "compile-test-" });
  try {
    const out = `${scratch}/dist/converse-gateway`;
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}scripts/compile.ts`, "--out", out],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(300_000),
    }).output();
    const log = new TextDecoder().decode(build.stdout) + new TextDecoder().decode(build.stderr);
    assert.ok(build.success, log);
    // Which of the two was built, and why, is said (here no denort can be had: the launcher).
    const launcher = /launcher -> .*converse-gateway: \d+\.\d MB/.test(log);
    assert.ok(launcher || /deno compile \(denort: .*\) -> /.test(log), log);
    assert.ok((await Deno.stat(out)).isFile);

    const isolated = await canUnshare();
    const probe = [Deno.execPath(), "run", "-A", `${ROOT}tests/compiled_probe.ts`, out, `${scratch}/probe`];
    const quoted = probe.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    const ran = await new Deno.Command(isolated ? "unshare" : probe[0], {
      args: isolated ? ["-n", "sh", "-c", `ip link set lo up && exec ${quoted}`] : probe.slice(1),
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(180_000),
    }).output();
    const stdout = new TextDecoder().decode(ran.stdout);
    assert.ok(ran.success, `${stdout}\n${new TextDecoder().decode(ran.stderr)}`);
    const seen = JSON.parse(stdout.trim().split("\n").at(-1)!);
    console.log(
      `  ${launcher ? "launcher" : "deno compile"}, ` +
        `${isolated ? "inside unshare -n (no network but loopback)" : "on loopback (unshare -n not possible here)"}: ` +
        `first start (unpacking) ${seen.first.msToListen} ms, second ${seen.second.msToListen} ms`,
    );

    assert.deepEqual(seen.filesBefore, ["converse-gateway"], "the executable alone in its folder");
    assert.match(seen.first.listening, /\(config built-in config\.example\.yaml\) models: demo/);
    assert.equal(seen.first.converse.status, 200);
    assert.match(seen.first.converse.text, /Converse Gateway demo/);
    assert.deepEqual(seen.first.converse.usage, { inputTokens: 2, outputTokens: 25, totalTokens: 27 });
    assert.deepEqual(seen.first.stream.events, [
      "messageStart",
      "contentBlockDelta",
      "contentBlockStop",
      "messageStop",
      "metadata",
    ]);
    assert.match(seen.first.stream.text, /Converse Gateway demo/);
    assert.equal(seen.first.exit, 0, "SIGTERM: drained, flushed, exit 0");
    assert.equal(seen.kvWritten, true, "--kv ./kv.sqlite written into the folder");

    assert.equal(seen.help.code, 0);
    assert.match(seen.help.stdout, /^Converse Gateway:/);
    assert.match(seen.help.stdout, /--workers N\|auto/);
    assert.equal(seen.bad.code, 2);
    assert.match(seen.bad.stderr, /Unknown option '--bogus'/);

    assert.match(seen.second.listening, /\(config other\.yaml\) models: hello/);
    assert.equal(seen.second.converse.text, "hi there");
    assert.equal(seen.second.stream.text, "hi there");
    assert.equal(seen.second.exit, 0);
    if (launcher) assert.equal(seen.unpacked.length, 1, "unpacked once, into one folder named by the payload's hash");
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});
