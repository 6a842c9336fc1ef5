/**
 * @module
 * Guardrails named inside model calls (Converse `guardrailConfig`, InvokeModel's `X-Amzn-Bedrock-GuardrailIdentifier`)
 * are authorized like the guardrail's own route: a caller whose `allowed_routes` do not cover the guardrail's
 * ApplyGuardrail route gets a 403 before anything is sent.
 */
import { GatewayError } from "../core/errors.ts";
import type { GuardrailUse } from "./operation.ts";
import { guardrailRoute } from "./passthrough_path.ts";

/**
 * A guardrail named inside a model call needs the same grant as calling it directly (its ApplyGuardrail route in
 * the key's `allowed_routes`): it runs in the pass-through account's guardrail and is billed per policy unit.
 */
export function checkGuardrailGrant(use: GuardrailUse, mayCall: (route: string, modelRoute: boolean) => boolean): void {
  const route = guardrailRoute(use.identifier, use.version);
  if (mayCall(route, false)) return;
  throw new GatewayError(
    403,
    "AccessDeniedException",
    `This key is not allowed to use guardrail ${use.identifier} (version ${use.version || "none"}): its ` +
      `allowed_routes must cover ${route}; an admin can grant it with /key/update (e.g. "allowed_routes": ` +
      `["/bedrock/model/*", "/bedrock/guardrail/${use.identifier}/*"])`,
    { litellmType: "key_route_access_denied" },
  );
}
