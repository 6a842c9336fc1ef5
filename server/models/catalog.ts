/**
 * @module
 * What the gateway serves, as discovery shows it: each deployment with its public parameters, prices (and where each
 * came from), limits and the kind of its credentials — never a key, token, API key or credential value — for
 * `/model/info`; and the model names a caller may call (its key's aliases included) for `/v1/models`.
 */
import type { CredentialSpec } from "../aws/mod.ts";
import type { Deployment, GatewayConfig } from "../config/types.ts";
import type { Principal } from "../keys/auth.ts";
import { modelGroupOf } from "../keys/model_access.ts";
import type { DeploymentPrices } from "../pricing/deployment_prices.ts";
import type { ModelInfoEntry, OpenAiModel } from "./schemas.ts";

/** LiteLLM's `created` for every model of `/v1/models`. */
const CREATED = 1677610602;

export interface CatalogDeps {
  config: Pick<GatewayConfig, "deployments" | "byModelName">;
  /** Each deployment's prices and their origins (`Pricing.describe()`). */
  prices: () => readonly DeploymentPrices[];
  /** The kind of a SigV4 deployment's credentials once resolved (`/health`'s `credential_source`). */
  credentialKind?: (d: Deployment) => string | undefined;
}

/** The configured kind of a credential spec, before its source has said which one answered. */
function specKind(spec: CredentialSpec): string {
  return spec.kind === "chain" ? "default-chain" : spec.kind;
}

/** An endpoint without user info, query or fragment. */
function publicBase(d: Deployment): string | null {
  if (d.auth.kind === "mock") return null;
  try {
    const u = new URL(d.endpoint);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return null;
  }
}

const seconds = (ms: number | undefined) => ms === undefined ? null : ms / 1000;

export function createCatalog(deps: CatalogDeps) {
  const { config } = deps;

  function credentialSource(d: Deployment): string {
    switch (d.auth.kind) {
      case "bearer":
        return "api_key";
      case "mock":
        return "mock";
      case "unavailable":
        return "unavailable";
      case "sigv4":
        return deps.credentialKind?.(d) ?? specKind(d.auth.credentials);
    }
  }

  function entry(d: Deployment, p: DeploymentPrices | undefined): ModelInfoEntry {
    const prices = Object.fromEntries(Object.entries(p?.fields ?? {}).map(([name, f]) => [name, f.value]));
    const origins = Object.fromEntries(Object.entries(p?.fields ?? {}).map(([name, f]) => [name, f.from]));
    return {
      model_name: d.modelName,
      litellm_params: {
        model: `bedrock/${d.bedrockModelId}`,
        custom_llm_provider: "bedrock",
        aws_region_name: d.region,
        api_base: publicBase(d),
        rpm: d.rpm ?? null,
        tpm: d.tpm ?? null,
        weight: d.weight ?? null,
        timeout: seconds(d.timeoutMs),
        stream_timeout: seconds(d.streamTimeoutMs),
      },
      model_info: {
        id: d.id,
        db_model: false,
        litellm_provider: "bedrock",
        mode: "chat",
        base_model: d.baseModel ?? null,
        ...prices,
        credential_source: credentialSource(d) as ModelInfoEntry["model_info"]["credential_source"],
        priced: p?.priced ?? false,
        price_origins: origins as ModelInfoEntry["model_info"]["price_origins"],
        price_table_key: p?.table?.key ?? null,
      },
    };
  }

  return {
    /** Deployments the principal may call (`deploymentId`: only that one), in config order. */
    info(principal: Principal, deploymentId?: string): ModelInfoEntry[] {
      const allowed = principal.allowedModels;
      const prices = new Map(deps.prices().map((p) => [p.deploymentId, p]));
      return config.deployments
        .filter((d) =>
          (!allowed || allowed.includes(d.modelName)) && (deploymentId === undefined || d.id === deploymentId)
        )
        .map((d) => entry(d, prices.get(d.id)));
    },

    /** The model names the principal may call: served groups it is allowed, then its key's aliases to them. */
    names(principal: Principal): OpenAiModel[] {
      const allowed = principal.allowedModels;
      const may = (group: string) => config.byModelName.has(group) && (!allowed || allowed.includes(group));
      const names = [...config.byModelName.keys()].filter(may);
      for (const alias of Object.keys(principal.aliases ?? {})) {
        if (!names.includes(alias) && may(modelGroupOf(principal.aliases, alias))) names.push(alias);
      }
      return names.map((id) => ({ id, object: "model", created: CREATED, owned_by: "bedrock" }));
    },
  };
}

export type Catalog = ReturnType<typeof createCatalog>;
