/**
 * @module
 * The page shell: head (the UI's own CSS, script and icon only), the top bar with the navigation for the signed-in
 * role and the sign-out button, the main region and a footer saying which zone times are shown in.
 */
import type { Child } from "hono/jsx";
import type { Assets } from "../assets.ts";
import type { SessionRole } from "../session.ts";
import { CsrfField } from "./widgets.tsx";

/** Who is signed in, as the shell shows them. */
export interface Viewer {
  role: SessionRole;
  /** "Admin", or the key's alias (or `sk-...abcd`). */
  name: string;
  /** The session's CSRF token (the sign-out form carries it). */
  csrf: string;
}

/** What every page is rendered with. */
export interface View {
  assets: Assets;
  /** The request's path, to mark the current navigation entry. */
  path: string;
  viewer?: Viewer;
}

interface NavItem {
  href: string;
  label: string;
  roles: readonly SessionRole[];
}

/** The navigation, per role. */
const NAV: readonly NavItem[] = [
  { href: "/ui", label: "Overview", roles: ["admin"] },
  { href: "/ui", label: "My key", roles: ["key"] },
  { href: "/ui/keys", label: "Keys", roles: ["admin"] },
  { href: "/ui/teams", label: "Teams", roles: ["admin"] },
  { href: "/ui/users", label: "Users", roles: ["admin"] },
  { href: "/ui/logs", label: "Logs", roles: ["admin"] },
  { href: "/ui/logs", label: "My calls", roles: ["key"] },
  { href: "/ui/models", label: "Models", roles: ["admin"] },
];

/** The entry a path belongs to: the longest `href` it starts with. */
function current(path: string, items: readonly NavItem[]): string | undefined {
  let best: string | undefined;
  for (const { href } of items) {
    if ((path === href || path.startsWith(`${href}/`)) && (!best || href.length > best.length)) best = href;
  }
  return best;
}

function TopBar(props: { view: View }) {
  const { viewer, path } = props.view;
  const items = viewer ? NAV.filter((n) => n.roles.includes(viewer.role)) : [];
  const here = current(path, items);
  return (
    <header class="top">
      <a class="brand" href="/ui">
        <img src={props.view.assets.icon.path} alt="" width="26" height="26" />
        <span>Converse Gateway</span>
      </a>
      {viewer && (
        <>
          <nav aria-label="Main">
            <ul class="nav">
              {items.map((n) => (
                <li>
                  <a href={n.href} aria-current={n.href === here ? "page" : undefined}>{n.label}</a>
                </li>
              ))}
            </ul>
          </nav>
          <div class="who">
            <span class="role">{viewer.role === "admin" ? "Signed in as admin" : `Key: ${viewer.name}`}</span>
            <form method="post" action="/ui/sign-out">
              <CsrfField token={viewer.csrf} />
              <button type="submit" class="small">Sign out</button>
            </form>
          </div>
        </>
      )}
    </header>
  );
}

/** A whole page. */
export function Layout(props: { view: View; title: string; children: Child }) {
  const { assets } = props.view;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{`${props.title} · Converse Gateway`}</title>
        <link rel="icon" href={assets.icon.path} type="image/svg+xml" />
        <link rel="stylesheet" href={assets.css.path} />
        <script src={assets.js.path} defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <TopBar view={props.view} />
        <main id="main">{props.children}</main>
        <footer>
          Times are shown in your time zone (<span data-local-zone>UTC</span>); days in charts and filters are UTC days.
        </footer>
      </body>
    </html>
  );
}

/** The heading of a page, with an optional line under it and actions on the right. */
export function PageHead(props: { title: string; sub?: Child; children?: Child }) {
  return (
    <div class="page-head">
      <div>
        <h1>{props.title}</h1>
        {props.sub && <p>{props.sub}</p>}
      </div>
      {props.children && <div class="actions">{props.children}</div>}
    </div>
  );
}
