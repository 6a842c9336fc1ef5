/**
 * @module
 * A virtual key's own start page, read only: its spend against budget, limits and expiry, spend per day over the
 * last 30 days, and its recent calls.
 */
import { SpendChart } from "../components/chart.tsx";
import { PageHead } from "../components/layout.tsx";
import { LogTable } from "../components/log_table.tsx";
import { BudgetBar, Calls, Money, Time } from "../components/widgets.tsx";
import { formatPercent } from "../format.ts";
import { lastDays, type Page, type SignedIn, utcDay } from "../page.ts";
import { KeySub, limitsText, modelsText } from "./key_parts.tsx";

const CHART_DAYS = 30;
const RECENT_CALLS = 10;

export async function myKeyPage(s: SignedIn): Promise<Page> {
  const info = s.key!;
  const days = lastDays(s.now, CHART_DAYS);
  const today = utcDay(s.now);
  const monthStart = `${today.slice(0, 8)}01`;
  const from = monthStart < days[0] ? monthStart : days[0];
  const [daily, rows] = await Promise.all([
    s.deps.spend.keyDaily(info.token, from, today),
    s.deps.spend.logs({ keyHash: info.token, fromMs: 0, toMs: s.now + 60_000 }, 0, RECENT_CALLS),
  ]);
  const todays = daily.find((d) => d.day === today)!;
  const month = daily.filter((d) => d.day >= monthStart);
  const monthSpend = month.reduce((a, d) => a + d.spend, 0);
  const monthCalls = month.reduce((a, d) => a + d.requests, 0);
  const chartDays = daily.filter((d) => d.day >= days[0]);
  const name = info.key_alias ?? info.key_name;
  return {
    title: name,
    body: (
      <>
        <PageHead
          title={name}
          sub={<KeySub info={info} now={s.now} />}
        />
        <div class="cards">
          <div class="card stat">
            <div class="label">{info.budget_duration ? `Spend this ${info.budget_duration} window` : "Spend"}</div>
            <div class="value">
              <Money usd={info.spend} />
            </div>
            <BudgetBar spend={info.spend} budget={info.max_budget} label="Spend against budget" />
          </div>
          <div class="card stat">
            <div class="label">Spend today (UTC)</div>
            <div class="value">
              <Money usd={todays.spend} />
            </div>
            <div class="sub">
              <Calls n={todays.requests} />, {formatPercent(todays.failures, todays.requests)} errors
            </div>
          </div>
          <div class="card stat">
            <div class="label">Spend this month</div>
            <div class="value">
              <Money usd={monthSpend} />
            </div>
            <div class="sub">
              <Calls n={monthCalls} /> since {monthStart}
            </div>
          </div>
          <div class="card stat">
            <div class="label">Limits</div>
            <div class="value small-value">{limitsText(info)}</div>
            <div class="sub">models: {modelsText(info.models)}</div>
          </div>
          <div class="card stat">
            <div class="label">Expires</div>
            <div class="value small-value">{info.expires ? <Time at={info.expires} /> : "never"}</div>
            {info.budget_reset_at && (
              <div class="sub">
                budget resets <Time at={info.budget_reset_at} />
              </div>
            )}
          </div>
        </div>
        <section class="panel">
          <h2>Spend per day, last {CHART_DAYS} days</h2>
          <SpendChart
            id="my-spend"
            title="Spend per day"
            days={chartDays.map((d) => d.day)}
            series={[{ name, values: chartDays.map((d) => d.spend) }]}
          />
        </section>
        <section>
          <h2>Recent calls</h2>
          <LogTable rows={rows} showKey={false} label="Recent calls" empty="No calls with this key yet." />
          <p>
            <a href="/ui/logs">All my calls</a>
          </p>
        </section>
      </>
    ),
  };
}
