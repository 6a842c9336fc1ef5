/**
 * @module
 * Reading `/metrics` in tests: a small parser of the Prometheus text format 0.0.4 that checks what the format
 * forbids (unescaped label values, split families, histograms that are not cumulative), and sums of samples.
 */
import assert from "node:assert/strict";
import { MASTER_KEY } from "../testing/harness.ts";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses `{a="x",b="y\"z"}`: only `\\`, `\"` and `\n` may be escaped; no raw newline or quote inside a value. */
function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    assert.ok(eq > i, `label name expected: ${line}`);
    const name = text.slice(i, eq);
    assert.match(name, LABEL_NAME, line);
    assert.equal(text[eq + 1], '"', `quoted value expected: ${line}`);
    let value = "";
    let j = eq + 2;
    for (;; j++) {
      assert.ok(j < text.length, `unterminated label value: ${line}`);
      const ch = text[j];
      if (ch === '"') break;
      if (ch === "\\") {
        const next = text[++j];
        assert.ok(next === "\\" || next === '"' || next === "n", `bad escape \\${next}: ${line}`);
        value += next === "n" ? "\n" : next;
      } else value += ch;
    }
    assert.ok(!(name in labels), `duplicate label ${name}: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
  }
  return labels;
}

/** Parses and checks an exposition in text format 0.0.4; returns its families by name. */
export function parseExposition(body: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: string | undefined;
  const seen = new Set<string>();
  const familyOf = (sample: string) => {
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      const base = sample.slice(0, -suffix.length);
      if (sample.endsWith(suffix) && families.get(base)?.type === "histogram") return base;
    }
    return sample;
  };
  assert.ok(body.endsWith("\n"), "the exposition ends with a newline");
  for (const line of body.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      assert.match(name, NAME, line);
      const f = families.get(name) ?? { type: "untyped", help: "", samples: [] };
      if (kind === "TYPE") {
        assert.ok(["counter", "gauge", "histogram", "summary", "untyped"].includes(rest), line);
        assert.equal(f.samples.length, 0, `TYPE after samples: ${line}`);
        f.type = rest;
      } else f.help = rest;
      families.set(name, f);
      if (current !== name) {
        assert.ok(!seen.has(name), `family ${name} is split`);
        seen.add(name);
        current = name;
      }
      continue;
    }
    assert.ok(!line.startsWith("#"), `unknown comment: ${line}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = m;
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
    assert.ok(valueText === "NaN" || !Number.isNaN(value), `bad value: ${line}`);
    const family = familyOf(name);
    assert.equal(family, current, `sample outside its family block: ${line}`);
    families.get(family)!.samples.push({ name, labels: parseLabels(labelText ?? "", line), value });
  }
  for (const [name, f] of families) {
    assert.ok(f.help.length > 0, `${name} has HELP`);
    if (f.type === "counter") assert.ok(name.endsWith("_total"), `counter ${name} ends in _total`);
    if (f.type !== "histogram") continue;
    // Per label set: cumulative buckets in increasing le, +Inf last and equal to _count, and a _sum.
    const series = new Map<string, Sample[]>();
    for (const s of f.samples) {
      const { le: _, ...rest } = s.labels;
      const id = JSON.stringify(Object.entries(rest).sort());
      series.set(id, [...series.get(id) ?? [], s]);
    }
    for (const samples of series.values()) {
      const buckets = samples.filter((s) => s.name === `${name}_bucket`);
      const les = buckets.map((b) => b.labels.le === "+Inf" ? Infinity : Number(b.labels.le));
      assert.deepEqual(les, [...les].sort((a, b) => a - b), `${name}: le ascending`);
      assert.equal(les.at(-1), Infinity, `${name}: le="+Inf" present`);
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(buckets[i].value >= buckets[i - 1].value, `${name} cumulative`);
      }
      const count = samples.find((s) => s.name === `${name}_count`);
      assert.ok(count && samples.some((s) => s.name === `${name}_sum`), `${name}: _sum and _count`);
      assert.equal(buckets.at(-1)!.value, count.value, `${name}: +Inf bucket = _count`);
    }
  }
  return families;
}

export const scrape = async (url: string, key: string | null = MASTER_KEY) => {
  const res = await fetch(`${url}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
};

/** The sum of the samples named `name` (in any family) whose labels include `labels`. */
export const value = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  [...families.values()].flatMap((f) => f.samples).filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  ).reduce((sum, s) => sum + s.value, 0);
