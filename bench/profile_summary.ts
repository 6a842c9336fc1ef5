/**
 * @module
 * Summarises a V8 `.cpuprofile` (from `deno task bench --profile DIR`, which runs the gateway with `--cpu-prof`):
 * the top functions by self time and by inclusive time, and self time grouped by source (the gateway's own files,
 * hono, zod, Deno's runtime, V8 internals).
 *
 * `deno run -A bench/profile_summary.ts FILE.cpuprofile [--top N] [--filter TEXT]`
 * (`--filter` keeps only samples whose stack contains a function or file matching TEXT).
 */
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function shortUrl(url: string): string {
  if (!url) return "";
  const npm = /\/npm\/registry\.npmjs\.org\/([^/]+(?:\/[^/]+)?)\/[^/]+\/(.*)$/.exec(url);
  if (npm) return `npm:${npm[1].startsWith("@") ? npm[1] : npm[1].split("/")[0]}/${npm[2]}`;
  const local = /\/(server|sdk|bench|tests)\/(.*)$/.exec(url);
  if (local) return `${local[1]}/${local[2]}`;
  return url.replace(/^ext:/, "ext:");
}

function group(url: string): string {
  const u = shortUrl(url);
  if (!u) return "(v8/native)";
  if (u.startsWith("npm:")) return u.slice(0, u.indexOf("/") > 0 ? u.indexOf("/") : undefined);
  if (u.startsWith("server/") || u.startsWith("sdk/")) return u;
  if (u.startsWith("ext:")) return u.split("/").slice(0, 2).join("/");
  return u;
}

export function summarise(p: Profile, top: number, filter?: string): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anonymous)"} ${shortUrl(n.callFrame.url)}${
      n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""
    }`;

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const groups = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    const node = byId.get(p.samples[i])!;
    const name = node.callFrame.functionName;
    if (name === "(idle)" || name === "(program)" || name === "(garbage collector)") {
      if (name === "(idle)") idle += dt;
      else {
        self.set(name, (self.get(name) ?? 0) + dt);
        groups.set(name, (groups.get(name) ?? 0) + dt);
        total += dt;
      }
      continue;
    }
    const stack: ProfileNode[] = [];
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) stack.push(byId.get(id)!);
    if (filter && !stack.some((n) => label(n).includes(filter))) continue;
    total += dt;
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    const g = group(node.callFrame.url);
    groups.set(g, (groups.get(g) ?? 0) + dt);
    for (const l of new Set(stack.map(label))) inclusive.set(l, (inclusive.get(l) ?? 0) + dt);
  }
  const rows = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) =>
      `${(v / 1000).toFixed(1).padStart(9)} ms ${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`
    ).join("\n");
  return [
    `busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms` +
    (filter ? ` (filter: ${filter})` : ""),
    `\n# self time by source\n${rows(groups)}`,
    `\n# self time by function\n${rows(self)}`,
    `\n# inclusive time by function\n${rows(inclusive)}`,
  ].join("\n");
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { top: { type: "string" }, filter: { type: "string" } },
  });
  if (positionals.length !== 1) {
    console.error("usage: profile_summary.ts FILE.cpuprofile [--top N] [--filter TEXT]");
    Deno.exit(2);
  }
  const profile = JSON.parse(await Deno.readTextFile(positionals[0])) as Profile;
  console.log(summarise(profile, Number(values.top ?? 30), values.filter));
}
