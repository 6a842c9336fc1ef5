/**
 * @module
 * How each `CredentialSpec` is resolved, through `@aws-sdk/credential-providers` (the AWS SDK's own implementations
 * of the container endpoint, IMDSv2, STS AssumeRole / AssumeRoleWithWebIdentity and the shared config files).
 *
 * Every provider is given its inputs explicitly from the spec (file paths, URIs, tokens, role ARNs, STS endpoint and
 * region), never the process environment, so that each gateway, and each test, has its own. One exception: the SDK's
 * IMDS provider reads its endpoint override (`AWS_EC2_METADATA_SERVICE_ENDPOINT`) and IMDSv1 switch only from the
 * process environment; on a real host that is the same environment the spec was captured from.
 *
 * A provider is built afresh for each resolution: no SDK-side memo (the IMDS provider's "static stability" replays
 * old credentials with a new expiry) can hide an expiry from `source.ts`, which owns caching and refresh. Each
 * resolution's STS HTTP handler is destroyed afterwards, so no keep-alive socket outlives it.
 */
import {
  fromHttp,
  fromIni,
  fromInstanceMetadata,
  fromTemporaryCredentials,
  fromTokenFile,
  fromWebToken,
} from "@aws-sdk/credential-providers";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { AwsCredentials, CredentialSpec, EnvSnapshot, SourceKind } from "./spec.ts";

/** Timeouts and retries of the network sources (the SDKs' defaults, bounded so start-up never hangs long). */
export interface ProviderOptions {
  /** Per-request timeout of the container endpoint and IMDS, ms (SDK default 1000). */
  metadataTimeoutMs: number;
  /** Retries of the container endpoint after the first try (SDK default 3, each after a `metadataTimeoutMs` pause). */
  containerRetries: number;
  /** STS connection and response timeout, ms. */
  stsTimeoutMs: number;
  /** STS attempts, the first included (SDK default 3). */
  stsMaxAttempts: number;
  /** Where the SDK's own warnings go (they never hold credential values). */
  warn(message: string): void;
  /** Wall clock, ms: default session names carry the time, as LiteLLM's do. */
  now(): number;
}

export const DEFAULT_PROVIDER_OPTIONS: Omit<ProviderOptions, "warn" | "now"> = {
  metadataTimeoutMs: 1_000,
  containerRetries: 1,
  stsTimeoutMs: 5_000,
  stsMaxAttempts: 3,
};

/** What one resolution produced, and which kind of source produced it (a chain tells only once resolved). */
export interface Resolved {
  credentials: AwsCredentials;
  kind: SourceKind;
}

/** Resolves a spec once; `refresh` re-reads files the SDK would otherwise serve from its cache. */
export type Resolver = (opts: { refresh: boolean }) => Promise<Resolved>;

/** Current credentials of another spec (an assume-role's base), from its own shared source. */
export type BaseCredentials = (spec: CredentialSpec) => Promise<AwsCredentials>;

interface SdkIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** Only the four fields: SDK identities also carry `$source` markers, account ids and scopes. */
function plain(identity: SdkIdentity): AwsCredentials {
  const out: AwsCredentials = { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey };
  if (identity.sessionToken) out.sessionToken = identity.sessionToken;
  if (identity.expiration) out.expiration = identity.expiration.getTime();
  return out;
}

/** The SDK's logger interface: debug and info dropped, warnings handed on as one line. */
function sdkLogger(o: ProviderOptions) {
  const drop = () => {};
  return {
    debug: drop,
    info: drop,
    warn: (...args: unknown[]) => o.warn(String(args[0]).split("\n")[0]),
    error: (...args: unknown[]) => o.warn(String(args[0]).split("\n")[0]),
  };
}

/**
 * Runs `fn` with an STS client config (endpoint, bounded timeouts and attempts; the region when given, else the SDK
 * picks it, e.g. a profile's `region`), then frees the handler's sockets.
 */
async function withSts<T>(
  sts: { region?: string; endpoint?: string },
  o: ProviderOptions,
  fn: (clientConfig: StsClientConfig) => Promise<T>,
): Promise<T> {
  const requestHandler = new NodeHttpHandler({ connectionTimeout: o.stsTimeoutMs, requestTimeout: o.stsTimeoutMs });
  try {
    return await fn({
      ...(sts.region ? { region: sts.region } : {}),
      ...(sts.endpoint ? { endpoint: sts.endpoint } : {}),
      requestHandler,
      maxAttempts: o.stsMaxAttempts,
      logger: sdkLogger(o),
    });
  } finally {
    requestHandler.destroy();
  }
}

interface StsClientConfig {
  region?: string;
  endpoint?: string;
  requestHandler: NodeHttpHandler;
  maxAttempts: number;
  logger: ReturnType<typeof sdkLogger>;
}

/** LiteLLM names a session after itself and the time when `aws_session_name` is absent; so do we. */
const sessionName = (name: string | undefined, o: ProviderOptions) =>
  name ?? `converse-gateway-${Math.floor(o.now() / 1000)}`;

function webIdentity(spec: Extract<CredentialSpec, { kind: "web-identity" }>, o: ProviderOptions): Resolver {
  return () =>
    withSts(spec.sts, o, async (clientConfig) => {
      const common = { roleArn: spec.roleArn, roleSessionName: sessionName(spec.sessionName, o), clientConfig };
      const identity = "file" in spec.token
        ? await fromTokenFile({ ...common, webIdentityTokenFile: spec.token.file })()
        : await fromWebToken({ ...common, webIdentityToken: spec.token.value })();
      return { credentials: plain(identity), kind: "web-identity" as const };
    });
}

function assumeRole(
  spec: Extract<CredentialSpec, { kind: "assume-role" }>,
  o: ProviderOptions,
  base: BaseCredentials,
): Resolver {
  return async () => {
    const master = await base(spec.base);
    return withSts(spec.sts, o, async (clientConfig) => {
      const identity = await fromTemporaryCredentials({
        params: {
          RoleArn: spec.roleArn,
          RoleSessionName: sessionName(spec.sessionName, o),
          ...(spec.externalId ? { ExternalId: spec.externalId } : {}),
        },
        masterCredentials: {
          accessKeyId: master.accessKeyId,
          secretAccessKey: master.secretAccessKey,
          ...(master.sessionToken ? { sessionToken: master.sessionToken } : {}),
        },
        clientConfig,
      })();
      return { credentials: plain(identity), kind: "assume-role" as const };
    });
  };
}

/** A profile of the shared files; a `role_arn` profile's STS region is the profile's own (the SDK decides). */
function profile(
  spec: { profile: string; credentialsFile?: string; configFile?: string },
  o: ProviderOptions,
): Resolver {
  return ({ refresh }) =>
    withSts({}, o, async (clientConfig) => {
      const identity = await fromIni({
        profile: spec.profile,
        ...(spec.credentialsFile ? { filepath: spec.credentialsFile } : {}),
        ...(spec.configFile ? { configFilepath: spec.configFile } : {}),
        // The SDK caches parsed files process-wide; a refresh reads them again (`aws sso login`, rotated keys).
        ignoreCache: refresh,
        clientConfig,
        logger: sdkLogger(o),
      })();
      return { credentials: plain(identity), kind: "profile" as const };
    });
}

/** One link of the default chain: a resolver, or why it does not apply here. */
type Link = { kind: SourceKind; resolve: Resolver } | { kind: SourceKind; skip: string };

/**
 * The links after the key pair, in the order of the SDKs' default chain (`fromNodeProviderChain`): shared
 * config/credentials files (`AWS_PROFILE`, else `default`; SSO and `credential_process` profiles included), web
 * identity (EKS IRSA), the container endpoint (ECS task roles, EKS Pod Identity) — which, when configured, is the last
 * link — then EC2 instance metadata (IMDSv2), unless `AWS_EC2_METADATA_DISABLED`.
 */
function chainLinks(env: EnvSnapshot, o: ProviderOptions): Link[] {
  const home = env.HOME;
  const stsRegion = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1";
  const profileName = env.AWS_PROFILE ?? "default";
  const links: Link[] = [{
    kind: "profile",
    resolve: profile({
      profile: profileName,
      credentialsFile: env.AWS_SHARED_CREDENTIALS_FILE ?? (home ? `${home}/.aws/credentials` : undefined),
      configFile: env.AWS_CONFIG_FILE ?? (home ? `${home}/.aws/config` : undefined),
    }, o),
  }];
  const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE;
  const roleArn = env.AWS_ROLE_ARN;
  links.push(
    tokenFile && roleArn
      ? {
        kind: "web-identity",
        resolve: webIdentity({
          kind: "web-identity",
          roleArn,
          sessionName: env.AWS_ROLE_SESSION_NAME,
          token: { file: tokenFile },
          sts: { region: stsRegion, ...(env.AWS_ENDPOINT_URL_STS ? { endpoint: env.AWS_ENDPOINT_URL_STS } : {}) },
        }, o),
      }
      : { kind: "web-identity", skip: "AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN not set" },
  );
  const relative = env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  const full = env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
  if (relative || full) {
    links.push({
      kind: "container",
      resolve: async () => {
        const identity = await fromHttp({
          ...(relative ? { awsContainerCredentialsRelativeUri: relative } : { awsContainerCredentialsFullUri: full }),
          ...(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
            ? { awsContainerAuthorizationTokenFile: env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE }
            : env.AWS_CONTAINER_AUTHORIZATION_TOKEN
            ? { awsContainerAuthorizationToken: env.AWS_CONTAINER_AUTHORIZATION_TOKEN }
            : {}),
          timeout: o.metadataTimeoutMs,
          maxRetries: o.containerRetries,
          logger: sdkLogger(o),
        })();
        return { credentials: plain(identity), kind: "container" };
      },
    });
    return links;
  }
  links.push({ kind: "container", skip: "AWS_CONTAINER_CREDENTIALS_*_URI not set" });
  const disabled = env.AWS_EC2_METADATA_DISABLED;
  links.push(
    disabled && disabled !== "false" ? { kind: "instance-metadata", skip: "disabled by AWS_EC2_METADATA_DISABLED" } : {
      kind: "instance-metadata",
      resolve: async () => {
        // No retries (the SDK's default): off EC2 the endpoint never answers, and start-up waits for this.
        const identity = await fromInstanceMetadata({
          timeout: o.metadataTimeoutMs,
          maxRetries: 0,
          logger: sdkLogger(o),
        })();
        return { credentials: plain(identity), kind: "instance-metadata" };
      },
    },
  );
  return links;
}

/**
 * The default chain: the first link that yields credentials is kept for every later refresh (the host does not
 * change what it is); until one does, each resolution walks the whole chain again.
 */
function chain(env: EnvSnapshot, o: ProviderOptions): Resolver {
  const links = chainLinks(env, o);
  let chosen: Resolver | undefined;
  return async (opts) => {
    if (chosen) return chosen(opts);
    const tried = [
      env.AWS_PROFILE ? "env: skipped, AWS_PROFILE is set" : "env: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY not set",
    ];
    for (const link of links) {
      if ("skip" in link) {
        tried.push(`${link.kind}: ${link.skip}`);
        continue;
      }
      try {
        const resolved = await link.resolve(opts);
        chosen = link.resolve;
        return resolved;
      } catch (e) {
        // As in the SDK's chain: a source that is not set up passes on; one that is set up but fails stops it.
        if ((e as { tryNextLink?: boolean }).tryNextLink !== true) throw new Error(`${link.kind}: ${errorText(e)}`);
        tried.push(`${link.kind}: ${errorText(e)}`);
      }
    }
    throw new Error(`none of its sources answered (${tried.join("; ")})`);
  };
}

/** An SDK error as one line: `AccessDenied: User … is not authorized …`, no stack, no response dump. */
export function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const name = e.name && !/^(Error|CredentialsProviderError|ProviderError)$/.test(e.name) ? `${e.name}: ` : "";
  return `${name}${e.message.split("\n")[0]}`.trim();
}

/** Keys from the config or the environment: known without any I/O. */
export function fixedResolved(spec: Extract<CredentialSpec, { kind: "static" | "env" }>): Resolved {
  const credentials: AwsCredentials = { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey };
  if (spec.sessionToken) credentials.sessionToken = spec.sessionToken;
  if (spec.kind === "env" && spec.expiration !== undefined) credentials.expiration = spec.expiration;
  return { credentials, kind: spec.kind };
}

/** The resolver of a spec; `base` supplies an assume-role's base credentials. */
export function resolverFor(spec: CredentialSpec, o: ProviderOptions, base: BaseCredentials): Resolver {
  switch (spec.kind) {
    case "static":
    case "env": {
      const resolved = fixedResolved(spec);
      return () => Promise.resolve(resolved);
    }
    case "chain":
      return chain(spec.env, o);
    case "profile":
      return profile(spec, o);
    case "web-identity":
      return webIdentity(spec, o);
    case "assume-role":
      return assumeRole(spec, o, base);
  }
}
