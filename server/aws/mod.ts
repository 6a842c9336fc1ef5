/**
 * @module
 * AWS credentials the way AWS hosts provide them: static keys, the environment, shared profiles (SSO included), EKS
 * web identity, the ECS/EKS container endpoint, EC2 instance metadata, and roles assumed through STS — each as a
 * source that hands out plain `{accessKeyId, secretAccessKey, sessionToken, expiration}` synchronously and refreshes
 * itself in the background; and the SigV4 signer that signs requests with them (`sigv4.ts`). Depends on nothing else in
 * `server/`.
 *
 * @example
 * ```ts
 * import { createCredentialSources, credentialSpec } from "./mod.ts";
 *
 * const env = (name: string) => Deno.env.get(name);
 * const spec = credentialSpec({ roleName: "arn:aws:iam::123456789012:role/bedrock", region: "us-west-2" }, env);
 * const sources = createCredentialSources({ log: console });
 * const source = sources.source(spec, { atStart: true });
 * await sources.start();
 * const credentials = source.current(); // undefined when unavailable: source.unavailable() says why
 * ```
 */
export { type CredentialParams, credentialSpec, defaultChainSpec, type EnvLookup, stsTarget } from "./params.ts";
export {
  type CredentialClock,
  type CredentialLog,
  type CredentialSource,
  type CredentialState,
  type CredentialStatus,
  CredentialsUnavailableError,
} from "./source.ts";
export {
  createCredentialSources,
  type CredentialSources,
  type CredentialSourcesOptions,
  DEFAULT_REFRESH_AHEAD_MS,
  systemCredentialClock,
} from "./sources.ts";
export {
  type AwsCredentials,
  type CredentialSpec,
  describeSpec,
  SOURCE_KINDS,
  type SourceKind,
  type StsTarget,
} from "./spec.ts";
export { createSigV4Signer, type SignRequest, type SigV4Signer, type SigV4SignerOptions } from "./sigv4.ts";
