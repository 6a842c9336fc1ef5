/**
 * Compile-time type test of the SDK's public API: never run, only type-checked (`deno task check` runs
 * `deno check` on the workspace). Each `@ts-expect-error` line is a misuse that must not compile; if the types
 * ever accept it, the directive is unused and the check fails.
 */
import {
  BudgetExceededError,
  type Client,
  type ContentBlock,
  ConverseError,
  type ConverseRequest,
  type ConverseResponse,
  type ConverseStreamEvent,
  type ConverseStreamEventType,
  type ConverseStreamOutput,
  createClient,
  type HealthReadiness,
  ThrottlingException,
  ValidationException,
} from "../sdk/mod.ts";

type Assert<T extends true> = T;
/** The events the iterator yields are members of the wire union the OpenAPI document describes. */
export type EventsAreWireMembers = Assert<ConverseStreamEventType extends keyof ConverseStreamOutput ? true : false>;
/** Exception members are thrown, never yielded. */
export type NoExceptionEvents = Assert<"throttlingException" extends ConverseStreamEventType ? false : true>;

export const client: Client = createClient({ baseUrl: "http://localhost:4000", apiKey: "sk-1", timeoutMs: 5_000 });

// @ts-expect-error: baseUrl is required
createClient({ apiKey: "sk-1" });

export const request: ConverseRequest = {
  system: [{ text: "Be brief." }],
  messages: [{ role: "user", content: [{ text: "Hi" }, { image: { format: "png", source: { bytes: "iVBO" } } }] }],
  inferenceConfig: { maxTokens: 100, temperature: 0.5 },
  toolConfig: {
    tools: [{ toolSpec: { name: "f", inputSchema: { json: { type: "object" } } } }],
    toolChoice: { auto: {} },
  },
};

// @ts-expect-error: only "user" and "assistant" are roles
export const badRole: ConverseRequest = { messages: [{ role: "system", content: [] }] };

// @ts-expect-error: a misspelt field is caught
export const typo: ConverseRequest = { messages: [], inferenceConfig: { maxTokenz: 5 } };

// @ts-expect-error: a content block sets exactly one member
export const twoMembers: ContentBlock = { text: "a", cachePoint: { type: "default" } };

/** Open enums accept new values but still check the type. */
export const newStopReason: ConverseResponse["stopReason"] = "a_reason_bedrock_adds_next_year";
// @ts-expect-error: stopReason is a string
export const numericStopReason: ConverseResponse["stopReason"] = 5;

export async function usage(): Promise<string> {
  const answer = await client.converse("claude", request, { signal: AbortSignal.timeout(1000) });
  const first = answer.output.message?.content[0];
  let text = first?.text ?? "";
  if (first?.toolUse) text += first.toolUse.name;

  for await (const event of client.converseStream("claude", request)) {
    const e: ConverseStreamEvent = event;
    // @ts-expect-error: a member may be absent until narrowed
    text += e.messageStart.role;
    if (e.contentBlockDelta) text += e.contentBlockDelta.delta.text ?? "";
    if (e.metadata) text += e.metadata.usage.outputTokens.toFixed();
  }
  for await (const t of client.converseStream("claude", request).textStream()) text += t;
  const collected: ConverseResponse = await client.converseStream("claude", request).collect();
  text += collected.stopReason;

  // @ts-expect-error: converseStream returns an async iterable, not a promise
  client.converseStream("claude", request).then(() => {});

  const health: HealthReadiness = await client.health.readiness();
  text += health.status;
  // @ts-expect-error: readiness takes no input, only options
  await client.health.readiness({ verbose: true });

  const key = await client.keys.generate({ models: ["claude"], max_budget: 10, budget_duration: "30d" });
  text += key.key + key.token;
  // @ts-expect-error: update needs the key it updates
  await client.keys.update({ max_budget: 5 });
  // @ts-expect-error: budgets are numbers
  await client.keys.generate({ max_budget: "10" });
  const page = await client.keys.list({ size: 10 });
  text += page.total_count;

  try {
    await client.converse("claude", request);
  } catch (e) {
    if (e instanceof ThrottlingException) {
      const wait: number | undefined = e.retryAfter;
      // @ts-expect-error: retryAfter may be absent
      const mustWait: number = e.retryAfter;
      text += `${wait}${mustWait}`;
    } else if (e instanceof BudgetExceededError) text += e.message;
    else if (e instanceof ValidationException) text += e.message;
    else if (e instanceof ConverseError) text += `${e.status} ${e.requestId ?? ""} ${e.type}`;
  }
  return text;
}
