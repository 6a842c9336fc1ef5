/**
 * @module
 * The generic half of the client: one method per route in the generated operation table
 * (`operations.gen.ts`), grouped as `client.<group>.<method>(input)`. Routes registered with `sdk: { group,
 * method }` in `server/openapi/routes.ts` appear here after `deno task gen`, typed from their zod schemas.
 */
import { OPERATIONS, type Operations } from "./operations.gen.ts";
import { type RequestOptions, sendJson, type Transport } from "./request.ts";

/** One call signature: `(options?)` without input, `(input?, options?)` when every field is optional. */
type Signature<I, O> = [I] extends [void] ? (options?: RequestOptions) => Promise<O>
  : Record<never, never> extends I ? (input?: I, options?: RequestOptions) => Promise<O>
  : (input: I, options?: RequestOptions) => Promise<O>;

/** An operation's overloads as an intersection of signatures, which TypeScript resolves in order, like overloads. */
type Overloads<I, L> = L extends readonly [{ input: infer N; output: infer O }, ...infer Rest]
  ? Signature<Omit<I, keyof N> & N, O> & Overloads<I, Rest>
  : unknown;

/**
 * A generated method: its overloads first (`keys.list({ return_full_object: true })` answers whole key objects),
 * then the general signature.
 */
export type OperationMethod<Op extends { input: unknown; output: unknown }> =
  & (Op extends { overloads: infer L } ? Overloads<Op["input"], L> : unknown)
  & Signature<Op["input"], Op["output"]>;

/** Every generated method, by group: `client.health.readiness()`. */
export type AdminApi = {
  readonly [G in keyof Operations]: {
    readonly [M in keyof Operations[G]]: Operations[G][M] extends { input: unknown; output: unknown }
      ? OperationMethod<Operations[G][M]>
      : never;
  };
};

/** One operation: HTTP method, path template (`/key/{key}/regenerate`), whether it takes input. */
export type OperationEntry = readonly [method: string, path: string, hasInput: boolean];

/** An untyped method table, by group. */
export type OperationMethods = Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>>;

/** `?a=1&b=x&b=y` from the non-empty fields of `input` (arrays repeat the name). */
function queryString(input: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(input)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null) q.append(name, typeof v === "object" ? JSON.stringify(v) : String(v));
    }
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Runs one table entry: path parameters from the input, the rest as query (GET, DELETE) or JSON body. */
function call(t: Transport, [method, template, hasInput]: OperationEntry, args: unknown[]): Promise<unknown> {
  const input = hasInput ? { ...(args[0] as Record<string, unknown> | undefined) } : {};
  const options = (hasInput ? args[1] : args[0]) as RequestOptions | undefined;
  const path = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = input[name];
    delete input[name];
    return encodeURIComponent(String(value));
  });
  const inQuery = method === "GET" || method === "DELETE";
  const body = hasInput && !inQuery ? JSON.stringify(input) : undefined;
  return sendJson(t, method, path + (inQuery ? queryString(input) : ""), body, options);
}

/**
 * Builds one method per table entry over a transport.
 * @param table operations by group (the generated `OPERATIONS`, or another table of the same shape)
 */
export function operationMethods(
  t: Transport,
  table: Readonly<Record<string, Readonly<Record<string, OperationEntry>>>>,
): OperationMethods {
  const api: OperationMethods = {};
  for (const [group, methods] of Object.entries(table)) {
    api[group] = {};
    for (const [name, entry] of Object.entries(methods)) api[group][name] = (...args) => call(t, entry, args);
  }
  return api;
}

/** The generated methods (`operations.gen.ts`) over one transport, typed from their schemas. */
export function adminApi(t: Transport): AdminApi {
  return operationMethods(t, OPERATIONS) as unknown as AdminApi;
}
