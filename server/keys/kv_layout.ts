/**
 * @module
 * Every KV key the keys feature writes, and why each prefix exists. Keys are short (ids and hashes, far below
 * Deno KV's 2 KiB key limit); values are small (a key record is capped well below the 64 KiB value limit by the
 * admin schemas).
 *
 * | key                                          | value        | why                                                  |
 * | -------------------------------------------- | ------------ | ---------------------------------------------------- |
 * | `["keys", hash]`                             | `KeyRecord`  | the record, found by hashing the presented key       |
 * | `["key_alias", alias]`                       | hash         | unique aliases; delete/info by alias                 |
 * | `["key_spend", id, windowStart]`             | KvU64 nUSD   | spend per budget window                              |
 * | `["key_rpm", id]`                            | KvU64 packed | requests in the current minute (window in high bits) |
 * | `["key_tpm", id]`                            | KvU64 packed | tokens in the current minute (window in high bits)   |
 * | `["key_soft_budget_alert", id, windowStart]` | epoch ms     | soft-budget crossing logged once per window          |
 *
 * The ledger adds `["ledger_batch", instanceId, seq]` markers and `["ledger_watermark", instanceId]` (see
 * `kv/ledger.ts`); spend roll-ups and spend-log rows are listed in `spend/kv_layout.ts`.
 */

/**
 * The key record, under the SHA-256 hex of the raw key: authentication hashes what the caller presents and does
 * one lookup. The raw key itself is never written anywhere.
 */
export const recordKey = (hash: string): Deno.KvKey => ["keys", hash];

/**
 * Alias → hash. Written in the same atomic operation as the record, under a `versionstamp: null` check, so two
 * admins racing for one alias cannot both win.
 */
export const aliasKey = (alias: string): Deno.KvKey => ["key_alias", alias];

/**
 * Spend (integer nano-USD, `Deno.KvU64`, only ever `sum`med) of one budget window. A new window is a new key, so
 * `budget_duration` resets spend without any write at the boundary; old windows are deleted in the background.
 * Keyed by the key's stable id, so spend survives `/key/regenerate`.
 */
export const spendKey = (id: string, windowStart: number): Deno.KvKey => ["key_spend", id, windowStart];
export const spendPrefix = (id: string): Deno.KvKey => ["key_spend", id];

/**
 * Requests started in the current minute, shared by all instances. One key per key id: the minute number lives
 * in the value's high bits and a new minute resets the count atomically (see `kv/ledger.ts`).
 */
export const rpmKey = (id: string): Deno.KvKey => ["key_rpm", id];

/** Tokens of calls completed in the current minute; same packing as `rpmKey`. */
export const tpmKey = (id: string): Deno.KvKey => ["key_tpm", id];

/**
 * Set once (under a `versionstamp: null` check) by the first instance that sees spend cross `soft_budget` in a
 * window, so the crossing is logged once per window across all instances. Expires with the window.
 */
export const softBudgetAlertKey = (id: string, windowStart: number): Deno.KvKey => [
  "key_soft_budget_alert",
  id,
  windowStart,
];
export const softBudgetAlertPrefix = (id: string): Deno.KvKey => ["key_soft_budget_alert", id];
