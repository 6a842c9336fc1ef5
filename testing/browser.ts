/**
 * @module
 * A real browser for end-to-end tests: Debian's `chromium` (installed by `.ci/run`) run headless by puppeteer-core,
 * and a static file server that gives a test page its own origin on 127.0.0.1.
 *
 * ```ts
 * await using site = serveStatic({ "/index.html": "<script type=module>…</script>" });
 * await using chromium = await launchBrowser();
 * const page = await openPage(chromium, `${site.origin}/index.html`);
 * const result = await page.evaluate("run()");
 * ```
 *
 * A browser that cannot start is an error naming the fix, never a skipped test.
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Headless, and quiet: no GPU, no QUIC, no background traffic, a fresh profile (passed as `userDataDir`). */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface TestBrowser extends AsyncDisposable {
  browser: Browser;
  /** What the pages printed (`console.*`, uncaught errors, failed requests), for failure messages. */
  log: string[];
  /** Closes the browser (killing it if it does not close) and removes its profile. Idempotent. */
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Default {@link CHROMIUM_PATH}. */
  executablePath?: string;
  /** How long Chromium may take to start, and each page operation's default timeout (default 30 s). */
  timeoutMs?: number;
}

/** Starts headless Chromium; throws a clear error when it is missing or does not start. */
export async function launchBrowser(opts: LaunchOptions = {}): Promise<TestBrowser> {
  const timeout = opts.timeoutMs ?? 30_000;
  const executablePath = opts.executablePath ?? CHROMIUM_PATH;
  try {
    await Deno.stat(executablePath);
  } catch {
    throw new Error(
      `Chromium is not installed (${executablePath} missing): the browser tests need Debian's chromium package ` +
        "(apt-get install -y chromium; .ci/run installs it)",
    );
  }
  const userDataDir = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  const removeProfile = () => Deno.remove(userDataDir, { recursive: true }).catch(() => {});
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args: FLAGS,
      userDataDir,
      timeout,
      protocolTimeout: timeout,
      // Puppeteer's own signal handlers would outlive the test; the test closes the browser itself.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (e) {
    await removeProfile();
    throw new Error(`Chromium (${executablePath}) did not start: ${(e as Error).message}`);
  }
  const log: string[] = [];
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      const process = browser.process();
      await Promise.race([browser.close(), new Promise((resolve) => setTimeout(resolve, 5_000))]).catch(() => {});
      if (process && process.exitCode === null && process.signalCode === null) process.kill("SIGKILL");
      await removeProfile();
    })();
  return { browser, log, close, [Symbol.asyncDispose]: close };
}

/**
 * Reports each Content-Security-Policy violation of a document as a console error, before the document's own
 * scripts run (Chromium also logs them, in words that change between versions).
 */
const REPORT_CSP_VIOLATIONS = `document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " +
    e.sourceFile + ":" + e.lineNumber);
});`;

/**
 * A new page whose console, errors, failed requests and CSP violations go to `chromium.log` (nothing loaded yet:
 * set it up, then `goto`).
 */
export async function watchedPage(chromium: TestBrowser): Promise<Page> {
  const page = await chromium.browser.newPage();
  page.on("console", (m) => chromium.log.push(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => chromium.log.push(`page error: ${(e as Error).message ?? e}`));
  page.on("requestfailed", (r) => chromium.log.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
  await page.evaluateOnNewDocument(REPORT_CSP_VIOLATIONS);
  return page;
}

/** Opens `url` in a {@link watchedPage}; resolves once it has loaded. */
export async function openPage(chromium: TestBrowser, url: string): Promise<Page> {
  const page = await watchedPage(chromium);
  const response = await page.goto(url, { waitUntil: "load" });
  if (!response?.ok()) throw new Error(`${url} answered ${response?.status()}`);
  return page;
}

export interface StaticSite extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`: an origin of its own (another port is another origin). */
  origin: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  css: "text/css; charset=utf-8",
};

/** Serves `files` (path → content) on 127.0.0.1 with an OS-assigned port; anything else is a 404. */
export function serveStatic(files: Record<string, string | Uint8Array<ArrayBuffer>>): StaticSite {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    const body = files[path];
    if (body === undefined) return new Response("not found", { status: 404 });
    const type = TYPES[path.slice(path.lastIndexOf(".") + 1)] ?? "application/octet-stream";
    return new Response(body, { headers: { "content-type": type, "cache-control": "no-store" } });
  });
  const close = () => server.shutdown();
  return { origin: `http://127.0.0.1:${server.addr.port}`, close, [Symbol.asyncDispose]: close };
}
