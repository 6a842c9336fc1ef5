/**
 * @module
 * A config entry's AWS credential fields (a deployment's `litellm_params`, or `bedrock_passthrough`) → the
 * `CredentialSpec` its calls are signed with. This file only resolves `os.environ/` references and checks what can
 * be checked at load time; what the fields mean together is `server/aws/params.ts`.
 */
import { type CredentialSpec, credentialSpec, type EnvLookup } from "../aws/mod.ts";
import type { AwsAccount } from "./schema.ts";

export interface AwsAuthContext {
  /** Resolves a possibly `os.environ/` value; an unset `required` reference is recorded by the caller. */
  value: (v: string | undefined, required: boolean) => string | undefined;
  env: EnvLookup;
  /** The entry's region: STS's when nothing else names one. */
  region: string;
  /** The entry's YAML path, for problems. */
  path: string;
  /** Fatal problems (they stop start-up), with their YAML paths. */
  problems: string[];
}

const ENV_PREFIX = "os.environ/";

/**
 * The spec the entry's calls are signed with, or why it has none. Keys written in the entry (either of the pair) are
 * used as given, the other one from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` when left out; without keys, the
 * profile, role or web identity fields, else the AWS default credential chain.
 */
export function awsCredentials(f: AwsAccount, ctx: AwsAuthContext): { spec: CredentialSpec } | { reason: string } {
  const { value, env, path, problems } = ctx;
  const fromEnv = (name: string) => env(name) || undefined;

  let keys: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  if (f.aws_access_key_id !== undefined || f.aws_secret_access_key !== undefined) {
    const accessKeyId = f.aws_access_key_id !== undefined
      ? value(f.aws_access_key_id, true)
      : fromEnv("AWS_ACCESS_KEY_ID");
    const secretAccessKey = f.aws_secret_access_key !== undefined
      ? value(f.aws_secret_access_key, true)
      : fromEnv("AWS_SECRET_ACCESS_KEY");
    // Only the entry's own session token goes with the entry's keys; an unset one is simply left out.
    const sessionToken = value(f.aws_session_token, false);
    if (!accessKeyId || !secretAccessKey) {
      const unset = [accessKeyId ? "" : "AWS_ACCESS_KEY_ID", secretAccessKey ? "" : "AWS_SECRET_ACCESS_KEY"];
      return { reason: `no AWS credentials: ${unset.filter(Boolean).join(", ")} not set` };
    }
    keys = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  }

  const roleName = value(f.aws_role_name, true);
  if (f.aws_role_name !== undefined && !f.aws_role_name.startsWith(ENV_PREFIX) && !roleName?.startsWith("arn:")) {
    problems.push(`${path}.aws_role_name: must be a role ARN (arn:aws:iam::<account>:role/<name>)`);
  }
  const stsEndpoint = value(f.aws_sts_endpoint, true);
  if (stsEndpoint !== undefined && !URL.canParse(stsEndpoint)) {
    problems.push(`${path}.aws_sts_endpoint: Invalid URL`);
  }
  let webIdentityToken: { file: string } | { value: string } | undefined;
  const token = f.aws_web_identity_token;
  if (token !== undefined) {
    if (!roleName && !f.aws_role_name && !fromEnv("AWS_ROLE_NAME")) {
      problems.push(`${path}.aws_web_identity_token: needs aws_role_name (the role to assume with it)`);
    }
    if (!token.startsWith(ENV_PREFIX)) webIdentityToken = { file: token };
    else {
      const resolved = value(token, true);
      if (resolved) webIdentityToken = { value: resolved };
    }
  }

  const spec = credentialSpec({
    ...(keys ? { keys } : {}),
    profileName: value(f.aws_profile_name, true),
    roleName,
    sessionName: value(f.aws_session_name, true),
    externalId: value(f.aws_external_id, true),
    webIdentityToken,
    stsEndpoint,
    region: ctx.region,
  }, env);
  return { spec };
}
