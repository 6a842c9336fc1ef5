/**
 * The SDK's browser bundle (`deno task build:sdk`'s `converse-gateway.min.js`) in headless Chromium, from a page on
 * another origin than the gateway's: `converse`, `converseStream`, typed errors whose request id and `Retry-After`
 * the page can read (exposed headers), and no readable answer for a page on an origin the gateway does not allow
 * (the SDK's `ConnectionError`, with the browser's `TypeError` as its cause).
 * Needs Debian's `chromium` (`.ci/run` installs it); fails, never skips, without it.
 */
import assert from "node:assert/strict";
import { BROWSER_BUNDLE, buildSdk } from "../scripts/build_sdk.ts";
import { launchBrowser, openPage, serveStatic } from "../testing/browser.ts";
import { startFakeBedrock } from "../testing/fake_bedrock.ts";
import { converseBody, fakeConfig, MASTER_KEY, startGateway } from "../testing/harness.ts";

const MOCK_TEXT = "Hello from the gateway to a browser";

/** The page: loads the bundle as a module and offers `runSdk` / `runRefused` for the test to call. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Converse Gateway SDK in a browser</title>
<script type="module">
import {
  createClient, AuthenticationError, UnrecognizedClientException, ThrottlingException, ConverseError, ConnectionError,
} from "/${BROWSER_BUNDLE}";

const messages = [{ role: "user", content: [{ text: "Hello from a browser" }] }];
const describe = (e) => ({
  name: e.name, status: e.status, requestId: e.requestId, retryAfter: e.retryAfter,
  base: e instanceof ConverseError, auth: e instanceof AuthenticationError,
  unrecognized: e instanceof UnrecognizedClientException, throttling: e instanceof ThrottlingException,
});

window.runSdk = async (baseUrl, apiKey, model) => {
  const client = createClient({ baseUrl, apiKey, timeoutMs: 15000 });
  const out = { origin: location.origin };
  const answer = await client.converse(model, { messages });
  out.text = answer.output.message.content[0].text;
  out.usage = answer.usage;
  const deltas = [];
  for await (const event of client.converseStream(model, { messages })) {
    if (event.contentBlockDelta) deltas.push(event.contentBlockDelta.delta.text);
    if (event.metadata) out.streamUsage = event.metadata.usage;
  }
  out.streamText = deltas.join("");
  const raw = await fetch(baseUrl + "/bedrock/model/" + model + "/converse", {
    method: "POST",
    headers: { authorization: "Bearer " + apiKey, "content-type": "application/json" },
    body: JSON.stringify({ messages }),
  });
  await raw.arrayBuffer();
  out.exposed = { cost: raw.headers.get("x-litellm-response-cost"), callId: raw.headers.get("x-litellm-call-id") };
  try {
    await createClient({ baseUrl, apiKey: "sk-wrong-key" }).converse(model, { messages });
    out.wrongKey = "no error";
  } catch (e) {
    out.wrongKey = describe(e);
  }
  try {
    // No retries: a throttle's retry would wait out its Retry-After; what is tested is that the page can read it.
    await client.converse(model, { messages }, { maxRetries: 0 });
    out.overLimit = "no error";
  } catch (e) {
    out.overLimit = describe(e);
  }
  return out;
};

window.runRefused = async (baseUrl, apiKey, model) => {
  const failure = (e) => ({
    name: e.name, typeError: e instanceof TypeError, converseError: e instanceof ConverseError,
    connectionError: e instanceof ConnectionError, cause: e.cause?.name,
  });
  const out = { origin: location.origin };
  try {
    await fetch(baseUrl + "/bedrock/model/" + model + "/converse", {
      method: "POST",
      headers: { authorization: "Bearer " + apiKey, "content-type": "application/json" },
      body: JSON.stringify({ messages }),
    });
    out.fetch = "answer readable";
  } catch (e) {
    out.fetch = failure(e);
  }
  try {
    // Retried like any connection failure, without waiting (each try's preflight is refused the same way).
    await createClient({ baseURL: baseUrl, apiKey, sleep: async () => {} }).converse(model, { messages });
    out.sdk = "answer readable";
  } catch (e) {
    out.sdk = failure(e);
  }
  return out;
};
window.pageReady = true;
</script>
`;

// Time is bounded by the browser's own limits: start-up and every page operation time out after 30 s (launchBrowser),
// and the page's SDK client after 15 s.
Deno.test({
  name: "Chromium: the SDK bundle on another origin calls converse and converseStream; a refused origin reads nothing",
  fn: async () => {
    const outDir = await Deno.makeTempDir({ prefix: "sdk-browser-" });
    try {
      await buildSdk(outDir);
      const files = { "/index.html": PAGE, [`/${BROWSER_BUNDLE}`]: await Deno.readFile(`${outDir}/${BROWSER_BUNDLE}`) };
      // Two pages on two origins: only the first is allowed by the gateway.
      await using allowed = serveStatic(files);
      await using refused = serveStatic(files);

      await using fake = await startFakeBedrock();
      const now = Date.UTC(2025, 5, 1, 12, 0, 0); // one clock minute for the whole test (rpm_limit below)
      await using gw = await startGateway({
        now: () => now,
        yaml: fakeConfig(fake.url, {
          models: [{ name: "demo", params: `      mock_response: "${MOCK_TEXT}"` }],
          extra: `  cors_allow_origins: ["${allowed.origin}"]\n`,
        }),
      });
      const generated = await fetch(`${gw.url}/key/generate`, {
        method: "POST",
        headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ models: ["demo"], max_budget: 1, rpm_limit: 3, key_alias: "browser-user" }),
      });
      assert.equal(generated.status, 200);
      const { key } = await generated.json();
      // What the same request gets outside a browser, to compare the page's usage with.
      const direct = await fetch(`${gw.url}/bedrock/model/demo/converse`, {
        method: "POST",
        headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
        body: converseBody("Hello from a browser"),
      });
      const expectedUsage = (await direct.json()).usage;

      await using chromium = await launchBrowser();
      try {
        const page = await openPage(chromium, `${allowed.origin}/index.html`);
        await page.waitForFunction("window.pageReady === true");
        const out = await page.evaluate(
          `runSdk(${JSON.stringify(gw.url)}, ${JSON.stringify(key)}, "demo")`,
        ) as Record<string, unknown>;
        const { wrongKey, overLimit, exposed } = out as Record<string, Record<string, unknown>>;
        assert.equal(out.origin, allowed.origin);
        assert.notEqual(out.origin, gw.url, "the page must be on another origin than the gateway");
        assert.equal(out.text, MOCK_TEXT);
        assert.equal(out.streamText, MOCK_TEXT);
        assert.deepEqual(out.usage, expectedUsage);
        assert.deepEqual(out.streamUsage, expectedUsage);
        assert.ok(Number(exposed.cost) >= 0 && exposed.cost !== null, `cost header unreadable: ${exposed.cost}`);
        assert.match(String(exposed.callId), /^[0-9a-f-]{36}$/);
        // The typed error, with the request id only an exposed header gives it (no retryAfter: JSON drops undefined).
        assert.deepEqual({ ...wrongKey, requestId: typeof wrongKey.requestId }, {
          name: "UnrecognizedClientException",
          status: 401,
          requestId: "string",
          base: true,
          auth: true,
          unrecognized: true,
          throttling: false,
        });
        assert.equal(overLimit.name, "ThrottlingException");
        assert.equal(overLimit.throttling, true);
        assert.equal(typeof overLimit.retryAfter, "number", "Retry-After unreadable");
        const callsBefore = gw.calls.length;

        const other = await openPage(chromium, `${refused.origin}/index.html`);
        await other.waitForFunction("window.pageReady === true");
        const denied = await other.evaluate(`runRefused(${JSON.stringify(gw.url)}, ${JSON.stringify(key)}, "demo")`);
        // fetch itself rejects with a TypeError; the SDK says the same as a ConnectionError with that cause.
        const blocked = { name: "TypeError", typeError: true, converseError: false, connectionError: false };
        const typed = { name: "ConnectionError", typeError: false, converseError: true, connectionError: true };
        assert.deepEqual(denied, {
          origin: refused.origin,
          fetch: blocked,
          sdk: { ...typed, cause: "TypeError" },
        });
        // The preflight was refused, so the browser never sent the calls: nothing reached a model.
        assert.equal(gw.calls.length, callsBefore);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n--- browser log ---\n${chromium.log.join("\n")}`, { cause: e });
      }
    } finally {
      await Deno.remove(outDir, { recursive: true });
    }
  },
});

Deno.test("a browser that is missing or does not start is a clear error (the browser tests fail, never skip)", async () => {
  await assert.rejects(
    () => launchBrowser({ executablePath: "/nonexistent/chromium" }),
    /Chromium is not installed \(\/nonexistent\/chromium missing\).*apt-get install -y chromium/,
  );
  await assert.rejects(() => launchBrowser({ executablePath: "/bin/false", timeoutMs: 5_000 }), /did not start/);
});
