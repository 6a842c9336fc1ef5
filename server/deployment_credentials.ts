/**
 * @module
 * The AWS credential sources (`server/aws`) of one gateway's deployments and pass-through account: registered at
 * construction, resolved at start-up (`ready`), and asked by the router (`unavailable`) and `/health` (`status`).
 *
 * Deployment credentials are resolved at start-up; the pass-through account's too when `bedrock_passthrough` is
 * configured, else on its first call (so a gateway that never uses those routes never probes for credentials).
 */
import {
  createCredentialSources,
  type CredentialSources,
  type CredentialSourcesOptions,
  type CredentialStatus,
} from "./aws/mod.ts";
import type { Deployment, GatewayConfig } from "./config/types.ts";
import type { Logger } from "./core/log.ts";

export interface DeploymentCredentials {
  sources: CredentialSources;
  /** Why a deployment's calls cannot be signed now (its source failed or its credentials expired); else undefined. */
  unavailable(d: Deployment): string | undefined;
  /** What `/health` may show of a deployment's credentials: their kind and state, never a value. */
  status(d: Deployment): CredentialStatus | undefined;
  /** Resolves once every start-up source has been tried; logs each deployment left without credentials. */
  ready(): Promise<void>;
}

export function createDeploymentCredentials(
  config: GatewayConfig,
  log: Logger,
  opts: CredentialSourcesOptions,
): DeploymentCredentials {
  const sources = createCredentialSources({ log, refreshAheadMs: config.awsRefreshAheadMs, ...opts });
  for (const d of config.deployments) {
    if (d.auth.kind === "sigv4") sources.source(d.auth.credentials, { atStart: true });
  }
  const pt = config.passthrough;
  for (const auth of [pt.runtimeAuth, pt.agentRuntimeAuth]) {
    if (auth.kind === "sigv4") sources.source(auth.credentials, { atStart: pt.configured });
  }
  const unavailable = (d: Deployment) => {
    if (d.auth.kind !== "sigv4") return undefined;
    const source = sources.source(d.auth.credentials);
    const reason = source.unavailable();
    return reason === undefined ? undefined : `no AWS credentials from ${source.describe()}: ${reason}`;
  };

  let started: Promise<void> | undefined;
  return {
    sources,
    unavailable,
    status: (d) => (d.auth.kind === "sigv4" ? sources.source(d.auth.credentials).status() : undefined),
    ready: () =>
      started ??= sources.start().then(() => {
        for (const d of config.deployments) {
          const reason = unavailable(d);
          if (reason) log.warn(`deployment ${d.id} (${d.modelName}): unavailable: ${reason}`);
        }
      }),
  };
}
