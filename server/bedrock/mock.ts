/**
 * @module
 * `mock_response` deployments: answer locally with a well-formed Converse response, never calling AWS.
 * Usage is estimated at ~4 characters per token, which is what LiteLLM's mock does too.
 */
import { plainUsage, type Usage } from "../core/usage.ts";

const estimateTokens = (chars: number) => Math.max(1, Math.ceil(chars / 4));

/**
 * Counts the characters of every text the caller sent (messages and system; Converse or Anthropic-native bodies),
 * for a usage estimate.
 */
function promptChars(request: unknown): number {
  let chars = 0;
  const r = request as { messages?: unknown; system?: unknown };
  // Iterative: a deeply nested body (a tool's JSON input) must not overflow the stack.
  const stack: unknown[] = [r?.messages, r?.system];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === "string") chars += v.length;
    else if (Array.isArray(v)) { for (const x of v) stack.push(x); }
    else if (v && typeof v === "object") {
      // `text` blocks (Converse, Anthropic), and Anthropic's plain-string `content`.
      for (const [k, x] of Object.entries(v)) {
        if (k === "text" || k === "content" || typeof x === "object") stack.push(x);
      }
    }
  }
  return chars;
}

export function mockUsage(request: unknown, text: string): Usage {
  return plainUsage(estimateTokens(promptChars(request)), estimateTokens(text.length));
}

/** The Converse response body for a mock deployment. */
export function mockConverseBody(text: string, usage: Usage): string {
  return JSON.stringify({
    output: { message: { role: "assistant", content: [{ text }] } },
    stopReason: "end_turn",
    usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, totalTokens: usage.totalTokens },
    metrics: { latencyMs: 0 },
  });
}
