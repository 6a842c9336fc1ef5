/**
 * @module
 * CountTokens: a small JSON request (`{"input": {"converse": …}}` or `{"input": {"invokeModel": {"body": …}}}`),
 * answered with `{"inputTokens": N}`. Counting costs nothing, so the call carries no usage to bill.
 *
 * CountTokens takes a foundation-model id: cross-region inference-profile ids (`us.anthropic…`) are refused by the
 * service ("The provided model doesn't support counting tokens"), so the geo prefix of a system inference profile is
 * dropped before the call (`us.anthropic.claude…` → `anthropic.claude…`; an inference-profile ARN becomes the
 * foundation id it names).
 */
import { validation } from "../core/errors.ts";
import { mockUsage } from "./mock.ts";
import { type ModelOperationSpec, parseJsonBody, reparse } from "./operation.ts";
import { CountTokensRequest } from "./passthrough_schemas.ts";
import { formatZodIssues } from "./schemas.ts";

/** Geo prefixes of system-defined cross-region inference profiles. */
const GEO_PREFIX = /^(?:us|us-gov|eu|apac|jp|au|ca|global)\./;
const PROFILE_ARN = /^arn:aws[a-z-]*:bedrock:[^:]*:\d*:inference-profile\/(.+)$/;

/** The model id CountTokens accepts for a deployment's model id. */
export function countTokensModelId(id: string): string {
  const profile = PROFILE_ARN.exec(id)?.[1];
  const base = profile ?? id;
  return GEO_PREFIX.test(base) ? base.replace(GEO_PREFIX, "") : id;
}

/** The request whose tokens a mock deployment estimates: the Converse input, or the decoded InvokeModel body. */
function countedRequest(json: unknown): unknown {
  const input = (json as CountTokensRequest).input;
  if (input.converse) return input.converse;
  try {
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(input.invokeModel!.body), (c) => c.charCodeAt(0))));
  } catch {
    return undefined;
  }
}

export const countTokensOperation: ModelOperationSpec = {
  stream: false,
  streamUsage: "none",
  free: true,
  prepare(body, _headers, limits) {
    const json = parseJsonBody(body, limits);
    const checked = CountTokensRequest.safeParse(json);
    if (!checked.success) throw validation(`Malformed input request: ${formatZodIssues(checked.error)}`);
    // Free: nothing to hold against a budget or tokens per minute.
    return { json: reparse(body), estimate: { inputTokens: 0, maxOutputTokens: 0, billable: false } };
  },
  // No usage: counting tokens is free, and must not count toward a key's tokens per minute either.
  answer: () => ({}),
  mock(text, request, requestId) {
    const { inputTokens } = mockUsage(countedRequest(request.json?.()), text);
    return new Response(JSON.stringify({ inputTokens }), {
      headers: { "content-type": "application/json", "x-amzn-requestid": requestId },
    });
  },
};
