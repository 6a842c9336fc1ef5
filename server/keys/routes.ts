/**
 * @module
 * The `/key/*` admin API, each route declared once (`api/route.ts`): its schemas (`schemas.ts`), LiteLLM's error
 * format, the SDK methods `client.keys.generate(…)`, `.info`, `.update`, `.delete`, `.list`, `.regenerate`, `.block`,
 * `.unblock`, and its handler: authorize (the master key; a virtual key may only read its own info), validate, call
 * the admin service (`admin.ts`), answer JSON. Errors are `GatewayError`s, rendered by the app in LiteLLM's shape
 * `{"error": {message, type, param, code}}`.
 */
import { z } from "zod";
import { type RouteInput, routesOver } from "../api/route.ts";
import { validation } from "../core/errors.ts";
import { hashOfRef, type KeyAdmin } from "./admin.ts";
import { accessDenied, type Authenticator, changedBy, requireMaster } from "./auth.ts";
import {
  KeyBlockRequest,
  KeyDeleteRequest,
  KeyDeleteResponse,
  KeyGenerateRequest,
  KeyGenerateResponse,
  KeyInfoQuery,
  KeyInfoResponse,
  KeyListHashesResponse,
  KeyListObjectsResponse,
  KeyListQuery,
  KeyListResponse,
  KeyRef,
  KeyRegenerateRequest,
  KeyUpdateRequest,
  KeyUpdateResponse,
} from "./schemas.ts";

/** What the key routes are served with. */
export interface KeyRouteServices {
  auth: Authenticator;
  admin: KeyAdmin;
}

const route = routesOver<KeyRouteServices>();

/** Statuses every admin call can answer: bad input, no key, not the master key, internal error. */
const ADMIN_ERRORS = [400, 401, 403, 500] as const;
/** Plus "no such key" for calls that name one. */
const KEY_ERRORS = [400, 401, 403, 404, 500] as const;

const admin = { tag: "keys", auth: "admin", errorFormat: "litellm" } as const;

const ONLY_MASTER = "Only the master key can manage keys";

/** The caller, who must hold the master key (or an open gateway's access); a virtual key is refused. */
const requireAdmin = (input: RouteInput, auth: Authenticator) =>
  requireMaster(auth, input.request.headers, ONLY_MASTER);

export const KEY_ROUTES = [
  route({
    ...admin,
    method: "post",
    path: "/key/generate",
    operationId: "keyGenerate",
    summary: "Create a virtual key",
    description: "Answers the raw key once (`key`); only its hash is stored.",
    errors: ADMIN_ERRORS,
    body: { schema: KeyGenerateRequest },
    responses: { 200: { description: "The new key, with its settings.", schema: KeyGenerateResponse } },
    sdk: { group: "keys", method: "generate" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth);
    return input.json(await s.admin.generate(await input.body(), changedBy(input.request.headers, p)));
  }),
  route({
    ...admin,
    auth: "key",
    method: "get",
    path: "/key/info",
    operationId: "keyInfo",
    summary: "Show a key's settings and spend",
    description: "The master key may ask about any key (`key` required); a virtual key only about itself.",
    errors: KEY_ERRORS,
    query: KeyInfoQuery,
    responses: { 200: { description: "The key (never the raw key).", schema: KeyInfoResponse } },
    sdk: { group: "keys", method: "info" },
  }, async (input, s) => {
    const p = await s.auth.authenticate(input.request.headers);
    const { key } = input.query();
    if (p.kind === "virtual" && p.key) {
      // A virtual key may ask about itself, with or without naming itself.
      if (key !== undefined && hashOfRef(key) !== p.key.hash) throw accessDenied(ONLY_MASTER, p.caller);
      return input.json(await s.admin.info(p.key.hash));
    }
    if (key === undefined) throw validation("Invalid request: key is required", "key");
    return input.json(await s.admin.info(key));
  }),
  route({
    ...admin,
    method: "post",
    path: "/key/update",
    operationId: "keyUpdate",
    summary: "Change a key's settings",
    description: "Fields left out keep their value; `null` clears a setting.",
    errors: KEY_ERRORS,
    body: { schema: KeyUpdateRequest },
    responses: { 200: { description: "The key as it now is; `key` is its hash.", schema: KeyUpdateResponse } },
    sdk: { group: "keys", method: "update" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth);
    return input.json(await s.admin.update(await input.body(), changedBy(input.request.headers, p)));
  }),
  route({
    ...admin,
    method: "post",
    path: "/key/delete",
    operationId: "keyDelete",
    summary: "Delete keys by key or by alias",
    errors: KEY_ERRORS,
    body: { schema: KeyDeleteRequest },
    responses: { 200: { description: "The hashes of the deleted keys.", schema: KeyDeleteResponse } },
    sdk: { group: "keys", method: "delete" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth);
    return input.json(await s.admin.remove(await input.body(), changedBy(input.request.headers, p)));
  }),
  route({
    ...admin,
    method: "get",
    path: "/key/list",
    operationId: "keyList",
    summary: "List keys, a page at a time",
    errors: ADMIN_ERRORS,
    query: KeyListQuery,
    responses: { 200: { description: "One page of keys.", schema: KeyListResponse } },
    sdk: {
      group: "keys",
      method: "list",
      overloads: [
        { when: { return_full_object: true }, output: KeyListObjectsResponse },
        { when: { return_full_object: false }, output: KeyListHashesResponse },
      ],
    },
  }, async (input, s) => {
    await requireAdmin(input, s.auth);
    return input.json(await s.admin.list(input.query()));
  }),
  route({
    ...admin,
    method: "post",
    path: "/key/regenerate",
    operationId: "keyRegenerate",
    summary: "Replace a key with a new one, keeping its settings and spend",
    errors: KEY_ERRORS,
    body: { schema: KeyRegenerateRequest },
    responses: { 200: { description: "The replacement key, shown once.", schema: KeyGenerateResponse } },
    sdk: { group: "keys", method: "regenerate" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth);
    const { key, ...rest } = await input.body();
    if (key === undefined) throw validation("Invalid request: key is required", "key");
    return input.json(await s.admin.regenerate(key, rest, changedBy(input.request.headers, p)));
  }),
  route({
    ...admin,
    method: "post",
    path: "/key/{key}/regenerate",
    operationId: "keyRegenerateByPath",
    summary: "Replace a key with a new one (key in the path)",
    description: "LiteLLM's second form of `/key/regenerate`; a `key` in the body must name the same key.",
    errors: KEY_ERRORS,
    params: z.object({ key: KeyRef }),
    body: { schema: KeyRegenerateRequest },
    responses: { 200: { description: "The replacement key, shown once.", schema: KeyGenerateResponse } },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth);
    const { key, ...rest } = await input.body();
    const ref = input.param("key");
    if (key !== undefined && hashOfRef(key) !== hashOfRef(ref)) {
      throw validation("Invalid request: the key in the body differs from the key in the path", "key");
    }
    return input.json(await s.admin.regenerate(ref, rest, changedBy(input.request.headers, p)));
  }),
  route({
    ...admin,
    method: "post",
    path: "/key/block",
    operationId: "keyBlock",
    summary: "Block a key: its calls are refused until unblocked",
    errors: KEY_ERRORS,
    body: { schema: KeyBlockRequest },
    responses: { 200: { description: "The key as it now is.", schema: KeyUpdateResponse } },
    sdk: { group: "keys", method: "block" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth);
    const { key } = await input.body();
    return input.json(await s.admin.setBlocked(key, true, changedBy(input.request.headers, p)));
  }),
  route({
    ...admin,
    method: "post",
    path: "/key/unblock",
    operationId: "keyUnblock",
    summary: "Unblock a key",
    errors: KEY_ERRORS,
    body: { schema: KeyBlockRequest },
    responses: { 200: { description: "The key as it now is.", schema: KeyUpdateResponse } },
    sdk: { group: "keys", method: "unblock" },
  }, async (input, s) => {
    const p = await requireAdmin(input, s.auth);
    const { key } = await input.body();
    return input.json(await s.admin.setBlocked(key, false, changedBy(input.request.headers, p)));
  }),
];
