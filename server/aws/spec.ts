/**
 * @module
 * What a credential source is, as plain data: the `CredentialSpec` a deployment's configuration resolves to, and the
 * credentials a source hands out. Specs are built once from the config (`params.ts`); two deployments that configure
 * the same thing get equal specs, hence one shared source (`specKey`).
 */

/** Credentials for one SigV4 signature, as every source hands them out. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** When temporary credentials stop working, ms since the epoch; absent for long-lived keys. */
  expiration?: number;
}

/** Where credentials came from: the only thing `/health`, logs and metrics ever say about them. */
export type SourceKind =
  | "static"
  | "env"
  | "profile"
  | "web-identity"
  | "container"
  | "instance-metadata"
  | "assume-role";

export const SOURCE_KINDS: readonly SourceKind[] = [
  "static",
  "env",
  "profile",
  "web-identity",
  "container",
  "instance-metadata",
  "assume-role",
];

/** The STS endpoint a role is assumed through. */
export interface StsTarget {
  region: string;
  /** A VPC endpoint (`aws_sts_endpoint`); the regional `sts.{region}.amazonaws.com` when absent. */
  endpoint?: string;
}

/**
 * The environment variables the AWS default chain reads, captured when the config is loaded. A source never reads
 * the process environment itself (tests give each gateway its own), except where an SDK provider offers no option:
 * see `providers.ts`.
 */
export type EnvSnapshot = Readonly<Record<string, string>>;

/** One configured way to obtain credentials. */
export type CredentialSpec =
  /** Keys written in the config (`aws_access_key_id` …). */
  | { kind: "static"; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  /** `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`: the default chain's first link. */
  | { kind: "env"; accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: number }
  /** The rest of the default chain, tried in the AWS SDKs' order at run time. */
  | { kind: "chain"; env: EnvSnapshot }
  /** A named profile of the shared config/credentials files (keys, SSO, `role_arn` + `source_profile`, …). */
  | { kind: "profile"; profile: string; credentialsFile?: string; configFile?: string }
  /** AssumeRoleWithWebIdentity with a token read from a file (re-read on every refresh) or given as a value. */
  | {
    kind: "web-identity";
    roleArn: string;
    sessionName?: string;
    token: { file: string } | { value: string };
    sts: StsTarget;
  }
  /** AssumeRole through STS, signed with the credentials of `base`. */
  | {
    kind: "assume-role";
    roleArn: string;
    sessionName?: string;
    externalId?: string;
    base: CredentialSpec;
    sts: StsTarget;
  };

/** Equal for specs that configure the same thing: the key one shared source is kept under. Held in memory only. */
export function specKey(spec: CredentialSpec): string {
  return JSON.stringify(spec);
}

/** A name for the source in logs and errors: its kind and non-secret identifiers (role ARN, profile), never a key. */
export function describeSpec(spec: CredentialSpec): string {
  switch (spec.kind) {
    case "static":
      return "static keys from the config";
    case "env":
      return "env (AWS_ACCESS_KEY_ID)";
    case "chain":
      return "the default credential chain";
    case "profile":
      return `profile "${spec.profile}"`;
    case "web-identity":
      return `web-identity ${spec.roleArn}`;
    case "assume-role":
      return `assume-role ${spec.roleArn}`;
  }
}

/** Every secret a spec holds, so that error text quoting one (it should not, but SDK messages vary) is redacted. */
export function specSecrets(spec: CredentialSpec): string[] {
  switch (spec.kind) {
    case "static":
    case "env":
      return [spec.secretAccessKey, spec.sessionToken ?? ""].filter(Boolean);
    case "chain":
      return ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        .map((name) => spec.env[name] ?? "").filter(Boolean);
    case "profile":
      return [];
    case "web-identity":
      return "value" in spec.token ? [spec.token.value] : [];
    case "assume-role":
      return specSecrets(spec.base);
  }
}
