/**
 * @module
 * Pieces of the key pages: a key's state badge and limits, a budget as text, the reveal of a new key, and the key
 * form (create and edit share it).
 */
import { Badge, CheckGroup, CsrfField, Field, Money } from "../components/widgets.tsx";
import { formatCount } from "../format.ts";
import { type FieldErrors, type KeyFormValues, NEVER } from "../key_form.ts";
import type { KeyInfo } from "../ports.ts";

/** Blocked, expired or active, as of `now`. */
export function KeyState(props: { info: KeyInfo; now: number }) {
  const { info, now } = props;
  if (info.blocked) return <Badge tone="bad">blocked</Badge>;
  if (info.expires && Date.parse(info.expires) <= now) return <Badge tone="warn">expired</Badge>;
  return <Badge tone="ok">active</Badge>;
}

/** A key's team and user, each linked to its page, or `—`. */
export function KeyOwners(props: { info: Pick<KeyInfo, "team_id" | "user_id"> }) {
  const { team_id, user_id } = props.info;
  return (
    <>
      {team_id ? <a href={`/ui/teams/${encodeURIComponent(team_id)}`}>{team_id}</a> : <span class="muted">—</span>}
      {" · "}
      {user_id ? <a href={`/ui/users/${encodeURIComponent(user_id)}`}>{user_id}</a> : <span class="muted">—</span>}
    </>
  );
}

/** `60 rpm · 10,000 tpm · 4 parallel`, or `no limits`. */
export function limitsText(info: KeyInfo): string {
  const parts = [
    info.rpm_limit !== null ? `${formatCount(info.rpm_limit)} rpm` : "",
    info.tpm_limit !== null ? `${formatCount(info.tpm_limit)} tpm` : "",
    info.max_parallel_requests !== null ? `${formatCount(info.max_parallel_requests)} parallel` : "",
  ].filter(Boolean);
  return parts.length ? parts.join(" · ") : "no limits";
}

/** The models a key may call, as a short text. */
export const modelsText = (models: string[]) =>
  models.length === 0 || models.includes("all-proxy-models") ? "all models" : models.join(", ");

/** A budget and its window (`$5 per 30d`), or `none`. */
export function BudgetText(props: { info: { max_budget: number | null; budget_duration: string | null } }) {
  const { max_budget, budget_duration } = props.info;
  return (
    <>
      {max_budget === null ? "none" : <Money usd={max_budget} trim />}
      {max_budget !== null && budget_duration && ` per ${budget_duration}`}
    </>
  );
}

/** A raw key, shown this once (the gateway keeps only its hash), with a copy button; `lead` says whose it is. */
export const KeyReveal = (props: { raw: string; lead: string }) => (
  <div class="reveal" role="status">
    <strong>{props.lead}</strong> It is shown only once: the gateway keeps only its hash.
    <code class="secret" id="new-key">{props.raw}</code>
    <div class="actions">
      <button type="button" class="primary" data-copy="new-key">Copy key</button>
      <span id="new-key-status" class="muted" aria-live="polite"></span>
    </div>
  </div>
);

/** The per-minute and parallel limits: whole numbers, empty for none. */
const LIMIT_FIELDS = [
  ["rpm_limit", "Requests per minute"],
  ["tpm_limit", "Tokens per minute"],
  ["max_parallel_requests", "Parallel calls"],
] as const;

/** Under a key's name: its `sk-...abcd` and its state. */
export const KeySub = (props: { info: KeyInfo; now: number }) => (
  <>
    <span class="mono">{props.info.key_name}</span> · <KeyState info={props.info} now={props.now} />
  </>
);

export interface KeyFormProps {
  action: string;
  csrf: string;
  values: KeyFormValues;
  errors: FieldErrors;
  /** Model names served by the gateway (checkboxes); a key's other models are listed too. */
  modelNames: string[];
  mode: "create" | "edit";
  /** An error not tied to one field (a conflict, a store failure). */
  error?: string;
  /** Where Cancel goes. */
  cancel: string;
}

export function KeyForm(props: KeyFormProps) {
  const { values: v, errors: e, mode } = props;
  const names = [...new Set([...props.modelNames, ...v.models])];
  return (
    <form method="post" action={props.action} class="panel" novalidate>
      <CsrfField token={props.csrf} />
      {props.error && <div class="alert" role="alert">{props.error}</div>}
      <div class="form-grid">
        <Field
          name="key_alias"
          label="Alias"
          value={v.key_alias}
          error={e.key_alias}
          hint="A unique name people recognise."
        />
        <Field name="user_id" label="User" value={v.user_id} error={e.user_id} />
        <Field name="team_id" label="Team" value={v.team_id} error={e.team_id} />
        <CheckGroup
          legend="Models"
          name="models"
          options={names.map((n) => ({ value: n, label: n }))}
          checked={v.models}
          hintId="models-hint"
          hint="None checked: the key may call every model."
          error={e.models}
        />
        <Field
          name="max_budget"
          label="Budget (USD)"
          type="number"
          step="any"
          min="0"
          value={v.max_budget}
          error={e.max_budget}
          hint="Calls are refused once spend reaches it. Empty: none."
        />
        <Field
          name="soft_budget"
          label="Soft budget (USD)"
          type="number"
          step="any"
          min="0"
          value={v.soft_budget}
          error={e.soft_budget}
          hint="Crossing it is logged once per window."
        />
        <Field
          name="budget_duration"
          label="Budget window"
          value={v.budget_duration}
          error={e.budget_duration}
          placeholder="30d"
          hint="Spend resets every window: 1h, 1d, 7d, 30d… Empty: never."
        />
        {LIMIT_FIELDS.map(([name, label]) => (
          <Field name={name} label={label} type="number" step="1" min="0" value={v[name]} error={e[name]} />
        ))}
        <Field
          name="duration"
          label={mode === "create" ? "Expires after" : "New expiry (from now)"}
          value={v.duration}
          error={e.duration}
          placeholder={mode === "create" ? "never" : "keep"}
          hint={mode === "create"
            ? "A duration (30d, 12h). Empty: never."
            : `A duration (30d, 12h), or "${NEVER}". Empty: unchanged.`}
        />
      </div>
      <div class="actions form-actions">
        <button type="submit" class="primary">{mode === "create" ? "Create key" : "Save changes"}</button>
        <a class="button" href={props.cancel}>Cancel</a>
      </div>
    </form>
  );
}
