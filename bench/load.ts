/**
 * @module
 * Closed-loop HTTP load at a fixed concurrency, driven by autocannon (npm, pinned in deno.json).
 *
 * autocannon keeps its latency histogram in whole milliseconds, too coarse for sub-millisecond overheads, so
 * every response's duration is taken from autocannon's own `response` event (its `process.hrtime` timing of the
 * request, a float in ms) and the percentiles are computed here from all samples. Requests per second are the
 * 2xx responses counted that way over the wall time of the run.
 *
 * For streams, completed responses undercount (a long stream in flight when the run ends counts for nothing), so
 * `countBodyBytes` also counts response body bytes as autocannon's clients receive them.
 */
import autocannon from "autocannon";

/** The slice of autocannon's API used here (the package ships no types). */
interface AutocannonInstance {
  on(event: "response", fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  on(event: "done", fn: (result: { errors: number; timeouts: number; non2xx: number }) => void): void;
  on(event: "error", fn: (e: Error) => void): void;
}
type Autocannon = (opts: Record<string, unknown>) => AutocannonInstance;
/** The part of an autocannon client that sees each piece of a response body. */
interface AutocannonClient {
  pipelinedRequests: { addBody(data: Uint8Array): void };
}
const run = autocannon as unknown as Autocannon;

export interface LoadSpec {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  /** Measured seconds (after the warm-up). */
  seconds: number;
  /** Unmeasured warm-up seconds at the same concurrency (JIT, connection pools). */
  warmupSeconds: number;
  /** Called right before the measured run starts (e.g. to read the server's CPU time). */
  onMeasureStart?: () => void;
  /** Count response body bytes as they arrive (streams), into `bodyBytesPerSecond`. */
  countBodyBytes?: boolean;
}

export interface LoadResult {
  connections: number;
  requests: number;
  rps: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Socket errors and timeouts. */
  errors: number;
  non2xx: number;
  /** Response bytes per second (2xx). */
  bytesPerSecond: number;
  /** Response body bytes received per second, complete responses or not (with `countBodyBytes`). */
  bodyBytesPerSecond: number;
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function once(spec: LoadSpec, seconds: number, record: boolean): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const samples: number[] = [];
    let bytes = 0;
    let bodyBytes = 0;
    // autocannon keeps each response body as a string (for its body checks); counting instead of keeping it also
    // spares the client the work on long binary streams.
    const setupClient = record && spec.countBodyBytes
      ? (client: AutocannonClient) => {
        client.pipelinedRequests.addBody = (data) => {
          bodyBytes += data.byteLength;
        };
      }
      : undefined;
    const started = performance.now();
    const instance = run({
      url: spec.url,
      method: "POST",
      headers: spec.headers,
      body: spec.body,
      connections: spec.connections,
      duration: seconds,
      timeout: 30,
      ...(setupClient ? { setupClient } : {}),
    });
    if (record) {
      instance.on("response", (_client, status, resBytes, ms) => {
        if (status >= 200 && status < 300) {
          samples.push(ms);
          bytes += resBytes;
        }
      });
    }
    instance.on("error", reject);
    instance.on("done", (result) => {
      const elapsed = (performance.now() - started) / 1000;
      const sorted = Float64Array.from(samples).sort();
      const sum = samples.reduce((a, b) => a + b, 0);
      resolve({
        connections: spec.connections,
        requests: samples.length,
        rps: samples.length / elapsed,
        meanMs: sum / samples.length,
        p50Ms: percentile(sorted, 0.5),
        p90Ms: percentile(sorted, 0.9),
        p99Ms: percentile(sorted, 0.99),
        errors: result.errors + result.timeouts,
        non2xx: result.non2xx,
        bytesPerSecond: bytes / elapsed,
        bodyBytesPerSecond: bodyBytes / elapsed,
      });
    });
  });
}

/** Runs the warm-up, then the measured run. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.warmupSeconds > 0) await once(spec, spec.warmupSeconds, false);
  spec.onMeasureStart?.();
  return await once(spec, spec.seconds, true);
}
