/**
 * @module
 * The gateway CLI (`server/main.ts`, same arguments) with its KV operations counted, for `deno task bench`'s kv
 * section: the KV store is wrapped by `countingKv` and the handler serves the counts at `GET /__bench/kv-counts`
 * (`kv_counter.ts`), through the CLI's injection points. Nothing of this is in the production gateway.
 *
 * ```sh
 * deno run -A bench/counting_gateway.ts --config bench.yaml --kv /tmp/kv.sqlite --port 0
 * ```
 */
import { main } from "../server/main.ts";
import { countingKv, type KvCounts, withKvCountRoute } from "./kv_counter.ts";

/** The two hooks, sharing the counts of the one KV store the CLI opens. */
function countingHooks() {
  let counts: () => KvCounts = () => ({ reads: 0, writes: 0, byOp: {}, lastWriteAt: null });
  return {
    wrapKv(kv: Deno.Kv): Deno.Kv {
      const counting = countingKv(kv);
      counts = counting.counts;
      return counting.kv;
    },
    wrapFetch: (fetch: Parameters<typeof withKvCountRoute>[0]) => withKvCountRoute(fetch, () => counts()),
  };
}

if (import.meta.main) await main(Deno.args, countingHooks());
