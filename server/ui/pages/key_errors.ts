/**
 * @module
 * An admin operation's refusal (a 4xx `GatewayError`: alias taken, not found, a concurrent change) as the form shows
 * it, next to the field it names. Anything else is not the user's to fix and goes on to the UI's error page.
 */
import { GatewayError } from "../../core/errors.ts";
import { EMPTY_FORM, type KeyFormValues } from "../key_form.ts";

export function adminError(e: unknown): { field?: keyof KeyFormValues; message: string } {
  if (!(e instanceof GatewayError) || e.status >= 500) throw e;
  const param = e.options.param;
  const field = param !== undefined && param in EMPTY_FORM ? param as keyof KeyFormValues : undefined;
  return { field, message: e.message };
}
