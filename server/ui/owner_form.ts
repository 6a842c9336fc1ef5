/**
 * @module
 * The team and user forms: their fields as typed (to show them again with errors), and the `/team/*` or `/user/*`
 * request they make, validated by the admin API's own schemas, so the UI accepts exactly what the API accepts. An edit
 * sends only what changed (re-sending an unchanged `budget_duration` would start a new window); an emptied field
 * clears the setting.
 */
import type { z } from "zod";
import { TeamNewRequest, TeamUpdateRequest, UserNewRequest, UserUpdateRequest } from "../owners/schemas.ts";
import type { TeamInfo, UserInfo } from "./ports.ts";

/** The fields of both forms as typed; a team's form leaves out `email` and `teams`. */
export interface OwnerFormValues {
  /** `team_id` / `user_id` (create only; empty: one is made). */
  id: string;
  /** `team_alias` / `user_alias`. */
  alias: string;
  email: string;
  teams: string[];
  models: string[];
  max_budget: string;
  budget_duration: string;
  tpm_limit: string;
  rpm_limit: string;
}

export type OwnerFieldErrors = Partial<Record<keyof OwnerFormValues, string>>;
export type OwnerParsed<T> = { ok: true; value: T; changed: boolean } | { ok: false; errors: OwnerFieldErrors };
export type OwnerKind = "team" | "user";

export const EMPTY_OWNER_FORM: OwnerFormValues = {
  id: "",
  alias: "",
  email: "",
  teams: [],
  models: [],
  max_budget: "",
  budget_duration: "",
  tpm_limit: "",
  rpm_limit: "",
};

const NUMBER_FIELDS = ["max_budget", "tpm_limit", "rpm_limit"] as const;

/** The API's field names → the form's. */
const FORM_FIELD: Record<string, keyof OwnerFormValues> = {
  team_id: "id",
  user_id: "id",
  team_alias: "alias",
  user_alias: "alias",
  user_email: "email",
  teams: "teams",
  models: "models",
  max_budget: "max_budget",
  budget_duration: "budget_duration",
  tpm_limit: "tpm_limit",
  rpm_limit: "rpm_limit",
};

/** The form field an API field (an error's `param`) is shown at. */
export const formField = (param: string | undefined): keyof OwnerFormValues | undefined =>
  param === undefined ? undefined : FORM_FIELD[param];

export function readOwnerForm(form: URLSearchParams): OwnerFormValues {
  const text = (name: string) => (form.get(name) ?? "").trim();
  const list = (name: string) => [...new Set(form.getAll(name).map((m) => m.trim()).filter(Boolean))];
  return {
    id: text("id"),
    alias: text("alias"),
    email: text("email"),
    teams: list("teams"),
    models: list("models"),
    max_budget: text("max_budget"),
    budget_duration: text("budget_duration"),
    tpm_limit: text("tpm_limit"),
    rpm_limit: text("rpm_limit"),
  };
}

/** A team's or user's current settings as form values. */
export function ownerValues(info: TeamInfo | UserInfo): OwnerFormValues {
  const n = (v: number | null) => v === null ? "" : String(v);
  const user = "user_id" in info;
  return {
    id: user ? info.user_id : info.team_id,
    alias: (user ? info.user_alias : info.team_alias) ?? "",
    email: user ? info.user_email ?? "" : "",
    teams: user ? info.teams : [],
    models: info.models,
    max_budget: n(info.max_budget),
    budget_duration: info.budget_duration ?? "",
    tpm_limit: n(info.tpm_limit),
    rpm_limit: n(info.rpm_limit),
  };
}

/** The API's names of a kind's form fields. */
function apiNames(kind: OwnerKind) {
  return kind === "team"
    ? { id: "team_id", alias: "team_alias" } as const
    : { id: "user_id", alias: "user_alias" } as const;
}

/** The request a form makes: every field given (create), or only what changed from `was` (edit). */
function request(kind: OwnerKind, v: OwnerFormValues, was: OwnerFormValues | undefined, errors: OwnerFieldErrors) {
  const names = apiNames(kind);
  const input: Record<string, unknown> = {};
  const changed = (f: keyof OwnerFormValues) => !was || JSON.stringify(v[f]) !== JSON.stringify(was[f]);
  const text = (f: "alias" | "email" | "budget_duration", api: string) => {
    if (!changed(f)) return;
    if (v[f] !== "") input[api] = v[f];
    else if (was) input[api] = null;
  };
  if (!was && v.id !== "") input[names.id] = v.id;
  text("alias", names.alias);
  if (kind === "user") {
    text("email", "user_email");
    if (changed("teams") && (was || v.teams.length)) input.teams = v.teams;
  }
  if (changed("models") && (was || v.models.length)) input.models = v.models;
  text("budget_duration", "budget_duration");
  for (const f of NUMBER_FIELDS) {
    if (!changed(f) || (was && Number(v[f] || NaN) === Number(was[f] || NaN))) continue;
    if (v[f] === "") {
      if (was) input[f] = null;
      continue;
    }
    const n = Number(v[f]);
    if (Number.isFinite(n)) input[f] = n;
    else errors[f] = "Enter a number.";
  }
  return input;
}

function validate<S extends z.ZodType>(
  schema: S,
  input: Record<string, unknown>,
  errors: OwnerFieldErrors,
  changed: boolean,
): OwnerParsed<z.infer<S>> {
  const result = schema.safeParse(input);
  if (result.success && !Object.keys(errors).length) return { ok: true, value: result.data, changed };
  if (!result.success) {
    for (const issue of result.error.issues) errors[formField(String(issue.path[0])) ?? "alias"] ??= issue.message;
  }
  return { ok: false, errors };
}

export function toTeamNew(v: OwnerFormValues): OwnerParsed<TeamNewRequest> {
  const errors: OwnerFieldErrors = {};
  return validate(TeamNewRequest, request("team", v, undefined, errors), errors, true);
}

export function toTeamUpdate(current: TeamInfo, v: OwnerFormValues): OwnerParsed<TeamUpdateRequest> {
  const errors: OwnerFieldErrors = {};
  const input = request("team", v, ownerValues(current), errors);
  const changed = Object.keys(input).length > 0;
  return validate(TeamUpdateRequest, { team_id: current.team_id, ...input }, errors, changed);
}

/** A new user, with a key made for it (LiteLLM's default). */
export function toUserNew(v: OwnerFormValues): OwnerParsed<UserNewRequest> {
  const errors: OwnerFieldErrors = {};
  return validate(UserNewRequest, request("user", v, undefined, errors), errors, true);
}

export function toUserUpdate(current: UserInfo, v: OwnerFormValues): OwnerParsed<UserUpdateRequest> {
  const errors: OwnerFieldErrors = {};
  const input = request("user", v, ownerValues(current), errors);
  const changed = Object.keys(input).length > 0;
  return validate(UserUpdateRequest, { user_id: current.user_id, ...input }, errors, changed);
}
