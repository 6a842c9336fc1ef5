/**
 * @module
 * The models: each model group (`model_name`) with its deployments, their Bedrock model and region, health and
 * cooldown, rate caps, and prices per million tokens with where each came from (the deployment's config, the
 * `model_prices_file`, or the built-in table).
 */
import { PageHead } from "../components/layout.tsx";
import { Badge, Count, TableWrap, Time } from "../components/widgets.tsx";
import { formatMs, formatPerMillion } from "../format.ts";
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
  const from = new Set(COLUMNS.map(([f]) => prices.fields[f]?.from).filter((o) => o !== undefined));
  return (
    <>
      {[...from].map((o) => <Badge tone={o === "deployment" ? "info" : ""}>{ORIGIN[o]}</Badge>)}
      {prices.table && <div class="muted mono">{prices.table.key}</div>}
    </>
  );
}

function DeploymentRow(props: { prices: DeploymentPrices; health?: EndpointHealth }) {
  const { prices: p, health: h } = props;
  return (
    <tr id={deploymentAnchor(p.deploymentId)}>
      <td>
        <span class="mono">{p.deploymentId}</span>
        <div class="muted mono">{p.bedrockModelId}</div>
        {p.baseModel && (
          <div class="muted">
            priced as <span class="mono">{p.baseModel}</span>
          </div>
        )}
      </td>
      <td>{h?.region ?? "—"}</td>
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
            last error {h.last_error.type} <Time at={h.last_error.at} />
          </div>
        )}
      </td>
      <td class="num opt">
        <Count n={h?.requests_this_minute} /> req · <Count n={h?.tokens_this_minute} /> tok
        <div class="muted">caps {h?.rpm ?? "—"} rpm · {h?.tpm ?? "—"} tpm</div>
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
        {[...groups].map(([name, deployments]) => (
          <section>
            <h2>
              {name}{" "}
              <span class="muted">
                · {deployments.length} {deployments.length === 1 ? "deployment" : "deployments"}
              </span>
            </h2>
            <TableWrap label={`Deployments of ${name}`}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Deployment</th>
                    <th scope="col">Region</th>
                    <th scope="col">Health</th>
                    <th scope="col" class="num opt">This minute</th>
                    <th scope="col" class="num opt">Latency</th>
                    {COLUMNS.map(([, label]) => <th scope="col" class="num">{label}</th>)}
                    <th scope="col">Prices from</th>
                  </tr>
                </thead>
                <tbody>
                  {deployments.map((p) => <DeploymentRow prices={p} health={health.get(p.deploymentId)} />)}
                </tbody>
              </table>
            </TableWrap>
          </section>
        ))}
      </>
    ),
  };
}
