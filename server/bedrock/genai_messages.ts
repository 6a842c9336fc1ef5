/**
 * @module
 * A call's prompt and answer in the shape OpenTelemetry's GenAI conventions give them (`gen_ai.input.messages`,
 * `gen_ai.output.messages`, `gen_ai.system_instructions`: `{role, parts: [{type: "text", content}, …]}`), from
 * Converse's `{role, content: [{text}]}` and Anthropic's Messages bodies. Only for traces, and only when the operator
 * stores prompts (`store_prompts_in_spend_logs`): the text is the client's.
 *
 * Bounded: at most {@link MAX_MESSAGES} messages and {@link MAX_PART_CHARS} characters of text per part (cut with an
 * ellipsis); media and documents appear as their kind only, never their bytes.
 */

export const MAX_MESSAGES = 64;
export const MAX_PART_CHARS = 8_192;

type Part = Record<string, unknown> & { type: string };
export interface GenAiMessage {
  role: string;
  parts: Part[];
  finish_reason?: string;
}

const cut = (text: string) => text.length > MAX_PART_CHARS ? `${text.slice(0, MAX_PART_CHARS - 1)}…` : text;

const record = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : undefined;

/** One content block (Converse's or Anthropic's) as a part. */
function part(block: unknown): Part | undefined {
  if (typeof block === "string") return { type: "text", content: cut(block) };
  const b = record(block);
  if (!b) return undefined;
  if (typeof b.text === "string") return { type: "text", content: cut(b.text) };
  const toolUse = record(b.toolUse) ?? (b.type === "tool_use" ? b : undefined);
  if (toolUse) {
    return { type: "tool_call", id: toolUse.toolUseId ?? toolUse.id, name: toolUse.name, arguments: toolUse.input };
  }
  const toolResult = record(b.toolResult) ?? (b.type === "tool_result" ? b : undefined);
  if (toolResult) {
    return {
      type: "tool_call_response",
      id: toolResult.toolUseId ?? toolResult.tool_use_id,
      response: cut(JSON.stringify(toolResult.content ?? null)),
    };
  }
  // Media, documents, reasoning, cache points: named, never copied.
  const kind = typeof b.type === "string" ? b.type : Object.keys(b)[0];
  return kind ? { type: kind } : undefined;
}

function parts(content: unknown): Part[] {
  const blocks = Array.isArray(content) ? content : [content];
  return blocks.map(part).filter((p): p is Part => p !== undefined);
}

function messages(list: unknown): GenAiMessage[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return list.slice(-MAX_MESSAGES).map((m) => {
    const r = record(m) ?? {};
    return { role: typeof r.role === "string" ? r.role : "user", parts: parts(r.content) };
  });
}

/** The request's messages and system instructions, from its body text; undefined for what it does not have. */
export function inputMessages(body: string): { messages?: GenAiMessage[]; system?: Part[] } {
  let json: Record<string, unknown> | undefined;
  try {
    json = record(JSON.parse(body));
  } catch {
    return {};
  }
  if (!json) return {};
  const system = json.system === undefined ? undefined : parts(json.system);
  return { messages: messages(json.messages), system: system?.length ? system : undefined };
}

/**
 * The answer as one assistant message: a Converse answer (`output.message`), an Anthropic one (`content`), or the
 * text a stream relayed (kept as plain text).
 */
export function outputMessages(body: string, stream: boolean, finishReason?: string): GenAiMessage[] {
  const done = finishReason === undefined ? {} : { finish_reason: finishReason };
  if (stream) return [{ role: "assistant", parts: [{ type: "text", content: cut(body) }], ...done }];
  let json: Record<string, unknown> | undefined;
  try {
    json = record(JSON.parse(body));
  } catch {
    json = undefined;
  }
  const message = record(record(json?.output)?.message) ?? json;
  if (!message || message.content === undefined) {
    return [{ role: "assistant", parts: [{ type: "text", content: cut(body) }], ...done }];
  }
  return [{ role: "assistant", parts: parts(message.content), ...done }];
}
