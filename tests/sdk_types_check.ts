/**
 * Compile-time type test of the SDK's public API: never run, only type-checked (`deno task check` runs
 * `deno check` on the workspace). Each `@ts-expect-error` line is a misuse that must not compile; if the types
 * ever accept it, the directive is unused and the check fails.
 */
import {
  BudgetExceededError,
  type Client,
  ConnectionError,
  type ContentBlock,
  ConverseError,
  type ConverseRequest,
  type ConverseResponse,
  type ConverseStreamEvent,
  type ConverseStreamEventType,
  type ConverseStreamOutput,
  type CountTokensResponse,
  createClient,
  type HealthReadiness,
  type InvokeModelResult,
  type KeyInfo,
  type KeyListResponse,
  type SpendLogRow,
  type SpendLogsResponse,
  type SpendLogsSummary,
  ThrottlingException,
  TimeoutError,
  ValidationException,
} from "../sdk/mod.ts";

type Assert<T extends true> = T;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** The events the iterator yields are members of the wire union the OpenAPI document describes. */
export type EventsAreWireMembers = Assert<ConverseStreamEventType extends keyof ConverseStreamOutput ? true : false>;
/** Exception members are thrown, never yielded. */
export type NoExceptionEvents = Assert<"throttlingException" extends ConverseStreamEventType ? false : true>;

export const client: Client = createClient({ baseUrl: "http://localhost:4000", apiKey: "sk-1", timeoutMs: 5_000 });

// @ts-expect-error: baseURL (or baseUrl) is required
createClient({ apiKey: "sk-1" });
/** `baseURL`, the spelling of the OpenAI, Anthropic and Vercel SDKs, and `baseUrl`; both at once type-check too. */
export const spellings = [
  createClient({ baseURL: "http://localhost:4000", maxRetries: 0 }),
  createClient({ baseUrl: "http://localhost:4000", random: () => 0.5, sleep: () => Promise.resolve() }),
  createClient({ baseURL: "http://localhost:4000", baseUrl: "http://localhost:4000" }),
];
// @ts-expect-error: maxRetries is a number
createClient({ baseURL: "http://localhost:4000", maxRetries: "2" });

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

  // keys.list narrowed by return_full_object: hashes by default, whole objects with true, either when unknown.
  const hashes: Assert<Same<(typeof page)["keys"], string[]>> = true;
  const none = await client.keys.list();
  const noneHashes: Assert<Same<(typeof none)["keys"], string[]>> = true;
  const full = await client.keys.list({ return_full_object: true, user_id: "u" });
  const objects: Assert<Same<(typeof full)["keys"], KeyInfo[]>> = true;
  text += full.keys[0].token;
  const explicit = await client.keys.list({ return_full_object: false });
  const explicitHashes: Assert<Same<(typeof explicit)["keys"], string[]>> = true;
  const flag: boolean = Math.random() < 0.5;
  const either: KeyListResponse = await client.keys.list({ return_full_object: flag });
  const eitherKeys: Assert<Same<(typeof either)["keys"], string[] | KeyInfo[]>> = true;
  text += `${hashes}${noneHashes}${objects}${explicitHashes}${eitherKeys}`;
  // @ts-expect-error: query booleans are booleans, not the strings of the query string
  await client.keys.list({ return_full_object: "true" });
  // @ts-expect-error: probe is a boolean
  await client.health.deployments({ probe: "false" });
  text += (await client.health.deployments({ probe: false })).healthy_count;

  // spend.logs: rows with summarize: false; otherwise rows or days (days need both dates).
  const rows: SpendLogRow[] = await client.spend.logs({ api_key: "sk-1", summarize: false });
  const maybeDays: Assert<
    Same<Awaited<ReturnType<typeof client.spend.logs>>, SpendLogsResponse | SpendLogsSummary>
  > = true;
  text += `${rows.length}${maybeDays}`;

  // invoke / invokeStream: model-native JSON, typed by the caller; countTokens from the schemas.
  interface ClaudeMessage {
    content: Array<{ text: string }>;
  }
  const invoked: InvokeModelResult<ClaudeMessage> = await client.invoke<ClaudeMessage>("claude", {
    anthropic_version: "bedrock-2023-05-31",
    max_tokens: 10,
    messages: [{ role: "user", content: "Hi" }],
  });
  const tokens: number | undefined = invoked.inputTokens;
  text += `${invoked.body.content[0].text}${tokens}${invoked.cost}`;
  for await (const chunk of client.invokeStream<{ type: string }>("claude", {})) text += chunk.type;
  const untyped = await client.invoke("claude", {});
  const defaultBody: Assert<Same<(typeof untyped)["body"], { [key: string]: unknown }>> = true;
  text += defaultBody;
  // @ts-expect-error: the body is a JSON object, not a string
  await client.invoke("claude", "{}");
  const counted: CountTokensResponse = await client.countTokens("claude", { input: { converse: { messages: [] } } });
  text += counted.inputTokens;
  // @ts-expect-error: CountTokens takes { input: { converse } } or { input: { invokeModel } }
  await client.countTokens("claude", { messages: [] });

  try {
    await client.converse("claude", request);
  } catch (e) {
    if (e instanceof ThrottlingException) {
      const wait: number | undefined = e.retryAfter;
      // @ts-expect-error: retryAfter may be absent
      const mustWait: number = e.retryAfter;
      text += `${wait}${mustWait}`;
    } else if (e instanceof BudgetExceededError) text += e.message;
    else if (e instanceof TimeoutError) text += `${e.status}${e.cause}`;
    else if (e instanceof ConnectionError) text += `${e.name}${e.cause}`;
    else if (e instanceof ValidationException) text += e.message;
    else if (e instanceof ConverseError) text += `${e.status} ${e.requestId ?? ""} ${e.type}`;
  }
  return text;
}
