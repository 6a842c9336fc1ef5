/**
 * UUIDv7 request ids: valid RFC 9562 UUIDs holding the injected clock's time, decoded back exactly; anything
 * else (v4 UUIDs, other ids) decodes to nothing, so spend-log lookups fall back to a full scan for it.
 */
import assert from "node:assert/strict";
import { createUuidV7, uuidV7Time } from "../server/core/uuidv7.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

Deno.test("UUIDv7: version 7, RFC variant, the clock's ms in the first 48 bits, random bits from a v4 UUID", () => {
  const t = Date.UTC(2025, 5, 1, 12, 0, 0, 123);
  const id = createUuidV7(() => t, () => "0f1e2d3c-4b5a-4968-a776-655443322110")();
  assert.equal(
    id,
    `${t.toString(16).padStart(12, "0").slice(0, 8)}-${t.toString(16).slice(-4)}-7968-a776-655443322110`,
  );
  assert.match(id, UUID);
  assert.equal(uuidV7Time(id), t);
  // With real random bits: distinct ids, each version 7 with the 10xx variant.
  const gen = createUuidV7(() => t);
  const ids = new Set(Array.from({ length: 1000 }, gen));
  assert.equal(ids.size, 1000);
  for (const x of ids) {
    assert.match(x, UUID);
    assert.equal(x[14], "7");
    assert.ok("89ab".includes(x[19]), x);
    assert.equal(uuidV7Time(x), t);
  }
});

Deno.test("UUIDv7: ids sort by time; the clock's extremes are clamped into 48 bits", () => {
  let clock = Date.UTC(2025, 0, 1);
  const gen = createUuidV7(() => clock);
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) {
    ids.push(gen());
    clock += 1 + (i % 7) * 997;
  }
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(uuidV7Time(createUuidV7(() => 12.9)()), 12);
  assert.equal(uuidV7Time(createUuidV7(() => -5)()), 0);
  assert.equal(uuidV7Time(createUuidV7(() => 2 ** 50)()), 2 ** 48 - 1);
});

Deno.test("uuidV7Time: other ids decode to nothing; upper case v7 decodes", () => {
  const t = Date.UTC(2025, 5, 1);
  const id = createUuidV7(() => t)();
  assert.equal(uuidV7Time(id.toUpperCase()), t);
  for (
    const other of [
      crypto.randomUUID(), // v4
      "0197a0b4-1c00-6000-8000-000000000000", // v6
      "0197a0b4-1c00-7000-c000-000000000000", // wrong variant
      "0197a0b4-1c00-7000-8000-00000000000", // too short
      "0197a0b4-1c00-7000-8000-0000000000000",
      `${id.slice(0, 35)}g`,
      "req-1",
      "",
    ]
  ) {
    assert.equal(uuidV7Time(other), undefined, other);
  }
});
