/**
 * The admin UI in headless Chromium, as a team lead uses it: a wrong key is refused, the master key signs in, a key is
 * created (shown once, copied with the button), a call is made with it through a `mock_response` model, and the
 * keys page shows its alias and spend (`$0.0000…`, the digits the call cost) and the logs page the call's row and
 * detail; times are shown in the browser's zone; sign-out returns to the form. Every page must log no console error
 * and no Content-Security-Policy violation. Needs Debian's `chromium` (`.ci/run` installs it); fails, never skips,
 * without it.
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { formatUsd } from "../server/ui/format.ts";
import { launchBrowser, watchedPage } from "../testing/browser.ts";
import { converseBody, MASTER_KEY, startGateway } from "../testing/harness.ts";

const YAML = `model_list:
  - model_name: demo
    litellm_params:
      model: bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0
      mock_response: "Hello from the mock model, answering a browser test."
general_settings:
  master_key: ${MASTER_KEY}
`;

/** A browser log line that is a problem: a console error or warning, an uncaught error, a failed request, CSP. */
const problem = (line: string) => /^(console\.(error|warn)|page error|request failed)|CSP/.test(line);

/** Submits the form that holds `selector` and waits for the page it leads to; returns its HTTP status. */
async function submit(page: Page, selector: string): Promise<number> {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click(selector)]);
  return response?.status() ?? 0;
}

async function go(page: Page, url: string): Promise<number> {
  return (await page.goto(url, { waitUntil: "load" }))?.status() ?? 0;
}

/** The text an element shows (`innerText`); Deno type-checks tests without the DOM's types, hence the string. */
async function text(page: Page, selector = "main"): Promise<string> {
  const found = await page.evaluate(`document.querySelector(${JSON.stringify(selector)})?.innerText ?? null`);
  assert.equal(typeof found, "string", `nothing matches ${selector}`);
  return found as string;
}

// Time is bounded by the browser's own limits: start-up and every page operation time out after 30 s (launchBrowser).
Deno.test("Chromium: sign in (a wrong key refused), create a key, call with it, see its spend and the call's row", async () => {
  await using gw = await startGateway({ yaml: YAML });
  await using chromium = await launchBrowser();
  try {
    const page = await watchedPage(chromium);
    await page.emulateTimezone("Asia/Tokyo");
    await page.setViewport({ width: 1280, height: 800 });
    await chromium.browser.defaultBrowserContext().setPermission(
      gw.url,
      { permission: { name: "clipboard-read" }, state: "granted" },
      { permission: { name: "clipboard-write" }, state: "granted" },
    );

    assert.equal(await go(page, `${gw.url}/ui`), 200);
    await page.type("#key", "sk-not-a-key");
    const before = chromium.log.length;
    assert.equal(await submit(page, 'form[action="/ui/sign-in"] button'), 401);
    // The one error allowed: Chromium's own line for the refusal's 401 status (taken out of the log here).
    assert.deepEqual(chromium.log.splice(before).filter(problem), [
      "console.error: Failed to load resource: the server responded with a status of 401 (Unauthorized)",
    ]);
    const refused = await text(page);
    assert.match(refused, /Sign-in refused/);
    assert.doesNotMatch(refused, /Overview|Keys/);

    await page.type("#key", MASTER_KEY);
    assert.equal(await submit(page, 'form[action="/ui/sign-in"] button'), 200);
    assert.match(await text(page, "header"), /Signed in as admin/);
    assert.match(await text(page), /Overview/);
    const session = (await chromium.browser.cookies()).find((c) => c.name === "cg_session")!;
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Strict");
    assert.ok(!session.value.includes(MASTER_KEY));

    await Promise.all([page.waitForNavigation(), page.click('nav a[href="/ui/keys"]')]);
    await Promise.all([page.waitForNavigation(), page.click('a[href="/ui/keys/new"]')]);
    await page.type("#f-key_alias", "browser-app");
    await page.click('input[name="models"][value="demo"]');
    await page.type("#f-max_budget", "1");
    await page.type("#f-rpm_limit", "30");
    assert.equal(await submit(page, 'form[action="/ui/keys/new"] button[type="submit"]'), 200);
    const key = (await text(page, "#new-key")).trim();
    assert.match(key, /^sk-[A-Za-z0-9_-]{32}$/);
    await page.click('button[data-copy="new-key"]');
    await page.waitForFunction(`document.getElementById("new-key-status").textContent === "Copied."`);
    assert.equal(await page.evaluate("navigator.clipboard.readText()"), key);

    const call = await fetch(`${gw.url}/bedrock/model/demo/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: converseBody("Hello from the browser test"),
    });
    assert.equal(call.status, 200);
    await call.body?.cancel();
    const cost = Number(call.headers.get("x-litellm-response-cost"));
    const requestId = call.headers.get("x-litellm-call-id")!;
    assert.ok(cost > 0 && cost < 0.01, `a small call: ${cost}`);
    const shown = formatUsd(cost);
    assert.match(shown, /^\$0\.0\d+$/);

    assert.equal(await go(page, `${gw.url}/ui/keys`), 200);
    const row = await text(page, "tbody tr");
    assert.match(row, /browser-app/);
    assert.ok(row.includes(`${shown} of $1.00`), `the key's spend as shown: ${row}`);
    assert.match(row, /30 rpm/);
    assert.match(row, /active/);

    await Promise.all([page.waitForNavigation(), page.click('nav a[href="/ui/logs"]')]);
    const link = `a[href="/ui/logs/${requestId}"]`;
    const logRow = await text(page, `tr:has(${link})`);
    assert.match(logRow, /success/);
    assert.match(logRow, /demo/);
    assert.match(logRow, /browser-app/);
    assert.ok(logRow.includes(shown), logRow);
    // Times are in the browser's zone (Tokyo), with the UTC text kept as the title.
    const time = await page.evaluate(`(() => {
      const t = document.querySelector(${JSON.stringify(`${link} time`)});
      return { text: t.textContent, title: t.getAttribute("title") };
    })()`) as { text: string; title: string };
    assert.match(time.title, /UTC$/);
    assert.notEqual(time.text, time.title);
    assert.equal(await text(page, "[data-local-zone]"), "Asia/Tokyo");

    await Promise.all([page.waitForNavigation(), page.click(link)]);
    const detail = await text(page);
    assert.ok(detail.includes(requestId));
    assert.ok(detail.includes(shown));
    assert.match(detail, /Input \(not cached\)\s+\d+/);

    assert.equal(await submit(page, 'form[action="/ui/sign-out"] button'), 200);
    assert.match(await text(page), /Sign in/);
    assert.ok(!(await chromium.browser.cookies()).some((c) => c.name === "cg_session"));

    assert.deepEqual(chromium.log.filter(problem), [], "console errors or CSP violations");
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- browser log ---\n${chromium.log.join("\n")}`, { cause: e });
  }
});
