/**
 * @module
 * The `/bedrock/*` routes that are not model calls — ApplyGuardrail (bedrock-runtime), Retrieve,
 * RetrieveAndGenerate, InvokeAgent (bedrock-agent-runtime) — as a {@link CallKind} of the call pipeline
 * (`pipeline.ts`), sent with the credentials of the configured pass-through account
 * (`general_settings.bedrock_passthrough`).
 *
 * Like a model call: the body is validated and forwarded byte for byte, signed fresh, answered in Bedrock's wire
 * format, and one `CallRecord` reaches settlement per call that got past validation (logged and counted; no tokens:
 * ApplyGuardrail is billed by the policy units it reports, and held for the most it can report; the agent runtime
 * reports nothing to bill). InvokeAgent's
 * event stream is relayed unbuffered by the same relay as model streams. There are no deployments, so no routing
 * and no retries: one attempt under the router's `timeout` (`stream_timeout` for the first byte and the silences of
 * a stream).
 */
import { readBody } from "../api/body.ts";
import { rawPathAfter } from "../api/url.ts";
import type { GatewayConfig } from "../config/types.ts";
import { GatewayError, validation } from "../core/errors.ts";
import { readGuardrailUsage } from "../core/guardrail_usage.ts";
import { jsonObject } from "../core/json.ts";
import { parseJsonBody } from "../bedrock/operation.ts";
import { expectedGuardrailUnits } from "../bedrock/expected_usage.ts";
import { parsePassthroughPath, type PassthroughRoute } from "../bedrock/passthrough_path.ts";
import { formatZodIssues } from "../bedrock/schemas.ts";
import type { CallKind } from "./pipeline.ts";
import type { SignedTarget, Upstream } from "./upstream.ts";

export interface PassthroughCallDeps {
  config: GatewayConfig;
  upstream: Pick<Upstream, "post">;
}

/** Request headers InvokeAgent binds besides the body (`sourceArn`). No other client header is forwarded. */
const INVOKE_AGENT_HEADERS = ["x-amz-source-arn"] as const;

export function passthroughCalls(deps: PassthroughCallDeps): CallKind<PassthroughRoute> {
  const { config, upstream } = deps;
  const account = config.passthrough;

  return {
    parse: (url) => parsePassthroughPath(rawPathAfter(url, "/bedrock")),
    access: (route) => ({ route: route.route, modelRoute: false }),

    async validate(route, request) {
      const { req, bodyLease, bodyWatch } = request;
      const body = await readBody(req, config.maxRequestBodyBytes, { lease: bodyLease, watch: bodyWatch });
      const json = parseJsonBody(body, config.limits.json);
      const checked = route.schema.safeParse(json);
      if (!checked.success) throw validation(`Malformed input request: ${formatZodIssues(checked.error)}`);
      const guardrail = route.callType === "apply-guardrail";

      const runtime = route.api === "runtime";
      const endpoint = runtime ? account.runtimeEndpoint : account.agentRuntimeEndpoint;
      const record = request.record({
        callType: route.callType,
        modelName: route.label,
        route: route.route,
        region: account.region,
        apiBase: endpoint,
      }, body);
      const headers: Record<string, string> = {};
      if (route.callType === "invoke-agent") {
        for (const name of INVOKE_AGENT_HEADERS) {
          const v = req.headers.get(name);
          if (v !== null) headers[name] = v;
        }
      }

      return {
        record,
        holdAs: route.label,
        // ApplyGuardrail is billed its policy units: it holds the most its text and images can cost, and counts
        // among the calls refused while spend cannot be written. The agent runtime bills nothing: only a key's
        // requests per minute are held.
        estimate: guardrail
          ? { inputTokens: 0, maxOutputTokens: 0, billable: true, guardrailUnits: expectedGuardrailUnits(json) }
          : { inputTokens: 0, maxOutputTokens: 0, billable: false },
        stream: route.stream,
        usageFrom: "none",
        costHeader: false,
        async send(attempts) {
          const auth = runtime ? account.runtimeAuth : account.agentRuntimeAuth;
          if (auth.kind === "unavailable" || auth.kind === "mock") {
            throw new GatewayError(
              503,
              "ServiceUnavailableException",
              `${route.operation} is unavailable: ${auth.kind === "unavailable" ? auth.reason : "no AWS account"}`,
              { litellmType: "service_unavailable" },
            );
          }
          const target: SignedTarget = {
            url: endpoint + route.upstreamPath,
            region: account.region,
            auth,
            name: `${route.operation} (general_settings.bedrock_passthrough)`,
          };
          // One attempt. A JSON exchange, once sent, runs to its end whatever the client does (it is recorded all
          // the same); a stream follows the client until its first byte.
          attempts.begin();
          const timeoutMs = route.stream ? config.router.streamTimeoutMs : config.router.timeoutMs;
          const plan = { followClient: route.stream, stream: route.stream, timeoutMs };
          const response = await attempts.send(
            plan,
            (signal, onSent) => upstream.post(target, body, headers, signal, onSent),
          );
          return { response, retries: 0 };
        },
        answered(_headers, bytes) {
          // ApplyGuardrail reports the policy units it used; they are what the call costs.
          if (guardrail) {
            record.guardrailUnits = readGuardrailUsage(jsonObject(bytes)?.usage);
          }
        },
      };
    },
  };
}
