/**
 * @module
 * UUIDv7 (RFC 9562): the gateway's default request and instance ids. Still a valid UUID, like LiteLLM's call ids,
 * but its first 48 bits are the epoch ms it was made at, so a spend-log lookup by request id can decode when the
 * call happened and read only the log pages of those seconds (`log_query.ts`).
 *
 * The 74 random bits come from `crypto.randomUUID()` (a v4 UUID already has the `10` variant bits in place), which
 * is native and costs less than `getRandomValues` plus hex formatting per id.
 */

/** `xxxxxxxx-xxxx-7xxx-[89ab]xxx-xxxxxxxxxxxx` (any case). */
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
/** 2^48: the largest time a UUIDv7 can hold, exclusive. */
const MAX_MS = 281_474_976_710_656;

/**
 * A UUIDv7 generator on the given clock (the gateway's injected `now`, so ids and call times agree in tests with a
 * fake clock). `randomUUID` supplies the random bits (a v4 UUID); tests may pass a seeded one.
 */
export function createUuidV7(now: () => number, randomUUID: () => string = () => crypto.randomUUID()): () => string {
  // Formatting the time is most of an id's cost; ids made in the same millisecond share it.
  let lastMs = -1, prefix = "";
  return () => {
    const ms = Math.min(MAX_MS - 1, Math.max(0, Math.floor(now())));
    if (ms !== lastMs) {
      lastMs = ms;
      const hex = ms.toString(16).padStart(12, "0");
      prefix = `${hex.slice(0, 8)}-${hex.slice(8)}-7`;
    }
    // v4: xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx; keep everything after the version digit.
    return prefix + randomUUID().slice(15);
  };
}

/** The epoch ms a UUIDv7 was made at; `undefined` for anything else (other UUID versions, other ids). */
export function uuidV7Time(id: string): number | undefined {
  if (id.length !== 36 || !UUID_V7.test(id)) return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
