/**
 * @module
 * Reading JSON the gateway did not write and must not trust: an upstream answer, an event's payload. A body that is
 * not a JSON object is `undefined`, never an exception (it is relayed all the same).
 *
 * @example
 * ```ts
 * import { jsonObject } from "./json.ts";
 *
 * const bytes = new TextEncoder().encode('{"usage": {"inputTokens": 3}}');
 * jsonObject(bytes)?.usage; // { inputTokens: 3 }
 * jsonObject(new TextEncoder().encode("[1, 2]")); // undefined
 * ```
 */

const decoder = new TextDecoder();

/** The bytes as a JSON object, or undefined when they are not one. */
export function jsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(decoder.decode(bytes));
    return v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}
