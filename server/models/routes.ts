/**
 * @module
 * Discovery, each route declared once (`api/route.ts`): `GET /model/info` (and `/v1/model/info`), LiteLLM's list of
 * deployments with their public parameters, prices and credential kind; `GET /v1/models` and `GET /models`, OpenAI's
 * list of the model names the calling key may use (its aliases included). Any gateway key may ask; a virtual key sees
 * what it may call. SDK: `client.models.info(…)`, `client.models.list()`.
 */
import { routesOver } from "../api/route.ts";
import type { Authenticator } from "../keys/auth.ts";
import type { Catalog } from "./catalog.ts";
import { ModelInfoQuery, ModelInfoResponse, ModelList, ModelsQuery } from "./schemas.ts";

/** What the discovery routes are served with. */
export interface ModelRouteServices {
  auth: Authenticator;
  catalog: Catalog;
}

const route = routesOver<ModelRouteServices>();

const models = { tag: "models", auth: "key", errorFormat: "litellm", errors: [400, 401, 500] } as const;

const info = route({
  ...models,
  method: "get",
  path: "/model/info",
  operationId: "modelInfo",
  summary: "The deployments: public parameters, prices with their origin, limits, credential kind",
  description: "LiteLLM's shape. Never a key, token, API key or credential value: only which kind of credentials a " +
    "deployment uses. A virtual key sees the deployments of the models it may call.",
  query: ModelInfoQuery,
  responses: { 200: { description: "One entry per deployment, in config order.", schema: ModelInfoResponse } },
  sdk: { group: "models", method: "info" },
}, async (input, s) => {
  const p = await s.auth.authenticate(input.request.headers);
  return input.json({ data: s.catalog.info(p, input.query().litellm_model_id) });
});

const list = (path: string, operationId: string, sdk?: { group: string; method: string }) =>
  route({
    ...models,
    method: "get",
    path,
    operationId,
    summary: "The model names the caller may use (OpenAI's shape)",
    description: "Served model names the key (with its team and user) may call, then its aliases to them.",
    query: ModelsQuery,
    responses: { 200: { description: "OpenAI's model list.", schema: ModelList } },
    ...(sdk ? { sdk } : {}),
  }, async (input, s) => {
    const p = await s.auth.authenticate(input.request.headers);
    input.query();
    return input.json({ object: "list", data: s.catalog.names(p) });
  });

export const MODEL_ROUTES = [
  info,
  route({ ...info.doc, path: "/v1/model/info", operationId: "modelInfoV1", sdk: undefined }, info.handle),
  list("/v1/models", "listModels", { group: "models", method: "list" }),
  list("/models", "listModelsUnversioned"),
];
