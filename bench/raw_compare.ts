/**
 * @module
 * How much of a Deno proxy's per-call cost is `fetch`: the bare forwarder (`fetch`) against the same forwarder on
 * the gateway's native HTTP/1.1 client (`--client native`, server/upstream_client) and on a minimal experimental one
 * (`raw_forwarder.ts`: content-length answers over plain TCP only, the lower bound), all in front of the bench's
 * fake, converse at concurrency 1 and 32, three interleaved rounds of 3 s. `deno run -A bench/raw_compare.ts`.
 * Prints one line per round; never fails on numbers.
 */
import { runLoad } from "./load.ts";
import { spawnServer } from "./processes.ts";
import { BODY } from "./targets.ts";

const ROOT = new URL("..", import.meta.url).pathname;

if (import.meta.main) {
  const fake = await spawnServer({ name: "fake", args: ["run", "-A", "bench/fake_upstream.ts"], cwd: ROOT });
  try {
    for (let round = 1; round <= 3; round++) {
      const variants = [
        ["fetch", "bench/bare_forwarder.ts"],
        ["native", "bench/bare_forwarder.ts", "--client", "native"],
        ["raw", "bench/raw_forwarder.ts"],
      ];
      for (const [name, script, ...extra] of variants) {
        const proxy = await spawnServer({
          name,
          args: ["run", "-A", script, "--upstream", fake.url, ...extra],
          cwd: ROOT,
        });
        try {
          for (const connections of [1, 32]) {
            let cpu0 = 0;
            const r = await runLoad({
              url: `${proxy.url}/model/bench.fixed/converse`,
              body: BODY,
              headers: { "content-type": "application/json" },
              connections,
              seconds: 3,
              warmupSeconds: 1,
              onMeasureStart: () => void (cpu0 = proxy.cpuMs()),
            });
            const cpu = (proxy.cpuMs() - cpu0) * 1000 / r.requests;
            console.log(
              `round ${round} ${name.padEnd(6)} c=${connections}: ${r.rps.toFixed(0)} req/s, ` +
                `p50 ${r.p50Ms.toFixed(3)} ms, server CPU ${cpu.toFixed(0)} µs/req, errors ${r.errors + r.non2xx}`,
            );
          }
        } finally {
          await proxy.stop();
        }
      }
    }
  } finally {
    await fake.stop();
  }
}
