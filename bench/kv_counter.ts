/**
 * @module
 * KV operation counting for `deno task bench`'s kv section: the benchmark's own gateway entry
 * (`counting_gateway.ts`) wraps the CLI's KV and request handler with these; production code knows nothing of them.
 *
 * `countingKv` wraps a `Deno.Kv` in a Proxy that counts each operation and stamps when the last write committed;
 * `withKvCountRoute` answers `GET /__bench/kv-counts` with those counts. It exposes counts and timestamps only,
 * never keys or values.
 */

export interface KvCounts {
  /** Round trips that read: `get`, `getMany`, `list`. */
  reads: number;
  /** Round trips that write: `set`, `delete`, `enqueue`, and each committed `atomic()` operation. */
  writes: number;
  /** Every counted call by name (`atomic.commit`, `atomic.check`, `atomic.sum`, …). */
  byOp: Record<string, number>;
  /** Epoch ms (sub-ms precision) at which the last write settled; comparable across processes on one host. */
  lastWriteAt: number | null;
}

const READS = new Set(["get", "getMany", "list"]);
const WRITES = new Set(["set", "delete", "enqueue", "atomic.commit"]);

const epochNow = () => performance.timeOrigin + performance.now();

/** Wraps `kv`; the returned `kv` behaves exactly like the original. */
export function countingKv(kv: Deno.Kv): { kv: Deno.Kv; counts: () => KvCounts } {
  const byOp: Record<string, number> = {};
  let lastWriteAt: number | null = null;
  const bump = (op: string) => {
    byOp[op] = (byOp[op] ?? 0) + 1;
  };
  const stampWhenSettled = (result: unknown) => {
    if (result instanceof Promise) {
      result.then(() => lastWriteAt = epochNow(), () => lastWriteAt = epochNow());
    } else lastWriteAt = epochNow();
    return result;
  };

  /** Counts calls on `target` (methods run with `this` = the real object, which holds the native handle). */
  function counted<T extends object>(target: T, prefix: string): T {
    const proxy: T = new Proxy(target, {
      get(t, prop) {
        const value = Reflect.get(t, prop, t);
        if (typeof value !== "function") return value;
        if (typeof prop !== "string") return value.bind(t);
        const op = prefix + prop;
        return (...args: unknown[]) => {
          bump(op);
          let result = value.apply(t, args);
          if (op === "atomic") result = counted(result as Deno.AtomicOperation, "atomic.");
          else if (result === t) result = proxy; // chained AtomicOperation calls
          return WRITES.has(op) ? stampWhenSettled(result) : result;
        };
      },
    });
    return proxy;
  }

  return {
    kv: counted(kv, ""),
    counts: () => {
      let reads = 0;
      let writes = 0;
      for (const [op, n] of Object.entries(byOp)) {
        if (READS.has(op)) reads += n;
        if (WRITES.has(op)) writes += n;
      }
      return { reads, writes, byOp: { ...byOp }, lastWriteAt };
    },
  };
}

export const KV_COUNTS_PATH = "/__bench/kv-counts";

/** A request handler; `info` (`Deno.serve`'s connection info) is passed on untouched. */
type Handler = (req: Request, info?: Deno.ServeHandlerInfo) => Response | Promise<Response>;

/** Serves the counts at `GET /__bench/kv-counts`; every other request goes to `fetch` untouched. */
export function withKvCountRoute(fetch: Handler, counts: () => KvCounts): Handler {
  return (req, info) => {
    if (req.method === "GET" && req.url.endsWith(KV_COUNTS_PATH)) return Response.json(counts());
    return fetch(req, info);
  };
}
