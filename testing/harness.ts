/**
 * @module
 * Builds a gateway in-process for tests: config from YAML text, env from a plain object, KV in memory (or a
 * given path), served on 127.0.0.1 with an OS-assigned port. Finished calls and log lines are captured.
 */
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { loadConfig } from "../server/config/load.ts";
import type { GatewayConfig } from "../server/config/types.ts";
import { createGateway, type Gateway, type GatewayDeps } from "../server/gateway.ts";
import { createLogger } from "../server/core/log.ts";
import type { CallRecord } from "../server/core/call_record.ts";

export interface GatewayUnderTest extends AsyncDisposable {
  /** http://127.0.0.1:PORT */
  url: string;
  config: GatewayConfig;
  gateway: Gateway;
  kv: Deno.Kv;
  /** Every finished call, in completion order. */
  calls: CallRecord[];
  /** Every log line written. */
  logs: string[];
  /** Resolves with the n-th finished call (1-based count), for streams that finish after the response. */
  waitForCalls(n: number): Promise<CallRecord[]>;
  close(): Promise<void>;
}

export interface StartOptions extends Partial<Omit<GatewayDeps, "config" | "kv">> {
  yaml: string;
  env?: Record<string, string>;
  kvPath?: string;
  /** Share a KV between gateways (two instances, one store). */
  kv?: Deno.Kv;
}

/**
 * Set under every test gateway's environment unless a test sets them itself: the AWS default credential chain must
 * never read a developer's ~/.aws files or reach a real instance-metadata endpoint.
 */
export const AWS_TEST_ISOLATION: Record<string, string> = {
  AWS_CONFIG_FILE: "/nonexistent/.aws/config",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/.aws/credentials",
  AWS_EC2_METADATA_DISABLED: "true",
};

export async function startGateway(opts: StartOptions): Promise<GatewayUnderTest> {
  const env = { ...AWS_TEST_ISOLATION, ...opts.env };
  const config = loadConfig(opts.yaml, (name) => env[name]);
  const ownKv = !opts.kv;
  const kv = opts.kv ?? await Deno.openKv(opts.kvPath ?? ":memory:");
  const calls: CallRecord[] = [];
  const logs: string[] = [];
  const waiters: Array<{ n: number; resolve: (c: CallRecord[]) => void }> = [];
  const gateway = createGateway({
    ...opts,
    // Router backoffs resolve at once: tests never wait on a timer (pass `sleep` to observe the waits).
    sleep: opts.sleep ?? (() => Promise.resolve()),
    config,
    kv,
    log: opts.log ?? createLogger({ write: (line) => logs.push(line) }),
    onCall: (record) => {
      calls.push(record);
      opts.onCall?.(record);
      for (const w of waiters.splice(0)) {
        if (calls.length >= w.n) w.resolve(calls);
        else waiters.push(w);
      }
    },
  });
  // As at start-up (boot.ts): credentials are resolved before the first call.
  await gateway.ready();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, gateway.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const close = async () => {
    await server.shutdown();
    await gateway.close();
    if (ownKv) kv.close();
  };
  return {
    url,
    config,
    gateway,
    kv,
    calls,
    logs,
    waitForCalls: (n) =>
      calls.length >= n ? Promise.resolve(calls) : new Promise((resolve) => waiters.push({ n, resolve })),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The real AWS SDK client pointed at the gateway with a gateway key as its bearer token — what apps do with
 * `AWS_BEARER_TOKEN_BEDROCK`. `http1` swaps the SDK's default HTTP/2 handler for HTTP/1.1.
 */
export function bedrockClient(gatewayUrl: string, key: string, opts: { http1?: boolean } = {}): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    endpoint: `${gatewayUrl}/bedrock`,
    region: "us-west-2",
    token: { token: key },
    authSchemePreference: ["httpBearerAuth"],
    maxAttempts: 1,
    ...(opts.http1 ? { requestHandler: new NodeHttpHandler() } : {}),
  });
}

/** A config with one deployment per entry pointing at the fake Bedrock. */
export function fakeConfig(
  fakeUrl: string,
  opts: { masterKey?: string; extra?: string; models?: Array<{ name: string; model?: string; params?: string }> } = {},
): string {
  const models = opts.models ?? [{ name: "claude" }];
  const list = models.map((m) =>
    `  - model_name: ${m.name}
    litellm_params:
      model: ${m.model ?? "bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0"}
      aws_region_name: us-west-2
      aws_bedrock_runtime_endpoint: ${fakeUrl}
${
      m.params ??
        "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY"
    }`
  ).join("\n");
  return `model_list:\n${list}\ngeneral_settings:\n  master_key: ${opts.masterKey ?? "sk-master-test"}\n${
    opts.extra ?? ""
  }`;
}

export const MASTER_KEY = "sk-master-test";

export const converseBody = (text = "Hello") => JSON.stringify({ messages: [{ role: "user", content: [{ text }] }] });
