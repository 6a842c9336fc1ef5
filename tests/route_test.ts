/**
 * A route declared once (`server/api/route.ts`): mounted from its declaration, its handler reads its query and body
 * through the declared schemas only when it asks (so it can authorize first), path parameters come from the template,
 * prefix routes share one mount only when they share one handler, and reading an input a route does not declare is a
 * bug, not a 400.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { z } from "zod";
import { mountRoutes, type RouteInput, routeInput, routesOver } from "../server/api/route.ts";
import { GatewayError } from "../server/core/errors.ts";

type Env = { Variables: { requestId: string } };

const doc = {
  tag: "t",
  summary: "s",
  auth: "admin",
  errorFormat: "litellm",
  errors: [400, 403],
  responses: { 200: { description: "ok", schema: z.object({ n: z.number(), who: z.string() }) } },
} as const;

/** An app with the common parts the gateway's has: a request id, and errors rendered as their status. */
function app(): Hono<Env> {
  const app = new Hono<Env>();
  app.use(async (c, next) => {
    c.set("requestId", "rid");
    await next();
  });
  app.onError((e) =>
    e instanceof GatewayError ? Response.json({ param: e.options.param ?? null }, { status: e.status }) : Response.json(
      { bug: e.message },
      { status: 500 },
    )
  );
  return app;
}

Deno.test("a declared route is served; its query and body are validated only when the handler reads them", async () => {
  const route = routesOver<{ allowed: boolean }>();
  const routes = [
    route({
      ...doc,
      method: "get",
      path: "/items/{id}",
      operationId: "item",
      query: z.strictObject({ n: z.coerce.number() }),
    }, (input, s) => {
      if (!s.allowed) throw new GatewayError(403, "AccessDeniedException", "no");
      return input.json({ n: input.query().n, who: `${input.param("id")}:${input.requestId}` });
    }),
    route(
      {
        ...doc,
        method: "post",
        path: "/items",
        operationId: "create",
        body: { schema: z.strictObject({ n: z.number() }) },
      },
      async (input) => input.json({ n: (await input.body()).n, who: input.path }),
    ),
  ];
  const served = app();
  mountRoutes(served, routes, { allowed: true });
  assert.deepEqual(await (await served.request("/items/a%20b?n=3")).json(), { n: 3, who: "a b:rid" });
  assert.deepEqual(await (await served.request("/items", { method: "POST", body: '{"n":4}' })).json(), {
    n: 4,
    who: "/items",
  });
  const bad = await served.request("/items/x?n=1&m=1");
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { param: "m" }, "the declared schema names the offending parameter");
  const notJson = await served.request("/items", { method: "POST", body: "{" });
  assert.equal(notJson.status, 400);
  await notJson.body?.cancel();

  // Authorization comes first: the handler refuses before it reads (and so validates) the query.
  const refusing = app();
  mountRoutes(refusing, routes, { allowed: false });
  assert.equal((await refusing.request("/items/x?n=1&m=1")).status, 403);
});

Deno.test("prefix routes share one mount only with one handler; fast routes are left to the caller", () => {
  const route = routesOver<unknown>();
  const handle = (input: RouteInput) => input.json({ n: 1, who: "" });
  const a = route({ ...doc, method: "post", path: "/p/{id}/a", operationId: "a" }, handle, { match: "prefix" });
  const b = route({ ...doc, method: "post", path: "/p/{id}/b", operationId: "b" }, handle, { match: "prefix" });
  const c = route({ ...doc, method: "post", path: "/p/{id}/c", operationId: "c" }, (i) => handle(i), {
    match: "prefix",
  });
  const fast = route({ ...doc, method: "post", path: "/f/{id}", operationId: "f" }, handle, { fast: true });
  const shared = app();
  mountRoutes(shared, [a, b, fast], undefined);
  assert.deepEqual(shared.routes.filter((r) => r.method === "POST").map((r) => r.path), ["/p/*"]);
  assert.throws(() => mountRoutes(app(), [a, c], undefined), /two handlers for post \/p\/\*/);
});

Deno.test("reading an input the route does not declare is a bug (an Error), not a 400", async () => {
  const input = routeInput(undefined, new Request("http://x/f/1", { method: "POST", body: "{}" }), "rid", "/f/1");
  assert.throws(() => input.query(), (e) => !(e instanceof GatewayError) && /declares no query/.test(String(e)));
  await assert.rejects(input.body(), (e) => !(e instanceof GatewayError) && /declares no body/.test(String(e)));
});
