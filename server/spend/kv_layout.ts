/**
 * @module
 * Every KV key cost tracking writes, and why each exists. All writes go through the ledger's batches
 * (`ledger.ts`): roll-ups are `Deno.KvU64` sums (exact across instances), spend-log pages and their index entries
 * are `set`s with the spend-log retention as `expireIn`.
 *
 * | key                                                   | value         | why                                   |
 * | ----------------------------------------------------- | ------------- | ------------------------------------- |
 * | `["spend_daily", dimension, day, value, metric]`      | KvU64         | per-day roll-ups (never expire)       |
 * | `["spend_daily_tag", day, tag, metric]`               | KvU64         | per-day spend and calls per tag       |
 * | `["spend_log_page", second, instanceId, seq]`         | SpendLogRow[] | the rows of calls started that second |
 * | `["spend_log_key", keyHash, second, instanceId, seq]` | `true`        | `/spend/logs?api_key=`: pages to read |
 * | `["spend_log_user", userId, second, instanceId, seq]` | `true`        | `/spend/logs?user_id=`: pages to read |
 *
 * Spend-log rows are stored in pages, not one KV entry per call: each ledger batch groups its calls' rows by the
 * second their call started (`second` = `Math.floor(startTime / 1000)`) and writes each group as one value (split
 * when it would pass ~56 KiB; Deno KV's limit is 64 KiB), with one index entry per distinct key hash and user in
 * the page, in the same atomic commit. `instanceId` is the writing ledger's and `seq` counts its pages, so pages
 * of concurrent instances never collide. A few KV writes per batch instead of three or four per call: each KV
 * `set` costs a V8 serialization and a SQLite row on the KV writer thread. Queries read whole seconds and order
 * the rows inside them (`log_query.ts`); a request id (a UUIDv7, which holds its creation time) is found by
 * reading the pages of the seconds around that time. Pages and index entries expire after the retention.
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

/** Spend-log pages: rows grouped by the second their call started, so a time range is one key range. */
export const SPEND_LOG_PAGE = "spend_log_page";
export const spendLogPageKey = (second: number, instanceId: string, seq: number): Deno.KvKey => [
  SPEND_LOG_PAGE,
  second,
  instanceId,
  seq,
];

/** The start-time second a row's page is filed under. */
export const logSecond = (startTime: number): number => Math.floor(startTime / 1000);

/** Secondary indexes: `[index, value, second, instanceId, seq]` → `true`; the key's tail names the page. */
export const SPEND_LOG_BY_KEY = "spend_log_key";
export const SPEND_LOG_BY_USER = "spend_log_user";
export const spendLogIndexKey = (
  index: typeof SPEND_LOG_BY_KEY | typeof SPEND_LOG_BY_USER,
  value: string,
  page: Deno.KvKey,
): Deno.KvKey => [index, value, page[1], page[2], page[3]];

/**
 * Per-day roll-ups per request tag (`x-litellm-tags` and the key's `tags`, not `requestMetadata` pairs): a call counts
 * once for each of its tags, so tags do not add up to the total and are kept apart from the dimensions above.
 */
export const TAG_METRICS = ["spend", "requests"] as const;
export type TagMetric = typeof TAG_METRICS[number];
const TAG_ROLLUP = "spend_daily_tag";
export const tagRollupKey = (day: string, tag: string, metric: TagMetric): Deno.KvKey => [TAG_ROLLUP, day, tag, metric];
/** The key range of the tag roll-ups of the days `fromDay` ≤ day < `untilDay` (or every day). */
export const tagRollupRange = (fromDay?: string, untilDay?: string) =>
  fromDay === undefined && untilDay === undefined
    ? { prefix: [TAG_ROLLUP] as Deno.KvKey }
    : { start: [TAG_ROLLUP, fromDay ?? ""] as Deno.KvKey, end: [TAG_ROLLUP, untilDay ?? "\uffff"] as Deno.KvKey };
