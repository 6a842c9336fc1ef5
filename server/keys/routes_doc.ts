/**
 * @module
 * The `/key/*` admin API as documented routes (see `server/openapi/routes.ts`): the schemas `admin_routes.ts`
 * validates with, LiteLLM's error format, and the SDK methods `client.keys.generate(…)`, `.info`, `.update`,
 * `.delete`, `.list`, `.regenerate`, `.block`, `.unblock`.
 */
import { z } from "zod";
import type { RouteDoc } from "../api/route_doc.ts";
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

/** Statuses every admin call can answer: bad input, no key, not the master key, internal error. */
const ADMIN_ERRORS = [400, 401, 403, 500] as const;
/** Plus "no such key" for calls that name one. */
const KEY_ERRORS = [400, 401, 403, 404, 500] as const;

const admin = { tag: "keys", auth: "admin", errorFormat: "litellm" } as const;

export const KEY_ROUTES: readonly RouteDoc[] = [
  {
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
  },
  {
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
  },
  {
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
  },
  {
    ...admin,
    method: "post",
    path: "/key/delete",
    operationId: "keyDelete",
    summary: "Delete keys by key or by alias",
    errors: KEY_ERRORS,
    body: { schema: KeyDeleteRequest },
    responses: { 200: { description: "The hashes of the deleted keys.", schema: KeyDeleteResponse } },
    sdk: { group: "keys", method: "delete" },
  },
  {
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
  },
  {
    ...admin,
    method: "post",
    path: "/key/regenerate",
    operationId: "keyRegenerate",
    summary: "Replace a key with a new one, keeping its settings and spend",
    errors: KEY_ERRORS,
    body: { schema: KeyRegenerateRequest },
    responses: { 200: { description: "The replacement key, shown once.", schema: KeyGenerateResponse } },
    sdk: { group: "keys", method: "regenerate" },
  },
  {
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
  },
  {
    ...admin,
    method: "post",
    path: "/key/block",
    operationId: "keyBlock",
    summary: "Block a key: its calls are refused until unblocked",
    errors: KEY_ERRORS,
    body: { schema: KeyBlockRequest },
    responses: { 200: { description: "The key as it now is.", schema: KeyUpdateResponse } },
    sdk: { group: "keys", method: "block" },
  },
  {
    ...admin,
    method: "post",
    path: "/key/unblock",
    operationId: "keyUnblock",
    summary: "Unblock a key",
    errors: KEY_ERRORS,
    body: { schema: KeyBlockRequest },
    responses: { 200: { description: "The key as it now is.", schema: KeyUpdateResponse } },
    sdk: { group: "keys", method: "unblock" },
  },
];
