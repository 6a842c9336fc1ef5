/**
 * The benchmark's own pieces that a config or format change could silently break: the generated gateway config
 * must load (with SigV4 deployments pointed at the fake), percentiles and tables must be right.
 */
import assert from "node:assert/strict";
import { gatewayYaml, MODELS } from "../bench/gateway_setup.ts";
import { percentile } from "../bench/load.ts";
import { table } from "../bench/report.ts";
import { fmt } from "../bench/format.ts";
import { loadConfig } from "../server/config/load.ts";

Deno.test("bench: the generated config loads, every bench model a SigV4 deployment of the fake", () => {
  const config = loadConfig(gatewayYaml("http://127.0.0.1:9999", 20), () => undefined);
  assert.deepEqual(config.warnings, []);
  assert.deepEqual([...config.byModelName.keys()].sort(), Object.values(MODELS).sort());
  const ids = config.deployments.map((d) => d.bedrockModelId).sort();
  assert.deepEqual(ids, ["bench.big-20", "bench.fixed", "bench.gated"]);
  for (const d of config.deployments) {
    assert.equal(d.endpoint, "http://127.0.0.1:9999");
    assert.equal(d.auth.kind, "sigv4");
    assert.ok(d.prices.input && d.prices.output, "priced, so spend is computed");
  }
  assert.ok(config.masterKey);
});

Deno.test("bench: nearest-rank percentiles", () => {
  const xs = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 0.5), 50);
  assert.equal(percentile(xs, 0.9), 90);
  assert.equal(percentile(xs, 0.99), 99);
  assert.equal(percentile(Float64Array.from([7]), 0.99), 7);
  assert.ok(Number.isNaN(percentile(new Float64Array(0), 0.5)));
});

Deno.test("bench: tables are Markdown with numbers right-aligned", () => {
  assert.equal(fmt(12345.6), "12346");
  assert.equal(fmt(12.345), "12.3");
  assert.equal(fmt(0.12345), "0.123");
  assert.equal(fmt(32), "32");
  assert.equal(
    table([["target", "req/s"], ["bare", 1234.5], ["gateway", 99.5]]),
    [
      "| target  | req/s |",
      "|---------|------:|",
      "| bare    |  1235 |",
      "| gateway |  99.5 |",
    ].join("\n"),
  );
});
