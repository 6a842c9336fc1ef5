/**
 * @module
 * Where the in-process gateway allocates per call: V8's sampling heap profiler (through `node:inspector`) around
 * `bench/in_process.ts`, young-generation garbage included, summed by function. Allocation is what the garbage
 * collector then costs on the main thread and on V8's helper threads, so it is the quick check of "objects built and
 * thrown away":
 *
 * ```sh
 * deno run -A bench/alloc_profile.ts [--target gateway|floor] [--calls 5000] [--top 40]
 * ```
 */
import { Session } from "node:inspector";
import { parseArgs } from "node:util";
import { main as inProcess } from "./in_process.ts";

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children?: SampleNode[];
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    target: { type: "string", default: "gateway" },
    calls: { type: "string", default: "5000" },
    top: { type: "string", default: "40" },
  },
});
const session = new Session();
session.connect();
const post = <T>(method: string, params?: object) =>
  new Promise<T>((resolve, reject) =>
    session.post(method, params ?? {}, (e: Error | null, r?: object) => e ? reject(e) : resolve(r as T))
  );
await post("HeapProfiler.enable");
await post("HeapProfiler.startSampling", {
  samplingInterval: 256,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
await inProcess(["--calls", values.calls, "--target", values.target]);
const { profile } = await post<{ profile: { head: SampleNode } }>("HeapProfiler.stopSampling");
session.disconnect();

const bySite = new Map<string, number>();
let total = 0;
const walk = (n: SampleNode) => {
  const f = n.callFrame;
  const url = f.url.replace(/^.*registry\.npmjs\.org\//, "npm:").replace(/^file:\/\/.*?\/(server|bench|wire)\//, "$1/");
  const site = `${f.functionName || "(anonymous)"} ${url}`;
  bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
  total += n.selfSize;
  for (const c of n.children ?? []) walk(c);
};
walk(profile.head);
// in_process.ts warms up with min(calls, 3000) calls before the measured ones; both are sampled.
const calls = Number(values.calls) + Math.min(Number(values.calls), 3000);
console.log(`${values.target}: ~${(total / calls).toFixed(0)} bytes allocated per call (sampled), by function:`);
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  console.log(`${(bytes / calls).toFixed(0).padStart(7)} B  ${site}`);
}
