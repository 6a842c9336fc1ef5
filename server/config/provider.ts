/**
 * @module
 * Which `model_list` entries are Bedrock's. A LiteLLM config may list every provider it routes to; this gateway
 * serves only Bedrock, so another provider's entry is skipped at start-up, before any of its fields (its `api_key`
 * above all) is resolved, and calls to its `model_name` are told why it is not served.
 *
 * An entry is Bedrock's when `custom_llm_provider` is `bedrock`, or, without one, when `model` starts with `bedrock/`
 * (LiteLLM's `bedrock/converse/…` and `bedrock/invoke/…` included), is an ARN, or is a bare Bedrock model id
 * (`anthropic.claude…`, `us.amazon.nova…`: `vendor.model` with an optional geography prefix). Any other
 * `provider/model` is that provider's; a bare name that is not a Bedrock id (`gpt-4o`) is LiteLLM's guess to make,
 * not ours, so it is skipped too, with a hint to write `bedrock/` if it is one.
 *
 * @example
 * ```ts
 * entryProvider({ model: "openai/gpt-4o" }); // { bedrock: false, provider: "openai", … }
 * entryProvider({ model: "bedrock/converse/us.anthropic.claude-sonnet-4-20250514-v1:0" }); // { bedrock: true }
 * ```
 */

/** What an entry's provider is, and for a skipped entry, the sentence that says why. */
export type ProviderVerdict = { bedrock: true } | { bedrock: false; provider: string; reason: string };

/** `vendor.model` with an optional geography prefix (`us.`, `eu.`, `apac.`, `us-gov.`, `global.` …). */
const BARE_BEDROCK_ID = /^(?:[a-z]{2,6}(?:-gov)?\.)?[a-z][a-z0-9]*\.[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/**
 * The provider of one raw `litellm_params` block (as written in the YAML). `model` is passed resolved when it was an
 * `os.environ/` reference; anything that is not a string reads as Bedrock's, for the schema to judge.
 */
export function entryProvider(params: { model?: unknown; custom_llm_provider?: unknown }): ProviderVerdict {
  const declared = params.custom_llm_provider;
  const model = typeof params.model === "string" ? params.model : undefined;
  if (typeof declared === "string") {
    return declared === "bedrock"
      ? { bedrock: true }
      : { bedrock: false, provider: declared, reason: `custom_llm_provider is "${declared}"` };
  }
  if (model === undefined || model.startsWith("bedrock/") || model.startsWith("arn:")) return { bedrock: true };
  const slash = model.indexOf("/");
  if (slash > 0) {
    const provider = model.slice(0, slash);
    return { bedrock: false, provider, reason: `model "${model}" is a ${provider} model` };
  }
  if (BARE_BEDROCK_ID.test(model)) return { bedrock: true };
  return {
    bedrock: false,
    provider: "unknown",
    reason:
      `model "${model}" has no provider prefix and is not a Bedrock model id (write bedrock/${model} if it is one)`,
  };
}
