/**
 * @module
 * The UI's static files, embedded in the module graph (`with { type: "text" }`), so they ship inside a `deno compile`
 * binary and on Deno Deploy, and nothing is read from disk at run time. Each is served under a name with its
 * content's hash (`app.3f2a9c1b.css`), cached by browsers for a year; a changed file gets a new name.
 */
import { createHash } from "node:crypto";
import css from "./assets/app.css" with { type: "text" };
import js from "./assets/app.js" with { type: "text" };
import icon from "./assets/icon.svg" with { type: "text" };

export interface Asset {
  /** `/ui/assets/app.<hash>.css` */
  path: string;
  body: string;
  type: string;
}

export interface Assets {
  css: Asset;
  js: Asset;
  icon: Asset;
  /** By file name (the last path segment). */
  byName: ReadonlyMap<string, Asset>;
}

export const ASSET_PREFIX = "/ui/assets/";

function asset(name: string, ext: string, body: string, type: string): Asset {
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 10);
  return { path: `${ASSET_PREFIX}${name}.${hash}.${ext}`, body, type };
}

/** Hashes the embedded files once, at start-up. */
export function loadAssets(): Assets {
  const all = {
    css: asset("app", "css", css, "text/css; charset=utf-8"),
    js: asset("app", "js", js, "text/javascript; charset=utf-8"),
    icon: asset("icon", "svg", icon, "image/svg+xml"),
  };
  const byName = new Map(Object.values(all).map((a) => [a.path.slice(ASSET_PREFIX.length), a]));
  return { ...all, byName };
}
