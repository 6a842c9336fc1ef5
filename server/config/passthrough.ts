/**
 * @module
 * Resolving `general_settings.bedrock_passthrough` — the account the guardrail and agent-runtime routes are signed
 * with — into a `PassthroughAccount`. Fields left out fall back to the environment like a deployment's do
 * (`AWS_REGION_NAME`/`AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_BEARER_TOKEN_BEDROCK`, `AWS_BEDROCK_RUNTIME_ENDPOINT`,
 * `AWS_BEDROCK_AGENT_RUNTIME_ENDPOINT`); without keys, profile or role, calls are signed with the AWS default
 * credential chain (environment keys, profiles, web identity, the container endpoint, instance metadata).
 *
 * A block that cannot work as written (no region anywhere, only half of a key pair) stops start-up; an
 * `os.environ/NAME` reference that is unset only makes the routes unavailable (503 naming the variable), with a
 * start-up warning, as for deployments. Without a block, the default chain is resolved on the first call.
 */
import { awsCredentials } from "./aws_auth.ts";
import type { BedrockPassthrough } from "./schema.ts";
import type { DeploymentAuth, PassthroughAccount } from "./types.ts";

const PATH = "general_settings.bedrock_passthrough";
const ENV_PREFIX = "os.environ/";

type EnvLookup = (name: string) => string | undefined;

/** Resolves the block (or its absence); pushes fatal problems and warnings with their YAML paths. */
export function resolvePassthrough(
  block: BedrockPassthrough | undefined,
  env: EnvLookup,
  problems: string[],
  warnings: string[],
): PassthroughAccount {
  const b = block ?? {};
  const missing: string[] = [];
  const envValue = (name: string) => env(name) || undefined;
  /** A field's value: literal, or its `os.environ/` variable (recorded as missing when unset). */
  const field = (v: string | undefined, required = true): string | undefined => {
    if (v === undefined || !v.startsWith(ENV_PREFIX)) return v;
    const name = v.slice(ENV_PREFIX.length);
    const resolved = envValue(name);
    if (resolved === undefined && required) missing.push(name);
    return resolved;
  };

  const region = field(b.aws_region_name) ?? envValue("AWS_REGION_NAME") ?? envValue("AWS_REGION") ??
    envValue("AWS_DEFAULT_REGION");
  if (block && !region && b.aws_region_name === undefined) {
    problems.push(`${PATH}.aws_region_name: required (or set AWS_REGION)`);
  }
  if ((b.aws_access_key_id === undefined) !== (b.aws_secret_access_key === undefined)) {
    const given = b.aws_access_key_id === undefined ? "aws_secret_access_key" : "aws_access_key_id";
    problems.push(`${PATH}.${given}: give aws_access_key_id and aws_secret_access_key together`);
  }
  const r = region ?? "us-east-1";
  const trim = (url: string) => url.replace(/\/+$/, "");
  const runtimeEndpoint = trim(
    field(b.aws_bedrock_runtime_endpoint) ?? envValue("AWS_BEDROCK_RUNTIME_ENDPOINT") ??
      `https://bedrock-runtime.${r}.amazonaws.com`,
  );
  const agentRuntimeEndpoint = trim(
    field(b.aws_bedrock_agent_runtime_endpoint) ?? envValue("AWS_BEDROCK_AGENT_RUNTIME_ENDPOINT") ??
      `https://bedrock-agent-runtime.${r}.amazonaws.com`,
  );

  const bearerField = b.api_key ?? b.aws_bearer_token;
  const bearer = bearerField !== undefined ? field(bearerField) : envValue("AWS_BEARER_TOKEN_BEDROCK");
  const sigv4Fields = [b.aws_access_key_id, b.aws_secret_access_key, b.aws_profile_name, b.aws_role_name]
    .some((v) => v !== undefined);
  const sigv4 = awsCredentials(b, { value: field, env, region: r, path: PATH, problems });
  const unset = missing.length
    ? `environment variable${missing.length > 1 ? "s" : ""} ${missing.join(", ")} ${
      missing.length > 1 ? "are" : "is"
    } not set`
    : undefined;
  const unavailable = (reason: string): DeploymentAuth => ({ kind: "unavailable", reason });
  const signed: DeploymentAuth = "spec" in sigv4
    ? { kind: "sigv4", credentials: sigv4.spec }
    : unavailable(`${PATH}: ${sigv4.reason}`);

  let runtimeAuth: DeploymentAuth;
  let agentRuntimeAuth: DeploymentAuth;
  if (unset) {
    runtimeAuth = agentRuntimeAuth = unavailable(`${PATH}: ${unset}`);
  } else {
    runtimeAuth = bearer ? { kind: "bearer", token: bearer } : signed;
    // A block that chose a Bedrock API key and named no AWS credentials: the agent runtime cannot use the key.
    agentRuntimeAuth = bearerField !== undefined && !sigv4Fields
      ? unavailable(
        `bedrock-agent-runtime does not accept Bedrock API keys: give ${PATH} aws_access_key_id/aws_secret_access_key, ` +
          "aws_profile_name or aws_role_name",
      )
      : signed;
  }
  if (block) {
    for (const [what, auth] of [["ApplyGuardrail", runtimeAuth], ["agent runtime", agentRuntimeAuth]] as const) {
      if (auth.kind === "unavailable") warnings.push(`${PATH} (${what}): unavailable: ${auth.reason}`);
    }
  }
  return { region: r, runtimeEndpoint, agentRuntimeEndpoint, runtimeAuth, agentRuntimeAuth, configured: !!block };
}
