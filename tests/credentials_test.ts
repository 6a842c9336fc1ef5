/**
 * Key comparison helpers: `sameDigest` over `hashKey` digests agrees with `sameSecret` over the raw keys, and the
 * authenticators built on it accept exactly the right keys.
 */
import assert from "node:assert/strict";
import { hashKey, sameDigest, sameSecret } from "../server/keys/credentials.ts";
import { masterKeyAuthenticator } from "../server/keys/auth.ts";

Deno.test("sameDigest(hashKey(a), hashKey(b)) is sameSecret(a, b)", () => {
  const keys = ["sk-1234", "sk-1235", "sk-123", "", "sk-1234 ", "é", "e\u0301"];
  for (const a of keys) {
    for (const b of keys) assert.equal(sameDigest(hashKey(a), hashKey(b)), sameSecret(a, b), `${a} vs ${b}`);
  }
});

Deno.test("sameDigest: different lengths or any differing character is unequal", () => {
  const d = hashKey("sk-1234");
  assert.equal(sameDigest(d, d.slice()), true);
  assert.equal(sameDigest(d, d.slice(0, -1)), false);
  assert.equal(sameDigest(d, d + "0"), false);
  for (const i of [0, 31, 63]) {
    const flipped = d.slice(0, i) + (d[i] === "0" ? "1" : "0") + d.slice(i + 1);
    assert.equal(sameDigest(d, flipped), false);
  }
});

Deno.test("masterKeyAuthenticator: the master key in, anything else a 401", async () => {
  const auth = masterKeyAuthenticator("sk-master");
  const as = (key?: string) =>
    auth.authenticate(new Headers(key === undefined ? {} : { authorization: `Bearer ${key}` }));
  const principal = await as("sk-master");
  assert.equal(principal.kind, "master");
  assert.equal(principal.caller.keyHash, hashKey("sk-master"));
  for (const wrong of ["sk-maste", "sk-master2", "SK-MASTER", undefined]) {
    await assert.rejects(as(wrong), (e: { status?: number }) => e.status === 401);
  }
});
