/**
 * @module
 * Resolving `general_settings.bedrock_passthrough` — the account the guardrail and agent-runtime routes are signed
 * with — into a `PassthroughAccount`. Fields left out fall back to the environment like a deployment's do
 * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION_NAME`/`AWS_REGION`/
 * `AWS_DEFAULT_REGION`, `AWS_BEARER_TOKEN_BEDROCK`, `AWS_BEDROCK_RUNTIME_ENDPOINT`,
 * `AWS_BEDROCK_AGENT_RUNTIME_ENDPOINT`).
 *
 * A block that cannot work as written (no region anywhere, only half of a key pair) stops start-up; an
 * `os.environ/NAME` reference that is unset only makes the routes unavailable (503 naming the variable), with a
 * start-up warning, as for deployments. Without a block and without credentials in the environment the routes are
 * simply unavailable.
 */
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

  // Explicit fields win; the environment fills in only what the block leaves out.
  const explicitKeys = b.aws_access_key_id !== undefined;
  const keyId = explicitKeys ? field(b.aws_access_key_id) : envValue("AWS_ACCESS_KEY_ID");
  const secret = explicitKeys ? field(b.aws_secret_access_key) : envValue("AWS_SECRET_ACCESS_KEY");
  // An unset session-token variable is simply left out, as for deployments.
  const session = b.aws_session_token !== undefined
    ? field(b.aws_session_token, false)
    : explicitKeys
    ? undefined
    : envValue("AWS_SESSION_TOKEN");
  const bearerField = b.api_key ?? b.aws_bearer_token;
  const bearer = bearerField !== undefined ? field(bearerField) : envValue("AWS_BEARER_TOKEN_BEDROCK");

  let sigv4: DeploymentAuth | undefined;
  if (keyId && secret) {
    sigv4 = { kind: "sigv4", credentials: { accessKeyId: keyId, secretAccessKey: secret, sessionToken: session } };
  }
  const unset = missing.length
    ? `environment variable${missing.length > 1 ? "s" : ""} ${missing.join(", ")} ${
      missing.length > 1 ? "are" : "is"
    } not set`
    : undefined;
  const noCredentials = `no AWS credentials for the pass-through routes: set ${PATH} ` +
    "(aws_access_key_id/aws_secret_access_key) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY";
  const unavailable = (reason: string): DeploymentAuth => ({ kind: "unavailable", reason });

  let runtimeAuth: DeploymentAuth;
  let agentRuntimeAuth: DeploymentAuth;
  if (unset) {
    runtimeAuth = agentRuntimeAuth = unavailable(`${PATH}: ${unset}`);
  } else {
    runtimeAuth = bearer ? { kind: "bearer", token: bearer } : sigv4 ?? unavailable(noCredentials);
    agentRuntimeAuth = sigv4 ??
      unavailable(
        bearer
          ? `bedrock-agent-runtime does not accept Bedrock API keys: give ${PATH} aws_access_key_id/aws_secret_access_key`
          : noCredentials,
      );
  }
  if (block) {
    for (const [what, auth] of [["ApplyGuardrail", runtimeAuth], ["agent runtime", agentRuntimeAuth]] as const) {
      if (auth.kind === "unavailable") warnings.push(`${PATH} (${what}): unavailable: ${auth.reason}`);
    }
  }
  return { region: r, runtimeEndpoint, agentRuntimeEndpoint, runtimeAuth, agentRuntimeAuth };
}
