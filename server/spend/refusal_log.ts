/**
 * @module
 * The log line of a refused request (`"msg":"refused"`): what was refused, why (`reason`: `auth`, `invalid_key`,
 * `budget`, `rpm`, `tpm`, `parallel`, `budget_held`, `validation`, `too_large`, `spend_unwritable`, `unpriced`, …),
 * and whose request it was — key alias and hash prefix (for a 401, the prefix of the presented token's hash), user,
 * team — never a key, a header or a URL (the route pattern instead). The message is the one the client got, redacted
 * and bounded. `info` for a 4xx, `warn` for a 5xx, `debug` for paths no route serves (scanners).
 */
import type { Refusal } from "../core/errors.ts";
import type { Logger, LogLevel } from "../core/log.ts";
import { hashPrefix, redactSecrets } from "../core/redact.ts";

/** How much of a refusal's message a log line keeps. */
const MESSAGE_CHARS = 300;

function levelOf(r: Refusal): LogLevel {
  if (r.status === 404 || r.status === 405) return "debug";
  return r.status >= 500 ? "warn" : "info";
}

export function logRefusal(log: Logger, r: Refusal): void {
  const level = levelOf(r);
  if (level === "debug" && !log.debugEnabled) return;
  const c = r.caller;
  log.log(level, "refused", {
    request_id: r.requestId,
    method: r.method,
    route: r.route,
    status: r.status,
    reason: r.reason,
    error_type: r.errorType,
    error_message: redactSecrets(r.message, MESSAGE_CHARS),
    model: r.model === undefined ? undefined : redactSecrets(r.model, 200),
    key_alias: c?.keyAlias,
    key_hash: hashPrefix(c?.keyHash),
    user: c?.userId,
    team: c?.teamId,
  });
}
