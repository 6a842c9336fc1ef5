/**
 * @module
 * Builds the OpenAPI 3.1 document from the route list with `openapi3-ts`'s builder: one operation per route,
 * request and response schemas from the routes' zod schemas (via {@link SchemaComponents}), bearer (or key
 * header) security, and reusable error responses in each route's wire format.
 */
import type { z } from "zod";
import {
  type HeaderObject,
  OpenApiBuilder,
  type OpenAPIObject,
  type OperationObject,
  type ParameterObject,
  type ReferenceObject,
  type ResponseObject,
  type SchemaObject,
  type SecurityRequirementObject,
  type ServerObject,
} from "openapi3-ts/oas31";
import { GatewayBedrockErrorBody, LiteLLMErrorBody } from "./error_schemas.ts";
import { errorDescription } from "./errors_doc.ts";
import { componentName, type JsonSchema, SchemaComponents } from "./json_schemas.ts";
import type { ErrorFormat, RouteAuth, RouteDoc } from "../api/route.ts";

/** Title, version and introduction of the document, where it is served, and what each tag holds. */
export interface ApiInfo {
  title: string;
  version: string;
  description: string;
  servers: ServerObject[];
  /** A description per tag; every route's tag must have one. */
  tags: Readonly<Record<string, string>>;
}

/** A route with its request and response converted to JSON Schema, for the SDK generator. */
export interface OperationSchemas {
  route: RouteDoc;
  /** Path parameters (an object schema), if any. */
  params?: JsonSchema;
  /** Query parameters (an object schema), if any. */
  query?: JsonSchema;
  /** Request body, if any. */
  body?: JsonSchema;
  /** The first 2xx response's body. */
  output: JsonSchema;
  /** The route's `sdk.overloads`, their answers converted. */
  overloads: Array<{ when: Readonly<Record<string, boolean | number | string>>; output: JsonSchema }>;
}

/** The OpenAPI document plus what the type generators need. */
export interface Documented {
  spec: OpenAPIObject;
  components: Record<string, JsonSchema>;
  operations: OperationSchemas[];
}

const SECURITY: Record<RouteAuth, SecurityRequirementObject[]> = {
  // Alternatives: any one of the three ways of presenting a key.
  key: [{ bearerAuth: [] }, { apiKeyHeader: [] }, { litellmKeyHeader: [] }],
  admin: [{ bearerAuth: [] }, { apiKeyHeader: [] }, { litellmKeyHeader: [] }],
  none: [],
};

const BEDROCK_ERROR_BODY = { $ref: "#/components/schemas/GatewayBedrockErrorBody" };
const LITELLM_ERROR_BODY = { $ref: "#/components/schemas/LiteLLMErrorBody" };
const header = (name: string): ReferenceObject => ({ $ref: `#/components/headers/${name}` });

/** Reusable response headers. */
const HEADERS: Record<string, HeaderObject> = {
  RequestId: {
    description: "Request id (Bedrock's when Bedrock answered, else the gateway's); quote it when reporting a problem.",
    schema: { type: "string" },
  },
  ErrorType: {
    description: "Bedrock exception name plus a fault suffix, e.g. " +
      "`ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/`; clients cut at the first `:`.",
    required: true,
    schema: { type: "string" },
  },
  RetryAfter: { description: "Seconds to wait before retrying.", schema: { type: "integer", minimum: 0 } },
  CallId: { description: "The gateway's request id.", schema: { type: "string" } },
};

/**
 * Any route answers a Host header that is not `host[:port]` with a 400 in Bedrock's format, before routing
 * (`http/app.ts`): documented on the routes that list no 400 of their own.
 */
const BAD_HOST: ResponseObject = {
  description: "The `Host` header is not `host[:port]`: a `ValidationException` in Bedrock's format (with LiteLLM's " +
    "`error` object), whatever the route.",
  headers: {
    "x-amzn-errortype": header("ErrorType"),
    "x-amzn-requestid": header("RequestId"),
    "x-litellm-call-id": header("CallId"),
  },
  content: { "application/json": { schema: BEDROCK_ERROR_BODY } },
};

/** The `$ref`s anywhere in `value`. */
function refsIn(value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) { for (const v of value) refsIn(v, into); }
  else if (value !== null && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      if (key === "$ref" && typeof v === "string") into.add(v);
      else refsIn(v, into);
    }
  }
  return into;
}

/**
 * The schema components the document references (from its paths and responses, and from those components in turn).
 * Named query schemas are expanded into parameters, so nothing in the document points at them; the SDK generator
 * still gets every component.
 */
function referenced(spec: OpenAPIObject, components: Record<string, JsonSchema>): Set<string> {
  const { schemas: _all, ...rest } = spec.components ?? {};
  const pending = [...refsIn({ ...spec, components: rest }, new Set())];
  const names = new Set<string>();
  for (let ref = pending.pop(); ref !== undefined; ref = pending.pop()) {
    const name = componentName(ref);
    if (name === undefined || names.has(name) || !(name in components)) continue;
    names.add(name);
    pending.push(...refsIn(components[name], new Set()));
  }
  return names;
}

function errorResponseName(format: ErrorFormat, status: number): string {
  return `${format === "bedrock" ? "Bedrock" : "LiteLLM"}Error${status}`;
}

function errorResponse(format: ErrorFormat, status: number): ResponseObject {
  const headers: Record<string, ReferenceObject> = format === "bedrock"
    ? { "x-amzn-errortype": header("ErrorType"), "x-amzn-requestid": header("RequestId") }
    : { "x-litellm-call-id": header("CallId") };
  if (status === 429 || status === 503) headers["retry-after"] = header("RetryAfter");
  return {
    description: errorDescription(format, status),
    headers,
    content: { "application/json": { schema: format === "bedrock" ? BEDROCK_ERROR_BODY : LITELLM_ERROR_BODY } },
  };
}

/** One parameter per property of a converted zod object. */
function parameters(where: "path" | "query" | "header", object: JsonSchema | undefined): ParameterObject[] {
  if (!object) return [];
  const props = (object.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((object.required ?? []) as string[]);
  return Object.entries(props).map(([name, prop]) => {
    const { description, examples, ...schema } = prop;
    const p: ParameterObject = { name, in: where, required: where === "path" || required.has(name) };
    if (typeof description === "string") p.description = description;
    p.schema = schema as SchemaObject;
    if (Array.isArray(examples) && examples.length > 0) p.example = examples[0];
    return p;
  });
}

/** Each overload's `when` names input fields that exist; its answer is converted like a response. */
function overloadsOf(route: RouteDoc, inputs: Array<JsonSchema | undefined>, schemas: SchemaComponents) {
  const fields = new Set(inputs.flatMap((s) => Object.keys((s?.properties ?? {}) as object)));
  return (route.sdk?.overloads ?? []).map(({ when, output }) => {
    const unknown = Object.keys(when).filter((name) => !fields.has(name));
    if (unknown.length > 0) throw new Error(`${route.operationId}: an SDK overload names unknown input ${unknown}`);
    return { when, output: schemas.schemaOf(output, "output") };
  });
}

function checkPathParams(route: RouteDoc, params: JsonSchema | undefined): void {
  const inPath = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
  const declared = Object.keys((params?.properties ?? {}) as object).sort();
  if (inPath.join() !== declared.join()) {
    throw new Error(`${route.operationId}: path ${route.path} has {${inPath}} but params declare {${declared}}`);
  }
}

/**
 * Builds the document.
 * @param routes the documented routes (`routes.ts`)
 * @param info title, version and introduction
 */
export function buildOpenApi(routes: readonly RouteDoc[], info: ApiInfo): Documented {
  const schemas = new SchemaComponents();
  const builder = OpenApiBuilder.create({
    openapi: "3.1.0",
    info: { title: info.title, version: info.version, description: info.description },
    servers: info.servers,
    paths: {},
    components: {},
  });
  builder.addSecurityScheme("bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "A gateway key (virtual key or the master key) as `Authorization: Bearer <key>` — what boto3 and " +
      "the AWS SDKs send when `AWS_BEARER_TOKEN_BEDROCK` holds the key.",
  });
  builder.addSecurityScheme("apiKeyHeader", { type: "apiKey", in: "header", name: "x-api-key" });
  builder.addSecurityScheme("litellmKeyHeader", { type: "apiKey", in: "header", name: "x-litellm-api-key" });
  for (const [name, h] of Object.entries(HEADERS)) builder.addHeader(name, h);

  const usedErrors = new Map<string, ResponseObject>();
  const operations: OperationSchemas[] = [];
  const ids = new Set<string>();
  const paths = new Map<string, Record<string, OperationObject>>();

  for (const route of routes) {
    if (ids.has(route.operationId)) throw new Error(`duplicate operationId ${route.operationId}`);
    ids.add(route.operationId);
    const convert = (s: z.ZodType | undefined, io: "input" | "output") => s && schemas.schemaOf(s, io);
    // Parameter objects are read property by property, so a named (referenced) one is looked up.
    const object = (s: z.ZodObject | undefined) => {
      const converted = convert(s, "input");
      return converted && schemas.resolve(converted);
    };
    const params = object(route.params);
    checkPathParams(route, params);
    const query = object(route.query);
    const headers = object(route.headers);
    const body = convert(route.body?.schema, "input");
    if (query && body) throw new Error(`${route.operationId}: a route takes a query or a body, not both`);

    const responses: Record<string, ResponseObject | ReferenceObject> = {};
    let output: JsonSchema | undefined;
    for (const [status, r] of Object.entries(route.responses)) {
      const schema = schemas.schemaOf(r.schema, "output");
      if (output === undefined && Number(status) < 300) output = schema;
      responses[status] = {
        description: r.description,
        // Model calls always carry a request id; the admin and health routes' successes carry none.
        ...(route.errorFormat === "bedrock"
          ? { headers: { "x-amzn-requestid": header("RequestId"), "x-litellm-call-id": header("CallId") } }
          : {}),
        content: { [r.contentType ?? "application/json"]: { schema: schema as SchemaObject } },
      };
    }
    if (!output) throw new Error(`${route.operationId} documents no 2xx response`);
    for (const status of route.errors) {
      const name = errorResponseName(route.errorFormat, status);
      if (!usedErrors.has(name)) usedErrors.set(name, errorResponse(route.errorFormat, status));
      responses[String(status)] = { $ref: `#/components/responses/${name}` };
    }
    if (!route.errors.includes(400)) {
      usedErrors.set("BadHost", BAD_HOST);
      responses["400"] = { $ref: "#/components/responses/BadHost" };
    }

    const operation: OperationObject = {
      operationId: route.operationId,
      summary: route.summary,
      // OpenAPI cannot tell keys apart by privilege, so the master-key requirement is said in words.
      ...(route.description || route.auth === "admin"
        ? {
          description: [route.description, route.auth === "admin" ? "Requires the master key." : undefined]
            .filter(Boolean).join(" "),
        }
        : {}),
      tags: [route.tag],
      security: SECURITY[route.auth],
      parameters: [...parameters("path", params), ...parameters("query", query), ...parameters("header", headers)],
      ...(route.body && body
        ? {
          requestBody: {
            required: true,
            ...(route.body.description ? { description: route.body.description } : {}),
            content: { [route.body.contentType ?? "application/json"]: { schema: body as SchemaObject } },
          },
        }
        : {}),
      responses,
    };
    if (operation.parameters?.length === 0) delete operation.parameters;
    const item = paths.get(route.path) ?? {};
    if (item[route.method]) throw new Error(`two routes for ${route.method.toUpperCase()} ${route.path}`);
    item[route.method] = operation;
    paths.set(route.path, item);
    const overloads = overloadsOf(route, [params, query, body && schemas.resolve(body)], schemas);
    operations.push({ route, params, query, body, output, overloads });
  }

  // The error bodies are referenced by the reusable error responses, not by any route's own schemas.
  if ([...usedErrors.keys()].some((n) => !n.startsWith("LiteLLM"))) {
    schemas.schemaOf(GatewayBedrockErrorBody, "output");
  }
  if ([...usedErrors.keys()].some((n) => n.startsWith("LiteLLM"))) schemas.schemaOf(LiteLLMErrorBody, "output");
  for (const [path, item] of paths) builder.addPath(path, item);
  for (const [name, response] of [...usedErrors].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    builder.addResponse(name, response);
  }
  for (const tag of [...new Set(routes.map((r) => r.tag))]) {
    const description = info.tags[tag];
    if (!description) throw new Error(`tag ${tag} has no description: add one to the tags in server/openapi/gen.ts`);
    builder.addTag({ name: tag, description });
  }
  const components = schemas.components;
  const used = referenced(builder.getSpec(), components);
  for (const [name, schema] of Object.entries(components)) {
    if (used.has(name)) builder.addSchema(name, schema as SchemaObject);
  }
  return { spec: builder.getSpec(), components, operations };
}
