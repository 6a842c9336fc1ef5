/**
 * @module
 * The admin's start page: spend today and this month, calls and error rate, spend per model over the last 30 days,
 * the keys that spent most today, and every deployment's health and cooldown.
 */
import { SpendChart } from "../components/chart.tsx";
import { PageHead } from "../components/layout.tsx";
import { Badge, Calls, Count, Money, TableWrap, Time, type Tone } from "../components/widgets.tsx";
import { formatMs, formatPercent } from "../format.ts";
import { deploymentAnchor, lastDays, type Page, type SignedIn, utcDay } from "../page.ts";
import type { EndpointHealth, GlobalSpendReportRow } from "../ports.ts";

const CHART_DAYS = 30;
const TOP_KEYS = 5;

interface Sums {
  spend: number;
  requests: number;
  failures: number;
}

const sum = (rows: GlobalSpendReportRow[], pick: (r: GlobalSpendReportRow) => boolean): Sums =>
  rows.filter(pick).reduce(
    (a, r) => ({
      spend: a.spend + r.total_spend,
      requests: a.requests + r.api_requests,
      failures: a.failures + r.failed_requests,
    }),
    { spend: 0, requests: 0, failures: 0 },
  );

export const HEALTH_TONE: Record<EndpointHealth["status"], Tone> = {
  healthy: "ok",
  rate_limited: "warn",
  cooling_down: "warn",
  unavailable: "bad",
  probe_failed: "bad",
};

export function HealthBadge(props: { status: EndpointHealth["status"] }) {
  return <Badge tone={HEALTH_TONE[props.status]}>{props.status.replace("_", " ")}</Badge>;
}

/** A key hash as a name: its alias when it still exists, else a short hash. */
async function keyNames(s: SignedIn, hashes: string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  await Promise.all(hashes.map(async (hash) => {
    try {
      const { info } = await s.deps.keys.info(hash);
      names.set(hash, info.key_alias ?? info.key_name);
    } catch {
      names.set(hash, hash === s.masterHash ? "master key" : `${hash.slice(0, 10)}… (deleted)`);
    }
  }));
  return names;
}

export async function overviewPage(s: SignedIn): Promise<Page> {
  const { spend, models } = s.deps;
  const days = lastDays(s.now, CHART_DAYS);
  const today = utcDay(s.now);
  const monthStart = `${today.slice(0, 8)}01`;
  const from = monthStart < days[0] ? monthStart : days[0];
  const [byDay, byModel, byKey, health] = await Promise.all([
    spend.report(from, today, "day"),
    spend.dailyByModel(days[0], today),
    // Today only: the key roll-ups are read per day and key, so a month of them grows with keys × 30 days × metrics.
    spend.report(today, today, "key"),
    models.health(),
  ]);
  const todaySums = sum(byDay, (r) => r.group_by_day === today);
  const month = sum(byDay, (r) => r.group_by_day! >= monthStart);
  const window = sum(byDay, (r) => r.group_by_day! >= days[0]);
  const index = new Map(days.map((d, i) => [d, i]));
  const series = new Map<string, number[]>();
  for (const row of byModel) {
    let values = series.get(row.model);
    if (!values) series.set(row.model, values = days.map(() => 0));
    values[index.get(row.day)!] += row.spend;
  }
  const topKeys = byKey.filter((r) => r.api_key && r.total_spend > 0).slice(0, TOP_KEYS);
  const names = await keyNames(s, topKeys.map((r) => r.api_key!));
  const endpoints = [...health.healthy_endpoints, ...health.unhealthy_endpoints];

  return {
    title: "Overview",
    body: (
      <>
        <PageHead
          title="Overview"
          sub={
            <>
              Spend and calls as of <Time at={s.now} />.
            </>
          }
        />
        <div class="cards">
          <div class="card stat">
            <div class="label">Spend today (UTC)</div>
            <div class="value">
              <Money usd={todaySums.spend} />
            </div>
            <div class="sub">
              <Calls n={todaySums.requests} />
            </div>
          </div>
          <div class="card stat">
            <div class="label">Spend this month</div>
            <div class="value">
              <Money usd={month.spend} />
            </div>
            <div class="sub">
              <Calls n={month.requests} /> since {monthStart}
            </div>
          </div>
          <div class="card stat">
            <div class="label">Errors today</div>
            <div class="value">{formatPercent(todaySums.failures, todaySums.requests)}</div>
            <div class="sub">
              <Count n={todaySums.failures} /> of <Calls n={todaySums.requests} /> failed
            </div>
          </div>
          <div class="card stat">
            <div class="label">Last {CHART_DAYS} days</div>
            <div class="value">
              <Money usd={window.spend} />
            </div>
            <div class="sub">
              <Calls n={window.requests} />, {formatPercent(window.failures, window.requests)} errors
            </div>
          </div>
          <div class="card stat">
            <div class="label">Deployments</div>
            <div class="value">{health.healthy_count} / {health.healthy_count + health.unhealthy_count}</div>
            <div class="sub">healthy now</div>
          </div>
        </div>

        <section class="panel">
          <h2>Spend per model, last {CHART_DAYS} days</h2>
          <SpendChart
            id="spend-by-model"
            title="Spend per model per day"
            days={days}
            series={[...series].map(([name, values]) => ({ name, values }))}
          />
        </section>

        <div class="two-col">
          <section>
            <h2>Top keys today</h2>
            <TableWrap label="Top keys today">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Key</th>
                    <th scope="col" class="num">Spend</th>
                    <th scope="col" class="num">Calls</th>
                    <th scope="col" class="num">Failed</th>
                  </tr>
                </thead>
                <tbody>
                  {topKeys.length === 0 && (
                    <tr>
                      <td colspan={4} class="empty">No spend today yet.</td>
                    </tr>
                  )}
                  {topKeys.map((r) => (
                    <tr>
                      <td>
                        {r.api_key === s.masterHash
                          ? names.get(r.api_key!)
                          : <a href={`/ui/keys/${r.api_key}`}>{names.get(r.api_key!)}</a>}
                      </td>
                      <td class="num">
                        <Money usd={r.total_spend} />
                      </td>
                      <td class="num">
                        <Count n={r.api_requests} />
                      </td>
                      <td class="num">
                        <Count n={r.failed_requests} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          </section>
          <section>
            <h2>Deployments</h2>
            <TableWrap label="Deployments">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Model</th>
                    <th scope="col">Status</th>
                    <th scope="col" class="num">In flight</th>
                    <th scope="col" class="num opt">Latency</th>
                    <th scope="col" class="num opt">Failed (1 min)</th>
                  </tr>
                </thead>
                <tbody>
                  {endpoints.map((e) => (
                    <tr>
                      <td>
                        <a href={`/ui/models#${deploymentAnchor(e.model_id)}`}>{e.model_name}</a>
                        <div class="muted mono nowrap">{e.model_id}</div>
                      </td>
                      <td>
                        <HealthBadge status={e.status} />
                        {e.cooldown_until && (
                          <div class="muted">
                            until <Time at={e.cooldown_until} />
                          </div>
                        )}
                      </td>
                      <td class="num">
                        <Count n={e.in_flight} />
                      </td>
                      <td class="num opt">{formatMs(e.latency_ms)}</td>
                      <td class="num opt">
                        <Count n={e.failures_last_minute} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          </section>
        </div>
      </>
    ),
  };
}
