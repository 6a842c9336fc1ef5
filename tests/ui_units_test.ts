/**
 * The admin UI's pure parts: money and number formatting, the key form (what an edit sends), the session codec
 * (signature, expiry, tampering, the secret's derivation), the sign-in limiter's bounds, the cross-site checks, and
 * the chart's scale.
 */
import assert from "node:assert/strict";
import { gridFractions, niceCeiling, topSeries } from "../server/ui/components/chart.tsx";
import { fromThisSite, readableBy, sameToken } from "../server/ui/csrf.ts";
import { formatCount, formatMs, formatPercent, formatPerMillion, formatUsd, utcText } from "../server/ui/format.ts";
import { readKeyForm, toGenerateRequest, toUpdateRequest } from "../server/ui/key_form.ts";
import type { KeyInfo } from "../server/ui/ports.ts";
import { createSessionCodec } from "../server/ui/session.ts";
import { createSignInLimiter } from "../server/ui/sign_in_limiter.ts";

Deno.test("money shows enough digits for one small call, and never rounds a cost away to $0.00", () => {
  const cases: Array<[number, string]> = [
    [0, "$0.00"],
    [0.021, "$0.0210"],
    [0.02, "$0.0200"],
    [0.0123456, "$0.0123"],
    [1.5, "$1.5000"],
    [12.34567, "$12.3457"],
    [999.99999, "$1,000.00"],
    [999.9999, "$999.9999"],
    [1234.567, "$1,234.57"],
    [1_234_567.891, "$1,234,567.89"],
    [0.0042, "$0.0042"],
    [0.00042, "$0.00042"],
    [0.00002, "$0.000020"],
    [0.000044, "$0.000044"],
    [0.0000123, "$0.000012"],
    [0.000000001, "$0.000000001"],
    [0.0000000004, "$0.000000001"],
    [-0.021, "-$0.0210"],
    [Number.NaN, "—"],
  ];
  for (const [usd, text] of cases) assert.equal(formatUsd(usd), text, String(usd));
  // Amounts people typed (budgets) and chart axes drop trailing zeros down to cents.
  const trimmed: Array<[number, string]> = [[40, "$40.00"], [2.5, "$2.50"], [0.025, "$0.025"], [0.00002, "$0.00002"]];
  for (const [usd, text] of trimmed) assert.equal(formatUsd(usd, { trim: true }), text, String(usd));
  assert.equal(formatUsd(1234.5, { trim: true }), "$1,234.50");
  assert.equal(formatUsd(0, { trim: true }), "$0.00");
});

Deno.test("counts, durations, percentages, prices per million tokens and UTC text", () => {
  assert.equal(formatCount(1234567), "1,234,567");
  assert.equal(formatCount(0), "0");
  assert.equal(formatCount(null), "—");
  assert.equal(formatMs(850), "850 ms");
  assert.equal(formatMs(2440), "2.4 s");
  assert.equal(formatMs(185_000), "3 min 5 s");
  assert.equal(formatMs(null), "—");
  assert.equal(formatPercent(1, 3), "33 %");
  assert.equal(formatPercent(1, 300), "0.3 %");
  assert.equal(formatPercent(0, 0), "—");
  assert.equal(formatPercent(0, 31), "0 %");
  assert.equal(formatPerMillion(0.000003), "$3.00");
  assert.equal(formatPerMillion(0.00000035), "$0.35");
  assert.equal(formatPerMillion(0.000000000375), "$0.00038");
  assert.equal(utcText(Date.UTC(2025, 5, 1, 12, 0, 5)), "2025-06-01 12:00:05 UTC");
});

const INFO: KeyInfo = {
  token: "a".repeat(64),
  key_name: "sk-...abcd",
  key_alias: "app",
  spend: 0,
  max_budget: 10,
  soft_budget: null,
  budget_duration: "30d",
  budget_reset_at: "2025-07-01T00:00:00.000Z",
  expires: null,
  models: ["claude"],
  allowed_routes: [],
  rpm_limit: 60,
  tpm_limit: null,
  max_parallel_requests: null,
  user_id: null,
  team_id: null,
  metadata: {},
  blocked: false,
  model_max_budget: {},
  model_spend: {},
  model_rpm_limit: {},
  model_tpm_limit: {},
  tags: [],
  aliases: {},
  created_at: "2025-06-01T00:00:00.000Z",
  updated_at: "2025-06-01T00:00:00.000Z",
};

const form = (fields: Record<string, string | string[]>) => {
  const f = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) f.append(k, x);
  return f;
};

Deno.test("the key form: a new key leaves empty fields out; the admin API's schema validates every field", () => {
  const ok = toGenerateRequest(
    readKeyForm(form({ key_alias: " app ", models: ["a", "b", "a"], max_budget: "2.5", rpm_limit: "" })),
  );
  assert.deepEqual(ok, { ok: true, value: { key_alias: "app", models: ["a", "b"], max_budget: 2.5 } });
  const bad = toGenerateRequest(readKeyForm(form({ max_budget: "lots", rpm_limit: "1.5", duration: "soon" })));
  assert.equal(bad.ok, false);
  if (bad.ok) return;
  assert.equal(bad.errors.max_budget, "Enter a number.");
  assert.match(bad.errors.rpm_limit!, /int/i);
  assert.match(bad.errors.duration!, /expected a duration/);
  assert.deepEqual(toGenerateRequest(readKeyForm(form({ duration: "never" }))), { ok: true, value: {} });
});

Deno.test("the key form: an edit sends only what changed; emptied fields clear; the expiry stays unless given", () => {
  const same = form({
    key_alias: "app",
    models: "claude",
    max_budget: "10.0",
    budget_duration: "30d",
    rpm_limit: "60",
  });
  assert.deepEqual(toUpdateRequest(INFO, readKeyForm(same)), { ok: true, value: { key: INFO.token }, changed: false });
  const changed = form({
    key_alias: "app2",
    max_budget: "10",
    budget_duration: "30d",
    rpm_limit: "",
    tpm_limit: "500",
  });
  assert.deepEqual(toUpdateRequest(INFO, readKeyForm(changed)), {
    ok: true,
    // No budget_duration: re-sending it would start a new budget window.
    value: { key: INFO.token, key_alias: "app2", rpm_limit: null, tpm_limit: 500, models: [] },
    changed: true,
  });
  const expiry = toUpdateRequest(INFO, readKeyForm(form({ ...Object.fromEntries(same), duration: "never" })));
  assert.deepEqual(expiry, { ok: true, value: { key: INFO.token, duration: null }, changed: true });
  const renew = toUpdateRequest(INFO, readKeyForm(form({ ...Object.fromEntries(same), duration: "7d" })));
  assert.deepEqual(renew, { ok: true, value: { key: INFO.token, duration: "7d" }, changed: true });
});

Deno.test("sessions: signed, expiring, bound to the master key, and refused when tampered with", async () => {
  let t = Date.UTC(2025, 5, 1);
  const codec = createSessionCodec({ masterKey: "sk-master", now: () => t, ttlMs: 1000 });
  const { session, token } = await codec.issue("key", "b".repeat(64));
  assert.match(session.id, /^[A-Za-z0-9_-]{22}$/);
  assert.deepEqual(await codec.read(token), session);
  assert.ok(!token.includes("sk-master"));

  // Same master key elsewhere (another instance): accepted. Another master key: refused.
  const twin = createSessionCodec({ masterKey: "sk-master", now: () => t, ttlMs: 1000 });
  assert.deepEqual(await twin.read(token), session);
  assert.equal(await createSessionCodec({ masterKey: "sk-rotated", now: () => t, ttlMs: 1000 }).read(token), undefined);
  assert.equal(await twin.csrfToken(session), await codec.csrfToken(session), "CSRF tokens agree across instances");

  const [body, sig] = token.split(".");
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  for (
    const bad of [
      `${flip(body, 5)}.${sig}`,
      `${body}.${flip(sig, 3)}`,
      body,
      `${body}.`,
      "",
      "x".repeat(2000),
      `${body}.${sig}.x`,
    ]
  ) {
    assert.equal(await codec.read(bad), undefined, bad.slice(0, 40));
  }
  assert.equal(await codec.read(undefined), undefined);

  t += 999;
  assert.ok(await codec.read(token));
  t += 1;
  assert.equal(await codec.read(token), undefined, "expired");

  const other = await codec.issue("admin");
  assert.notEqual(await codec.csrfToken(other.session), await codec.csrfToken(session), "a CSRF token per session");
  assert.equal(other.session.keyHash, undefined);
});

Deno.test("the sign-in limiter: 10 failures a minute per client, memory bounded, a new minute starts over", () => {
  let t = 0;
  const limiter = createSignInLimiter({ now: () => t, limit: 3, maxClients: 2 });
  for (let i = 0; i < 3; i++) {
    assert.equal(limiter.retryAfter("1.1.1.1"), 0);
    limiter.failed("1.1.1.1");
  }
  assert.equal(limiter.retryAfter("1.1.1.1"), 60);
  assert.equal(limiter.retryAfter("2.2.2.2"), 0, "another client is not affected");
  limiter.failed("2.2.2.2");
  // Past maxClients, newcomers share one bucket.
  for (let i = 0; i < 3; i++) limiter.failed(`10.0.0.${i}`);
  assert.equal(limiter.retryAfter("10.0.0.99"), 60);
  assert.equal(limiter.retryAfter("2.2.2.2"), 0, "known clients keep their own count");
  t = 45_500;
  assert.equal(limiter.retryAfter("1.1.1.1"), 15);
  t = 60_000;
  assert.equal(limiter.retryAfter("1.1.1.1"), 0);
  assert.equal(limiter.retryAfter("10.0.0.99"), 0);
  assert.equal(createSignInLimiter({ now: () => 0 }).retryAfter("x"), 0);
});

Deno.test("cross-site checks: form posts from this origin only; reads refused to other sites' fetches", () => {
  const req = (headers: Record<string, string>) => new Request("http://gw.example:4000/ui/keys", { headers });
  assert.equal(fromThisSite(req({ "sec-fetch-site": "same-origin" })), true);
  assert.equal(fromThisSite(req({ "sec-fetch-site": "same-site" })), false);
  assert.equal(fromThisSite(req({ "sec-fetch-site": "cross-site", origin: "http://gw.example:4000" })), false);
  assert.equal(fromThisSite(req({ origin: "http://gw.example:4000" })), true);
  assert.equal(fromThisSite(req({ origin: "https://gw.example:4000" })), true, "behind a TLS proxy");
  assert.equal(fromThisSite(req({ origin: "http://evil.example" })), false);
  assert.equal(fromThisSite(req({ origin: "null" })), false);
  assert.equal(fromThisSite(req({})), false);

  assert.equal(readableBy(req({})), true);
  assert.equal(readableBy(req({ "sec-fetch-site": "none" })), true);
  assert.equal(
    readableBy(req({ "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" })),
    true,
  );
  assert.equal(
    readableBy(req({ "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty" })),
    false,
  );
  assert.equal(
    readableBy(req({ "sec-fetch-site": "same-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "script" })),
    false,
  );

  assert.equal(sameToken("abc", "abc"), true);
  assert.equal(sameToken("abd", "abc"), false);
  assert.equal(sameToken("", ""), false);
  assert.equal(sameToken(null, "abc"), false);
  assert.equal(sameToken("abc", undefined), false);
});

Deno.test("the chart's scale falls on round amounts; small series are summed past seven", () => {
  assert.equal(niceCeiling(0.000044), 0.00005);
  assert.equal(niceCeiling(0.8), 1);
  assert.equal(niceCeiling(120), 200);
  assert.equal(niceCeiling(0), 1);
  assert.deepEqual(gridFractions(0.00005).map((f) => Number((f * 0.00005).toPrecision(3))), [
    0,
    0.00001,
    0.00002,
    0.00003,
    0.00004,
    0.00005,
  ]);
  assert.deepEqual(gridFractions(200), [0, 0.25, 0.5, 0.75, 1]);
  const series = Array.from({ length: 9 }, (_, i) => ({ name: `m${i}`, values: [i + 1, 0] }));
  const top = topSeries(series);
  assert.equal(top.length, 7);
  assert.deepEqual(top.slice(0, 6).map((s) => s.name), ["m8", "m7", "m6", "m5", "m4", "m3"]);
  assert.deepEqual(top[6], { name: "3 other models", values: [6, 0] });
  assert.deepEqual(topSeries([{ name: "idle", values: [0, 0] }]), []);
});
