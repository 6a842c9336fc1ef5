/**
 * @module
 * Spend-log rows as a table (the logs page, a key's recent calls): when, status, model and deployment, key,
 * tokens, cost, latency; each row links to the call's detail.
 */
import { formatMs } from "../format.ts";
import type { SpendLogRow } from "../ports.ts";
import { CallStatus, Count, Money, TableWrap, Time } from "./widgets.tsx";

export function LogTable(props: { rows: SpendLogRow[]; showKey: boolean; label: string; empty: string }) {
  const { rows, showKey } = props;
  return (
    <TableWrap label={props.label}>
      <table>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Status</th>
            <th scope="col">Model</th>
            {showKey && <th scope="col" class="opt">Key</th>}
            <th scope="col" class="num opt">Tokens in / out</th>
            <th scope="col" class="num">Cost</th>
            <th scope="col" class="num opt">Latency</th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colspan={showKey ? 7 : 6} class="empty">{props.empty}</td>
            </tr>
          )}
          {rows.map((r) => (
            <tr>
              <td>
                <a href={`/ui/logs/${encodeURIComponent(r.request_id)}`} aria-label={`Call ${r.request_id}`}>
                  <Time at={r.startTime} />
                </a>
              </td>
              <td>
                <CallStatus status={r.status} httpStatus={r.http_status} />
                {r.retries > 0 && <div class="muted">{r.retries} {r.retries === 1 ? "retry" : "retries"}</div>}
              </td>
              <td>
                {r.model}
                {r.model_id && <div class="muted mono opt">{r.model_id}</div>}
              </td>
              {showKey && (
                <td class="opt">
                  {r.key_alias ?? (r.api_key ? <span class="mono">{r.api_key.slice(0, 10)}…</span> : "—")}
                </td>
              )}
              <td class="num opt">
                <Count n={r.prompt_tokens} /> / <Count n={r.completion_tokens} />
              </td>
              <td class="num">
                <Money usd={r.spend} />
                {r.price_unknown && <div class="muted">price unknown</div>}
              </td>
              <td class="num opt">{formatMs(r.request_duration_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
