/**
 * @module
 * Validating admin input (JSON bodies and query strings) with zod, and turning the first problem into a 400 in
 * LiteLLM's shape whose `param` names the offending field. Shared by every admin router.
 */
import type { z } from "zod";
import { type GatewayError, validation } from "../core/errors.ts";

/** What the input is, for messages: a body has fields, a query string has parameters. */
export type InputKind = "body" | "query";

/** The first problem zod found, as a 400 naming the offending field. */
export function invalidInput(error: z.ZodError, kind: InputKind): GatewayError {
  const issue = error.issues[0];
  const param = issue.code === "unrecognized_keys" ? issue.keys[0] : issue.path.length ? String(issue.path[0]) : null;
  const message = issue.code === "unrecognized_keys"
    ? `Unknown ${kind === "body" ? "field" : "parameter"} "${param}"`
    : `${issue.path.map(String).join(".") || kind}: ${issue.message.replace(/^Invalid input: /, "")}`;
  return validation(`Invalid request: ${message}`, param ?? undefined);
}

/** Parses `value` with `schema`, or throws the 400 for its first problem. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, kind: InputKind): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidInput(result.error, kind);
  return result.data;
}
