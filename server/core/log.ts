/**
 * @module
 * Structured logging, one line per event: JSON lines (for log shippers), or `pretty` lines a person reads at a
 * terminal (`time LEVEL msg key=value …`, the same fields). One writer, injected, so tests can capture lines and scan
 * them for secrets.
 */
import { createIsoTime } from "./iso_time.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;
/** `json`: one JSON object per line; `pretty`: `time LEVEL msg key=value …`. */
export type LogFormat = "json" | "pretty";

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** Whether debug lines are written (`--detailed-debug`). */
  readonly debugEnabled: boolean;
}

export interface LoggerOptions {
  /** Where lines go; defaults to stdout. */
  write?: (line: string) => void;
  debug?: boolean;
  now?: () => number;
  /**
   * Fields every line carries, after `msg` (a worker of `--workers N` adds `{ worker: i }`, so lines from several
   * isolates sharing one stdout can be told apart).
   */
  fields?: LogFields;
  /** Default `json`. */
  format?: LogFormat;
}

/** A value as `key=value` shows it: bare when it has no space, quote or `=`, else as JSON. */
function prettyValue(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === "object" && v !== null) return JSON.stringify(v);
  return String(v);
}

/** `12:00:00.123 WARN  call request_id=… model=claude …`: fields that are undefined are left out, as in JSON. */
function prettyLine(time: string, level: LogLevel, msg: string, fields: LogFields | undefined): string {
  let line = `${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${msg}`;
  if (fields) {
    for (const k in fields) {
      const v = fields[k];
      if (v !== undefined) line += ` ${k}=${prettyValue(v)}`;
    }
  }
  return line;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const write = opts.write ?? ((line: string) => console.log(line));
  const now = opts.now ?? Date.now;
  const debugEnabled = opts.debug ?? false;
  const isoTime = createIsoTime();
  const always = opts.fields === undefined ? "" : JSON.stringify(opts.fields).slice(1, -1);
  const tail = always ? `,${always}` : "";
  const pretty = opts.format === "pretty";
  const log = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (pretty) {
      if (level === "debug" && !debugEnabled) return;
      return write(prettyLine(isoTime(now()), level, msg, opts.fields ? { ...opts.fields, ...fields } : fields));
    }
    if (level === "debug" && !debugEnabled) return;
    // The same line as JSON.stringify({ time, level, msg, ...fields }), without copying the fields into a new
    // object first: the request log writes one line per call, and the copy was a large part of it. Fields
    // named time, level or msg would repeat those keys; the request log has none.
    const head = `{"time":"${isoTime(now())}","level":"${level}","msg":${JSON.stringify(msg)}${tail}`;
    const rest = fields === undefined ? "{}" : JSON.stringify(fields);
    write(rest.length > 2 ? `${head},${rest.slice(1)}` : `${head}}`);
  };
  return {
    log,
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    debug: (m, f) => log("debug", m, f),
    debugEnabled,
  };
}

export interface BufferedStdoutOptions {
  /** Writes bytes, returning how many were taken (default `Deno.stdout.writeSync`). */
  writeSync?: (bytes: Uint8Array) => number;
  /** How long a line may wait for later ones to share its write, ms (default 10: the spend ledger's batch window). */
  flushAfterMs?: number;
  /** Starts the flush timer (default `setTimeout`); injectable so tests decide when it fires. */
  setTimer?: (flush: () => void, ms: number) => void;
  /**
   * Largest single write, bytes; a batch is cut at line boundaries so that no write exceeds it (a longer line goes
   * alone). Default: unlimited. `--workers N` sets `PIPE_BUF` (4096): the kernel writes that much to a pipe at once,
   * so several isolates writing one stdout never interleave inside a line.
   */
  maxWriteBytes?: number;
}

/** What POSIX guarantees a pipe writes atomically (`PIPE_BUF`, 4096 on Linux, 512 minimum; macOS has 512). */
export const PIPE_BUF = Deno.build.os === "linux" ? 4096 : 512;

/**
 * Writes lines to stdout in batches: a line waits up to `flushAfterMs` for others to share one `write` (past
 * 64 KiB the batch is written at once), instead of one system call per line. The request log writes a line per
 * call, and each write also wakes whatever reads the pipe: at low rates one write per window served several calls
 * for less CPU than one per turn (docs/benchmarks.md). The write is off the response's path too: a timer, not a
 * microtask, so the response goes out first. The bytes are the same as `console.log`'s, in order. Lines still
 * waiting are written at exit (`unload`, which `Deno.exit` and a normal end dispatch): only a crash or SIGKILL within
 * the window loses them, the same window in which the ledger's spend is still unwritten.
 */
export function bufferedStdout(opts: BufferedStdoutOptions = {}): BufferedWriter {
  const writeSync = opts.writeSync ?? ((bytes: Uint8Array) => Deno.stdout.writeSync(bytes));
  const flushAfterMs = opts.flushAfterMs ?? 10;
  const setTimer = opts.setTimer ?? ((flush: () => void, ms: number) => void setTimeout(flush, ms));
  const encoder = new TextEncoder();
  let pending = "";
  let scheduled = false;
  const maxWrite = opts.maxWriteBytes ?? Infinity;
  const writeAll = (bytes: Uint8Array) => {
    for (let offset = 0; offset < bytes.length;) offset += writeSync(bytes.subarray(offset));
  };
  const flush = () => {
    scheduled = false;
    if (!pending) return;
    const bytes = encoder.encode(pending);
    pending = "";
    try {
      if (bytes.length <= maxWrite) return writeAll(bytes);
      // Whole lines per write, each write at most maxWrite bytes (a longer line goes alone).
      for (let start = 0; start < bytes.length;) {
        let end = start;
        for (;;) {
          const nl = bytes.indexOf(10, end);
          const next = nl < 0 ? bytes.length : nl + 1;
          if (end > start && next - start > maxWrite) break;
          end = next;
          if (end === bytes.length || next - start >= maxWrite) break;
        }
        writeAll(bytes.subarray(start, end));
        start = end;
      }
    } catch {
      // stdout is gone (closed pipe): nothing sensible is left to do with a log line, and it must not crash calls.
    }
  };
  globalThis.addEventListener("unload", flush);
  const write = (line: string) => {
    pending += line + "\n";
    if (pending.length > 64 * 1024) flush();
    else if (!scheduled) {
      scheduled = true;
      setTimer(flush, flushAfterMs);
    }
  };
  return Object.assign(write, { flush });
}

/** A batching line writer, with `flush()` to write what waits now (before a start-up error is printed, say). */
export type BufferedWriter = ((line: string) => void) & { flush(): void };

const drop = () => {};

/** A logger that drops everything (benchmarks, some tests); it formats nothing and holds no state. */
export const silentLogger: Logger = Object.freeze({
  log: drop,
  info: drop,
  warn: drop,
  error: drop,
  debug: drop,
  debugEnabled: false,
});
