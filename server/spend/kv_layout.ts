/**
 * @module
 * Every KV key cost tracking writes, and why each exists. All writes go through the ledger's batches
 * (`ledger.ts`): roll-ups are `Deno.KvU64` sums (exact across instances), log rows and their index entries are
 * `set`s with the spend-log retention as `expireIn`.
 *
 * | key                                                | value        | why                                           |
 * | -------------------------------------------------- | ------------ | --------------------------------------------- |
 * | `["spend_daily", dimension, day, value, metric]`   | KvU64        | per-day roll-ups (never expire)               |
 * | `["spend_log", startTime, requestId]`              | SpendLogRow  | one row per call, in time order               |
 * | `["spend_log_id", requestId]`                      | startTime    | `/spend/logs?request_id=`                     |
 * | `["spend_log_key", keyHash, startTime, requestId]` | `true`       | `/spend/logs?api_key=`, newest first          |
 * | `["spend_log_user", userId, startTime, requestId]` | `true`       | `/spend/logs?user_id=`, newest first          |
 *
 * `day` is the UTC date of the call's start (`2025-06-01`); `startTime` is epoch ms. A roll-up `value` that the
 * call does not have (no key, user or team) is the empty string, so every dimension sums to the same total.
 */

/** What roll-ups are kept per: `total` (value ""), virtual key hash, user, team, model_name, deployment id. */
export const DIMENSIONS = ["total", "key", "user", "team", "model", "deployment"] as const;
export type Dimension = typeof DIMENSIONS[number];

/**
 * What each roll-up counts: spend in nano-USD, calls, failed calls (failure or client_disconnected), and tokens
 * (`prompt_tokens` includes cached tokens, as on spend-log rows).
 */
export const METRICS = [
  "spend",
  "requests",
  "failures",
  "prompt_tokens",
  "completion_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
] as const;
export type Metric = typeof METRICS[number];

const ROLLUP = "spend_daily";

export const rollupKey = (dim: Dimension, day: string, value: string, metric: Metric): Deno.KvKey => [
  ROLLUP,
  dim,
  day,
  value,
  metric,
];

/** The key range holding one dimension's roll-ups for the days `fromDay` ≤ day < `untilDay`. */
export const rollupRange = (dim: Dimension, fromDay: string, untilDay: string) => ({
  start: [ROLLUP, dim, fromDay] as Deno.KvKey,
  end: [ROLLUP, dim, untilDay] as Deno.KvKey,
});

/** Every roll-up of one dimension. */
export const rollupPrefix = (dim: Dimension): Deno.KvKey => [ROLLUP, dim];

/** The spend log: rows by start time, so a time range is one key range and newest-first is a reverse list. */
export const SPEND_LOG = "spend_log";
export const spendLogKey = (startTime: number, requestId: string): Deno.KvKey => [SPEND_LOG, startTime, requestId];

/** Request id → start time, to find one row without scanning. */
export const spendLogIdKey = (requestId: string): Deno.KvKey => ["spend_log_id", requestId];

/** Secondary indexes: (startTime, requestId) in the key points at the row. */
export const SPEND_LOG_BY_KEY = "spend_log_key";
export const SPEND_LOG_BY_USER = "spend_log_user";
export const spendLogByKeyKey = (keyHash: string, startTime: number, requestId: string): Deno.KvKey => [
  SPEND_LOG_BY_KEY,
  keyHash,
  startTime,
  requestId,
];
export const spendLogByUserKey = (userId: string, startTime: number, requestId: string): Deno.KvKey => [
  SPEND_LOG_BY_USER,
  userId,
  startTime,
  requestId,
];
