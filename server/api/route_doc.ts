/**
 * @module
 * The shape of one documented route: what `routes.ts` lists and what the generator turns into an OpenAPI
 * operation (and, for routes with `sdk`, into a method of the SDK's admin client). Everything is a zod schema the
 * server already uses, so the documentation cannot drift from validation.
 */
import type { z } from "zod";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/**
 * Who may call a route: `key` any gateway key (virtual or master), `admin` the master key (or an admin virtual
 * key), `none` anyone.
 */
export type RouteAuth = "key" | "admin" | "none";

/** Wire format of a route's error responses (see `server/errors.ts`). */
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
