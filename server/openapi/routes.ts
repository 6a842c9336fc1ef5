/**
 * @module
 * Every documented route, in one list, as the features declare them (`api/route.ts`: each route's handler, schemas
 * and description in one value). `deno task gen` turns the list into `openapi.yaml`, `sdk/types.gen.ts` and
 * `sdk/operations.gen.ts`; `http/app.ts` serves the same declarations.
 *
 * To add a route, declare it in its feature's `routes.ts` with the zod schemas it validates with (give it
 * `sdk: { group, method }` to expose it on the SDK client as `client.keys.generate(…)`), mount that list in
 * `http/app.ts` if it is a new one, and add it here. Then run `deno task gen`; `deno task check` fails until the
 * generated files are committed.
 */
import type { RouteDoc } from "../api/route.ts";
import { BEDROCK_ROUTES } from "../bedrock/routes.ts";
import { HEALTH_ROUTES } from "../health/routes.ts";
import { KEY_ROUTES } from "../keys/routes.ts";
import { AUDIT_ROUTES } from "../audit/routes.ts";
import { MODEL_ROUTES } from "../models/routes.ts";
import { OWNER_ROUTES } from "../owners/routes.ts";
import { SPEND_ROUTES } from "../spend/routes.ts";

/** The one list the generator reads, in the order `openapi.yaml` lists the operations. */
export const ROUTES: readonly RouteDoc[] = [
  ...BEDROCK_ROUTES,
  ...HEALTH_ROUTES,
  ...KEY_ROUTES,
  ...OWNER_ROUTES,
  ...MODEL_ROUTES,
  ...SPEND_ROUTES,
  ...AUDIT_ROUTES,
].map((route) => route.doc);
