/**
 * @module
 * Which `/bedrock` routes a caller may use (LiteLLM's `allowed_routes` on a key).
 *
 * The master key (and an open gateway) may call every route. A virtual key without `allowed_routes` may call the
 * model routes (`/bedrock/model/…`, further limited by its `models`) and nothing else: guardrails, knowledge bases
 * and agents reach another AWS account's resources, so they need an explicit grant. A key with `allowed_routes`
 * may call exactly the routes that match one of its patterns — model routes included, so a key can be limited to
 * knowledge bases only. A pattern is an exact path, or a prefix ending in `*`; paths are matched with their ids
 * decoded (`/bedrock/guardrail/arn:aws:bedrock:…:guardrail/abc/version/1/apply`).
 */
import { GatewayError } from "../core/errors.ts";
import type { Principal } from "./auth.ts";

/** Whether `route` matches `pattern` (exact, or a prefix when the pattern ends in `*`). */
export function routeMatches(pattern: string, route: string): boolean {
  return pattern.endsWith("*") ? route.startsWith(pattern.slice(0, -1)) : route === pattern;
}

/** Whether a key with these patterns may call `route` (`modelRoute`: a `/bedrock/model/…` call). */
export function routeAllowed(patterns: readonly string[] | undefined, route: string, modelRoute: boolean): boolean {
  if (!patterns || patterns.length === 0) return modelRoute;
  return patterns.some((p) => routeMatches(p, route));
}

/** Whether `principal` may call `route`: what {@link checkRouteAccess} enforces, as a yes or no. */
export function mayCallRoute(principal: Principal, route: string, modelRoute: boolean): boolean {
  return principal.kind !== "virtual" || routeAllowed(principal.allowedRoutes, route, modelRoute);
}

/** Throws a 403 `AccessDeniedException` when `principal` may not call `route`. */
export function checkRouteAccess(principal: Principal, route: string, modelRoute: boolean): void {
  if (mayCallRoute(principal, route, modelRoute)) return;
  const parts = route.split("/");
  const example = parts.length > 3 ? `${parts.slice(0, 3).join("/")}/*` : route;
  const hint = principal.allowedRoutes?.length
    ? "it matches none of the key's allowed_routes"
    : `the key has no allowed_routes; an admin can grant it with /key/update ("allowed_routes": ["${example}"])`;
  throw new GatewayError(403, "AccessDeniedException", `This key is not allowed to call ${route}: ${hint}`, {
    litellmType: "key_route_access_denied",
  });
}
