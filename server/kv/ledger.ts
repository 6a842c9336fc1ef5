/**
 * @module
 * The ledger: counter increments (spend in nano-USD, request and token counts) queued in memory and written to
 * Deno KV in batches, off the response path.
 *
 * Writing
 * - `add()` never waits: it queues `Deno.KvU64` sums. A batch is written after a short interval (default 10 ms)
 *   or at once when many counters are pending; at most one commit is in flight, and sums arriving meanwhile wait
 *   for the next interval. After a quiet interval the first sums are written on the next turn instead (so a KV
 *   that started failing is found out after one call). `flush()` and `close()` write everything queued
 *   (`Gateway.close()` calls `close`).
 * - Each batch is one `kv.atomic()` of `sum` mutations (exact: no lost updates between instances), plus a batch
 *   marker written under a `versionstamp: null` check, plus this instance's watermark (the batch's sequence
 *   number). A commit that throws is retried; if the throw hid a commit that did land, the retry's check fails on
 *   the marker and the batch is not applied twice. So every queued sum reaches KV exactly once.
 * - Sums are never dropped: a commit that keeps failing (a full disk, a KV that is down) is retried until it lands,
 *   with a backoff of at most a second, while new sums keep merging into the queue (memory per counter, not per
 *   call). While commits fail, `health()` says so and since when, with how many calls' accounting waits
 *   (`noteCall`); the gateway turns that into a 503 readiness and, past a small bound, into refusing billable calls.
 *   `close()` waits a bounded time for the queue, then logs exactly what it could not write (every counter with
 *   its amount, and how many rows) so nothing is lost silently.
 *
 * Reading
 * - Budget and rate checks read counters together with this instance's watermark (`watermarkKey`) in one
 *   `getMany`, hand the result to `observe()`, and ask `total()`: the newest snapshot plus this instance's sums
 *   the snapshot does not contain. Because batches commit in sequence and each moves the watermark in the same
 *   atomic step, "contained" is exact: batches up to the watermark are in the snapshot, later ones (and queued
 *   sums) are not. So a check sees its own instance's unwritten spend and never counts a sum twice, even while a
 *   commit races the read.
 * - The newest snapshot of each counter lives here, in one place, so readers racing each other never move the
 *   view backwards.
 *
 * Windowed counters (requests or tokens per minute) keep the window number in the high bits of the one KvU64:
 * each write is `max(key, window << 36)` then `sum(key, n)`, so a newer window resets the count in the same
 * atomic step and the key never needs cleaning up. A late write for an older window lands in the newer one (a
 * small over-count, never a loss).
 *
 * Other accounting (spend roll-ups per user, team, model and day) adds its own sums through the same `add()` or a
 * collector (`addLater`), and rows (spend-log pages, each with its index entries) ride along as plain `set`s in the
 * same batches (`add(sums, rows)`, or returned by a collector), so a row and the sums of its calls reach KV in the
 * same batch and exactly once: a row and its index entries always share one atomic commit. The row queue of `add`
 * is bounded (`maxPendingRows`): when KV cannot keep up, further rows are dropped and counted
 * (`stats().droppedRows`, logged) while sums, which merge per counter and so take memory per counter rather than
 * per call, are always kept; a collector bounds its own queue (`spend_log_pages.ts`). Rows never hold the sums back:
 * when a batch with rows fails (other than a busy file), its sums are tried again at once without them. Rows KV
 * refuses as such (too large, not serializable: it should never happen, rows are capped in size and depth) are
 * dropped; any others (a nearly full disk takes the small commit, not the page; a failing KV) are set aside, within
 * `maxPendingRows`, and tried again on their own backoff (1 s doubling to 30 s, the injected `sleep`), never in the
 * flush loop: `flush()` promises the sums, so readers of spend are not held up by rows, readiness says nothing about
 * rows (the sums land), and one line is logged when rows start being set aside and one when they are written again.
 * `close()` tries them once more, and logs those it still cannot write.
 */
import { isBusy } from "./retry.ts";
import { WINDOW_SHIFT, windowedCount } from "./windowed.ts";
import type { Logger } from "../core/log.ts";

/** One increment: `amount` added to the KvU64 at `key`. */
export interface LedgerSum {
  key: Deno.KvKey;
  /** Positive; zero or negative amounts are ignored. */
  amount: bigint;
  /** Set for windowed counters: the window (e.g. the minute number) the amount belongs to. */
  window?: number;
}

/** A row written in the same batches as the sums: `set(key, value, { expireIn })`. */
export interface LedgerRow {
  key: Deno.KvKey;
  /** A plain, structured-cloneable value (at most ~60 KiB serialized: Deno KV's value limit is 64 KiB). */
  value: unknown;
  /** Ms until KV deletes it. */
  expireIn?: number;
  /** Approximate serialized size of the value in bytes, to keep each commit within Deno KV's size limit. */
  bytes: number;
  /**
   * Index entries pointing at this row: each `set(key, true, { expireIn })` in the same atomic commit as the row,
   * so an index never points at a row that was not written, nor misses one that was.
   */
  index?: readonly Deno.KvKey[];
  /** How many log rows the value holds (a page of rows), for `stats()`; default 1. */
  count?: number;
}

/** What a collector (`addLater`) hands over: sums, and rows to write in the same batch. */
export interface Collected {
  sums?: readonly LedgerSum[];
  rows?: readonly LedgerRow[];
}

/** What is waiting to be written, for `/metrics`. */
export interface LedgerStats {
  /** Counters with unsent sums. */
  pendingCounters: number;
  /** Rows not yet sent (log rows: a page counts as the rows it holds). */
  pendingRows: number;
  /** Rows dropped since start (queue full, or refused by KV; log rows, as `pendingRows`). */
  droppedRows: number;
}

/** A counter as read from KV, for `observe()`. */
export interface CounterRead {
  key: Deno.KvKey;
  entry: Deno.KvEntryMaybe<unknown>;
}

/** The part of `Deno.Kv` the ledger uses (tests wrap it to inject failures). */
export type LedgerKv = Pick<Deno.Kv, "atomic" | "get">;

export interface LedgerOptions {
  kv: LedgerKv;
  /** Names this instance's batch markers and watermark (a fresh id per gateway). */
  instanceId: string;
  log: Logger;
  /** Wait this long after the first queued sum before writing, to gather a batch. Default 10 ms. */
  flushIntervalMs?: number;
  /** Write at once when this many counters (or rows) are pending. Default 256. */
  maxPendingCounters?: number;
  /** Rows beyond this many waiting to be written are dropped (and counted). Default 20 000. */
  maxPendingRows?: number;
  /** Monotonic ms clock, only for forgetting old bookkeeping; default `performance.now`. */
  monotonic?: () => number;
  /** Wall clock (ms since the epoch), for when a failure started; default `Date.now`. */
  now?: () => number;
  /** Waits between attempts of a failing commit; default a timer. Tests pass one that does not wait. */
  sleep?: (ms: number) => Promise<void>;
}

/** Whether the ledger's writes are landing, for readiness and the gateway's refusal of billable calls. */
export type LedgerHealth =
  | { ok: true }
  | {
    ok: false;
    /** Wall-clock ms of the first failed attempt of the batch still failing. */
    since: number;
    /** The last error (its name and message). */
    cause: string;
    /** Calls (`noteCall`) whose accounting is not in KV yet. */
    unwrittenCalls: number;
  };

/** What `close()` could not write within its wait (also logged, counter by counter). */
export interface Unwritten {
  sums: Array<{ key: Deno.KvKey; window?: number; amount: bigint }>;
  rows: number;
}

export interface Ledger {
  /** Names this instance's batch markers and watermark (others may use it to name what they write). */
  readonly instanceId: string;
  /** Queues sums (and rows to write in the same batches); never waits, never throws. */
  add(sums: readonly LedgerSum[], rows?: readonly LedgerRow[]): void;
  /**
   * Queues a collector, called once just before the next batch is taken (or by `flush`/`close`): the sums (and
   * rows) it returns are added then. Lets a caller merge many calls' sums in memory (one map lookup per call) and
   * hand the ledger one sum per counter per batch, or pack many calls' log rows into a few rows. Rows it returns
   * skip the `maxPendingRows` bound: the collector's owner bounds its own queue. Never waits, never throws.
   */
  addLater(collect: () => readonly LedgerSum[] | Collected): void;
  /** Queue sizes and dropped rows. */
  stats(): LedgerStats;
  /**
   * One more call's accounting has been queued (its sums and row, through `add` or collectors): counted until the
   * batch carrying it commits, so `health()` can say how many answered calls wait for KV.
   */
  noteCall(): void;
  /** Whether commits are landing; when not, since when, why, and how many calls wait. */
  health(): LedgerHealth;
  /** Read this key in the same `getMany` as the counters and pass it to `observe`. */
  readonly watermarkKey: Deno.KvKey;
  /** Records counters read in one `getMany`, with the watermark read alongside them. */
  observe(reads: readonly CounterRead[], watermark: Deno.KvEntryMaybe<unknown>): void;
  /**
   * The best known value of a counter: its newest observed snapshot plus this instance's sums the snapshot does
   * not contain (queued, in flight, or committed after it). For windowed counters, the count for `window` only.
   */
  total(key: Deno.KvKey, window?: number): bigint;
  /**
   * Writes everything queued so far; resolves once it is in KV (sums queued later may still be pending), or, for
   * rows KV could not write, once they have been set aside (`stats().pendingRows` counts them).
   */
  flush(): Promise<void>;
  /**
   * Flushes (rows set aside included, tried once more) and stays in shutdown mode, waiting at most `waitMs` (default
   * 4 s) for a failing KV. Whatever is still unwritten then is logged (every counter with its amount, and the number
   * of rows) and returned; the ledger stops trying. Resolves with nothing unwritten when everything landed.
   */
  close(opts?: { waitMs?: number }): Promise<Unwritten>;
}

/**
 * How long `close()` waits for a failing KV before it logs what it could not write (SIGTERM's bound). A KV that
 * works takes milliseconds; 4 s after the front door's 25 s drain (`shutdown_grace_ms`) still fits the 30 s
 * Kubernetes allows between SIGTERM and SIGKILL, so the log of what is lost is written.
 */
export const CLOSE_WAIT_MS = 4_000;

export { WINDOW_SHIFT, windowedCount };

/**
 * `["ledger_batch", instanceId, seq]` → `true`, expiring after a day: proof that one batch committed, so a retry
 * after an ambiguous failure cannot apply the same sums twice.
 */
const BATCH_MARKER = "ledger_batch";
/**
 * `["ledger_watermark", instanceId]` → the sequence number of this instance's last committed batch, written in
 * the same atomic step as the batch. Read alongside counters, it tells exactly which of this instance's sums a
 * snapshot contains. Expires a day after the last write (an idle or dead instance leaves nothing behind).
 */
const WATERMARK = "ledger_watermark";
const MARKER_TTL_MS = 86_400_000;
/** Deno KV allows 1000 mutations per atomic operation; windowed sums take two, marker and watermark two. */
const MAX_MUTATIONS_PER_COMMIT = 500;
/** Deno KV caps the total key bytes of one atomic operation (80 KiB); stay well below. */
const MAX_KEY_BYTES_PER_COMMIT = 48 * 1024;
/** Deno KV caps the total size of one atomic operation's mutations (800 KiB); stay well below. */
const MAX_BYTES_PER_COMMIT = 512 * 1024;
/** First wait before rows set aside (KV could not write them) are tried again; doubled each time they fail again. */
const ROW_RETRY_FIRST_MS = 1000;
/** Longest wait between two tries of rows set aside. */
const ROW_RETRY_MAX_MS = 30_000;
/**
 * Whether KV refused a commit because of what it holds (a value or key too large, too many or too large mutations,
 * a value that cannot be serialized) rather than for want of room or a failing store (`database or disk is full`).
 */
function refusesRow(e: unknown): boolean {
  const { name, message } = e as { name?: unknown; message?: unknown };
  return name === "DataCloneError" ||
    /too large|too many mutations|could not be cloned|cannot be serialized/i.test(String(message));
}

/** A busy file (several processes sharing it) is routine; this many busy attempts in a row count as failing. */
const BUSY_FAILING_ATTEMPTS = 10;
/** Longest wait between two attempts of a failing commit. */
const MAX_RETRY_DELAY_MS = 1000;
/**
 * Bookkeeping for a counter nobody has read for this long is forgotten (committed sums no snapshot has
 * confirmed, and the snapshot itself): any read made since contains those sums.
 */
const RETAIN_MS = 30_000;

interface Entry {
  amount: bigint;
  window?: number;
  /** Sequence number of the batch it was sent in. */
  batch?: number;
  /** Monotonic ms when its batch committed. */
  committedAt?: number;
}

interface Snapshot {
  value: bigint;
  /** Versionstamp of the counter (null: it did not exist). */
  versionstamp: string | null;
  /** This instance's watermark read in the same snapshot: its batches up to here are contained. */
  watermark: number;
  observedAt: number;
}

interface Counter {
  key: Deno.KvKey;
  /** The newest KV read of this counter. */
  snapshot?: Snapshot;
  /** Not yet sent: one merged entry per window ("plain" for ordinary counters). */
  pending: Map<number | "plain", Entry>;
  /** Sent in a batch the snapshot does not contain (in flight, or committed after the snapshot was read). */
  sent: Entry[];
  /**
   * The sum of the `sent` entries without a window, kept with `sent` (`takeBatch`, `dropSent`): a budget check adds
   * one number instead of one per batch sent since the last read (up to a second's worth of batches).
   */
  sentPlain: bigint;
}

interface Chunk {
  seq: number;
  /** Its commit has landed. */
  landed?: boolean;
  mutations: Array<{ key: Deno.KvKey; entry: Entry }>;
  rows: LedgerRow[];
  mutationCount: number;
  keyBytes: number;
  /** Keys and values. */
  bytes: number;
}

const keyIdReplacer = (_: string, v: unknown) =>
  typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v;

/**
 * A collision-free map key for a KV key (strings, numbers, bigints, booleans, bytes). Almost every key is strings and
 * numbers: those are written out by hand (a string with its length first, a number with a terminator), far cheaper
 * than `JSON.stringify` of the same key when run cold, once per call in the budget check (docs/benchmarks.md).
 * Anything else is JSON (it starts with `[`, so the two never collide).
 * About as long as the JSON (longer for plain strings and numbers); the batch size estimates built on it add slack.
 */
export function keyId(key: Deno.KvKey): string {
  let id = "";
  for (const part of key) {
    if (typeof part === "string") id += "s" + part.length + ":" + part;
    else if (typeof part === "number") id += "n" + part + ";";
    else return JSON.stringify(key, keyIdReplacer);
  }
  return id;
}

/** Whether snapshot `a` is at least as new as `b` (versionstamps grow; then the watermark decides). */
function notOlder(a: Snapshot, b: Snapshot): boolean {
  const av = a.versionstamp ?? "", bv = b.versionstamp ?? "";
  return av !== bv ? av > bv : a.watermark >= b.watermark;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An error as one line for logs and readiness. */
const describe = (e: unknown) => e instanceof Error ? `${e.name}: ${e.message}` : String(e);

export function createLedger(opts: LedgerOptions): Ledger {
  const { kv, log } = opts;
  const flushIntervalMs = opts.flushIntervalMs ?? 10;
  const maxPendingCounters = opts.maxPendingCounters ?? 256;
  const maxPendingRows = opts.maxPendingRows ?? 20_000;
  const monotonic = opts.monotonic ?? (() => performance.now());
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? delay;
  const watermarkKey: Deno.KvKey = [WATERMARK, opts.instanceId];

  const counters = new Map<string, Counter>();
  /** Counters with pending entries, in arrival order. */
  const dirty = new Set<Counter>();
  /** Rows not yet sent, in arrival order. */
  let pendingRows: LedgerRow[] = [];
  /** Collectors queued by `addLater`, run (in order) before the next batch is taken. */
  let later: Array<() => readonly LedgerSum[] | Collected> = [];
  let droppedRows = 0;
  /** Times `add` found the row queue full (the first and every 1000th are logged). */
  let dropEvents = 0;
  /**
   * Rows KV could not write though their sums landed (or are being retried alone), waiting for their next try: moved
   * back to `pendingRows` when the wait of `rowRetry` is over (or at `close()`). Rows arriving meanwhile wait here too.
   */
  let setAside: LedgerRow[] = [];
  /** While rows are set aside: the wait before their next try, and whether that wait is under way. */
  let rowRetry: { delayMs: number; waiting: boolean } | undefined;
  /** The rows' wait: the injected `sleep`, or a timer `close()` clears (a 30 s wait must not hold the process open). */
  let rowTimer: ReturnType<typeof setTimeout> | undefined;
  const rowSleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => rowTimer = setTimeout(resolve, ms)));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  /** Monotonic ms the last write round ended (a round starting after a quiet interval does not wait). */
  let lastDrainEnd = -Infinity;
  /** Sums queued so far, and how many of them (in queue order) have been written. */
  let queued = 0;
  let written = 0;
  const waiters: Array<{ upTo: number; resolve: () => void; reject: (e: Error) => void }> = [];
  let closing = false;
  /** Set when `close()` stopped waiting: the drain stops retrying and leaves what is unwritten where it is. */
  let abandoned = false;
  /** Calls noted since the last batch was taken, and those riding in the batch being written. */
  let callsQueued = 0;
  let callsInFlight = 0;
  /** The batch being written (its chunks), so `close()` can list what it holds. */
  let inFlight: Chunk[] = [];
  /** The failure of the commit being retried, if any. */
  let failure: { since: number; cause: string } | undefined;
  /** Batch sequence numbers; batches commit strictly in this order. */
  let seq = 0;

  /**
   * Counter ids by key array: admission reuses its scopes' key arrays call after call (`admission.ts`), so the id of
   * a budget or rate counter is built once, not at every check and sum. Keys are never changed once made.
   */
  const ids = new WeakMap<Deno.KvKey, string>();
  const idOf = (key: Deno.KvKey) => {
    let id = ids.get(key);
    if (id === undefined) ids.set(key, id = keyId(key));
    return id;
  };

  /** Takes entries out of `c.sent`'s sum (they have just been taken out of `c.sent`). */
  function dropSent(c: Counter, dropped: readonly Entry[]) {
    for (const e of dropped) if (e.window === undefined) c.sentPlain -= e.amount;
  }

  function counterFor(key: Deno.KvKey): Counter {
    const id = idOf(key);
    let c = counters.get(id);
    if (!c) {
      c = { key, pending: new Map(), sent: [], sentPlain: 0n };
      counters.set(id, c);
    }
    return c;
  }

  function kick(): Promise<void> {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    running ??= drain().finally(() => {
      running = undefined;
      lastDrainEnd = monotonic();
      // Sums added while the last commit was landing are picked up by a fresh round.
      if (hasPending()) schedule();
    });
    return running;
  }

  const hasPending = () => dirty.size > 0 || pendingRows.length > 0 || later.length > 0;

  /** Runs the queued collectors and adds their sums. */
  function collect() {
    if (!later.length) return;
    const run = later;
    later = [];
    for (const fn of run) {
      try {
        const got = fn();
        if (isSums(got)) addSums(got);
        else {
          if (got.rows?.length) {
            for (const row of got.rows) pendingRows.push(row);
            queued += got.rows.length;
          }
          if (got.sums) addSums(got.sums);
        }
      } catch (e) {
        log.error("ledger: a collector failed", { error: (e as Error).name, message: (e as Error).message });
      }
    }
  }

  function addSums(sums: readonly LedgerSum[]) {
    for (const s of sums) {
      if (s.amount <= 0n) continue;
      const c = counterFor(s.key);
      const slot = s.window ?? "plain";
      const entry = c.pending.get(slot);
      if (entry) entry.amount += s.amount;
      else c.pending.set(slot, { amount: s.amount, window: s.window });
      dirty.add(c);
      queued++;
    }
  }
  const isSums = (got: readonly LedgerSum[] | Collected): got is readonly LedgerSum[] => Array.isArray(got);
  /** Log rows held by some ledger rows (a page counts as its rows). */
  const logRows = (rows: readonly LedgerRow[]) => rows.reduce((n, r) => n + (r.count ?? 1), 0);
  const isLarge = () => dirty.size >= maxPendingCounters || pendingRows.length >= maxPendingCounters;

  function schedule() {
    if (running || abandoned) return; // the running drain loops until nothing is pending
    if (closing || isLarge()) {
      kick();
      return;
    }
    // Nothing written for an interval: write on the next turn (after the sums of this one) rather than wait to
    // gather a batch. At low rates each call's sums reach KV at once, and a KV that has started failing (a full disk)
    // is found out after one call, not after an interval's worth of calls. Under load batches form as before.
    const idle = monotonic() - lastDrainEnd >= flushIntervalMs;
    timer ??= setTimeout(kick, idle ? 0 : flushIntervalMs);
  }

  /**
   * Writes batches. Sums that arrived during a commit wait for the next interval unless someone is waiting for
   * them (flush, close) or the batch is already large: back-to-back commits would keep the KV file busy writing,
   * and KV reads (the budget checks on the hot path) queue behind writes.
   */
  async function drain() {
    do {
      collect();
      // Rows wait for the set-aside ones' next try rather than fail with each batch meanwhile.
      if (rowRetry?.waiting && !closing && pendingRows.length) {
        setAside = setAside.concat(pendingRows);
        pendingRows = [];
      }
      const upTo = queued;
      callsInFlight += callsQueued;
      callsQueued = 0;
      const calls = callsInFlight;
      inFlight = takeBatch();
      for (const chunk of inFlight) {
        if (!await commit(chunk)) return; // abandoned by close(): the rest stays unwritten (close logs it)
      }
      inFlight = [];
      callsInFlight -= calls;
      written = upTo;
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].upTo <= written) waiters.splice(i, 1)[0].resolve();
      }
      forgetOld();
    } while (hasPending() && (closing || waiters.length || isLarge()));
  }

  /** Moves every pending entry to `sent` and splits them into commits within Deno KV's limits. */
  function takeBatch(): Chunk[] {
    const chunks: Chunk[] = [];
    const fresh = (): Chunk => ({ seq: ++seq, mutations: [], rows: [], mutationCount: 3, keyBytes: 0, bytes: 0 });
    let chunk = fresh();
    const fits = (count: number, keyBytes: number, bytes: number) =>
      chunk.mutationCount + count <= MAX_MUTATIONS_PER_COMMIT &&
      chunk.keyBytes + keyBytes <= MAX_KEY_BYTES_PER_COMMIT && chunk.bytes + bytes <= MAX_BYTES_PER_COMMIT;
    for (const c of dirty) {
      // Older windows first, so a newer window's `max` comes last and wins.
      const entries = [...c.pending.values()].sort((a, b) => (a.window ?? 0) - (b.window ?? 0));
      c.pending.clear();
      const keyBytes = idOf(c.key).length + 16;
      for (const entry of entries) {
        const count = entry.window === undefined ? 1 : 2;
        if (chunk.mutations.length && !fits(count, keyBytes * count, (keyBytes + 16) * count)) {
          chunks.push(chunk);
          chunk = fresh();
        }
        entry.batch = chunk.seq;
        c.sent.push(entry);
        if (entry.window === undefined) c.sentPlain += entry.amount;
        chunk.mutations.push({ key: c.key, entry });
        chunk.mutationCount += count;
        chunk.keyBytes += keyBytes * count;
        chunk.bytes += (keyBytes + 16) * count;
      }
    }
    dirty.clear();
    for (const row of pendingRows) {
      let keyBytes = keyId(row.key).length + 16;
      const count = 1 + (row.index?.length ?? 0);
      if (row.index) { for (const k of row.index) keyBytes += keyId(k).length + 16; }
      const bytes = keyBytes + row.bytes + 8 * count;
      if ((chunk.mutations.length || chunk.rows.length) && !fits(count, keyBytes, bytes)) {
        chunks.push(chunk);
        chunk = fresh();
      }
      chunk.rows.push(row);
      chunk.mutationCount += count;
      chunk.keyBytes += keyBytes;
      chunk.bytes += bytes;
    }
    pendingRows = [];
    if (chunk.mutations.length || chunk.rows.length) chunks.push(chunk);
    return chunks;
  }

  /**
   * One attempt: the chunk's sums (and, with `withRows`, its rows) in one atomic commit. True when it found the batch
   * already written: an earlier attempt did commit, though it reported an error.
   */
  async function attemptCommit(chunk: Chunk, withRows: boolean): Promise<boolean> {
    const marker: Deno.KvKey = [BATCH_MARKER, opts.instanceId, chunk.seq];
    const op = kv.atomic();
    // Rows alone are plain `set`s (writing one twice is harmless): no marker, and no watermark (no sums to contain).
    if (chunk.mutations.length) {
      op.check({ key: marker, versionstamp: null })
        .set(marker, true, { expireIn: MARKER_TTL_MS })
        .set(watermarkKey, chunk.seq, { expireIn: MARKER_TTL_MS });
    }
    for (const { key, entry } of chunk.mutations) {
      if (entry.window !== undefined) op.max(key, BigInt(entry.window) << WINDOW_SHIFT);
      op.sum(key, entry.amount);
    }
    if (withRows) {
      for (const row of chunk.rows) {
        op.set(row.key, row.value, { expireIn: row.expireIn });
        if (row.index) { for (const k of row.index) op.set(k, true, { expireIn: row.expireIn }); }
      }
    }
    const result = await op.commit();
    if (result.ok) return false;
    // Not ok: the marker exists, so an earlier attempt did commit even though it reported an error.
    if (!(await kv.get(marker)).versionstamp) throw new Error("ledger batch check failed but its marker is missing");
    return true;
  }

  /**
   * Writes one chunk, retrying until it lands: resolves true once it has, false when `close()` gave up waiting
   * (then nothing of it is marked written). Never drops a sum.
   */
  async function commit(chunk: Chunk): Promise<boolean> {
    for (let attempt = 1;; attempt++) {
      if (abandoned) return false;
      try {
        await attemptCommit(chunk, true);
        landed(chunk);
        return true;
      } catch (e) {
        if (abandoned) return false;
        const busy = isBusy(e);
        let error = e;
        // Rows must not hold the billing sums back: on a failure other than a busy file the sums are tried again at
        // once without them. Rows KV refuses as such (too large, not storable) are dropped; others (no room for a
        // page on a nearly full disk, or KV failing) are set aside and tried again later, on their own backoff.
        if (!busy && chunk.rows.length) {
          const rows = chunk.rows;
          chunk.rows = [];
          try {
            if (chunk.mutations.length && await attemptCommit(chunk, false)) {
              chunk.rows = rows; // the attempt that reported an error did land, rows and all
            } else {
              setRowsAside(rows, e, attempt);
            }
            landed(chunk);
            return true;
          } catch (alone) {
            // KV refuses the sums too: it is failing. The sums are retried alone; the rows wait apart.
            setRowsAside(rows, e, attempt);
            error = alone;
          }
        }
        if (!busy || attempt >= BUSY_FAILING_ATTEMPTS) failure ??= { since: now(), cause: describe(error) };
        if (failure) failure.cause = describe(error);
        const fields = { attempt, error: (error as Error).name, message: (error as Error).message };
        // A busy SQLite file (several processes sharing it) is routine; anything else is worth a line (the first
        // few, then one every ~30 attempts: a KV that is down for minutes must not flood the log).
        if ((!busy || attempt >= 5) && (attempt <= 5 || attempt % 30 === 0)) {
          log.warn("ledger: commit failed, retrying", { ...fields, sums: chunk.mutations.length });
        }
        await sleep(Math.min(MAX_RETRY_DELAY_MS, 5 * 2 ** attempt));
      }
    }
  }

  /** Rows of a batch KV did not take: dropped when KV refuses them as such, else set aside for a later try. */
  function setRowsAside(rows: LedgerRow[], e: unknown, attempt: number) {
    const fields = { attempt, error: (e as Error).name, message: (e as Error).message };
    if (refusesRow(e)) {
      log.error("ledger: dropped the rows of a batch KV refuses; its sums are written without them", {
        ...fields,
        rows: logRows(rows),
      });
      droppedRows += logRows(rows);
    } else {
      putAside(rows, fields);
    }
  }

  /**
   * Sets aside, ahead of newer rows, rows KV could not write: they are tried again once a wait (doubling from 1 s to
   * 30 s while they keep failing) is over, with whatever batch is written then, or alone. Whoever waits for a flush
   * does not wait for them. The queue stays within `maxPendingRows` (newest rows dropped first, as `add` drops them
   * when it is full). Logged once when rows start being set aside, not at every try.
   */
  function putAside(rows: LedgerRow[], fields: Record<string, unknown>) {
    setAside = rows.concat(setAside);
    let over = setAside.length + pendingRows.length - maxPendingRows;
    if (over > 0) {
      const dropped = pendingRows.splice(Math.max(0, pendingRows.length - over));
      over -= dropped.length;
      if (over > 0) dropped.push(...setAside.splice(setAside.length - over));
      droppedRows += logRows(dropped);
      log.error("ledger: row queue full, dropping spend-log rows", { pending: setAside.length, droppedRows });
    }
    if (!rowRetry) {
      rowRetry = { delayMs: ROW_RETRY_FIRST_MS, waiting: false };
      log.warn("ledger: spend-log rows set aside: KV could not write them; their sums are written without them", {
        ...fields,
        rows: logRows(rows),
        retryInMs: ROW_RETRY_FIRST_MS,
      });
    } else if (!rowRetry.waiting) {
      rowRetry.delayMs = Math.min(ROW_RETRY_MAX_MS, rowRetry.delayMs * 2);
    }
    if (rowRetry.waiting || closing) return;
    const retry = rowRetry;
    retry.waiting = true;
    rowSleep(retry.delayMs).then(() => {
      retry.waiting = false;
      if (closing || abandoned || retry !== rowRetry) return;
      retrySetAside();
      schedule();
    });
  }

  /** Moves the rows set aside back to the queue, ahead of newer rows: the next batch (or `flush`) takes them. */
  function retrySetAside() {
    if (!setAside.length) return;
    pendingRows = setAside.concat(pendingRows);
    queued += setAside.length;
    setAside = [];
  }

  /** A chunk's commit landed: its entries are in KV, and a failure streak (if any) is over. */
  function landed(chunk: Chunk) {
    if (failure) {
      log.info("ledger: commits land again", { failingSince: new Date(failure.since).toISOString() });
      failure = undefined;
    }
    if (rowRetry && chunk.rows.length && !setAside.length) {
      log.info("ledger: spend-log rows set aside are written again");
      rowRetry = undefined;
    }
    const at = monotonic();
    for (const { entry } of chunk.mutations) entry.committedAt = at;
    chunk.landed = true;
  }

  /** Everything not in KV: queued sums, the batch being written, rows (collectors run first). */
  function unwritten(): Unwritten {
    collect();
    const byCounter = new Map<string, { key: Deno.KvKey; window?: number; amount: bigint }>();
    const count = (key: Deno.KvKey, entry: Entry) => {
      const id = `${keyId(key)}|${entry.window ?? ""}`;
      const found = byCounter.get(id);
      if (found) found.amount += entry.amount;
      else byCounter.set(id, { key, window: entry.window, amount: entry.amount });
    };
    let rows = logRows(pendingRows) + logRows(setAside);
    for (const chunk of inFlight) {
      if (chunk.landed) continue;
      for (const { key, entry } of chunk.mutations) count(key, entry);
      rows += logRows(chunk.rows);
    }
    for (const c of dirty) for (const entry of c.pending.values()) count(c.key, entry);
    return { sums: [...byCounter.values()], rows };
  }

  /** Forgets bookkeeping of counters nobody has read for a while, and counters with nothing left. */
  function forgetOld() {
    const cutoff = monotonic() - RETAIN_MS;
    for (const [id, c] of counters) {
      // `sent` is in commit order (batches commit one at a time, in sequence; entries still in flight come last),
      // so what has expired is a prefix. Counters nobody reads (roll-ups) keep ~30 s of batches here: scanning
      // only the expired prefix, not the whole array, keeps this drain's cost flat (measured: `deno task bench`).
      let expired = 0;
      while (expired < c.sent.length && (c.sent[expired].committedAt ?? Infinity) <= cutoff) expired++;
      if (expired) dropSent(c, c.sent.splice(0, expired));
      if (c.snapshot && c.snapshot.observedAt <= cutoff) c.snapshot = undefined;
      if (!c.sent.length && !c.pending.size && !c.snapshot) counters.delete(id);
    }
  }

  function flush(): Promise<void> {
    collect();
    if (written >= queued) return Promise.resolve();
    if (abandoned) return Promise.reject(new Error("ledger closed with unwritten sums"));
    const done = new Promise<void>((resolve, reject) => waiters.push({ upTo: queued, resolve, reject }));
    kick();
    return done;
  }

  return {
    instanceId: opts.instanceId,
    watermarkKey,

    add(sums, rows) {
      if (rows?.length) {
        if (pendingRows.length + setAside.length + rows.length > maxPendingRows) {
          // KV is not keeping up: losing log rows beats growing without bound (sums are still kept below).
          if (dropEvents++ % 1000 === 0) {
            log.error("ledger: row queue full, dropping spend-log rows", { pending: pendingRows.length, droppedRows });
          }
          droppedRows += logRows(rows);
        } else {
          pendingRows.push(...rows);
          queued += rows.length;
        }
      }
      addSums(sums);
      if (hasPending()) schedule();
    },

    addLater(fn) {
      later.push(fn);
      schedule();
    },

    stats: () => ({ pendingCounters: dirty.size, pendingRows: logRows(pendingRows) + logRows(setAside), droppedRows }),

    noteCall() {
      callsQueued++;
    },

    health: () =>
      failure
        ? { ok: false, since: failure.since, cause: failure.cause, unwrittenCalls: callsQueued + callsInFlight }
        : { ok: true },

    observe(reads, watermarkEntry) {
      const w = watermarkEntry.value;
      const watermark = typeof w === "number" ? w : 0;
      const observedAt = monotonic();
      for (const { key, entry } of reads) {
        const value = entry.value instanceof Deno.KvU64 ? entry.value.value : 0n;
        const snap: Snapshot = { value, versionstamp: entry.versionstamp, watermark, observedAt };
        const c = counterFor(key);
        if (c.snapshot && !notOlder(snap, c.snapshot)) {
          c.snapshot.observedAt = observedAt;
          continue;
        }
        c.snapshot = snap;
        // Batches up to the watermark are in the snapshot; forget their sums.
        if (c.sent.length) {
          const kept = c.sent.filter((e) => e.batch! > watermark);
          if (kept.length < c.sent.length) dropSent(c, c.sent.filter((e) => e.batch! <= watermark));
          c.sent = kept;
        }
      }
    },

    total(key, window) {
      const c = counters.get(idOf(key));
      if (!c) return 0n;
      let total = c.snapshot ? window === undefined ? c.snapshot.value : windowedCount(c.snapshot.value, window) : 0n;
      total += c.pending.get(window ?? "plain")?.amount ?? 0n;
      if (window === undefined) return total + c.sentPlain;
      for (const e of c.sent) if (e.window === window) total += e.amount;
      return total;
    },

    flush,

    async close(closeOpts = {}) {
      closing = true;
      clearTimeout(rowTimer);
      retrySetAside();
      const waitMs = closeOpts.waitMs ?? CLOSE_WAIT_MS;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), waitMs));
      const everything = (async () => {
        while (later.length > 0 || written < queued) await flush();
      })();
      const outcome = await Promise.race([everything, timedOut]).catch(() => "timeout" as const);
      clearTimeout(timer);
      if (outcome !== "timeout") {
        // The sums landed; rows KV still had no room for at this last try are lost.
        const rows = logRows(setAside);
        if (rows) log.error("ledger: shutting down with spend-log rows KV could not write; they are lost", { rows });
        return { sums: [], rows };
      }
      abandoned = true;
      everything.catch(() => {});
      for (const w of waiters.splice(0)) w.reject(new Error("ledger closed with unwritten sums"));
      const left = unwritten();
      log.error("ledger: shutting down with spend not written to KV; these sums and rows are lost", {
        waitedMs: waitMs,
        cause: failure?.cause,
        failingSince: failure ? new Date(failure.since).toISOString() : undefined,
        rows: left.rows,
        sums: left.sums.map((u) => ({ key: u.key, window: u.window, amount: String(u.amount) })),
      });
      return left;
    },
  };
}
