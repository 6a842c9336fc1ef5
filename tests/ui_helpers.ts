/**
 * @module
 * A minimal browser for the admin UI's handler tests: keeps cookies (honouring `Max-Age=0`), sends what a browser's
 * same-origin form would (`Sec-Fetch-Site: same-origin`), follows nothing on its own, and reads the CSRF token out
 * of a page. The real browser test is `ui_browser_test.ts`.
 */
import assert from "node:assert/strict";

export class UiClient {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string, readonly headers: Record<string, string> = { "sec-fetch-site": "same-origin" }) {}

  #cookieHeader(): Record<string, string> {
    const pairs = [...this.cookies].map(([k, v]) => `${k}=${v}`);
    return pairs.length ? { cookie: pairs.join("; ") } : {};
  }

  #remember(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";").map((p) => p.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq), value = pair.slice(eq + 1);
      if (attrs.some((a) => /^max-age=0$/i.test(a)) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await fetch(`${this.base}${path}`, {
      headers: { ...this.headers, ...this.#cookieHeader(), ...headers },
      redirect: "manual",
    });
    this.#remember(res);
    return res;
  }

  async post(path: string, form: Record<string, string | string[]>, headers: Record<string, string> = {}) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const x of [v].flat()) body.append(k, x);
    const res = await fetch(`${this.base}${path}`, {
      method: "POST",
      headers: {
        ...this.headers,
        ...this.#cookieHeader(),
        "content-type": "application/x-www-form-urlencoded",
        ...headers,
      },
      body,
      redirect: "manual",
    });
    this.#remember(res);
    return res;
  }

  /** GET a page and return its HTML, asserting the status. */
  async page(path: string, status = 200): Promise<string> {
    const res = await this.get(path);
    const html = await res.text();
    assert.equal(res.status, status, `GET ${path}: ${res.status}\n${html.slice(0, 2000)}`);
    return html;
  }

  /** Signs in through the form (fetching the form first for its token); returns the sign-in answer. */
  async signIn(key: string): Promise<Response> {
    const form = await this.get("/ui");
    const token = csrfOf(await form.text());
    return await this.post("/ui/sign-in", { key, csrf: token });
  }

  /** Signs in and asserts it worked (303 to the start page). */
  async signedIn(key: string): Promise<this> {
    const res = await this.signIn(key);
    await res.body?.cancel();
    assert.equal(res.status, 303, `sign-in answered ${res.status}`);
    assert.ok(this.cookies.has("cg_session"), "no session cookie");
    return this;
  }

  /** The CSRF token of a signed-in page (from its sign-out form). */
  async csrf(path = "/ui"): Promise<string> {
    return csrfOf(await this.page(path));
  }
}

/** The first hidden `csrf` field's value in a page. */
export function csrfOf(html: string): string {
  const m = html.match(/name="csrf" value="([^"]+)"/);
  assert.ok(m, "no csrf field in the page");
  return m[1];
}

/** The HTML's visible text, roughly (tags removed, entities of interest decoded), for `includes` checks. */
export function textOf(html: string): string {
  return html.replace(/<[^>]+>/g, " ").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/\s+/g, " ");
}
