/**
 * @module
 * The admin UI, served by the gateway at `/ui` (same origin as the admin API), rendered on the server with Hono's
 * JSX. This file is the UI's front door: security headers on every answer, sign-in and sign-out, the session check
 * (and the virtual key's re-check) before every page, the CSRF check before every form, and the route table. The
 * pages live in `pages/` (one file per page), their pieces in `components/`; they reach the gateway only through
 * the interfaces of `ports.ts`.
 *
 * With no master key the gateway is open and the UI is off: every page says so, and nothing else is served.
 */
import { type Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { GatewayError } from "../core/errors.ts";
import { readBody } from "../api/body.ts";
import type { BodyWatch } from "../api/body_watch.ts";
import { hashKey } from "../keys/credentials.ts";
import { ASSET_PREFIX, type Assets, loadAssets } from "./assets.ts";
import { Layout, type View, type Viewer } from "./components/layout.tsx";
import { fromThisSite, readableBy, sameToken } from "./csrf.ts";
import type { Answer, Page, SignedIn } from "./page.ts";
import { confirmPage, deleteKey, keyPage, regenerateKey, setBlocked, updateKey } from "./pages/key_detail.tsx";
import { createKey, keysPage, newKeyPage } from "./pages/keys.tsx";
import { logPage, logsPage } from "./pages/logs.tsx";
import { messagePage } from "./pages/message.tsx";
import { modelsPage } from "./pages/models.tsx";
import { myKeyPage } from "./pages/my_key.tsx";
import { overviewPage } from "./pages/overview.tsx";
import { signInPage, uiOffPage } from "./pages/sign_in.tsx";
import { confirmTeamDelete, deleteTeam, setTeamBlocked, teamPage, updateTeam } from "./pages/team_detail.tsx";
import { createTeam, newTeamPage, teamsPage } from "./pages/teams.tsx";
import { confirmUserDelete, deleteUser, updateUser, userPage } from "./pages/user_detail.tsx";
import { createUser, newUserPage, usersPage } from "./pages/users.tsx";
import type { UiDeps } from "./ports.ts";
import { createRevocations } from "./revocations.ts";
import { setSecurityHeaders } from "./security_headers.ts";
import { base64url, createSessionCodec, SESSION_TTL_MS, type SessionCodec } from "./session.ts";
import { createSignInLimiter } from "./sign_in_limiter.ts";

export type { UiDeps } from "./ports.ts";

/**
 * `remoteAddr` is the connection's, when the server passes `Deno.serve`'s handler info on (`app.fetch(req, info)`);
 * `body` the server's watch over slow bodies, when it has one.
 */
export type UiEnv = { Variables: { requestId?: string }; Bindings: { remoteAddr?: Deno.NetAddr; body?: BodyWatch } };
type C = Context<UiEnv>;

export const SESSION_COOKIE = "cg_session";
/** The sign-in form's double-submit token. */
export const SIGN_IN_COOKIE = "cg_signin";
const SIGN_IN_TTL_S = 3600;
/** Forms are a few fields; anything bigger is refused before it is buffered. */
const MAX_FORM_BYTES = 64 * 1024;
/**
 * The sign-in form (a key, its CSRF token, a `next` path of at most 2 KiB) is read before anyone is known: anonymous
 * uploads are kept small, and slow ones are cut by the server's body timeout like any other.
 */
const MAX_SIGN_IN_FORM_BYTES = 8 * 1024;
/** A key hash in a path (checked by the key pages: anything else is a 404 there). */
const HASH_PARAM = "/:hash";

/**
 * Whether the browser reached us over https: the request's own scheme, or `X-Forwarded-Proto: https` from a
 * TLS-terminating proxy. Only the `Secure` cookie flag depends on it, and a forged header only makes that
 * browser drop its own cookie.
 */
export function overHttps(req: Request): boolean {
  if (req.url.startsWith("https:")) return true;
  const forwarded = req.headers.get("x-forwarded-proto");
  return forwarded !== null && forwarded.split(",")[0].trim().toLowerCase() === "https";
}

/** A `next` target after sign-in: a UI path on this origin, or nothing. */
function safeNext(next: string | null): string | undefined {
  if (!next || next.length > 2048 || !/^\/ui(?:[/?][^\\\s]*)?$/.test(next)) return undefined;
  return next.startsWith("/ui/sign-") ? undefined : next;
}

async function readForm(c: C, maxBytes = MAX_FORM_BYTES): Promise<URLSearchParams> {
  const type = c.req.header("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded")) return new URLSearchParams();
  return new URLSearchParams(new TextDecoder().decode(await readBody(c.req.raw, maxBytes, { watch: c.env?.body })));
}

function render(c: C, assets: Assets, page: Page, viewer?: Viewer, started = performance.now()): Response {
  const view: View = { assets, path: c.req.path, viewer };
  const html = "<!doctype html>" + String(Layout({ view, title: page.title, children: page.body }));
  const res = c.html(html, page.status ?? 200);
  res.headers.set("server-timing", `render;dur=${(performance.now() - started).toFixed(2)}`);
  return res;
}

export function createUi(deps: UiDeps): Hono<UiEnv> {
  const app = new Hono<UiEnv>();
  const assets = loadAssets();

  app.use("/ui/*", async (c, next) => {
    // Another site's page may link here, but not read a page (and the CSRF token in it) with the user's cookie.
    if (!readableBy(c.req.raw)) {
      c.res = new Response("Refused: the admin UI answers its own pages only.\n", { status: 403 });
    } else await next();
    setSecurityHeaders(c.res.headers);
  });
  app.use("/ui", async (c, next) => {
    if (!readableBy(c.req.raw)) c.res = new Response("Refused\n", { status: 403 });
    else await next();
    setSecurityHeaders(c.res.headers);
  });

  app.get(`${ASSET_PREFIX}:name`, (c) => {
    const asset = assets.byName.get(c.req.param("name"));
    if (!asset) return c.text("Not found\n", 404);
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      "cache-control": "public, max-age=31536000, immutable",
    });
  });

  app.get("/", (c) => c.redirect("/ui", 302));

  app.onError((e, c) => {
    if (e instanceof GatewayError && e.status < 500) {
      return render(c, assets, messagePage("Request refused", e.message, e.status as Page["status"]));
    }
    const requestId = c.get("requestId");
    deps.log.error("admin UI error", { requestId, error: e.name, message: e.message, route: c.req.routePath });
    return render(
      c,
      assets,
      messagePage("Something went wrong", `The gateway could not show this page (request ${requestId ?? "?"}).`, 500),
    );
  });

  if (!deps.masterKey) {
    app.all("/ui", (c) => render(c, assets, uiOffPage()));
    app.all("/ui/*", (c) => render(c, assets, uiOffPage()));
    return app;
  }

  const { now } = deps;
  const sessions: SessionCodec = createSessionCodec({ masterKey: deps.masterKey, now, ttlMs: SESSION_TTL_MS });
  const revocations = createRevocations(deps.kv, now);
  const limiter = createSignInLimiter({ now });
  const masterHash = hashKey(deps.masterKey);

  const cookieOptions = (c: C, maxAge: number) => ({
    path: "/ui",
    httpOnly: true,
    sameSite: "Strict" as const,
    secure: overHttps(c.req.raw),
    maxAge,
  });

  /** The sign-in page, with a fresh double-submit token (kept when the browser has a well-formed one). */
  function signIn(c: C, opts: { error?: string; notice?: string; status: Page["status"]; next?: string }): Response {
    const had = getCookie(c, SIGN_IN_COOKIE);
    const token = had && /^[A-Za-z0-9_-]{22}$/.test(had) ? had : base64url(crypto.getRandomValues(new Uint8Array(16)));
    setCookie(c, SIGN_IN_COOKIE, token, cookieOptions(c, SIGN_IN_TTL_S));
    const page = signInPage({ token, next: opts.next, error: opts.error, notice: opts.notice }, opts.status);
    return render(c, assets, page);
  }

  /** The request's session, checked: signature, expiry, sign-out, and a virtual key's current record. */
  async function current(c: C): Promise<{ signedIn?: SignedIn; notice?: string }> {
    const token = getCookie(c, SESSION_COOKIE);
    if (!token) return {};
    const session = await sessions.read(token);
    if (!session) return { notice: "Your session has ended. Sign in again." };
    if (await revocations.isRevoked(session.id)) return {};
    const t = now();
    let key: SignedIn["key"];
    if (session.role === "key") {
      try {
        key = (await deps.keys.info(session.keyHash!)).info;
      } catch (e) {
        if (e instanceof GatewayError && e.status === 404) {
          return { notice: "Your key was deleted or regenerated: sign in with the key you have now." };
        }
        throw e;
      }
      if (key.blocked) return { notice: "Your key is blocked: ask an admin to unblock it." };
      if (key.expires && Date.parse(key.expires) <= t) return { notice: "Your key has expired." };
    }
    const viewer: Viewer = {
      role: session.role,
      name: key ? key.key_alias ?? key.key_name : "admin",
      csrf: await sessions.csrfToken(session),
    };
    return { signedIn: { deps, session, viewer, key, url: new URL(c.req.url), now: t, masterHash } };
  }

  type Handler = (s: SignedIn, c: C, form: URLSearchParams) => Promise<Answer> | Answer;

  /**
   * A page behind the sign-in: `admin` pages refuse virtual keys; a `POST` must come from this origin and carry the
   * session's CSRF token.
   */
  const guarded = (access: "admin" | "any", handler: Handler) => async (c: C): Promise<Response> => {
    const started = performance.now();
    const { signedIn: s, notice } = await current(c);
    if (!s) {
      if (notice) setCookie(c, SESSION_COOKIE, "", cookieOptions(c, 0));
      const start = c.req.path === "/ui" || c.req.path === "/ui/";
      const next = c.req.method === "GET" && !start ? safeNext(c.req.path + new URL(c.req.url).search) : undefined;
      // The start page is where people sign in (200); any other page asked for without a session is a 401.
      return signIn(c, { status: start && !notice ? 200 : 401, notice, next });
    }
    if (access === "admin" && s.session.role !== "admin") {
      const page = messagePage(
        "For admins only",
        "This page needs the master key; you signed in with a virtual key.",
        403,
      );
      return render(c, assets, page, s.viewer, started);
    }
    let form = new URLSearchParams();
    if (c.req.method === "POST") {
      form = await readForm(c);
      if (!fromThisSite(c.req.raw) || !sameToken(form.get("csrf"), s.viewer.csrf)) {
        const page = messagePage(
          "Form refused",
          "The form did not come from this page, or it is out of date. Reload the page and try again.",
          403,
        );
        return render(c, assets, page, s.viewer, started);
      }
    }
    const answer = await handler(s, c, form);
    if ("redirect" in answer) return c.redirect(answer.redirect, 303);
    return render(c, assets, answer, s.viewer, started);
  };

  app.post("/ui/sign-in", async (c) => {
    const form = await readForm(c, MAX_SIGN_IN_FORM_BYTES);
    const next = safeNext(form.get("next"));
    if (!fromThisSite(c.req.raw) || !sameToken(form.get("csrf"), getCookie(c, SIGN_IN_COOKIE))) {
      return signIn(c, {
        status: 403,
        next,
        error: "The sign-in form was out of date (or cookies are off for this site). Try again.",
      });
    }
    const client = c.env?.remoteAddr?.hostname ?? "unknown";
    const wait = limiter.retryAfter(client);
    if (wait > 0) {
      const res = signIn(c, { status: 429, next, error: `Too many failed attempts. Try again in ${wait} s.` });
      res.headers.set("retry-after", String(wait));
      return res;
    }
    const key = (form.get("key") ?? "").trim();
    let principal: Awaited<ReturnType<UiDeps["auth"]["authenticate"]>> | undefined;
    if (key) {
      try {
        principal = await deps.auth.authenticate(new Headers({ authorization: `Bearer ${key}` }));
      } catch (e) {
        if (!(e instanceof GatewayError) || e.status >= 500) throw e;
      }
    }
    if (!principal || (principal.kind === "virtual" && !principal.key) || principal.kind === "open") {
      limiter.failed(client);
      return signIn(c, { status: 401, next, error: "Sign-in refused: this key is unknown, blocked or expired." });
    }
    const { token } = principal.kind === "master"
      ? await sessions.issue("admin")
      : await sessions.issue("key", principal.key!.hash);
    setCookie(c, SESSION_COOKIE, token, cookieOptions(c, SESSION_TTL_MS / 1000));
    setCookie(c, SIGN_IN_COOKIE, "", cookieOptions(c, 0));
    return c.redirect(next ?? "/ui", 303);
  });

  app.post(
    "/ui/sign-out",
    guarded("any", async (s, c) => {
      await revocations.revoke(s.session.id, s.session.expiresAt);
      setCookie(c, SESSION_COOKIE, "", cookieOptions(c, 0));
      return { redirect: "/ui" };
    }),
  );

  const home = guarded("any", (s) => s.session.role === "admin" ? overviewPage(s) : myKeyPage(s));
  app.get("/ui", home);
  app.get("/ui/", home);

  app.get("/ui/keys", guarded("admin", keysPage));
  app.get("/ui/keys/new", guarded("admin", (s) => newKeyPage(s)));
  app.post("/ui/keys/new", guarded("admin", (s, _, form) => createKey(s, form)));
  app.get(`/ui/keys${HASH_PARAM}`, guarded("admin", (s, c) => keyPage(s, c.req.param("hash")!)));
  app.post(`/ui/keys${HASH_PARAM}`, guarded("admin", (s, c, form) => updateKey(s, c.req.param("hash")!, form)));
  app.post(`/ui/keys${HASH_PARAM}/block`, guarded("admin", (s, c) => setBlocked(s, c.req.param("hash")!, true)));
  app.post(`/ui/keys${HASH_PARAM}/unblock`, guarded("admin", (s, c) => setBlocked(s, c.req.param("hash")!, false)));
  for (const action of ["regenerate", "delete"] as const) {
    app.get(
      `/ui/keys${HASH_PARAM}/${action}`,
      guarded("admin", (s, c) => confirmPage(s, c.req.param("hash")!, action)),
    );
  }
  app.post(`/ui/keys${HASH_PARAM}/regenerate`, guarded("admin", (s, c) => regenerateKey(s, c.req.param("hash")!)));
  app.post(`/ui/keys${HASH_PARAM}/delete`, guarded("admin", (s, c) => deleteKey(s, c.req.param("hash")!)));

  app.get("/ui/logs", guarded("any", logsPage));
  app.get("/ui/logs/:id", guarded("any", (s, c) => logPage(s, c.req.param("id")!)));

  app.get("/ui/models", guarded("admin", modelsPage));

  // Teams and users: ids may hold any character; Hono decodes the path parameter.
  const id = (c: C) => c.req.param("id")!;
  app.get("/ui/teams", guarded("admin", teamsPage));
  app.get("/ui/teams/new", guarded("admin", (s) => newTeamPage(s)));
  app.post("/ui/teams/new", guarded("admin", (s, _, form) => createTeam(s, form)));
  app.get("/ui/teams/:id", guarded("admin", (s, c) => teamPage(s, id(c))));
  app.post("/ui/teams/:id", guarded("admin", (s, c, form) => updateTeam(s, id(c), form)));
  app.post("/ui/teams/:id/block", guarded("admin", (s, c) => setTeamBlocked(s, id(c), true)));
  app.post("/ui/teams/:id/unblock", guarded("admin", (s, c) => setTeamBlocked(s, id(c), false)));
  app.get("/ui/teams/:id/delete", guarded("admin", (s, c) => confirmTeamDelete(s, id(c))));
  app.post("/ui/teams/:id/delete", guarded("admin", (s, c) => deleteTeam(s, id(c))));
  app.get("/ui/users", guarded("admin", usersPage));
  app.get("/ui/users/new", guarded("admin", (s) => newUserPage(s)));
  app.post("/ui/users/new", guarded("admin", (s, _, form) => createUser(s, form)));
  app.get("/ui/users/:id", guarded("admin", (s, c) => userPage(s, id(c))));
  app.post("/ui/users/:id", guarded("admin", (s, c, form) => updateUser(s, id(c), form)));
  app.get("/ui/users/:id/delete", guarded("admin", (s, c) => confirmUserDelete(s, id(c))));
  app.post("/ui/users/:id/delete", guarded("admin", (s, c) => deleteUser(s, id(c))));

  app.all("/ui/*", guarded("any", () => messagePage("Not found", "There is no such page in the admin UI.", 404)));

  return app;
}
