/**
 * @module
 * The `/key/*` routes: authorize (master key; a virtual key may only read its own info), validate with the
 * schemas in `schemas.ts`, call the admin service, answer JSON. Errors are `GatewayError`s rendered by the app
 * in LiteLLM's shape `{"error": {message, type, param, code}}`.
 */
import { type Context, Hono } from "hono";
import type { z } from "zod";
import { GatewayError, validation } from "../core/errors.ts";
import { parseInput } from "../api/input.ts";
import { readBody } from "../api/body.ts";
import type { KeyAdmin } from "./admin.ts";
import { hashOfRef } from "./admin.ts";
import type { Authenticator, Principal } from "./auth.ts";
import {
  KeyBlockRequest,
  KeyDeleteRequest,
  KeyGenerateRequest,
  KeyInfoQuery,
  KeyListQuery,
  KeyRegenerateRequest,
  KeyUpdateRequest,
} from "./schemas.ts";

export interface KeyRoutesDeps {
  auth: Authenticator;
  admin: KeyAdmin;
}

/** Admin request bodies are small; anything bigger is refused before it is buffered. */
const MAX_ADMIN_BODY = 1024 * 1024;
const decoder = new TextDecoder();

/** The JSON body (an empty body counts as `{}`), validated. */
async function body<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const bytes = await readBody(c.req.raw, MAX_ADMIN_BODY);
  let json: unknown = {};
  if (bytes.byteLength) {
    try {
      json = JSON.parse(decoder.decode(bytes));
    } catch {
      throw validation("Invalid request: the body is not valid JSON");
    }
  }
  return parseInput(schema, json, "body");
}

const query = <S extends z.ZodType>(c: Context, schema: S): z.infer<S> => parseInput(schema, c.req.query(), "query");

const forbidden = () =>
  new GatewayError(403, "AccessDeniedException", "Only the master key can manage keys", {
    litellmType: "auth_error",
  });

export function createKeyRoutes(deps: KeyRoutesDeps): Hono {
  const { auth, admin } = deps;
  const app = new Hono();

  async function requireAdmin(c: Context): Promise<Principal> {
    const p = await auth.authenticate(c.req.raw.headers);
    if (p.kind === "virtual") throw forbidden();
    return p;
  }

  app.post(
    "/generate",
    async (c) => {
      await requireAdmin(c);
      return c.json(await admin.generate(await body(c, KeyGenerateRequest)));
    },
  );

  app.get(
    "/info",
    async (c) => {
      const p = await auth.authenticate(c.req.raw.headers);
      const { key } = query(c, KeyInfoQuery);
      if (p.kind === "virtual") {
        // A virtual key may ask about itself, with or without naming itself.
        if (key !== undefined && hashOfRef(key) !== p.key!.hash) throw forbidden();
        return c.json(await admin.info(p.key!.hash));
      }
      if (key === undefined) throw validation("Invalid request: key is required", "key");
      return c.json(await admin.info(key));
    },
  );

  app.post(
    "/update",
    async (c) => {
      await requireAdmin(c);
      return c.json(await admin.update(await body(c, KeyUpdateRequest)));
    },
  );

  app.post(
    "/delete",
    async (c) => {
      await requireAdmin(c);
      return c.json(await admin.remove(await body(c, KeyDeleteRequest)));
    },
  );

  app.get(
    "/list",
    async (c) => {
      await requireAdmin(c);
      return c.json(await admin.list(query(c, KeyListQuery)));
    },
  );

  app.post(
    "/regenerate",
    async (c) => {
      await requireAdmin(c);
      const { key, ...rest } = await body(c, KeyRegenerateRequest);
      if (key === undefined) throw validation("Invalid request: key is required", "key");
      return c.json(await admin.regenerate(key, rest));
    },
  );

  app.post(
    "/:key/regenerate",
    async (c) => {
      await requireAdmin(c);
      const { key, ...rest } = await body(c, KeyRegenerateRequest);
      const ref = c.req.param("key") ?? "";
      if (key !== undefined && hashOfRef(key) !== hashOfRef(ref)) {
        throw validation("Invalid request: the key in the body differs from the key in the path", "key");
      }
      return c.json(await admin.regenerate(ref, rest));
    },
  );

  for (const [route, blocked] of [["/block", true], ["/unblock", false]] as const) {
    app.post(
      route,
      async (c) => {
        await requireAdmin(c);
        const { key } = await body(c, KeyBlockRequest);
        return c.json(await admin.setBlocked(key, blocked));
      },
    );
  }

  return app;
}
