/**
 * The main isolate of `--workers N` (`server/cli/supervisor.ts`) with stand-in workers (`fake_worker.ts`): a worker
 * that crashes is replaced while the others keep serving, and the process still stops cleanly; a worker's start-up
 * failure is the CLI's start-up failure, with no worker left running; a port already taken is refused, as with one
 * worker (a socket without SO_REUSEPORT cannot join the workers' port).
 */
import assert from "node:assert/strict";
import { StartupError } from "../server/boot.ts";
import type { CliOptions } from "../server/cli/options.ts";
import { superviseWorkers } from "../server/cli/supervisor.ts";
import { createLogger } from "../server/core/log.ts";

const FAKE_WORKER = new URL("./fake_worker.ts", import.meta.url);

const options = (configPath: string, workers = 2): CliOptions => ({
  configPath,
  port: 0,
  hostname: "127.0.0.1",
  workers,
  detailedDebug: false,
  logFormat: "json",
});

/** A logger whose lines a test can wait for. */
function watchedLog() {
  const lines: string[] = [];
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const log = createLogger({
    write: (line) => {
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (line.includes(w.text)) w.resolve();
        else waiters.push(w);
      }
    },
  });
  const waitFor = (text: string) =>
    lines.some((l) => l.includes(text)) ? Promise.resolve() : new Promise<void>((resolve) => {
      waiters.push({ text, resolve });
    });
  return { log, lines, waitFor };
}

Deno.test("a worker that crashes is replaced (the others keep serving); stop still waits for every worker", async () => {
  const dir = await Deno.makeTempDir();
  const { log, lines, waitFor } = watchedLog();
  const workers = superviseWorkers({
    options: options(`crash-once:${dir}/crashed`, 3),
    descriptors: undefined,
    workerUrl: FAKE_WORKER,
    log,
    restartFirstMs: 0,
  });
  const ready = await workers.ready;
  assert.match(ready.configSource, /^fake \d$/);
  await waitFor("worker restarted");
  const crash = JSON.parse(lines.find((l) => l.includes("a worker crashed"))!);
  assert.equal(crash.worker, 1);
  assert.match(crash.message, /boom/);
  assert.equal(JSON.parse(lines.find((l) => l.includes("worker restarted"))!).worker, 1);
  assert.equal(await workers.stop("SIGTERM"), true, "every worker, the replacement too, stopped when told");
  assert.equal(await workers.stop("SIGTERM"), true, "once");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a worker's start-up failure is the CLI's: a StartupError with its details, no worker left", async () => {
  const workers = superviseWorkers({
    options: options("fail"),
    descriptors: undefined,
    workerUrl: FAKE_WORKER,
    log: createLogger({ write: () => {} }),
  });
  await assert.rejects(workers.ready, (e) => {
    assert.ok(e instanceof StartupError);
    assert.equal(e.message, "config broken");
    assert.deepEqual(e.details, ["  - line 1"]);
    return true;
  });
  assert.equal(await workers.stop("SIGTERM"), true, "nothing left to stop");
});

Deno.test("a port already taken is refused before any worker starts, as with one worker", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    assert.throws(
      () =>
        superviseWorkers({
          options: { ...options("ok"), port },
          descriptors: undefined,
          workerUrl: FAKE_WORKER,
          log: createLogger({ write: () => {} }),
        }),
      (e) => e instanceof StartupError && e.message.startsWith(`port ${port} is already in use on 127.0.0.1`),
    );
  } finally {
    taken.close();
  }
});
