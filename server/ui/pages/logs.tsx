/**
 * @module
 * The spend logs: filters (key, model, status, UTC date range), pages of 50 newest first, and one call's detail
 * (request id, deployment, tokens with cache, cost, latency, retries, error). Signed in with a virtual key, only
 * that key's calls are listed and shown, whatever the address asks for.
 */
import { PageHead } from "../components/layout.tsx";
import { LogTable } from "../components/log_table.tsx";
import { CallStatus, Count, Money, Pager, TableWrap, Time } from "../components/widgets.tsx";
import { formatMs } from "../format.ts";
import { type Page, pageParam, type SignedIn, withQuery } from "../page.ts";
import type { SpendLogFilter, SpendLogRow } from "../ports.ts";
import { modelNames } from "./keys.tsx";
import { messagePage } from "./message.tsx";

const PAGE_SIZE = 50;
const DAY_MS = 86_400_000;
const HASH = /^[0-9a-f]{64}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const STATUSES: ReadonlyArray<SpendLogRow["status"]> = ["success", "failure", "client_disconnected"];

/** The filters as typed in the address. */
interface Query {
  key: string;
  model: string;
  status: string;
  from: string;
  to: string;
}

/** A `YYYY-MM-DD` day's first (or last) millisecond, or undefined when it is no such day. */
function dayBound(day: string, end: boolean): number | undefined {
  if (!DAY.test(day)) return undefined;
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== day) return undefined;
  return end ? ms + DAY_MS - 1 : ms;
}

/** The query as a filter, or what is wrong with it. */
async function filterOf(s: SignedIn, q: Query): Promise<{ filter: SpendLogFilter; error?: string }> {
  const filter: SpendLogFilter = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };
  const errors: string[] = [];
  if (s.session.role === "key") filter.keyHash = s.session.keyHash;
  else if (q.key) {
    if (HASH.test(q.key)) filter.keyHash = q.key;
    else if (q.key.startsWith("sk-")) {
      errors.push("Filter by a key's alias or hash: a key itself does not belong in an address.");
    } else {
      const found = await s.deps.keys.list({ page: 1, size: 1, key_alias: q.key, return_full_object: false });
      if (found.keys.length) filter.keyHash = found.keys[0] as string;
      else errors.push(`No key has the alias “${q.key}”.`);
    }
  }
  if (q.model) filter.model = q.model;
  if (q.status) {
    if ((STATUSES as readonly string[]).includes(q.status)) filter.status = q.status as SpendLogRow["status"];
    else errors.push(`Unknown status “${q.status}”.`);
  }
  for (const [name, end] of [["from", false], ["to", true]] as const) {
    if (!q[name]) continue;
    const ms = dayBound(q[name], end);
    if (ms === undefined) errors.push(`“${q[name]}” is not a date (YYYY-MM-DD).`);
    else if (end) filter.toMs = ms;
    else filter.fromMs = ms;
  }
  if (filter.fromMs > filter.toMs) errors.push("The start date is after the end date.");
  return { filter, error: errors.length ? errors.join(" ") : undefined };
}

export async function logsPage(s: SignedIn): Promise<Page> {
  const p = s.url.searchParams;
  const q: Query = {
    key: (p.get("key") ?? "").trim(),
    model: p.get("model") ?? "",
    status: p.get("status") ?? "",
    from: p.get("from") ?? "",
    to: p.get("to") ?? "",
  };
  const page = pageParam(s.url);
  const { filter, error } = await filterOf(s, q);
  // One row past the page says whether there is a next one.
  const rows = error ? [] : await s.deps.spend.logs(filter, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1);
  const admin = s.session.role === "admin";
  const models = modelNames(s);
  return {
    title: admin ? "Logs" : "My calls",
    status: error ? 400 : 200,
    body: (
      <>
        <PageHead
          title={admin ? "Logs" : "My calls"}
          sub={admin ? "Every call that reached a model, newest first." : "Calls made with your key, newest first."}
        />
        <form method="get" action="/ui/logs" class="filters" role="search" aria-label="Filter the logs">
          {admin && (
            <div>
              <label for="f-key">Key</label>
              <input id="f-key" name="key" type="search" value={q.key} placeholder="alias or hash" autocomplete="off" />
            </div>
          )}
          <div>
            <label for="f-model">Model</label>
            <select id="f-model" name="model">
              <option value="">all</option>
              {[...new Set([...models, ...(q.model ? [q.model] : [])])].map((m) => (
                <option value={m} selected={m === q.model}>{m}</option>
              ))}
            </select>
          </div>
          <div>
            <label for="f-status">Status</label>
            <select id="f-status" name="status">
              <option value="">all</option>
              {STATUSES.map((st) => <option value={st} selected={st === q.status}>{st.replace("_", " ")}</option>)}
            </select>
          </div>
          <div>
            <label for="f-from">From (UTC day)</label>
            <input id="f-from" name="from" type="date" value={q.from} />
          </div>
          <div>
            <label for="f-to">To (UTC day)</label>
            <input id="f-to" name="to" type="date" value={q.to} />
          </div>
          <div class="actions">
            <button type="submit" class="primary">Filter</button>
            <a class="button" href="/ui/logs">Reset</a>
          </div>
        </form>
        {error && <div class="alert" role="alert">{error}</div>}
        <LogTable
          rows={rows.slice(0, PAGE_SIZE)}
          showKey={admin}
          label="Calls"
          empty={error ? "Fix the filter to see calls." : "No calls match."}
        />
        <Pager
          page={page}
          hasNext={rows.length > PAGE_SIZE}
          href={(n) => withQuery("/ui/logs", { ...q, page: n })}
          label="Pages of calls"
          prev="← Newer"
          next="Older →"
        />
      </>
    ),
  };
}

export async function logPage(s: SignedIn, requestId: string): Promise<Page> {
  const notFound = messagePage("Call not found", "No call with this request id is in the logs (rows expire).", 404);
  if (!requestId || requestId.length > 256) return notFound;
  const [row] = await s.deps.spend.logs({ requestId, fromMs: 0, toMs: Number.MAX_SAFE_INTEGER }, 0, 1);
  // A virtual key sees its own calls only; another key's call is "not found", not "forbidden" (ids reveal nothing).
  if (!row || (s.session.role === "key" && row.api_key !== s.session.keyHash)) return notFound;
  const admin = s.session.role === "admin";
  const start = Date.parse(row.startTime);
  const firstByte = row.completionStartTime ? Date.parse(row.completionStartTime) - start : null;
  const input = row.prompt_tokens - row.cache_read_input_tokens - row.cache_creation_input_tokens;
  return {
    title: `Call ${row.request_id}`,
    body: (
      <>
        <PageHead title="Call" sub={<span class="mono">{row.request_id}</span>}>
          <a class="button" href="/ui/logs">All calls</a>
        </PageHead>
        <div class="cards">
          <div class="card stat">
            <div class="label">Status</div>
            <div class="value">
              <CallStatus status={row.status} httpStatus={row.http_status} />
            </div>
          </div>
          <div class="card stat">
            <div class="label">Cost</div>
            <div class="value">
              <Money usd={row.spend} />
            </div>
            {row.price_unknown && <div class="sub">no price for: {row.unpriced_tokens.join(", ")}</div>}
          </div>
          <div class="card stat">
            <div class="label">Latency</div>
            <div class="value">{formatMs(row.request_duration_ms)}</div>
            <div class="sub">first byte {formatMs(firstByte)}</div>
          </div>
          <div class="card stat">
            <div class="label">Tokens</div>
            <div class="value">
              <Count n={row.total_tokens} />
            </div>
            <div class="sub">
              <Count n={row.prompt_tokens} /> in · <Count n={row.completion_tokens} /> out
            </div>
          </div>
        </div>
        <div class="two-col">
          <section class="panel">
            <h2>Call</h2>
            <dl class="facts">
              <dt>Started</dt>
              <dd>
                <Time at={row.startTime} />
              </dd>
              <dt>Ended</dt>
              <dd>
                <Time at={row.endTime} />
              </dd>
              <dt>Operation</dt>
              <dd>{row.call_type}</dd>
              <dt>Model</dt>
              <dd>{row.model}</dd>
              <dt>Deployment</dt>
              <dd class="mono">{row.model_id ?? "— (none chosen)"}</dd>
              <dt>Bedrock model</dt>
              <dd class="mono">{row.bedrock_model_id ?? "—"}</dd>
              <dt>Region</dt>
              <dd>{row.region ?? "—"}</dd>
              <dt>Service tier</dt>
              <dd>{[row.service_tier, row.performance_latency].filter(Boolean).join(" · ") || "—"}</dd>
              <dt>Retries</dt>
              <dd>{row.retries}</dd>
              <dt>Key</dt>
              <dd>
                {row.api_key && admin
                  ? <a href={`/ui/keys/${row.api_key}`}>{row.key_alias ?? `${row.api_key.slice(0, 10)}…`}</a>
                  : (row.key_alias ?? "—")}
              </dd>
              <dt>User · team</dt>
              <dd>{row.user ?? "—"} · {row.team_id ?? "—"}</dd>
              <dt>Tags</dt>
              <dd>{row.request_tags.length ? row.request_tags.join(", ") : "—"}</dd>
            </dl>
          </section>
          <section class="panel">
            <h2>Tokens</h2>
            <TableWrap label="Tokens of this call">
              <table>
                <tbody>
                  <tr>
                    <th scope="row">Input (not cached)</th>
                    <td class="num">
                      <Count n={input} />
                    </td>
                  </tr>
                  <tr>
                    <th scope="row">Cache read</th>
                    <td class="num">
                      <Count n={row.cache_read_input_tokens} />
                    </td>
                  </tr>
                  <tr>
                    <th scope="row">Cache write</th>
                    <td class="num">
                      <Count n={row.cache_creation_input_tokens} />
                    </td>
                  </tr>
                  <tr>
                    <th scope="row">Output</th>
                    <td class="num">
                      <Count n={row.completion_tokens} />
                    </td>
                  </tr>
                  <tr>
                    <th scope="row">Total</th>
                    <td class="num">
                      <Count n={row.total_tokens} />
                    </td>
                  </tr>
                </tbody>
              </table>
            </TableWrap>
            {(row.error_type || row.error_message || row.incomplete) && (
              <>
                <h2 class="error-head">Error</h2>
                <div class="alert">
                  <strong>{row.error_type ?? (row.incomplete ? "Incomplete stream" : "Error")}</strong>
                  {row.error_message && <div>{row.error_message}</div>}
                  {row.incomplete && <div>The stream ended without its usage event.</div>}
                </div>
              </>
            )}
          </section>
        </div>
        {(row.messages !== null || row.response !== null) && (
          <section class="panel">
            <h2>Request and response</h2>
            <details>
              <summary>Request body</summary>
              <pre class="mono body-dump">{dump(row.messages)}</pre>
            </details>
            <details>
              <summary>Response</summary>
              <pre class="mono body-dump">{dump(row.response)}</pre>
            </details>
          </section>
        )}
      </>
    ),
  };
}

const dump = (v: unknown) => v === null ? "—" : typeof v === "string" ? v : JSON.stringify(v, null, 2);
