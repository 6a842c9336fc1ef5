/**
 * @module
 * What a page handler gets (the signed-in request) and gives back (a title, a status and its content; `mod.ts`
 * puts it in the layout and adds the headers).
 */
import type { Child } from "hono/jsx";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Viewer } from "./components/layout.tsx";
import type { KeyInfo, UiDeps } from "./ports.ts";
import type { Session } from "./session.ts";

/** A request by a signed-in viewer. */
export interface SignedIn {
  deps: UiDeps;
  session: Session;
  viewer: Viewer;
  /** The signed-in virtual key as it is now (role `key`); re-read on every request. */
  key?: KeyInfo;
  url: URL;
  /** Epoch ms, read once per request. */
  now: number;
  /** The master key's hash: calls made with the master key carry it as their key. */
  masterHash: string;
}

export interface Page {
  title: string;
  status?: ContentfulStatusCode;
  body: Child;
}

/** What a form post answers: a page, or a redirect to one (`303 See Other`, so a reload does not post again). */
export type Answer = Page | { redirect: string };

/** A form page's status: 400 while it shows errors (by field, or `error` for the whole form), else 200. */
export const formStatus = (errors: object, error?: string): ContentfulStatusCode =>
  error || Object.keys(errors).length ? 400 : 200;

/** An operation's refusal as a form shows it: at the field it names, else above the whole form. */
export function refusalErrors<F extends string>(
  refusal: { field?: F; message: string },
): [errors: Partial<Record<F, string>>, error: string | undefined] {
  const { field, message } = refusal;
  return field ? [{ [field]: message } as Partial<Record<F, string>>, undefined] : [{}, message];
}

/** The UTC day of an instant, `YYYY-MM-DD`. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

const DAY_MS = 86_400_000;

/** The UTC days `count` back to today, oldest first (today included). */
export function lastDays(now: number, count: number): string[] {
  const out: string[] = [];
  for (let i = count - 1; i >= 0; i--) out.push(utcDay(now - i * DAY_MS));
  return out;
}

/** A query parameter as a page number (1 when absent or not a positive integer). */
export function pageParam(url: URL, max = 100_000): number {
  const n = Number(url.searchParams.get("page") ?? "1");
  return Number.isInteger(n) && n >= 1 && n <= max ? n : 1;
}

/** `/ui/logs` with these query parameters (empty ones left out). */
export function withQuery(path: string, params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const text = q.toString();
  return text ? `${path}?${text}` : path;
}

/** The id of a deployment's row on the models page (ids may hold any character; this keeps a safe fragment). */
export const deploymentAnchor = (deploymentId: string): string =>
  `d-${encodeURIComponent(deploymentId).replace(/%/g, "_")}`;
