/**
 * The benchmark's KV counting wrapper (`bench/kv_counter.ts`): it counts each operation, stamps the last write, and
 * otherwise behaves exactly like the KV it wraps; its route serves the counts and passes everything else on. The
 * bench's counting gateway wraps the CLI through its hooks; the CLI itself counts nothing.
 */
import assert from "node:assert/strict";
import { countingKv, KV_COUNTS_PATH, withKvCountRoute } from "../bench/kv_counter.ts";
import { startGatewayProcess } from "../testing/gateway_process.ts";

Deno.test("countingKv: reads and writes are counted by operation, values are the real ones", async () => {
  await using real = await Deno.openKv(":memory:");
  const { kv, counts } = countingKv(real);
  assert.deepEqual(counts(), { reads: 0, writes: 0, byOp: {}, lastWriteAt: null });

  await kv.set(["a"], 1);
  assert.equal((await kv.get<number>(["a"])).value, 1);
  const [a, b] = await kv.getMany<[number, number]>([["a"], ["b"]]);
  assert.equal(a.value, 1);
  assert.equal(b.value, null);
  const listed = [];
  for await (const e of kv.list({ prefix: [] })) listed.push(e.key);
  assert.deepEqual(listed, [["a"]]);
  const result = await kv.atomic().check({ key: ["a"], versionstamp: a.versionstamp }).sum(["n"], 2n).commit();
  assert.equal(result.ok, true);
  assert.equal((await real.get<Deno.KvU64>(["n"])).value?.value, 2n);
  await kv.delete(["a"]);

  const c = counts();
  assert.equal(c.reads, 3); // get, getMany, list
  assert.equal(c.writes, 3); // set, atomic commit, delete
  assert.deepEqual(c.byOp, {
    set: 1,
    get: 1,
    getMany: 1,
    list: 1,
    atomic: 1,
    "atomic.check": 1,
    "atomic.sum": 1,
    "atomic.commit": 1,
    delete: 1,
  });
  assert.equal(typeof c.lastWriteAt, "number");
});

Deno.test("withKvCountRoute: GET /__bench/kv-counts answers the counts; other requests reach the gateway", async () => {
  const seen: string[] = [];
  const fetch = withKvCountRoute((req) => {
    seen.push(new URL(req.url).pathname);
    return new Response("gateway");
  }, () => ({ reads: 2, writes: 1, byOp: { get: 2, set: 1 }, lastWriteAt: 5 }));
  const counted = await fetch(new Request(`http://gw${KV_COUNTS_PATH}`));
  assert.deepEqual(await counted.json(), { reads: 2, writes: 1, byOp: { get: 2, set: 1 }, lastWriteAt: 5 });
  assert.equal(
    await (await fetch(new Request("http://gw/bedrock/model/m/converse", { method: "POST" }))).text(),
    "gateway",
  );
  assert.deepEqual(seen, ["/bedrock/model/m/converse"]);
});

Deno.test("the bench's counting gateway counts the CLI's KV operations; the CLI itself serves no counts", async () => {
  const args = ["--config", "config.example.yaml", "--kv", ":memory:", "--port", "0", "--host", "127.0.0.1"];
  for (const script of ["bench/counting_gateway.ts", "server/main.ts"]) {
    await using gw = startGatewayProcess({ script, args });
    const url = `http://127.0.0.1:${await gw.port()}`;
    const ready = await fetch(`${url}/health/readiness`); // reads KV once
    assert.equal(ready.status, 200);
    await ready.body?.cancel();
    const res = await fetch(`${url}${KV_COUNTS_PATH}`);
    if (script === "server/main.ts") {
      assert.equal(res.status, 404, "the production gateway has no bench route");
      await res.body?.cancel();
    } else {
      const counts = await res.json();
      assert.ok(counts.reads >= 1, JSON.stringify(counts));
      assert.ok(counts.byOp.get >= 1, JSON.stringify(counts));
    }
  }
});
