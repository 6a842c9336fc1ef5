/**
 * @module
 * Pieces the team and user pages share: their limits as text, the spend panel and keys table of their detail pages,
 * the form (create and edit; a user's form adds its email and teams), the refusal of an operation as form errors, and
 * the delete confirmation.
 */
import { GatewayError } from "../../core/errors.ts";
import { BudgetBar, CheckGroup, CsrfField, Field, TableWrap, Time } from "../components/widgets.tsx";
import { formatCount } from "../format.ts";
import { formField, type OwnerFieldErrors, type OwnerFormValues, type OwnerKind } from "../owner_form.ts";
import type { Page } from "../page.ts";
import type { KeyInfo, TeamInfo } from "../ports.ts";
import { KeyState } from "./key_parts.tsx";

/** Who made a change from the UI, for the change's announcement (an audit trail). */
export const UI_ACTOR = "admin UI";

/** `60 rpm · 10,000 tpm`, or `no limits`. */
export function ownerLimitsText(info: { rpm_limit: number | null; tpm_limit: number | null }): string {
  const parts = [
    info.rpm_limit !== null ? `${formatCount(info.rpm_limit)} rpm` : "",
    info.tpm_limit !== null ? `${formatCount(info.tpm_limit)} tpm` : "",
  ].filter(Boolean);
  return parts.length ? parts.join(" · ") : "no limits";
}

/** A team's or user's spend against its budget, and its budget window. */
export function OwnerSpend(props: {
  info: Pick<TeamInfo, "spend" | "max_budget" | "budget_duration" | "budget_reset_at">;
  name: string;
}) {
  const { info, name } = props;
  return (
    <section class="panel">
      <h2>Spend</h2>
      <BudgetBar spend={info.spend} budget={info.max_budget} label={`Spend of ${name}`} />
      <dl class="facts">
        <dt>Window</dt>
        <dd>
          {info.budget_duration
            ? (
              <>
                every {info.budget_duration}, resets <Time at={info.budget_reset_at} />
              </>
            )
            : "none (all time)"}
        </dd>
      </dl>
    </section>
  );
}

/** Links separated by commas (a team's members, a user's teams), or `none`. */
export const LinkList = (props: { links: Array<{ href: string; text: string }> }) => (
  <>
    {props.links.length
      ? props.links.map((l, i) => (
        <>
          {i > 0 && ", "}
          <a href={l.href}>{l.text}</a>
        </>
      ))
      : "none"}
  </>
);

/** The keys of a team or user, each with its spend, its other owner (`column`) and its state. */
export function OwnerKeys(
  props: { keys: KeyInfo[]; now: number; label: string; empty: string; column: "User" | "Team" },
) {
  const { keys, column } = props;
  return (
    <section>
      <h2>Keys</h2>
      <TableWrap label={props.label}>
        <table>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Spend</th>
              <th scope="col" class="opt">{column}</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {keys.length === 0 && (
              <tr>
                <td colspan={4} class="empty">{props.empty}</td>
              </tr>
            )}
            {keys.map((k) => (
              <tr>
                <td>
                  <a href={`/ui/keys/${k.token}`}>{k.key_alias ?? k.key_name}</a>
                </td>
                <td>
                  <BudgetBar spend={k.spend} budget={k.max_budget} label={`Spend of ${k.key_alias ?? k.key_name}`} />
                </td>
                <td class="opt">{(column === "User" ? k.user_id : k.team_id) ?? "—"}</td>
                <td>
                  <KeyState info={k} now={props.now} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </section>
  );
}

/** An operation's refusal (a 4xx) at the field it names; anything else goes on to the UI's error page. */
export function ownerError(e: unknown): { field?: keyof OwnerFormValues; message: string } {
  if (!(e instanceof GatewayError) || e.status >= 500) throw e;
  return { field: formField(e.options.param), message: e.message };
}

export interface OwnerFormProps {
  kind: OwnerKind;
  action: string;
  csrf: string;
  values: OwnerFormValues;
  errors: OwnerFieldErrors;
  /** Model names served (checkboxes); the owner's other models are listed too. */
  modelNames: string[];
  /** A user's possible teams (checkboxes), by id with their alias. */
  teams?: Array<{ id: string; alias: string | null }>;
  mode: "create" | "edit";
  error?: string;
  cancel: string;
}

export function OwnerForm(props: OwnerFormProps) {
  const { values: v, errors: e, kind, mode } = props;
  const names = [...new Set([...props.modelNames, ...v.models])];
  const what = kind === "team" ? "team" : "user";
  const teams = props.teams ?? [];
  return (
    <form method="post" action={props.action} class="panel" novalidate>
      <CsrfField token={props.csrf} />
      {props.error && <div class="alert" role="alert">{props.error}</div>}
      <div class="form-grid">
        {mode === "create" && (
          <Field
            name="id"
            label={kind === "team" ? "Team id" : "User id"}
            value={v.id}
            error={e.id}
            hint="Empty: an id is made."
          />
        )}
        <Field name="alias" label="Alias" value={v.alias} error={e.alias} hint="A name people recognise." />
        {kind === "user" && <Field name="email" label="Email" value={v.email} error={e.email} />}
        {kind === "user" && (
          <CheckGroup
            legend="Teams"
            name="teams"
            options={teams.map((t) => ({ value: t.id, label: t.alias ?? t.id }))}
            checked={v.teams}
            hintId="teams-hint"
            hint="The teams the user belongs to."
            error={e.teams}
            empty="No teams yet."
          />
        )}
        <CheckGroup
          legend="Models"
          name="models"
          options={names.map((n) => ({ value: n, label: n }))}
          checked={v.models}
          hintId="owner-models-hint"
          hint="None checked: its keys may call every model (each key's own list still applies)."
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
          hint={`Over all the ${what}'s keys together; calls are refused once spend reaches it. Empty: none.`}
        />
        <Field
          name="budget_duration"
          label="Budget window"
          value={v.budget_duration}
          error={e.budget_duration}
          placeholder="1mo"
          hint="Spend resets every window: 1d, 7d, 30d, 1mo… Empty: never."
        />
        <Field
          name="rpm_limit"
          label="Requests per minute"
          type="number"
          step="1"
          min="0"
          value={v.rpm_limit}
          error={e.rpm_limit}
        />
        <Field
          name="tpm_limit"
          label="Tokens per minute"
          type="number"
          step="1"
          min="0"
          value={v.tpm_limit}
          error={e.tpm_limit}
        />
      </div>
      <div class="actions form-actions">
        <button type="submit" class="primary">{mode === "create" ? `Create ${what}` : "Save changes"}</button>
        <a class="button" href={props.cancel}>Cancel</a>
      </div>
    </form>
  );
}

/** The confirmation page of a delete (a plain page: it works without script, by keyboard). */
export function confirmDeletePage(
  opts: { title: string; name: string; what: string; action: string; csrf: string; cancel: string },
): Page {
  return {
    title: `${opts.title}: ${opts.name}`,
    body: (
      <div class="panel stack">
        <h1>{opts.title} “{opts.name}”?</h1>
        <p>{opts.what}</p>
        <form method="post" action={opts.action} class="actions">
          <CsrfField token={opts.csrf} />
          <button type="submit" class="danger solid">{opts.title}</button>
          <a class="button" href={opts.cancel}>Cancel</a>
        </form>
      </div>
    ),
  };
}
