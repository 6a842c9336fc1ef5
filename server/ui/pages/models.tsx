/**
 * @module
 * The models: each model group (`model_name`) with its deployments, their Bedrock model and region, health and
 * cooldown, rate caps, and prices per million tokens with where each came from (the deployment's config, the
 * `model_prices_file`, or the built-in table).
 */
import { PageHead } from "../components/layout.tsx";
import { Badge, TableWrap, Time } from "../components/widgets.tsx";
import { formatCount, formatMs, formatPerMillion } from "../format.ts";
import { deploymentAnchor, type Page, type SignedIn } from "../page.ts";
import type { DeploymentPrices, EndpointHealth, PriceOrigin } from "../ports.ts";
import { HealthBadge } from "./overview.tsx";

/** The standard-tier prices shown, by LiteLLM field name. */
const COLUMNS = [
  ["input_cost_per_token", "Input"],
  ["output_cost_per_token", "Output"],
  ["cache_read_input_token_cost", "Cache read"],
  ["cache_creation_input_token_cost", "Cache write"],
] as const;

const ORIGIN: Record<PriceOrigin, string> = {
  deployment: "config",
  model_prices_file: "price file",
  built_in: "built-in table",
};

function Origins(props: { prices: DeploymentPrices }) {
  const { prices } = props;
  if (!prices.priced) return <Badge tone="bad">no price</Badge>;
  const from = [...new Set(COLUMNS.map(([f]) => prices.fields[f]?.from).filter((o) => o !== undefined))];
  const table = prices.table && from.some((o) => o !== "deployment") ? prices.table.key : undefined;
  return (
    <>
      {from.map((o) => <Badge tone={o === "deployment" ? "info" : ""}>{ORIGIN[o]}</Badge>)}
      {table && table !== prices.bedrockModelId && <div class="muted mono">as {table}</div>}
    </>
  );
}

function DeploymentRow(props: { prices: DeploymentPrices; health?: EndpointHealth }) {
  const { prices: p, health: h } = props;
  const caps = [h?.rpm ? `${formatCount(h.rpm)} rpm` : "", h?.tpm ? `${formatCount(h.tpm)} tpm` : ""].filter(Boolean);
  return (
    <tr id={deploymentAnchor(p.deploymentId)}>
      <td>
        <span class="mono nowrap">{p.deploymentId}</span>
        <div class="muted mono break">{p.bedrockModelId}</div>
        {p.baseModel && (
          <div class="muted">
            priced as <span class="mono">{p.baseModel}</span>
          </div>
        )}
        {caps.length > 0 && <div class="muted">cap {caps.join(" · ")}</div>}
      </td>
      <td class="nowrap">{h?.region ?? "—"}</td>
      <td>
        {h ? <HealthBadge status={h.status} /> : "—"}
        {h?.cooldown_until && (
          <div class="muted">
            until <Time at={h.cooldown_until} />
          </div>
        )}
        {h?.unavailable_reason && <div class="muted">{h.unavailable_reason}</div>}
        {h?.last_error && (
          <div class="muted">
            last error: {h.last_error.type}, <Time at={h.last_error.at} />
          </div>
        )}
      </td>
      <td class="num opt">{formatMs(h?.latency_ms)}</td>
      {COLUMNS.map(([field]) => {
        const f = p.fields[field];
        return <td class="num">{f ? formatPerMillion(f.value) : <span class="muted">—</span>}</td>;
      })}
      <td>
        <Origins prices={p} />
      </td>
    </tr>
  );
}

export async function modelsPage(s: SignedIn): Promise<Page> {
  const prices = s.deps.models.prices();
  const report = await s.deps.models.health();
  const health = new Map([...report.healthy_endpoints, ...report.unhealthy_endpoints].map((e) => [e.model_id, e]));
  const groups = new Map<string, DeploymentPrices[]>();
  for (const p of prices) {
    const list = groups.get(p.modelName);
    if (list) list.push(p);
    else groups.set(p.modelName, [p]);
  }
  return {
    title: "Models",
    body: (
      <>
        <PageHead
          title="Models"
          sub={`${groups.size} model ${groups.size === 1 ? "name" : "names"}, ${prices.length} ${
            prices.length === 1 ? "deployment" : "deployments"
          }. Prices are USD per million tokens (standard tier).`}
        />
        <TableWrap label="Deployments by model name">
          <table>
            <thead>
              <tr>
                <th scope="col">Deployment</th>
                <th scope="col">Region</th>
                <th scope="col">Health</th>
                <th scope="col" class="num opt">Latency</th>
                {COLUMNS.map(([, label]) => <th scope="col" class="num">{label}</th>)}
                <th scope="col">Prices from</th>
              </tr>
            </thead>
            {[...groups].map(([name, deployments]) => (
              <tbody>
                <tr class="group">
                  <th scope="rowgroup" colspan={5 + COLUMNS.length}>
                    {name}{" "}
                    <span class="muted">
                      · {deployments.length} {deployments.length === 1 ? "deployment" : "deployments"}
                    </span>
                  </th>
                </tr>
                {deployments.map((p) => <DeploymentRow prices={p} health={health.get(p.deploymentId)} />)}
              </tbody>
            ))}
          </table>
        </TableWrap>
      </>
    ),
  };
}
