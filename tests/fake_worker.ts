/**
 * @module
 * A stand-in for the CLI's worker (`server/cli/worker.ts`) in `supervisor_test.ts`: it speaks the protocol
 * (`server/cli/messages.ts`) and serves nothing. What it does is chosen by the `--config` it is started with:
 * `ok`; `fail` (start-up fails); `crash-once:<file>` (ready, then an uncaught error, unless `<file>` exists: it is
 * created first, so the replacement stays up).
 */
import type { FromWorker, ToWorker } from "../server/cli/messages.ts";

const scope = globalThis as unknown as {
  postMessage(m: FromWorker): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
};

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === "start") {
    const mode = m.options.configPath ?? "ok";
    if (mode === "fail") {
      return scope.postMessage({ type: "failed", message: "config broken", details: ["  - line 1"] });
    }
    const banner = {
      configSource: `fake ${m.index}`,
      models: ["m"],
      kv: ":memory:",
      masterKey: true,
      withoutCredentials: [],
      traces: "off",
    };
    scope.postMessage({ type: "ready", banner, stopWithinMs: 100 });
    if (mode.startsWith("crash-once:") && m.index === 1) {
      const marker = mode.slice("crash-once:".length);
      try {
        Deno.statSync(marker);
      } catch {
        Deno.writeTextFileSync(marker, "crashed");
        setTimeout(() => {
          throw new Error("boom");
        }, 0);
      }
    }
  } else if (m.type === "stop") {
    scope.postMessage({ type: "stopped" });
  } else if (m.type === "metrics_snapshot_wanted") {
    scope.postMessage({ type: "metrics_snapshot", gather: m.gather, snapshot: [] });
  }
};
