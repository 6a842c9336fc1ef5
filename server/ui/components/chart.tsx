/**
 * @module
 * A stacked bar chart of spend per day, one colour per series (model), as inline SVG rendered on the server: no
 * script, no inline style. Each bar segment has a `<title>` (the browser's tooltip), and the same numbers are in a
 * table under the chart for keyboards and screen readers.
 */
import { formatUsd } from "../format.ts";
import { Money, TableWrap } from "./widgets.tsx";

export interface Series {
  name: string;
  /** USD per day, in the order of the chart's `days`. */
  values: number[];
}

/** Series drawn at most, each in its colour (`.s0`…`.s6` in app.css); past it, the smallest are summed as one. */
const MAX_SERIES = 7;
const W = 900, H = 240;
const LEFT = 64, RIGHT = 8, TOP = 10, BOTTOM = 26;

/** The smallest 1, 2 or 5 × 10^k at or above `v`, so gridlines fall on round amounts. */
export function niceCeiling(v: number): number {
  if (!(v > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 5, 10]) if (step * power >= v) return step * power;
  return 10 * power;
}

/** Where gridlines go, as fractions of `top`, so that each falls on a round amount (1, 2 or 5 × 10^k steps). */
export function gridFractions(top: number): number[] {
  const lead = Math.round(top / 10 ** Math.floor(Math.log10(top)));
  const steps = lead === 2 ? 4 : 5;
  return Array.from({ length: steps + 1 }, (_, i) => i / steps);
}

/** The biggest series by total, then the others summed into one. */
export function topSeries(series: Series[], max = MAX_SERIES): Series[] {
  const total = (s: Series) => s.values.reduce((a, b) => a + b, 0);
  const sorted = [...series].filter((s) => total(s) > 0).sort((a, b) =>
    total(b) - total(a) || (a.name < b.name ? -1 : 1)
  );
  if (sorted.length <= max) return sorted;
  const kept = sorted.slice(0, max - 1);
  const rest = sorted.slice(max - 1);
  const other = rest[0].values.map((_, i) => rest.reduce((sum, s) => sum + s.values[i], 0));
  return [...kept, { name: `${rest.length} other models`, values: other }];
}

/** `2025-06-01` → `Jun 1`. */
function shortDay(day: string): string {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  return `${months[Number(day.slice(5, 7)) - 1]} ${Number(day.slice(8, 10))}`;
}

export function SpendChart(props: { id: string; title: string; days: string[]; series: Series[] }) {
  const { days, id } = props;
  const series = topSeries(props.series);
  if (!series.length) return <p class="muted">No spend in these days.</p>;
  const totals = days.map((_, i) => series.reduce((sum, s) => sum + s.values[i], 0));
  const top = niceCeiling(Math.max(...totals));
  const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
  const slot = plotW / days.length;
  const barW = Math.max(2, slot * 0.72);
  const y = (usd: number) => TOP + plotH - (usd / top) * plotH;
  const labelEvery = Math.max(1, Math.ceil(days.length / 8));
  const grand = totals.reduce((a, b) => a + b, 0);
  return (
    <figure class="chart" aria-labelledby={`${id}-caption`}>
      <div class="plot">
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-title`}>
          <title id={`${id}-title`}>
            {`${props.title}: ${formatUsd(grand)} in ${days.length} days, highest day ${
              formatUsd(Math.max(...totals))
            }`}
          </title>
          {gridFractions(top).map((f) => (
            <g>
              <line class="gridline" x1={LEFT} x2={W - RIGHT} y1={y(top * f)} y2={y(top * f)} />
              <text x={LEFT - 8} y={y(top * f) + 4} text-anchor="end">{formatUsd(top * f, { trim: true })}</text>
            </g>
          ))}
          {days.map((day, i) => {
            let base = 0;
            const x = LEFT + i * slot + (slot - barW) / 2;
            return (
              <g>
                {series.map((s, k) => {
                  const v = s.values[i];
                  if (!(v > 0)) return null;
                  const y0 = y(base), y1 = y(base + v);
                  base += v;
                  return (
                    <rect
                      class={`bar s${k}`}
                      x={x.toFixed(1)}
                      y={y1.toFixed(1)}
                      width={barW.toFixed(1)}
                      height={Math.max(0.5, y0 - y1).toFixed(1)}
                    >
                      <title>{`${day} · ${s.name}: ${formatUsd(v)}`}</title>
                    </rect>
                  );
                })}
                {(i % labelEvery === 0 || (i === days.length - 1 && i % labelEvery > labelEvery / 2)) && (
                  <text x={(LEFT + i * slot + slot / 2).toFixed(1)} y={H - 8} text-anchor="middle">
                    {shortDay(day)}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      </div>
      <figcaption id={`${id}-caption`} class="sr-only">{props.title}</figcaption>
      <ul class="legend" aria-label="Legend">
        {series.map((s, k) => (
          <li>
            <svg viewBox="0 0 12 12" aria-hidden="true">
              <rect class={`s${k}`} width="12" height="12" rx="3" />
            </svg>
            {s.name} <Money usd={s.values.reduce((a, b) => a + b, 0)} />
          </li>
        ))}
      </ul>
      <details class="data-table">
        <summary>Show as a table</summary>
        <TableWrap label={`${props.title} as a table`}>
          <table>
            <thead>
              <tr>
                <th scope="col">Day (UTC)</th>
                {series.map((s) => <th scope="col" class="num">{s.name}</th>)}
                <th scope="col" class="num">Total</th>
              </tr>
            </thead>
            <tbody>
              {days.map((day, i) =>
                totals[i] > 0 && (
                  <tr>
                    <th scope="row">{day}</th>
                    {series.map((s) => (
                      <td class="num">
                        <Money usd={s.values[i]} />
                      </td>
                    ))}
                    <td class="num">
                      <Money usd={totals[i]} />
                    </td>
                  </tr>
                )
              )}
            </tbody>
          </table>
        </TableWrap>
      </details>
    </figure>
  );
}
