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
 * | `["key_model_spend", id, model, windowStart]`| KvU64 nUSD   | a key's spend on one model (`model_max_budget`)       |
 * | `["key_model_rpm", id, model]`               | KvU64 packed | a key's requests to one model this minute            |
 * | `["key_model_tpm", id, model]`               | KvU64 packed | a key's tokens of one model this minute              |
 * | `["team", teamId]` / `["user", userId]`      | record       | a team's / a user's record (`owner_record.ts`)       |
 * | `["team_spend", teamId, windowStart]`        | KvU64 nUSD   | spend of all the team's keys per budget window       |
 * | `["team_rpm", teamId]`, `["team_tpm", …]`    | KvU64 packed | the team's requests and tokens this minute           |
 * | `["user_spend", userId, windowStart]`        | KvU64 nUSD   | spend of all the user's keys per budget window       |
 * | `["user_rpm", userId]`, `["user_tpm", …]`    | KvU64 packed | the user's requests and tokens this minute           |
 * | `["proxy_spend", windowStart]`               | KvU64 nUSD   | all spend, per window of `litellm_settings`' budget  |
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

/** A key's spend on one model per window of that model's `time_period` (`model_max_budget`). */
export const modelSpendKey = (id: string, model: string, windowStart: number): Deno.KvKey => [
  "key_model_spend",
  id,
  model,
  windowStart,
];
export const modelSpendPrefix = (id: string): Deno.KvKey => ["key_model_spend", id];
/** A key's requests to one model this minute (`model_rpm_limit`); packed like `rpmKey`. */
export const modelRpmKey = (id: string, model: string): Deno.KvKey => ["key_model_rpm", id, model];
/** A key's tokens of one model this minute (`model_tpm_limit`); packed like `rpmKey`. */
export const modelTpmKey = (id: string, model: string): Deno.KvKey => ["key_model_tpm", id, model];

/** A team's or user's record, by its id. */
export const ownerKey = (kind: "team" | "user", id: string): Deno.KvKey => [kind, id];
export const ownerPrefix = (kind: "team" | "user"): Deno.KvKey => [kind];
/**
 * Spend of all of a team's (or user's) keys in one budget window: summed at every call of any of them, like a key's
 * own spend, so the owner's `max_budget` caps them together.
 */
export const ownerSpendKey = (kind: "team" | "user", id: string, windowStart: number): Deno.KvKey => [
  `${kind}_spend`,
  id,
  windowStart,
];
export const ownerSpendPrefix = (kind: "team" | "user", id: string): Deno.KvKey => [`${kind}_spend`, id];
export const ownerRpmKey = (kind: "team" | "user", id: string): Deno.KvKey => [`${kind}_rpm`, id];
export const ownerTpmKey = (kind: "team" | "user", id: string): Deno.KvKey => [`${kind}_tpm`, id];

/** All spend through the gateway in one window of `litellm_settings.budget_duration` (the proxy's `max_budget`). */
export const proxySpendKey = (windowStart: number): Deno.KvKey => ["proxy_spend", windowStart];
