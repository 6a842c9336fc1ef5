/**
 * The admin UI's handlers, through a real gateway on 127.0.0.1: sign-in refused and accepted, the session cookie's
 * flags and contents, expiry on the injected clock, tampering, sign-out, master-key rotation, CSRF and
 * cross-site refusals, the sign-in limit, security headers on every answer, the read-only view of a virtual key
 * (and its loss of access the moment the key is blocked, deleted or regenerated), every page with data, and the
 * key actions end to end. Money formatting, the key form and the session codec are tested in `ui_units_test.ts`.
 */
import assert from "node:assert/strict";
import { CONTENT_SECURITY_POLICY } from "../server/ui/security_headers.ts";
import { type Clock, PRICE_PARAMS, setupKeys } from "./keys_helpers.ts";
import { MASTER_KEY, startGateway } from "../testing/harness.ts";
import { csrfOf, textOf, UiClient } from "./ui_helpers.ts";

const HOUR = 3_600_000;
const NAVIGATION = { "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" };

function assertUiHeaders(res: Response, what: string) {
  assert.equal(res.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY, `${what}: CSP`);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", `${what}: nosniff`);
  assert.equal(res.headers.get("referrer-policy"), "same-origin", `${what}: referrer policy`);
  assert.equal(res.headers.get("x-frame-options"), "DENY", `${what}: frame options`);
}

Deno.test("the CSP is strict: own files only, no inline script or style, no framing, forms to this origin only", () => {
  const directives = new Map(CONTENT_SECURITY_POLICY.split("; ").map((d) => [d.split(" ")[0], d]));
  assert.equal(directives.get("default-src"), "default-src 'none'");
  assert.equal(directives.get("script-src"), "script-src 'self'");
  assert.equal(directives.get("style-src"), "style-src 'self'");
  assert.equal(directives.get("frame-ancestors"), "frame-ancestors 'none'");
  assert.equal(directives.get("form-action"), "form-action 'self'");
  assert.equal(directives.get("base-uri"), "base-uri 'none'");
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe|\*|data:|http/);
});

Deno.test("sign-in: a wrong key shows an error and no data; the master key opens the admin view with a safe cookie", async () => {
  await using s = await setupKeys();
  await s.generate({ key_alias: "secret-alias" });
  const ui = new UiClient(s.gw.url);

  const start = await ui.get("/ui");
  assert.equal(start.status, 200);
  const form = await start.text();
  assert.match(form, /<input id="key" name="key" type="password"/);
  assert.match(form, /<label for="key">Key<\/label>/);

  const wrong = await ui.post("/ui/sign-in", { key: "sk-wrong", csrf: csrfOf(form) });
  const refused = await wrong.text();
  assert.equal(wrong.status, 401);
  assert.match(refused, /Sign-in refused/);
  assert.ok(!refused.includes("secret-alias") && !refused.includes("Overview"), "no data after a wrong key");
  assert.ok(!ui.cookies.has("cg_session"));
  // Nor is the wrong key echoed back into the page.
  assert.ok(!refused.includes("sk-wrong"));

  const ok = await ui.signIn(MASTER_KEY);
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.get("location"), "/ui");
  const cookie = ok.headers.getSetCookie().find((c) => c.startsWith("cg_session="))!;
  assert.match(cookie, /; HttpOnly/);
  assert.match(cookie, /; SameSite=Strict/);
  assert.match(cookie, /; Path=\/ui/);
  assert.match(cookie, /; Max-Age=43200/);
  assert.doesNotMatch(cookie, /Secure/, "plain http: a Secure cookie would not be stored");
  const value = ui.cookies.get("cg_session")!;
  assert.ok(
    !value.includes(MASTER_KEY) &&
      !atob(value.split(".")[0].replace(/-/g, "+").replace(/_/g, "/")).includes(MASTER_KEY),
  );
  assert.ok(!ui.cookies.has("cg_signin"), "the sign-in token is dropped once used");

  const home = await ui.page("/ui");
  assert.match(home, /<h1>Overview<\/h1>/);
  assert.match(home, /Signed in as admin/);
  assertUiHeaders(ok, "sign-in redirect");
});

Deno.test("the session cookie is Secure when the browser came over https (X-Forwarded-Proto from a proxy)", async () => {
  await using s = await setupKeys();
  const ui = new UiClient(s.gw.url, { "sec-fetch-site": "same-origin", "x-forwarded-proto": "https" });
  const res = await ui.signIn(MASTER_KEY);
  assert.equal(res.status, 303);
  for (const c of res.headers.getSetCookie()) assert.match(c, /; Secure/, c);
});

Deno.test("a session expires after 12 hours on the gateway's clock, and the page says so", async () => {
  await using s = await setupKeys();
  const ui = await new UiClient(s.gw.url).signedIn(MASTER_KEY);
  s.clock.advance(12 * HOUR - 1000);
  await ui.page("/ui/keys");
  s.clock.advance(1000);
  const res = await ui.get("/ui/keys");
  const html = await res.text();
  assert.equal(res.status, 401);
  assert.match(html, /Your session has ended/);
  assert.match(html, /name="next" value="\/ui\/keys"/, "back to the page asked for after signing in");
  assert.ok(!html.includes("<h1>Keys</h1>"));
});

Deno.test("a tampered or foreign session cookie is refused; rotating the master key signs everyone out", async () => {
  await using s = await setupKeys();
  const generated = await s.generate({ key_alias: "reader" });
  const reader = await new UiClient(s.gw.url).signedIn(generated.key);
  const [body, sig] = reader.cookies.get("cg_session")!.split(".");
  const json = JSON.parse(atob(body.replace(/-/g, "+").replace(/_/g, "/")));
  assert.equal(json.r, "key");
  assert.equal(json.kh, generated.token);
  // Promote the key's session to admin, keeping the signature.
  const forged = btoa(JSON.stringify({ ...json, r: "admin", kh: undefined })).replace(/=+$/, "").replace(/\+/g, "-")
    .replace(/\//g, "_");
  const tampered = new UiClient(s.gw.url);
  tampered.cookies.set("cg_session", `${forged}.${sig}`);
  const res = await tampered.get("/ui/keys");
  assert.equal(res.status, 401);
  assert.match(await res.text(), /Sign in/);
  tampered.cookies.set("cg_session", `${body}.${sig.slice(0, -2)}AA`);
  assert.equal((await tampered.get("/ui")).status, 401);
  tampered.cookies.set("cg_session", "garbage");
  assert.equal((await tampered.get("/ui")).status, 401);

  // Another instance with the same master key and KV accepts the session; one with a new master key does not.
  const admin = await new UiClient(s.gw.url).signedIn(MASTER_KEY);
  const yaml = (master: string) =>
    `model_list:\n  - model_name: demo\n    litellm_params:\n      model: bedrock/x\n      mock_response: hi\n` +
    `general_settings:\n  master_key: ${master}\n`;
  await using same = await startGateway({ yaml: yaml(MASTER_KEY), kv: s.gw.kv, now: s.clock.now });
  await using rotated = await startGateway({ yaml: yaml("sk-new-master"), kv: s.gw.kv, now: s.clock.now });
  const session = admin.cookies.get("cg_session")!;
  const elsewhere = new UiClient(same.url);
  elsewhere.cookies.set("cg_session", session);
  assert.match(await elsewhere.page("/ui/keys"), /<h1>Keys<\/h1>/);
  const afterRotation = new UiClient(rotated.url);
  afterRotation.cookies.set("cg_session", session);
  assert.equal((await afterRotation.get("/ui/keys")).status, 401);
});

Deno.test("sign-out ends the session everywhere: a copy of the cookie is refused afterwards", async () => {
  await using s = await setupKeys();
  const ui = await new UiClient(s.gw.url).signedIn(MASTER_KEY);
  const copy = ui.cookies.get("cg_session")!;
  const out = await ui.post("/ui/sign-out", { csrf: await ui.csrf() });
  assert.equal(out.status, 303);
  assert.equal(out.headers.get("location"), "/ui");
  assert.ok(!ui.cookies.has("cg_session"), "the cookie is cleared");
  const replay = new UiClient(s.gw.url);
  replay.cookies.set("cg_session", copy);
  const res = await replay.get("/ui/keys");
  assert.equal(res.status, 401);
  assert.ok(!(await res.text()).includes("<h1>Keys</h1>"));
});

Deno.test("CSRF: a form without the session's token, with another's, or from another site changes nothing", async () => {
  await using s = await setupKeys();
  const ui = await new UiClient(s.gw.url).signedIn(MASTER_KEY);
  const other = await new UiClient(s.gw.url).signedIn(MASTER_KEY);
  const token = await ui.csrf();
  const otherToken = await other.csrf();
  assert.notEqual(token, otherToken, "tokens are per session");
  const keyCount = async () => (await s.admin("GET", "/key/list")).json.total_count;

  const attempts: Array<[string, Record<string, string>, Record<string, string>]> = [
    ["no token", { key_alias: "a" }, {}],
    ["empty token", { key_alias: "a", csrf: "" }, {}],
    ["another session's token", { key_alias: "a", csrf: otherToken }, {}],
    // What a form on another site posting here sends (a top-level navigation).
    ["cross-site", { key_alias: "a", csrf: token }, { "sec-fetch-site": "cross-site", ...NAVIGATION }],
    ["same-site, other origin", { key_alias: "a", csrf: token }, { "sec-fetch-site": "same-site", ...NAVIGATION }],
  ];
  for (const [what, form, headers] of attempts) {
    const res = await ui.post("/ui/keys/new", form, headers);
    const html = await res.text();
    assert.equal(res.status, 403, what);
    assert.match(html, /Form refused/, what);
  }
  // Browsers without fetch metadata: the Origin's host must be ours.
  const legacy = new UiClient(s.gw.url, {});
  legacy.cookies.set("cg_session", ui.cookies.get("cg_session")!);
  const foreign = await legacy.post("/ui/keys/new", { key_alias: "a", csrf: token }, {
    origin: "https://evil.example",
  });
  assert.equal(foreign.status, 403);
  await foreign.body?.cancel();
  const none = await legacy.post("/ui/keys/new", { key_alias: "a", csrf: token });
  assert.equal(none.status, 403, "neither Sec-Fetch-Site nor Origin");
  await none.body?.cancel();
  assert.equal(await keyCount(), 0);

  const own = await legacy.post("/ui/keys/new", { key_alias: "a", csrf: token }, { origin: s.gw.url });
  assert.equal(own.status, 200);
  await own.body?.cancel();
  assert.equal(await keyCount(), 1);

  // The sign-in form has its own double-submit token: without the cookie that carries it, no sign-in.
  const fresh = new UiClient(s.gw.url);
  const page = await fresh.page("/ui");
  fresh.cookies.delete("cg_signin");
  const res = await fresh.post("/ui/sign-in", { key: MASTER_KEY, csrf: csrfOf(page) });
  assert.equal(res.status, 403);
  await res.body?.cancel();
  assert.ok(!fresh.cookies.has("cg_session"));
});

Deno.test("another site may link to the UI but not fetch its pages", async () => {
  await using s = await setupKeys();
  const ui = await new UiClient(s.gw.url).signedIn(MASTER_KEY);
  const fetched = await ui.get("/ui/keys", {
    "sec-fetch-site": "same-site",
    "sec-fetch-mode": "cors",
    "sec-fetch-dest": "empty",
  });
  assert.equal(fetched.status, 403);
  assert.ok(!(await fetched.text()).includes("csrf"));
  assertUiHeaders(fetched, "refused read");
  const framed = await ui.get("/ui", {
    "sec-fetch-site": "cross-site",
    "sec-fetch-mode": "navigate",
    "sec-fetch-dest": "iframe",
  });
  assert.equal(framed.status, 403);
  await framed.body?.cancel();
  const linked = await ui.get("/ui", {
    "sec-fetch-site": "cross-site",
    "sec-fetch-mode": "navigate",
    "sec-fetch-dest": "document",
  });
  assert.equal(linked.status, 200);
  await linked.body?.cancel();
});

Deno.test("sign-in attempts beyond 10 failures a minute from one client are refused, the right key included", async () => {
  await using s = await setupKeys();
  const ui = new UiClient(s.gw.url);
  for (let i = 0; i < 10; i++) {
    const res = await ui.signIn("sk-guess-" + i);
    assert.equal(res.status, 401, `attempt ${i + 1}`);
    await res.body?.cancel();
  }
  const limited = await ui.signIn(MASTER_KEY);
  assert.equal(limited.status, 429);
  assert.match(await limited.text(), /Too many failed attempts/);
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  assert.ok(!ui.cookies.has("cg_session"));
  s.clock.advance(60_000);
  assert.equal((await ui.signIn(MASTER_KEY)).status, 303);
});

Deno.test("the sign-in limit counts per client address, as Deno.serve passes it through the gateway", async () => {
  await using s = await setupKeys();
  const info = (hostname: string) =>
    ({
      remoteAddr: { transport: "tcp", hostname, port: 50000 },
      completed: Promise.resolve(),
    }) as Deno.ServeHandlerInfo;
  const attempt = async (hostname: string, key: string) => {
    const form = await s.gw.gateway.fetch(new Request("http://gw.test/ui"), info(hostname));
    const cookie = form.headers.getSetCookie()[0].split(";")[0];
    const req = new Request("http://gw.test/ui/sign-in", {
      method: "POST",
      headers: { cookie, "sec-fetch-site": "same-origin", "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ key, csrf: csrfOf(await form.text()) }),
    });
    const res = await s.gw.gateway.fetch(req, info(hostname));
    await res.body?.cancel();
    return res.status;
  };
  for (let i = 0; i < 10; i++) assert.equal(await attempt("10.0.0.1", "sk-guess"), 401);
  assert.equal(await attempt("10.0.0.1", MASTER_KEY), 429);
  assert.equal(await attempt("10.0.0.2", MASTER_KEY), 303, "another address is not held back");
});

Deno.test("every UI answer carries the security headers; pages have no inline script, style or handlers", async () => {
  await using s = await setupKeys();
  const ui = new UiClient(s.gw.url);
  const signIn = await ui.get("/ui");
  const signInHtml = await signIn.text();
  assertUiHeaders(signIn, "sign-in page");
  assert.equal(signIn.headers.get("cache-control"), "no-store");
  await ui.signedIn(MASTER_KEY);
  const paths = [
    "/ui",
    "/ui/keys",
    "/ui/keys/new",
    "/ui/logs",
    "/ui/models",
    "/ui/nothing-here",
    `/ui/keys/${"0".repeat(64)}`,
  ];
  for (const path of paths) {
    const res = await ui.get(path);
    const html = await res.text();
    assertUiHeaders(res, path);
    for (const page of [html, signInHtml]) {
      assert.doesNotMatch(page, /<script(?![^>]*\ssrc=)[^>]*>/, `${path}: inline script`);
      assert.doesNotMatch(page, /\sstyle=/, `${path}: style attribute`);
      assert.doesNotMatch(page, /<style/, `${path}: style element`);
      assert.doesNotMatch(page, /\son[a-z]+=/, `${path}: event handler attribute`);
      assert.doesNotMatch(page, /https?:\/\//, `${path}: a URL outside the gateway`);
    }
  }
  assert.equal((await ui.get("/ui/nothing-here")).status, 404);
  const html = await ui.page("/ui");
  for (const ref of html.matchAll(/(?:href|src)="(\/ui\/assets\/[^"]+)"/g)) {
    const asset = await ui.get(ref[1]);
    await asset.body?.cancel();
    assert.equal(asset.status, 200, ref[1]);
    assertUiHeaders(asset, ref[1]);
    assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
  }
  const root = await fetch(`${s.gw.url}/`, { redirect: "manual" });
  assert.equal(root.status, 302);
  assert.equal(root.headers.get("location"), "/ui");
});

Deno.test("a virtual key sees only its own spend and calls, read only; admin pages and forms refuse it", async () => {
  await using s = await setupKeys();
  const mine = await s.generate({ key_alias: "team-app", max_budget: 5 });
  const theirs = await s.generate({ key_alias: "other-team" });
  assert.equal((await s.converse(mine.key)).status, 200);
  assert.equal((await s.converse(theirs.key)).status, 200);
  await s.gw.gateway.flush();
  const [myCall, theirCall] = s.gw.calls.map((c) => c.requestId);

  const ui = await new UiClient(s.gw.url).signedIn(mine.key);
  const home = textOf(await ui.page("/ui"));
  assert.match(home, /team-app/);
  assert.match(home, /\$0\.000020 of \$5\.00/);
  assert.ok(!home.includes("other-team"));
  assert.ok(!home.includes("Signed in as admin"));

  for (const path of ["/ui/keys", "/ui/keys/new", "/ui/models", `/ui/keys/${theirs.token}`, `/ui/keys/${mine.token}`]) {
    const res = await ui.get(path);
    assert.equal(res.status, 403, path);
    assert.match(await res.text(), /For admins only/, path);
  }
  const token = await ui.csrf();
  for (
    const path of [
      "/ui/keys/new",
      `/ui/keys/${theirs.token}/block`,
      `/ui/keys/${theirs.token}/delete`,
      `/ui/keys/${mine.token}`,
    ]
  ) {
    const res = await ui.post(path, { csrf: token, key_alias: "x", max_budget: "1000" });
    assert.equal(res.status, 403, path);
    await res.body?.cancel();
  }
  const keys = (await s.admin("GET", "/key/list?return_full_object=true")).json.keys;
  assert.equal(keys.length, 2);
  assert.deepEqual(keys.map((k: { blocked: boolean }) => k.blocked), [false, false]);
  assert.equal(keys.find((k: { token: string }) => k.token === mine.token).max_budget, 5);

  const logs = await ui.page(`/ui/logs?key=${theirs.token}`);
  assert.ok(logs.includes(myCall), "its own call");
  assert.ok(!logs.includes(theirCall), "never another key's call, whatever the address says");
  assert.ok(!logs.includes('name="key"'), "no key filter for a virtual key");
  await ui.page(`/ui/logs/${myCall}`);
  await ui.page(`/ui/logs/${theirCall}`, 404);
});

Deno.test("a virtual key loses the UI the moment it is blocked, deleted or regenerated", async () => {
  await using s = await setupKeys();
  const key = await s.generate({ key_alias: "short-lived" });
  const ui = await new UiClient(s.gw.url).signedIn(key.key);
  await ui.page("/ui");

  assert.equal((await s.admin("POST", "/key/block", { key: key.token })).status, 200);
  let res = await ui.get("/ui");
  assert.equal(res.status, 401);
  assert.match(await res.text(), /Your key is blocked/);
  assert.ok(!ui.cookies.has("cg_session"), "the dead session's cookie is cleared");

  assert.equal((await s.admin("POST", "/key/unblock", { key: key.token })).status, 200);
  await ui.signedIn(key.key);
  assert.equal((await s.admin("POST", `/key/${key.token}/regenerate`, {})).status, 200);
  res = await ui.get("/ui");
  assert.equal(res.status, 401);
  assert.match(await res.text(), /deleted or regenerated/);

  const expiring = await s.generate({ key_alias: "expiring", duration: "1h" });
  await ui.signedIn(expiring.key);
  s.clock.advance(HOUR);
  res = await ui.get("/ui");
  assert.equal(res.status, 401);
  assert.match(await res.text(), /Sign in/);
});

Deno.test("without a master key the gateway is open and the UI is off, saying why", async () => {
  const yaml =
    `model_list:\n  - model_name: demo\n    litellm_params:\n      model: bedrock/x\n      mock_response: hi\n`;
  await using gw = await startGateway({ yaml });
  for (const path of ["/ui", "/ui/keys", "/ui/logs"]) {
    const res = await fetch(`${gw.url}${path}`);
    const html = await res.text();
    assert.equal(res.status, 503, path);
    assert.match(html, /The admin UI is off/);
    assert.match(html, /master_key/);
    assert.ok(!html.includes("<form"), "no sign-in form");
    assertUiHeaders(res, path);
  }
  const post = await fetch(`${gw.url}/ui/sign-in`, { method: "POST", body: new URLSearchParams({ key: "anything" }) });
  assert.equal(post.status, 503);
  assert.ok(!post.headers.getSetCookie().length);
  await post.body?.cancel();
});

/** Two models, keys with budgets and limits, calls that succeeded and failed over several days. */
async function withData(clock?: Clock) {
  const s = await setupKeys({
    clock,
    models: [
      { name: "claude", params: PRICE_PARAMS },
      { name: "nova", model: "bedrock/us.amazon.nova-pro-v1:0" },
    ],
  });
  const app = await s.generate({ key_alias: "search-app", models: ["claude"], max_budget: 1, rpm_limit: 60 });
  const batch = await s.generate({ key_alias: "batch-jobs", budget_duration: "30d", tpm_limit: 100000 });
  for (let day = 0; day < 3; day++) {
    if (day) s.clock.advance(24 * HOUR);
    assert.equal((await s.converse(app.key)).status, 200);
    assert.equal((await s.converse(batch.key, "nova")).status, 200);
  }
  s.fake.enqueue({ kind: "error", status: 400, type: "ValidationException", message: "The model rejected this input" });
  assert.equal((await s.converse(app.key)).status, 400);
  await s.gw.gateway.flush();
  return { s, app, batch };
}

Deno.test("every page renders with data: overview, keys, a key, new key, logs, a call, models", async () => {
  const { s, app } = await withData();
  await using _ = s;
  const ui = await new UiClient(s.gw.url).signedIn(MASTER_KEY);

  const overview = textOf(await ui.page("/ui"));
  // Today: a claude call ($0.000020), a nova call ($0.000024, built-in prices) and a failed call (free).
  assert.match(overview, /Spend today \(UTC\) \$0\.000044 3 calls/);
  assert.match(overview, /Spend this month \$0\.00013 7 calls/);
  assert.match(overview, /Errors today 33 % 1 of 3 calls failed/);
  assert.match(overview, /Spend per model, last 30 days/);
  assert.match(overview, /claude/);
  assert.match(overview, /search-app/);
  assert.match(overview, /healthy/);

  const keys = textOf(await ui.page("/ui/keys"));
  assert.match(keys, /2 keys/);
  assert.match(keys, /search-app .*\$0\.000060 of \$1\.00/);
  assert.match(keys, /60 rpm/);
  assert.match(keys, /batch-jobs/);
  assert.match(keys, /per 30d/);
  assert.match(await ui.page("/ui/keys?q=batch-jobs"), /batch-jobs/);
  assert.equal((await ui.get(`/ui/keys?q=${app.token}`)).headers.get("location"), `/ui/keys/${app.token}`);
  assert.match(textOf(await ui.page("/ui/keys?q=sk-abc")), /does not belong in an address bar/);

  const key = textOf(await ui.page(`/ui/keys/${app.token}`));
  assert.match(key, /search-app/);
  assert.match(key, /Recent calls/);
  assert.match(key, /ValidationException|failure/);
  await ui.page("/ui/keys/new");
  await ui.page(`/ui/keys/${"f".repeat(64)}`, 404);
  await ui.page("/ui/keys/not-a-hash", 404);

  const logs = await ui.page("/ui/logs");
  const calls = s.gw.calls;
  for (const c of calls) assert.ok(logs.includes(c.requestId), c.requestId);
  const failed = calls.at(-1)!;
  const onlyFailures = await ui.page("/ui/logs?status=failure");
  assert.ok(onlyFailures.includes(failed.requestId));
  assert.equal(onlyFailures.match(/\/ui\/logs\/[0-9a-f-]{36}"/g)!.length, 1);
  const nova = await ui.page("/ui/logs?model=nova");
  assert.equal(nova.match(/\/ui\/logs\/[0-9a-f-]{36}"/g)!.length, 3);
  const byKey = await ui.page("/ui/logs?key=batch-jobs");
  assert.equal(byKey.match(/\/ui\/logs\/[0-9a-f-]{36}"/g)!.length, 3);
  const firstDay = await ui.page("/ui/logs?from=2025-06-01&to=2025-06-01");
  assert.equal(firstDay.match(/\/ui\/logs\/[0-9a-f-]{36}"/g)!.length, 2);
  assert.match(textOf(await ui.page("/ui/logs?from=2025-13-45", 400)), /not a date/);
  assert.match(textOf(await ui.page("/ui/logs?key=no-such-alias", 400)), /No key has the alias/);

  const call = textOf(await ui.page(`/ui/logs/${failed.requestId}`));
  assert.match(call, /ValidationException/);
  assert.match(call, /The model rejected this input/);
  const ok = textOf(await ui.page(`/ui/logs/${calls[0].requestId}`));
  assert.match(ok, /Input \(not cached\) 10/);
  assert.match(ok, /Output 5/);
  assert.match(ok, /Cache read 0/);
  assert.match(ok, /\$0\.000020/);
  assert.match(ok, /Retries 0/);
  assert.match(ok, /Deployment [0-9a-z-]+/);
  await ui.page("/ui/logs/no-such-call", 404);

  const models = textOf(await ui.page("/ui/models"));
  assert.match(models, /claude .* 1 deployment/);
  assert.match(models, /\$1\.00 \$2\.00/, "per million tokens from the deployment's own prices");
  assert.match(models, /config/);
  assert.match(models, /built-in table/, "nova's prices come from the built-in table");
  assert.match(models, /us-west-2/);
});

Deno.test("key actions: create (shown once), edit, block and unblock, regenerate and delete after confirmation", async () => {
  await using s = await setupKeys();
  const ui = await new UiClient(s.gw.url).signedIn(MASTER_KEY);
  const token = await ui.csrf("/ui/keys/new");

  const invalid = await ui.post("/ui/keys/new", { csrf: token, key_alias: "x", max_budget: "-1", duration: "soon" });
  const form = textOf(await invalid.text());
  assert.equal(invalid.status, 400);
  assert.match(form, /Budget \(USD\) .*>=0|too small/i);
  assert.match(form, /expected a duration/);

  const created = await ui.post("/ui/keys/new", {
    csrf: token,
    key_alias: "web-shop",
    models: ["claude"],
    max_budget: "2.5",
    budget_duration: "30d",
    rpm_limit: "30",
  });
  const shown = await created.text();
  assert.equal(created.status, 200);
  const raw = shown.match(/<code class="secret" id="new-key">(sk-[A-Za-z0-9_-]+)<\/code>/)![1];
  assert.match(shown, /data-copy="new-key"/);
  assert.match(shown, /shown only once/);
  const info = (await s.admin("GET", `/key/info?key=${raw}`)).json.info;
  assert.equal(info.key_alias, "web-shop");
  assert.equal(info.max_budget, 2.5);
  assert.deepEqual(info.models, ["claude"]);
  assert.equal((await s.converse(raw)).status, 200);
  const hash = info.token;
  const keyPage = await ui.page(`/ui/keys/${hash}`);
  assert.ok(!keyPage.includes(raw), "the raw key is never shown again");

  const taken = await ui.post("/ui/keys/new", { csrf: token, key_alias: "web-shop" });
  assert.equal(taken.status, 400);
  assert.match(await taken.text(), /already in use/);

  // Edit: only what changed is sent (an unchanged budget window would restart).
  const anchor = info.budget_reset_at;
  s.clock.advance(HOUR);
  const edit = await ui.post(`/ui/keys/${hash}`, {
    csrf: token,
    key_alias: "web-shop",
    models: ["claude"],
    max_budget: "10",
    budget_duration: "30d",
    rpm_limit: "",
    tpm_limit: "5000",
  });
  assert.equal(edit.status, 303);
  assert.equal(edit.headers.get("location"), `/ui/keys/${hash}?done=saved`);
  const edited = (await s.admin("GET", `/key/info?key=${hash}`)).json.info;
  assert.equal(edited.max_budget, 10);
  assert.equal(edited.rpm_limit, null);
  assert.equal(edited.tpm_limit, 5000);
  assert.equal(edited.budget_reset_at, anchor, "the budget window did not restart");
  assert.match(textOf(await ui.page(`/ui/keys/${hash}?done=saved`)), /Saved/);

  const block = await ui.post(`/ui/keys/${hash}/block`, { csrf: token });
  assert.equal(block.status, 303);
  assert.equal((await s.converse(raw)).status, 401);
  assert.match(textOf(await ui.page(`/ui/keys/${hash}`)), /blocked/);
  assert.equal((await ui.post(`/ui/keys/${hash}/unblock`, { csrf: token })).status, 303);
  assert.equal((await s.converse(raw)).status, 200);

  assert.match(await ui.page(`/ui/keys/${hash}/regenerate`), /The old key stops working at once/);
  const regenerated = await ui.post(`/ui/keys/${hash}/regenerate`, { csrf: token });
  const newRaw = (await regenerated.text()).match(/id="new-key">(sk-[^<]+)</)![1];
  assert.notEqual(newRaw, raw);
  assert.equal((await s.converse(raw)).status, 401);
  assert.equal((await s.converse(newRaw)).status, 200);

  const newHash = (await s.admin("GET", `/key/info?key=${newRaw}`)).json.info.token;
  assert.match(await ui.page(`/ui/keys/${newHash}/delete`), /Delete key/);
  const deleted = await ui.post(`/ui/keys/${newHash}/delete`, { csrf: token });
  assert.equal(deleted.status, 303);
  assert.equal(deleted.headers.get("location"), "/ui/keys?done=deleted");
  assert.equal((await s.converse(newRaw)).status, 401);
  assert.match(textOf(await ui.page("/ui/keys?done=deleted")), /The key was deleted/);
});

Deno.test("team pages: list with spend against budget, create, edit, block and unblock, delete after confirmation", async () => {
  await using s = await setupKeys();
  const ui = await new UiClient(s.gw.url).signedIn(MASTER_KEY);
  assert.match(textOf(await ui.page("/ui/teams")), /No teams yet/);
  const token = await ui.csrf("/ui/teams/new");

  const invalid = await ui.post("/ui/teams/new", {
    csrf: token,
    alias: "x",
    max_budget: "-1",
    budget_duration: "soon",
  });
  assert.equal(invalid.status, 400);
  const form = textOf(await invalid.text());
  assert.match(form, /expected a duration/);
  assert.match(form, />=0|too small/i);

  const created = await ui.post("/ui/teams/new", {
    csrf: token,
    id: "web team",
    alias: "Web",
    models: ["claude"],
    max_budget: "0.0001",
    budget_duration: "1mo",
    rpm_limit: "30",
  });
  assert.equal(created.status, 303);
  assert.equal(created.headers.get("location"), "/ui/teams/web%20team?done=created");
  const team = (await s.admin("GET", "/team/info?team_id=web%20team")).json.team_info;
  assert.equal(team.team_alias, "Web");
  assert.equal(team.max_budget, 0.0001);
  assert.equal(team.budget_duration, "1mo");
  assert.deepEqual(team.models, ["claude"]);
  const taken = await ui.post("/ui/teams/new", { csrf: token, id: "web team" });
  assert.equal(taken.status, 400);
  assert.match(await taken.text(), /already exists/);

  // Its keys show on its page and in the list; spend against the team's budget.
  const k = await s.generate({ team_id: "web team", key_alias: "shop" });
  assert.equal((await s.converse(k.key)).status, 200);
  const page = textOf(await ui.page("/ui/teams/web%20team?done=created"));
  assert.match(page, /Team created/);
  assert.match(page, /shop/);
  assert.match(page, /\$0\.000020 of \$0\.0001/);
  const list = await ui.page("/ui/teams");
  assert.match(textOf(list), /Web/);
  assert.match(list, /aria-label="Spend of Web: \$0\.000020 of \$0\.0001 \(20 %\)"/, "the budget bar");
  assert.match(textOf(await ui.page("/ui/keys")), /web team · —/, "the keys list shows the key's team");

  // Edit sends only what changed: the 1mo window does not restart.
  const anchor = team.budget_reset_at;
  s.clock.advance(HOUR);
  const edit = await ui.post("/ui/teams/web%20team", {
    csrf: token,
    alias: "Web",
    models: ["claude"],
    max_budget: "1",
    budget_duration: "1mo",
    rpm_limit: "",
    tpm_limit: "5000",
  });
  assert.equal(edit.status, 303);
  const edited = (await s.admin("GET", "/team/info?team_id=web%20team")).json.team_info;
  assert.equal(edited.max_budget, 1);
  assert.equal(edited.rpm_limit, null);
  assert.equal(edited.tpm_limit, 5000);
  assert.equal(edited.budget_reset_at, anchor);

  assert.equal((await ui.post("/ui/teams/web%20team/block", { csrf: token })).status, 303);
  assert.equal((await s.converse(k.key)).status, 401);
  assert.match(textOf(await ui.page("/ui/teams/web%20team")), /blocked/);
  assert.equal((await ui.post("/ui/teams/web%20team/unblock", { csrf: token })).status, 303);
  assert.equal((await s.converse(k.key)).status, 200);

  assert.match(textOf(await ui.page("/ui/teams/web%20team/delete")), /deleted with its 1 key/);
  const deleted = await ui.post("/ui/teams/web%20team/delete", { csrf: token });
  assert.equal(deleted.status, 303);
  assert.equal(deleted.headers.get("location"), "/ui/teams?done=deleted");
  assert.equal((await s.converse(k.key)).status, 401);
  await ui.page("/ui/teams/web%20team", 404);
});

Deno.test("user pages: create (its key shown once), list, edit teams and budget, delete after confirmation", async () => {
  await using s = await setupKeys();
  await s.admin("POST", "/team/new", { team_id: "red", team_alias: "Red team" });
  const ui = await new UiClient(s.gw.url).signedIn(MASTER_KEY);
  const token = await ui.csrf("/ui/users/new");
  assert.match(textOf(await ui.page("/ui/users/new")), /Red team/);
  const created = await ui.post("/ui/users/new", {
    csrf: token,
    id: "ann",
    email: "ann@example.com",
    teams: ["red"],
    max_budget: "0.00004",
  });
  assert.equal(created.status, 200);
  const shown = await created.text();
  const raw = shown.match(/id="new-key">(sk-[A-Za-z0-9_-]+)</)![1];
  assert.match(shown, /shown only once/);
  assert.equal((await s.converse(raw)).status, 200);
  assert.equal((await s.converse(raw)).status, 200);
  assert.equal((await s.converse(raw)).status, 400, "the user's budget");
  const bad = await ui.post("/ui/users/new", { csrf: token, id: "bob", email: "ANN@example.com" });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /already exists/);

  const list = await ui.page("/ui/users");
  assert.match(textOf(list), /ann@example\.com/);
  assert.match(list, /aria-label="Spend of ann: \$0\.000040 of \$0\.00004 \(100 %\)"/, "the budget bar");
  const page = textOf(await ui.page("/ui/users/ann"));
  assert.match(page, /Red team/);
  assert.match(page, /sk-\.\.\./);
  assert.ok(!page.includes(raw), "the raw key is never shown again");

  const edit = await ui.post("/ui/users/ann", { csrf: token, email: "ann@example.com", max_budget: "" });
  assert.equal(edit.status, 303);
  const user = (await s.admin("GET", "/user/info?user_id=ann")).json.user_info;
  assert.equal(user.max_budget, null);
  assert.deepEqual(user.teams, [], "unchecked: she left the team");
  assert.equal((await s.converse(raw)).status, 200);

  assert.match(textOf(await ui.page("/ui/users/ann/delete")), /deleted with its 1 key/);
  const deleted = await ui.post("/ui/users/ann/delete", { csrf: token });
  assert.equal(deleted.headers.get("location"), "/ui/users?done=deleted");
  assert.equal((await s.converse(raw)).status, 401);
});

Deno.test("team and user pages are for admins only", async () => {
  await using s = await setupKeys();
  await s.admin("POST", "/team/new", { team_id: "t" });
  const k = await s.generate({ team_id: "t" });
  const ui = await new UiClient(s.gw.url).signedIn(k.key);
  for (const path of ["/ui/teams", "/ui/teams/new", "/ui/teams/t", "/ui/users", "/ui/users/new"]) {
    const res = await ui.get(path);
    assert.equal(res.status, 403, path);
    await res.body?.cancel();
  }
  const token = await ui.csrf();
  for (const path of ["/ui/teams/new", "/ui/teams/t/block", "/ui/teams/t/delete", "/ui/users/new"]) {
    const res = await ui.post(path, { csrf: token, id: "x" });
    assert.equal(res.status, 403, path);
    await res.body?.cancel();
  }
  assert.equal((await s.admin("GET", "/team/info?team_id=t")).json.team_info.blocked, false);
  const nav = await ui.page("/ui");
  assert.ok(!nav.includes('href="/ui/teams"'), "no Teams entry for a virtual key");
});
