/**
 * @module
 * zod schemas of the discovery routes in LiteLLM's and OpenAI's shapes: `GET /model/info` (`{data: [{model_name,
 * litellm_params, model_info}]}`) and `GET /v1/models` / `GET /models` (`{object: "list", data: [{id, object,
 * created, owned_by}]}`).
 */
import { z } from "zod";
import { SOURCE_KINDS } from "../aws/mod.ts";

export const ModelInfoQuery = z.strictObject({
  litellm_model_id: z.string().min(1).max(512).optional().meta({ description: "Only this deployment (its id)." }),
}).meta({ id: "ModelInfoQuery" });
export type ModelInfoQuery = z.infer<typeof ModelInfoQuery>;

/** How a deployment's calls are authenticated: the kind only, never a value. */
export const CredentialSourceKind = z.enum([...SOURCE_KINDS, "default-chain", "api_key", "mock", "unavailable"]).meta({
  id: "CredentialSourceKind",
  description:
    "SigV4 credentials' source (`static` keys, `env`, `profile`, `assume-role`, `web-identity`, `container`, " +
    "`instance-metadata`; `default-chain` until it has resolved), a Bedrock `api_key`, a `mock`, or `unavailable`.",
});

/** A deployment's parameters as `/model/info` shows them: everything that is not a credential. */
export const PublicParams = z.object({
  model: z.string().meta({ description: "`bedrock/` and the model id, inference profile or ARN called." }),
  custom_llm_provider: z.literal("bedrock"),
  aws_region_name: z.string(),
  api_base: z.string().nullable().meta({ description: "The endpoint, without any user info or query." }),
  rpm: z.number().nullable(),
  tpm: z.number().nullable(),
  weight: z.number().nullable(),
  timeout: z.number().nullable().meta({ description: "Seconds." }),
  stream_timeout: z.number().nullable().meta({ description: "Seconds." }),
}).meta({
  id: "ModelPublicParams",
  description: "The deployment's `litellm_params` without any credential (keys, tokens, API keys, role, profile " +
    "and session parameters are never shown).",
});

export const DeploymentModelInfo = z.looseObject({
  id: z.string().meta({ description: "The deployment's id (`model_info.id`)." }),
  db_model: z.literal(false),
  litellm_provider: z.literal("bedrock"),
  mode: z.literal("chat"),
  base_model: z.string().nullable(),
  credential_source: CredentialSourceKind,
  priced: z.boolean().meta({ description: "Standard input and output prices are known." }),
  price_origins: z.record(z.string(), z.enum(["deployment", "model_prices_file", "built_in"])).meta({
    description: "Where each price came from: the deployment's own fields, `model_prices_file`, or the built-in table.",
  }),
  price_table_key: z.string().nullable().meta({ description: "The price table entry found for it." }),
}).catchall(z.unknown()).meta({
  id: "DeploymentModelInfo",
  description: "The deployment's prices in LiteLLM's field names (`input_cost_per_token`, …, `max_output_tokens`) " +
    "besides the fields listed.",
});

export const ModelInfoEntry = z.object({
  model_name: z.string(),
  litellm_params: PublicParams,
  model_info: DeploymentModelInfo,
}).meta({ id: "ModelInfoEntry" });
export type ModelInfoEntry = z.infer<typeof ModelInfoEntry>;

export const ModelInfoResponse = z.object({ data: z.array(ModelInfoEntry) }).meta({ id: "ModelInfoResponse" });

export const ModelsQuery = z.strictObject({}).meta({ id: "ModelsQuery" });

export const OpenAiModel = z.object({
  id: z.string().meta({ description: "A model name the caller may call (an alias of its key included)." }),
  object: z.literal("model"),
  created: z.number().int(),
  owned_by: z.string(),
}).meta({ id: "OpenAiModel" });
export type OpenAiModel = z.infer<typeof OpenAiModel>;

export const ModelList = z.object({ object: z.literal("list"), data: z.array(OpenAiModel) }).meta({ id: "ModelList" });
