/**
 * @module
 * Screenshots of every admin UI page for docs/ui.md (`docs/ui/*.png`), taken with headless Chromium against a
 * gateway in this process filled with 30 days of demo traffic: five models (one with two deployments, one cooling
 * down, one priced in the config, one `mock_response`), three teams and two users (budgets over their keys), six keys
 * (budgets, limits, one blocked, one expiring), a few hundred calls through the fake Bedrock with cache reads, retries and failures. Deterministic: a fixed clock and
 * a seeded random source. Also prints each page's weight and the time the gateway took to render it.
 *
 * ```sh
 * deno run -A scripts/ui_screenshots.ts [--out docs/ui]
 * ```
 *
 * Needs Debian's `chromium` (as the browser tests do).
 */
import { parseArgs } from "node:util";
import type { Page } from "puppeteer-core";
import { launchBrowser, watchedPage } from "../testing/browser.ts";
import { type Behavior, FAKE_CREDENTIALS, type RecordedRequest, startFakeBedrock } from "../testing/fake_bedrock.ts";
import { startGateway } from "../testing/harness.ts";
import { seededRandom } from "../testing/seeded_random.ts";

const MASTER_KEY = "sk-demo-master-key";
const DAY_MS = 86_400_000;
/** "Now" in the pictures: a fixed afternoon, so reruns give the same screenshots. */
const NOW = Date.UTC(2025, 5, 30, 15, 42, 0);

const AWS = "      aws_region_name: REGION\n      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n" +
  "      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY";

/** `fakes`: the fake Bedrock's URL per region (a fake checks one signing region). */
function configYaml(fakes: Record<string, string>): string {
  const deployment = (name: string, model: string, region: string, extra = "") =>
    `  - model_name: ${name}\n    litellm_params:\n      model: bedrock/${model}\n` +
    `      aws_bedrock_runtime_endpoint: ${fakes[region]}\n${AWS.replace("REGION", region)}\n${extra}`;
  return `model_list:
${deployment("claude-sonnet", "us.anthropic.claude-sonnet-4-20250514-v1:0", "us-west-2")}${
    deployment("claude-sonnet", "us.anthropic.claude-sonnet-4-20250514-v1:0", "us-east-1")
  }${deployment("claude-haiku", "us.anthropic.claude-3-5-haiku-20241022-v1:0", "us-west-2")}${
    deployment("nova-pro", "us.amazon.nova-pro-v1:0", "us-east-1")
  }${
    deployment(
      "llama-70b",
      "us.meta.llama3-3-70b-instruct-v1:0",
      "us-west-2",
      "      input_cost_per_token: 0.00000072\n      output_cost_per_token: 0.00000072\n",
    )
  }  - model_name: demo
    litellm_params:
      model: bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0
      mock_response: "Hello from the demo model!"
router_settings:
  allowed_fails: 2
  cooldown_time: 600
general_settings:
  master_key: ${MASTER_KEY}
`;
}

interface Demo {
  url: string;
  /** A key by alias: its raw value and hash. */
  keys: Map<string, { key: string; token: string }>;
  close(): Promise<void>;
}

/** A gateway with 30 days of traffic. */
async function demoGateway(): Promise<Demo> {
  let t = NOW - 29 * DAY_MS;
  const random = seededRandom(17);
  const west = await startFakeBedrock({ now: () => new Date(t), region: "us-west-2" });
  const east = await startFakeBedrock({ now: () => new Date(t), region: "us-east-1" });
  // The us-east-1 Sonnet deployment fails at the very end (it is cooling down in the pictures).
  let failEast = false;
  /** The next call's scripted refusal. */
  let refuse: Behavior | undefined;
  const answer = (region: string) => (req: RecordedRequest): Behavior => {
    // Each call takes a while on the gateway's clock, so latencies look like Bedrock's.
    const sonnet = req.modelId.includes("sonnet");
    t += Math.round((sonnet ? 2500 : 800) + random() * (sonnet ? 9000 : 2500));
    if (refuse) {
      const r = refuse;
      refuse = undefined;
      return r;
    }
    if (failEast && region === "us-east-1" && sonnet) {
      return { kind: "error", status: 503, type: "ServiceUnavailableException", message: "Bedrock is unavailable" };
    }
    const claude = req.modelId.includes("anthropic");
    const input = Math.round((sonnet ? 1500 : 600) + random() * (sonnet ? 6000 : 2500));
    return {
      kind: "converse",
      text: "A demo answer.",
      usage: {
        inputTokens: input,
        outputTokens: Math.round(80 + random() * (sonnet ? 1400 : 600)),
        // Prompt caching: some Claude calls read a cached system prompt.
        cacheReadInputTokens: claude && random() < 0.3 ? Math.round(input * 1.5) : 0,
        cacheWriteInputTokens: 0,
      },
    };
  };
  west.handler = answer("us-west-2");
  east.handler = answer("us-east-1");
  const gw = await startGateway({
    yaml: configYaml({ "us-west-2": west.url, "us-east-1": east.url }),
    env: { AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey },
    now: () => t,
    random,
  });
  const admin = async (path: string, body: unknown) => {
    const res = await fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return await res.json();
  };
  const teams: Array<Record<string, unknown>> = [
    { team_id: "search", team_alias: "Search", models: ["claude-sonnet", "claude-haiku"], max_budget: 4 },
    { team_id: "support", team_alias: "Customer support", max_budget: 0.8, budget_duration: "1mo", rpm_limit: 600 },
    { team_id: "data", team_alias: "Data platform", max_budget: 2.5, budget_duration: "1mo", tpm_limit: 2000000 },
  ];
  for (const team of teams) await admin("/team/new", team);
  await admin("/user/new", {
    user_id: "sam",
    user_email: "sam@example.com",
    user_alias: "Sam (intern)",
    teams: ["data"],
    max_budget: 0.1,
    auto_create_key: false,
  });
  await admin("/user/new", {
    user_id: "priya",
    user_email: "priya@example.com",
    teams: ["search", "support"],
    max_budget: 5,
    budget_duration: "1mo",
    auto_create_key: false,
  });
  const keys = new Map<string, { key: string; token: string }>();
  const settings: Array<Record<string, unknown>> = [
    {
      key_alias: "search-app",
      models: ["claude-sonnet", "claude-haiku"],
      max_budget: 40,
      budget_duration: "30d",
      team_id: "search",
      user_id: "priya",
    },
    {
      key_alias: "support-bot",
      models: ["claude-haiku", "nova-pro"],
      max_budget: 15,
      rpm_limit: 120,
      team_id: "support",
    },
    { key_alias: "batch-jobs", tpm_limit: 400000, max_parallel_requests: 8, team_id: "data" },
    {
      key_alias: "intern-sandbox",
      max_budget: 2,
      models: ["llama-70b", "nova-pro", "demo"],
      user_id: "sam",
      team_id: "data",
    },
    { key_alias: "legacy-etl", models: ["nova-pro"] },
    { key_alias: "contractor", models: ["claude-haiku"], max_budget: 5, duration: "37d" },
  ];
  for (const s of settings) {
    const k = await admin("/key/generate", s);
    keys.set(s.key_alias as string, { key: k.key, token: k.token });
  }
  const call = async (alias: string, model: string, body?: string) => {
    const res = await fetch(`${gw.url}/bedrock/model/${model}/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${keys.get(alias)!.key}`, "content-type": "application/json" },
      body: body ?? JSON.stringify({ messages: [{ role: "user", content: [{ text: "Summarise this document." }] }] }),
    });
    await res.body?.cancel();
  };
  const traffic: Array<[string, string[], number]> = [
    ["search-app", ["claude-sonnet", "claude-haiku"], 5],
    ["support-bot", ["claude-haiku", "nova-pro"], 6],
    ["batch-jobs", ["nova-pro", "llama-70b", "claude-sonnet"], 4],
    ["intern-sandbox", ["llama-70b", "demo"], 2],
    ["legacy-etl", ["nova-pro"], 1],
    ["contractor", ["claude-haiku"], 1],
  ];
  for (let day = 0; day < 30; day++) {
    t = NOW - (29 - day) * DAY_MS - 6 * 3_600_000;
    const busy = day % 7 === 5 || day % 7 === 6 ? 0.4 : 1;
    for (const [alias, models, perDay] of traffic) {
      const n = Math.round(perDay * busy * (0.5 + random() * 1.2) * (1 + day / 40));
      for (let i = 0; i < n; i++) {
        t += Math.round(random() * 600_000);
        await call(alias, models[Math.floor(random() * models.length)]);
      }
    }
    // A malformed request now and then (refused by Bedrock, billed nothing).
    if (day % 4 === 0) {
      refuse = { kind: "error", status: 400, type: "ValidationException", message: "messages: must not be empty" };
      await call("support-bot", "claude-haiku");
    }
  }
  await admin("/key/block", { key: keys.get("legacy-etl")!.token });
  // Failures in the last minutes: a cooldown (10 minutes) still running at NOW.
  t = NOW - 100_000;
  failEast = true;
  for (let i = 0; i < 10; i++) await call("search-app", "claude-sonnet");
  failEast = false;
  t = Math.max(t, NOW);
  await gw.gateway.flush();
  return {
    url: gw.url,
    keys,
    close: async () => {
      await gw.close();
      await west.close();
      await east.close();
    },
  };
}

/** The pages timed after the pictures: the admin's, and the virtual key's own. */
const TIMED = (keyHash: string): Array<["admin" | "key", string]> => [
  ["admin", "/ui"],
  ["admin", "/ui/keys"],
  ["admin", `/ui/keys/${keyHash}`],
  ["admin", "/ui/logs"],
  ["admin", "/ui/models"],
  ["admin", "/ui/teams"],
  ["admin", "/ui/users"],
  ["key", "/ui"],
  ["key", "/ui/logs"],
];

/** An admin session cookie, signed in through the form like a browser. */
async function adminSession(url: string): Promise<string> {
  const form = await fetch(`${url}/ui`);
  const token = (await form.text()).match(/name="csrf" value="([^"]+)"/)![1];
  const pre = form.headers.getSetCookie()[0].split(";")[0];
  const res = await fetch(`${url}/ui/sign-in`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: pre, "sec-fetch-site": "same-origin", "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ key: MASTER_KEY, csrf: token }),
  });
  await res.body?.cancel();
  return res.headers.getSetCookie().find((c) => c.startsWith("cg_session="))!.split(";")[0];
}

interface Shot {
  file: string;
  path: string;
  width?: number;
  height?: number;
  /** The whole page (default), or only what the viewport shows (long lists). */
  fullPage?: boolean;
  /** Something to do on the page before the picture. */
  before?: (page: Page) => Promise<void>;
}

async function main() {
  const { values } = parseArgs({ args: Deno.args, options: { out: { type: "string", default: "docs/ui" } } });
  const out = values.out!;
  await Deno.mkdir(out, { recursive: true });
  const demo = await demoGateway();
  await using chromium = await launchBrowser();
  try {
    const page = await watchedPage(chromium);
    await page.emulateTimezone("Europe/Paris");
    const shoot = async (shot: Shot) => {
      await page.setViewport({ width: shot.width ?? 1280, height: shot.height ?? 800, deviceScaleFactor: 1 });
      const response = await page.goto(`${demo.url}${shot.path}`, { waitUntil: "load" });
      if (!response) throw new Error(`${shot.path}: no response`);
      const html = await response.text();
      await shot.before?.(page);
      await page.screenshot({ path: `${out}/${shot.file}`, fullPage: shot.fullPage ?? true });
      const timing = response.headers()["server-timing"] ?? "";
      console.log(
        `${shot.file.padEnd(22)} ${shot.path.padEnd(30)} ${String(response.status()).padEnd(4)} html ${
          String(new TextEncoder().encode(html).byteLength).padStart(6)
        } B  ${timing}`,
      );
    };
    const signIn = async (key: string) => {
      await page.goto(`${demo.url}/ui`, { waitUntil: "load" });
      await page.type("#key", key);
      await Promise.all([page.waitForNavigation(), page.click('form[action="/ui/sign-in"] button')]);
    };

    await shoot({ file: "sign-in.png", path: "/ui", height: 560 });
    await signIn(MASTER_KEY);
    const search = demo.keys.get("search-app")!.token;
    await shoot({ file: "overview.png", path: "/ui" });
    await shoot({ file: "keys.png", path: "/ui/keys" });
    await shoot({ file: "key.png", path: `/ui/keys/${search}` });
    await shoot({
      file: "key-created.png",
      path: "/ui/keys/new",
      height: 560,
      before: async (p) => {
        await p.type("#f-key_alias", "mobile-app");
        await p.click('input[name="models"][value="claude-haiku"]');
        await p.type("#f-max_budget", "25");
        await p.type("#f-budget_duration", "30d");
        await Promise.all([p.waitForNavigation(), p.click('form[action="/ui/keys/new"] button[type="submit"]')]);
      },
    });
    await shoot({ file: "logs.png", path: "/ui/logs", height: 1000, fullPage: false });
    const retried = await page.evaluate(
      `[...document.querySelectorAll('a[href^="/ui/logs/"]')].map((a) => a.getAttribute("href"))[0]`,
    ) as string;
    await shoot({ file: "call.png", path: retried });
    await shoot({ file: "models.png", path: "/ui/models" });
    await shoot({ file: "teams.png", path: "/ui/teams" });
    await shoot({ file: "users.png", path: "/ui/users" });
    await shoot({ file: "phone-overview.png", path: "/ui", width: 390, height: 844 });
    await shoot({ file: "phone-keys.png", path: "/ui/keys", width: 390, height: 844 });

    await page.goto(`${demo.url}/ui`, { waitUntil: "load" });
    await Promise.all([page.waitForNavigation(), page.click('form[action="/ui/sign-out"] button')]);
    await signIn(demo.keys.get("support-bot")!.key);
    await shoot({ file: "my-key.png", path: "/ui" });

    for (const asset of ["css", "js"]) {
      const href = await page.evaluate(
        asset === "css"
          ? `document.querySelector('link[rel="stylesheet"]').getAttribute("href")`
          : `document.querySelector("script[src]").getAttribute("src")`,
      ) as string;
      const body = await (await fetch(`${demo.url}${href}`)).arrayBuffer();
      console.log(`${href.padEnd(53)} ${String(body.byteLength).padStart(6)} B`);
    }
    // Server-side render time of each page, warm: the median of 20 requests (the `Server-Timing` header).
    const cookie = (await chromium.browser.cookies()).filter((c) => c.name === "cg_session")
      .map((c) => `${c.name}=${c.value}`).join("; ");
    const adminCookie = await adminSession(demo.url);
    for (const [who, path] of TIMED(search)) {
      const durations: number[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${demo.url}${path}`, { headers: { cookie: who === "admin" ? adminCookie : cookie } });
        await res.body?.cancel();
        durations.push(Number(res.headers.get("server-timing")?.match(/dur=([\d.]+)/)?.[1]));
      }
      durations.sort((a, b) => a - b);
      console.log(
        `render ${who.padEnd(6)} ${path.padEnd(30)} median ${durations[10].toFixed(1)} ms, max ${
          durations[19].toFixed(1)
        } ms`,
      );
    }
    const problems = chromium.log.filter((l) => /^(console\.(error|warn)|page error|request failed)|CSP/.test(l));
    if (problems.length) throw new Error(`the pages logged problems:\n${problems.join("\n")}`);
  } finally {
    await demo.close();
  }
}

if (import.meta.main) await main();
