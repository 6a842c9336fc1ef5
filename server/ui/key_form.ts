/**
 * @module
 * The key form: its fields as typed (to show them again with errors), and the `/key/generate` or `/key/update`
 * request they make, validated by the admin API's own schemas so the UI accepts exactly what the API accepts.
 *
 * An edit sends only what changed: re-sending an unchanged `budget_duration` would start a new budget window.
 * In an edit, an emptied field clears the setting; the expiry is kept unless a new duration (from now) or `never`
 * is given.
 */
import type { z } from "zod";
import { KeyGenerateRequest, KeyUpdateRequest } from "../keys/schemas.ts";
import type { KeyInfo } from "./ports.ts";

/** The form's fields as typed. */
export interface KeyFormValues {
  key_alias: string;
  models: string[];
  max_budget: string;
  soft_budget: string;
  budget_duration: string;
  duration: string;
  rpm_limit: string;
  tpm_limit: string;
  max_parallel_requests: string;
  user_id: string;
  team_id: string;
}

/** Messages by field name. */
export type FieldErrors = Partial<Record<keyof KeyFormValues, string>>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldErrors };

const TEXT_FIELDS = ["key_alias", "budget_duration", "duration", "user_id", "team_id"] as const;
const NUMBER_FIELDS = ["max_budget", "soft_budget", "rpm_limit", "tpm_limit", "max_parallel_requests"] as const;
type NumberField = typeof NUMBER_FIELDS[number];

/** What the duration field takes to remove an expiry. */
export const NEVER = "never";

export function readKeyForm(form: URLSearchParams): KeyFormValues {
  const text = (name: string) => (form.get(name) ?? "").trim();
  return {
    key_alias: text("key_alias"),
    models: [...new Set(form.getAll("models").map((m) => m.trim()).filter(Boolean))],
    max_budget: text("max_budget"),
    soft_budget: text("soft_budget"),
    budget_duration: text("budget_duration"),
    duration: text("duration"),
    rpm_limit: text("rpm_limit"),
    tpm_limit: text("tpm_limit"),
    max_parallel_requests: text("max_parallel_requests"),
    user_id: text("user_id"),
    team_id: text("team_id"),
  };
}

/** A key's current settings as form values (an edit form starts from them; the expiry field starts empty). */
export function valuesOf(info: KeyInfo): KeyFormValues {
  const n = (v: number | null) => v === null ? "" : String(v);
  return {
    key_alias: info.key_alias ?? "",
    models: info.models,
    max_budget: n(info.max_budget),
    soft_budget: n(info.soft_budget),
    budget_duration: info.budget_duration ?? "",
    duration: "",
    rpm_limit: n(info.rpm_limit),
    tpm_limit: n(info.tpm_limit),
    max_parallel_requests: n(info.max_parallel_requests),
    user_id: info.user_id ?? "",
    team_id: info.team_id ?? "",
  };
}

export const EMPTY_FORM: KeyFormValues = {
  key_alias: "",
  models: [],
  max_budget: "",
  soft_budget: "",
  budget_duration: "",
  duration: "",
  rpm_limit: "",
  tpm_limit: "",
  max_parallel_requests: "",
  user_id: "",
  team_id: "",
};

/** The numbers typed, or the fields that are not numbers. */
function numbers(v: KeyFormValues, errors: FieldErrors): Partial<Record<NumberField, number>> {
  const out: Partial<Record<NumberField, number>> = {};
  for (const f of NUMBER_FIELDS) {
    if (v[f] === "") continue;
    const n = Number(v[f]);
    if (Number.isFinite(n)) out[f] = n;
    else errors[f] = "Enter a number.";
  }
  return out;
}

function validate<S extends z.ZodType>(schema: S, input: unknown, errors: FieldErrors): Parsed<z.infer<S>> {
  const result = schema.safeParse(input);
  if (result.success && !Object.keys(errors).length) return { ok: true, value: result.data };
  if (!result.success) {
    for (const issue of result.error.issues) {
      const field = String(issue.path[0] ?? "key_alias") as keyof KeyFormValues;
      errors[field] ??= issue.message;
    }
  }
  return { ok: false, errors };
}

/** A new key's settings: empty fields are left out. */
export function toGenerateRequest(v: KeyFormValues): Parsed<KeyGenerateRequest> {
  const errors: FieldErrors = {};
  const input: Record<string, unknown> = { ...numbers(v, errors) };
  for (const f of TEXT_FIELDS) if (v[f] !== "" && !(f === "duration" && v[f] === NEVER)) input[f] = v[f];
  if (v.models.length) input.models = v.models;
  return validate(KeyGenerateRequest, input, errors);
}

/** The changes from `current`; `changed` is false when there are none. */
export function toUpdateRequest(current: KeyInfo, v: KeyFormValues): Parsed<KeyUpdateRequest> & { changed?: boolean } {
  const errors: FieldErrors = {};
  const was = valuesOf(current);
  const typed = numbers(v, errors);
  const input: Record<string, unknown> = { key: current.token };
  for (const f of NUMBER_FIELDS) {
    if (v[f] !== was[f] && Number(v[f]) !== Number(was[f] || NaN)) input[f] = typed[f] ?? null;
  }
  for (const f of TEXT_FIELDS) {
    if (f === "duration") continue;
    if (v[f] !== was[f]) input[f] = v[f] === "" ? null : v[f];
  }
  if (v.duration !== "") input.duration = v.duration === NEVER ? null : v.duration;
  const sameModels = v.models.length === was.models.length && v.models.every((m) => was.models.includes(m));
  if (!sameModels) input.models = v.models;
  const parsed = validate(KeyUpdateRequest, input, errors);
  return parsed.ok ? { ...parsed, changed: Object.keys(input).length > 1 } : parsed;
}
