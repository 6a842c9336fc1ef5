/**
 * @module
 * Top-level `converse` / `converseStream` for scripts: a client configured from the environment
 * (`CONVERSE_GATEWAY_URL`, `CONVERSE_GATEWAY_KEY`) on runtimes that have one — Node's and Bun's `process.env`,
 * Deno's `Deno.env` (with `--allow-env`). Each call reads the environment afresh; nothing is cached.
 */
import { type Client, createClient } from "./client.ts";
import { collect, textStream } from "./collect.ts";
import type { RequestOptions } from "./request.ts";
import type { ConverseRequest, ConverseResponse, ConverseStreamRequest } from "./types.gen.ts";
import type { ConverseStream } from "./types.ts";

/** The environment lookups of the runtimes we know, all optional so no runtime's API is required. */
interface RuntimeGlobals {
  process?: { env?: Record<string, string | undefined> };
  Deno?: { env?: { get(name: string): string | undefined } };
}

/** An environment variable, or undefined where there is no environment (browsers) or no permission to read it. */
function env(name: string): string | undefined {
  const g = globalThis as RuntimeGlobals;
  try {
    const value = g.process?.env?.[name];
    if (value !== undefined) return value;
  } catch {
    // Deno without --allow-env throws from process.env too.
  }
  try {
    return g.Deno?.env?.get(name);
  } catch {
    return undefined;
  }
}

/**
 * A client from `CONVERSE_GATEWAY_URL` and `CONVERSE_GATEWAY_KEY`.
 * @throws {Error} when `CONVERSE_GATEWAY_URL` is not set (or the environment cannot be read)
 */
export function clientFromEnv(): Client {
  const baseURL = env("CONVERSE_GATEWAY_URL");
  if (!baseURL) {
    throw new Error(
      "CONVERSE_GATEWAY_URL is not set: set it (and CONVERSE_GATEWAY_KEY), or use createClient({ baseURL, apiKey })",
    );
  }
  return createClient({ baseURL, apiKey: env("CONVERSE_GATEWAY_KEY") });
}

/**
 * `converse` on the client from the environment ({@link clientFromEnv}).
 *
 * @example
 * ```ts
 * import { converse } from "./mod.ts";
 *
 * const answer = await converse("claude", { messages: [{ role: "user", content: [{ text: "Hi" }] }] });
 * ```
 */
export function converse(
  modelId: string,
  request: ConverseRequest,
  options?: RequestOptions,
): Promise<ConverseResponse> {
  try {
    return clientFromEnv().converse(modelId, request, options);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * `converseStream` on the client from the environment ({@link clientFromEnv}); a missing configuration is thrown
 * when iteration starts, like any other error of the call.
 */
export function converseStream(
  modelId: string,
  request: ConverseStreamRequest,
  options?: RequestOptions,
): ConverseStream {
  // Reading the environment waits for the first `next()`, so a missing URL surfaces where stream errors do.
  let inner: ConverseStream | undefined;
  const self: ConverseStream = {
    [Symbol.asyncIterator]: async function* () {
      yield* (inner ??= clientFromEnv().converseStream(modelId, request, options));
    },
    textStream: () => textStream(self),
    collect: () => collect(self),
  };
  return self;
}
