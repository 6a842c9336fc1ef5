/**
 * @module
 * A route declared once: its method, path, input schemas, answers and description ({@link RouteDoc}) together with
 * its handler, in one {@link Route} value. `http/app.ts` serves it, `openapi/` documents it (an OpenAPI operation
 * and, for routes with `sdk`, a method of the SDK's admin client), and its handler reads its input through the same
 * schemas ({@link RouteInput}): what is served, validated and documented cannot drift apart.
 *
 * A feature declares its routes over the services they need, and whoever mounts them passes those services in:
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { routesOver } from "./route.ts";
 *
 * const route = routesOver<{ greet(name: string): string }>();
 * const Hello = z.object({ message: z.string() });
 * const HELLO_ROUTES = [
 *   route({
 *     method: "get",
 *     path: "/hello",
 *     operationId: "hello",
 *     summary: "Says hello",
 *     tag: "demo",
 *     auth: "none",
 *     errorFormat: "litellm",
 *     errors: [400],
 *     query: z.strictObject({ name: z.string() }),
 *     responses: { 200: { description: "A greeting.", schema: Hello } },
 *   }, (input, s) => input.json({ message: s.greet(input.query().name) })),
 * ];
 * ```
 */
import type { Context, Env, Hono } from "hono";
import type { z } from "zod";
import { validation } from "../core/errors.ts";
import { readBody } from "./body.ts";
import type { BodyWatch, ServeInfo } from "./body_watch.ts";
import { parseInput } from "./input.ts";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/**
 * Who may call a route: `key` any gateway key (virtual or master), `admin` the master key (or an admin virtual
 * key), `none` anyone.
 */
export type RouteAuth = "key" | "admin" | "none";

/** Wire format of a route's error responses (see `core/errors.ts`). */
export type ErrorFormat = "bedrock" | "litellm";

/** One documented response. */
export interface ResponseDoc {
  description: string;
  schema: z.ZodType;
  /** Default `application/json`. */
  contentType?: string;
}

/**
 * A narrower answer for some inputs, for the SDK's types: when the input has these values, the answer has this
 * schema (`/key/list` with `return_full_object: true` answers whole key objects). OpenAPI cannot say this; the
 * route's response schema stays the general one.
 */
export interface SdkOverload {
  /** Input fields (path, query or body) and the values that select this answer. */
  when: Readonly<Record<string, boolean | number | string>>;
  /** The answer's schema for such input. */
  output: z.ZodType;
}

/** One documented route. */
export interface RouteDoc {
  method: HttpMethod;
  /** OpenAPI path template, e.g. `/bedrock/model/{modelId}/converse`. */
  path: string;
  /** Unique, stable name of the operation (OpenAPI `operationId`). */
  operationId: string;
  summary: string;
  /** CommonMark. */
  description?: string;
  tag: string;
  auth: RouteAuth;
  errorFormat: ErrorFormat;
  /** HTTP statuses of the documented error responses, described per format in `errors_doc.ts`. */
  errors: readonly number[];
  /** Path parameters: one property per `{name}` in `path`. */
  params?: z.ZodObject;
  /** Query parameters. */
  query?: z.ZodObject;
  /** Request headers the route reads beyond authentication. */
  headers?: z.ZodObject;
  /** Request body (JSON unless `contentType` says otherwise). */
  body?: { schema: z.ZodType; contentType?: string; description?: string };
  /** Responses by HTTP status, other than the error responses. */
  responses: Readonly<Record<number, ResponseDoc>>;
  /**
   * Exposes the route on the SDK client as `client[group][method](input)`; the input is the path parameters plus
   * the query (GET, DELETE) or the body (POST, PUT, PATCH). Routes the SDK wraps by hand (converse) leave it out.
   * `overloads` narrow the method's answer type by its input, tried in order before the general signature.
   */
  sdk?: { group: string; method: string; overloads?: readonly SdkOverload[] };
}

/** What a schema validates to; `never` when the route declares none. */
type Parsed<S> = S extends z.ZodType ? z.infer<S> : never;
/** The first success answer a route documents. */
type Answer<D extends RouteDoc> = D["responses"] extends { 200: { schema: infer S } } ? Parsed<S> : unknown;

/** A handler's view of its request: the request itself, and its declared inputs read and validated on demand. */
export interface RouteInput<D extends RouteDoc = RouteDoc> {
  readonly request: Request;
  /** The request's id (`x-litellm-call-id`). */
  readonly requestId: string;
  /** The request's path as routing saw it. */
  readonly path: string;
  /** The client's address (the connection's peer), when the server passed it on. */
  readonly clientIp?: string;
  /** The server's watch over a slow body, when it has one (what `body()` reads with). */
  readonly bodyWatch?: BodyWatch;
  /** The query string, validated with the declared `query` schema (a 400 naming the parameter otherwise). */
  query(): Parsed<D["query"]>;
  /**
   * The JSON body (empty counts as `{}`; at most {@link MAX_JSON_BODY} bytes), validated with the declared `body`
   * schema. Called when the handler is ready for it (after authorization, say), never before.
   */
  body(): Promise<Parsed<NonNullable<D["body"]>["schema"]>>;
  /** A path parameter, decoded, as routing matched it (`{key}` in `/key/{key}/regenerate`). */
  param(name: string): string;
  /** A JSON answer of the documented shape (status 200 unless given). */
  json(value: Answer<D>, status?: number): Response;
}

/** How a route is matched. */
export interface RouteMatch {
  /**
   * `prefix`: by its path up to the first `{param}`, everything below included; the handler parses the raw path
   * itself (its ids may hold a `/`, as an ARN sent unencoded does). Default `template`: `{param}` by `{param}`.
   */
  match?: "template" | "prefix";
  /** Served ahead of the framework (the hot path: model calls), by prefix. */
  fast?: boolean;
}

/** One route: its description, how it is matched, and its handler over the services `S` it is mounted with. */
export interface Route<S> extends RouteMatch {
  readonly doc: RouteDoc;
  handle(input: RouteInput, services: S): Response | Promise<Response>;
}

/** Admin request bodies are small; anything bigger is refused before it is buffered. */
export const MAX_JSON_BODY = 1024 * 1024;

const decoder = new TextDecoder();

/**
 * The route declarer of a feature whose handlers need services `S`: `route(doc, handle, match?)` gives a
 * {@link Route} whose handler sees its inputs typed by `doc`.
 */
export function routesOver<S>() {
  return <D extends RouteDoc>(
    doc: D,
    handle: (input: RouteInput<D>, services: S) => Response | Promise<Response>,
    match: RouteMatch = {},
  ): Route<S> => ({
    doc,
    ...match,
    // A handler typed by its own doc, kept beside that doc: the inputs it is given were made from it.
    handle: handle as (input: RouteInput, services: S) => Response | Promise<Response>,
  });
}

/** Where a route is matched: its OpenAPI template as a Hono path, or the prefix before its first parameter. */
export function matchPath(route: RouteMatch & { doc: RouteDoc }): string {
  const path = route.doc.path;
  if (route.match === "prefix" || route.fast) return path.slice(0, path.indexOf("{")) + "*";
  return path.replace(/\{([^}]+)\}/g, ":$1");
}

/** How the router parsed a request: its query and path parameters (none for a fast route). */
interface RouterParse {
  query?: () => Record<string, string>;
  param?: (name: string) => string | undefined;
}

/** A request's inputs, read on demand; a class, so the hot path allocates one object per request and no closures. */
class RequestInput implements RouteInput {
  constructor(
    private readonly doc: RouteDoc | undefined,
    readonly request: Request,
    readonly requestId: string,
    readonly path: string,
    private readonly parsed: RouterParse,
    readonly clientIp: string | undefined,
    readonly bodyWatch: BodyWatch | undefined,
  ) {}

  query() {
    return parseInput(this.doc?.query ?? undeclared(this.doc, "query"), this.parsed.query?.() ?? {}, "query");
  }

  async body() {
    return parseInput(
      this.doc?.body?.schema ?? undeclared(this.doc, "body"),
      await jsonBody(this.request, this.bodyWatch),
      "body",
    );
  }

  param(name: string): string {
    return this.parsed.param?.(name) ?? "";
  }

  json(value: unknown, status = 200): Response {
    return Response.json(value, { status });
  }
}

const NOTHING_PARSED: RouterParse = Object.freeze({});

/**
 * The inputs of a request to `doc`: `query` and `param` as the router parsed them. Without `doc` (a fast route's
 * request, which the handler tells apart from the raw path), there is no declared query or body to read.
 */
export function routeInput(
  doc: RouteDoc | undefined,
  request: Request,
  requestId: string,
  path: string,
  parsed: RouterParse = NOTHING_PARSED,
  clientIp?: string,
  bodyWatch?: BodyWatch,
): RouteInput {
  return new RequestInput(doc, request, requestId, path, parsed, clientIp, bodyWatch);
}

/** A handler read an input its route does not declare: a bug in the declaration, not bad input. */
function undeclared(doc: RouteDoc | undefined, input: "query" | "body"): never {
  throw new Error(`${doc?.operationId ?? "a fast route"} declares no ${input}`);
}

/** The request's JSON body; an empty body counts as `{}`. */
async function jsonBody(request: Request, watch: BodyWatch | undefined): Promise<unknown> {
  const bytes = await readBody(request, MAX_JSON_BODY, { watch });
  if (bytes.byteLength === 0) return {};
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    throw validation("Invalid request: the body is not valid JSON");
  }
}

/**
 * Mounts `routes` on `app` with their `services`: each under its method and match path, its handler given its input
 * from Hono's parse of the request. Routes served by prefix share one mount per prefix and method. Fast routes are
 * not mounted: the caller serves them ahead of the app.
 */
/** What a server passes along with a request (`Deno.ServeHandlerInfo`): the client's address, when it is known. */
type ConnectionEnv = { remoteAddr?: { hostname?: string } } | undefined;

export function mountRoutes<S, E extends Env & { Variables: { requestId: string } }>(
  app: Hono<E>,
  routes: readonly Route<S>[],
  services: S,
): void {
  const mounted = new Map<string, Route<S>["handle"]>();
  for (const route of routes) {
    if (route.fast) continue;
    const path = matchPath(route);
    const key = `${route.doc.method} ${path}`;
    const handler = mounted.get(key);
    if (handler === route.handle) continue;
    if (handler) {
      throw new Error(`two handlers for ${key} (${route.doc.operationId}): routes sharing a prefix share one`);
    }
    mounted.set(key, route.handle);
    app.on(route.doc.method.toUpperCase(), path, (c: Context<E>) =>
      route.handle(
        routeInput(
          route.doc,
          c.req.raw,
          c.get("requestId"),
          c.req.path,
          {
            query: () => c.req.query(),
            param: (name) => c.req.param(name),
          },
          (c.env as ConnectionEnv)?.remoteAddr?.hostname,
          (c.env as ServeInfo | undefined)?.body,
        ),
        services,
      ));
  }
}
