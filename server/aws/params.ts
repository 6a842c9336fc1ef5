/**
 * @module
 * LiteLLM's credential parameters (`aws_access_key_id`, `aws_profile_name`, `aws_role_name`, `aws_session_name`,
 * `aws_external_id`, `aws_web_identity_token`, `aws_sts_endpoint`) → the `CredentialSpec` of one deployment.
 *
 * The precedence is LiteLLM's (`BaseAWSLLM.get_credentials`): a web identity token with a role, then a role (assumed
 * from whatever base credentials the deployment has: its keys, its profile, else the default chain), then a profile,
 * then keys, then the AWS default chain. Like LiteLLM, an unset parameter falls back to its environment variable
 * (`AWS_ROLE_NAME`, `AWS_SESSION_NAME`, `AWS_PROFILE_NAME`, `AWS_EXTERNAL_ID`, `AWS_STS_ENDPOINT`). Pure: the
 * environment is an injected lookup, captured into the spec.
 */
import type { CredentialSpec, EnvSnapshot, StsTarget } from "./spec.ts";

export type EnvLookup = (name: string) => string | undefined;

/** One deployment's credential fields, `os.environ/` references already resolved. */
export interface CredentialParams {
  /** Keys written in the config; both or neither. */
  keys?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  profileName?: string;
  /** `aws_role_name`: the ARN of the role to assume. */
  roleName?: string;
  sessionName?: string;
  externalId?: string;
  /** `aws_web_identity_token`: a file (re-read on every refresh) or the token itself (`os.environ/NAME`). */
  webIdentityToken?: { file: string } | { value: string };
  stsEndpoint?: string;
  /** The deployment's region: STS's when neither `aws_sts_endpoint` nor `AWS_REGION` names one. */
  region: string;
}

/** The variables the default chain reads (besides the key pair, which is resolved at once into an `env` spec). */
export const CHAIN_ENV_NAMES = [
  "AWS_PROFILE",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "HOME",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_ARN",
  "AWS_ROLE_SESSION_NAME",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  "AWS_EC2_METADATA_DISABLED",
  "AWS_EC2_METADATA_SERVICE_ENDPOINT",
  "AWS_ENDPOINT_URL_STS",
] as const;

/** `sts.eu-west-1.amazonaws.com`, `vpce-0abc.sts.eu-west-1.vpce.amazonaws.com` → `eu-west-1` (LiteLLM's rule). */
const STS_HOST_REGION = /(?:^|\.)sts(?:-fips)?\.([a-z0-9-]+)\.(?:amazonaws\.com(?:\.cn)?|vpce\.amazonaws\.com)$/;

/**
 * Where roles are assumed: `endpoint` (`aws_sts_endpoint`), else the SDKs' `AWS_ENDPOINT_URL_STS`, else the regional
 * endpoint. The region: from the endpoint's host, else `AWS_REGION` / `AWS_DEFAULT_REGION`, else the deployment's.
 */
export function stsTarget(given: string | undefined, env: EnvLookup, region: string): StsTarget {
  const endpoint = given ?? (env("AWS_ENDPOINT_URL_STS") || undefined);
  let fromHost: string | undefined;
  if (endpoint) {
    try {
      fromHost = STS_HOST_REGION.exec(new URL(endpoint).hostname)?.[1];
    } catch {
      fromHost = undefined;
    }
  }
  const chosen = fromHost ?? (env("AWS_REGION") || undefined) ?? (env("AWS_DEFAULT_REGION") || undefined) ?? region;
  return endpoint ? { region: chosen, endpoint } : { region: chosen };
}

/** The AWS default chain as this environment sets it up: its key pair at once, else the run-time links. */
export function defaultChainSpec(env: EnvLookup): CredentialSpec {
  const get = (name: string) => env(name) || undefined;
  const accessKeyId = get("AWS_ACCESS_KEY_ID");
  const secretAccessKey = get("AWS_SECRET_ACCESS_KEY");
  // The SDKs skip the key pair when AWS_PROFILE names a profile; so do we.
  if (accessKeyId && secretAccessKey && !get("AWS_PROFILE")) {
    const expiration = Date.parse(get("AWS_CREDENTIAL_EXPIRATION") ?? "");
    return {
      kind: "env",
      accessKeyId,
      secretAccessKey,
      ...(get("AWS_SESSION_TOKEN") ? { sessionToken: get("AWS_SESSION_TOKEN") } : {}),
      ...(Number.isNaN(expiration) ? {} : { expiration }),
    };
  }
  const snapshot: Record<string, string> = {};
  for (const name of CHAIN_ENV_NAMES) {
    const v = get(name);
    if (v !== undefined) snapshot[name] = v;
  }
  return { kind: "chain", env: snapshot as EnvSnapshot };
}

/** The shared files a profile is read from: `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`, else `~/.aws/…`. */
function profileSpec(profile: string, env: EnvLookup): CredentialSpec {
  const home = env("HOME");
  const credentialsFile = env("AWS_SHARED_CREDENTIALS_FILE") || (home ? `${home}/.aws/credentials` : undefined);
  const configFile = env("AWS_CONFIG_FILE") || (home ? `${home}/.aws/config` : undefined);
  return {
    kind: "profile",
    profile,
    ...(credentialsFile ? { credentialsFile } : {}),
    ...(configFile ? { configFile } : {}),
  };
}

/** The spec of one deployment (or of `bedrock_passthrough`). */
export function credentialSpec(p: CredentialParams, env: EnvLookup): CredentialSpec {
  const fallback = (v: string | undefined, name: string) => v ?? (env(name) || undefined);
  const role = fallback(p.roleName, "AWS_ROLE_NAME");
  const sessionName = fallback(p.sessionName, "AWS_SESSION_NAME");
  // Keys written in the entry win over a profile named only in the environment.
  const profile = p.profileName ?? (p.keys ? undefined : env("AWS_PROFILE_NAME") || undefined);
  const externalId = fallback(p.externalId, "AWS_EXTERNAL_ID");
  const sts = stsTarget(fallback(p.stsEndpoint, "AWS_STS_ENDPOINT"), env, p.region);
  const optional = <K extends string>(key: K, v: string | undefined) => (v === undefined ? {} : { [key]: v });

  if (role && p.webIdentityToken) {
    return {
      kind: "web-identity",
      roleArn: role,
      ...optional("sessionName", sessionName),
      token: p.webIdentityToken,
      sts,
    };
  }
  const base = profile
    ? profileSpec(profile, env)
    : p.keys
    ? { kind: "static" as const, ...p.keys }
    : defaultChainSpec(env);
  if (!role) return base;
  // Already running as the role (EKS IRSA for this very role): one AssumeRoleWithWebIdentity, not a second hop that
  // would need the role to trust itself. LiteLLM does the same.
  const tokenFile = env("AWS_WEB_IDENTITY_TOKEN_FILE");
  if (base.kind === "chain" && tokenFile && env("AWS_ROLE_ARN") === role) {
    const name = sessionName ?? (env("AWS_ROLE_SESSION_NAME") || undefined);
    return { kind: "web-identity", roleArn: role, ...optional("sessionName", name), token: { file: tokenFile }, sts };
  }
  return {
    kind: "assume-role",
    roleArn: role,
    ...optional("sessionName", sessionName),
    ...optional("externalId", externalId),
    base,
    sts,
  };
}
