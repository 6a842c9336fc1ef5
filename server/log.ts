/**
 * @module
 * Structured JSON-line logging. One writer, injected, so tests can capture lines and scan them for secrets.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

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
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const write = opts.write ?? ((line: string) => console.log(line));
  const now = opts.now ?? Date.now;
  const debugEnabled = opts.debug ?? false;
  const log = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (level === "debug" && !debugEnabled) return;
    write(JSON.stringify({ time: new Date(now()).toISOString(), level, msg, ...fields }));
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

/** A logger that drops everything (benchmarks, some tests). */
export const silentLogger: Logger = createLogger({ write: () => {} });
