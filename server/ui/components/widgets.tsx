/**
 * @module
 * Small pieces every page uses: money, times, the budget bar, status badges, the CSRF field, form fields, checkbox
 * groups and the pager. Nothing here uses a `style` attribute (the Content-Security-Policy forbids inline styles): sizes come
 * from SVG attributes, looks from `app.css` classes.
 */
import type { Child } from "hono/jsx";
import { formatCount, formatPercent, formatUsd, utcText } from "../format.ts";

/** USD with enough digits for one small call (`format.ts`); `trim` for amounts people typed (budgets). */
export const Money = (props: { usd: number | null | undefined; trim?: boolean }) =>
  props.usd === null || props.usd === undefined
    ? <span class="muted">—</span>
    : <span class="num">{formatUsd(props.usd, { trim: props.trim })}</span>;

/** A count with separators. */
export const Count = (props: { n: number | null | undefined }) => <span class="num">{formatCount(props.n)}</span>;

/** A number of calls: `1 call`, `1,204 calls`. */
export const Calls = (props: { n: number }) => (
  <>
    <Count n={props.n} /> {props.n === 1 ? "call" : "calls"}
  </>
);

/**
 * A moment: the UTC text in the page, the exact instant in `datetime`; the page's script shows it in the viewer's
 * zone (and keeps the UTC text as the title). `date`: the day only.
 */
export function Time(props: { at: number | string | null | undefined; date?: boolean }) {
  if (props.at === null || props.at === undefined) return <span class="muted">—</span>;
  const ms = typeof props.at === "number" ? props.at : Date.parse(props.at);
  if (!Number.isFinite(ms)) return <span class="muted">—</span>;
  const iso = new Date(ms).toISOString();
  return props.date
    ? <time datetime={iso} data-format="date">{iso.slice(0, 10)}</time>
    : <time datetime={iso}>{utcText(ms)}</time>;
}

/** Spend against a budget: the amounts, and a bar (amber from 80 %, red at the budget). */
export function BudgetBar(props: { spend: number; budget: number | null; label?: string }) {
  const { spend, budget } = props;
  if (budget === null) {
    return (
      <div class="budget">
        <Money usd={spend} /> <span class="muted">· no budget</span>
      </div>
    );
  }
  const share = budget > 0 ? Math.min(1, spend / budget) : 1;
  const state = spend >= budget ? "over" : share >= 0.8 ? "near" : "";
  const text = `${formatUsd(spend)} of ${formatUsd(budget, { trim: true })} (${formatPercent(spend, budget)})`;
  return (
    <div class="budget">
      <Money usd={spend} /> <span class="muted">of</span> <Money usd={budget} trim />
      <svg viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label={`${props.label ?? "Spend"}: ${text}`}>
        <rect class="track" x="0" y="0" width="100" height="8" rx="4" />
        <rect class={`fill ${state}`} x="0" y="0" width={(share * 100).toFixed(2)} height="8" rx="4" />
      </svg>
    </div>
  );
}

export type Tone = "ok" | "warn" | "bad" | "info" | "";

export const Badge = (props: { tone: Tone; children: Child }) => (
  <span class={`badge ${props.tone}`}>
    {props.children}
  </span>
);

/** A spend-log row's status. */
export function CallStatus(props: { status: string; httpStatus?: number }) {
  const tone: Tone = props.status === "success" ? "ok" : props.status === "failure" ? "bad" : "warn";
  const text = props.status === "client_disconnected" ? "disconnected" : props.status;
  return <Badge tone={tone}>{text}{props.httpStatus ? ` ${props.httpStatus}` : ""}</Badge>;
}

/** The session's CSRF token, in every form. */
export const CsrfField = (props: { token: string }) => <input type="hidden" name="csrf" value={props.token} />;

/** A labelled input with its hint and error, wired for screen readers. */
export function Field(props: {
  name: string;
  label: string;
  value?: string | number | null;
  type?: "text" | "number" | "password" | "date" | "search";
  hint?: string;
  error?: string;
  placeholder?: string;
  step?: string;
  min?: string;
  class?: string;
  autocomplete?: string;
}) {
  const id = `f-${props.name}`;
  const described = [props.hint ? `${id}-hint` : "", props.error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class={props.class}>
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        value={props.value === null || props.value === undefined ? "" : String(props.value)}
        placeholder={props.placeholder}
        step={props.step}
        min={props.min}
        autocomplete={props.autocomplete ?? "off"}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={described || undefined}
      />
      {props.hint && <span class="hint" id={`${id}-hint`}>{props.hint}</span>}
      {props.error && <div class="field-error" id={`${id}-error`}>{props.error}</div>}
    </div>
  );
}

/** A group of checkboxes (the models or teams a form grants) with its legend, hint and error. */
export function CheckGroup(props: {
  legend: string;
  name: string;
  options: Array<{ value: string; label: string }>;
  checked: string[];
  hintId: string;
  hint: string;
  error?: string;
  /** Shown when there is nothing to check. */
  empty?: string;
}) {
  const { name, checked } = props;
  return (
    <fieldset class="wide" aria-describedby={props.hintId}>
      <legend>{props.legend}</legend>
      <div class="checks">
        {props.empty && props.options.length === 0 && <span class="muted">{props.empty}</span>}
        {props.options.map((o) => (
          <label>
            <input type="checkbox" name={name} value={o.value} checked={checked.includes(o.value)} /> {o.label}
          </label>
        ))}
      </div>
      <span class="hint" id={props.hintId}>{props.hint}</span>
      {props.error && <div class="field-error">{props.error}</div>}
    </fieldset>
  );
}

/** Previous/next links for a list read in pages (the next page exists when this one came back full). */
export function Pager(props: {
  page: number;
  hasNext: boolean;
  href: (page: number) => string;
  label: string;
  /** Link texts; default "← Previous" and "Next →" (logs say newer and older). */
  prev?: string;
  next?: string;
}) {
  const { page, hasNext, href } = props;
  if (page <= 1 && !hasNext) return null;
  return (
    <nav class="pager" aria-label={props.label}>
      {page > 1 ? <a class="button small" href={href(page - 1)} rel="prev">{props.prev ?? "← Previous"}</a> : <span />}
      <span class="muted">Page {page}</span>
      {hasNext ? <a class="button small" href={href(page + 1)} rel="next">{props.next ?? "Next →"}</a> : <span />}
    </nav>
  );
}

/** A table with a horizontal scroll on narrow screens, reachable by keyboard. */
export const TableWrap = (props: { label: string; children: Child }) => (
  <div class="table-wrap" tabindex={0} role="region" aria-label={props.label}>
    {props.children}
  </div>
);
