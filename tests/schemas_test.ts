/**
 * @module
 * Tests for the Bedrock Converse wire schemas: examples from the wire digest parse, every content kind parses,
 * unknown fields and kinds pass through, structural errors are rejected with a readable path, and the schemas
 * convert to JSON Schema with named components.
 */

import assert from "node:assert/strict";
import { z } from "zod";
import {
  BEDROCK_EXCEPTIONS,
  BedrockErrorBody,
  ContentBlock,
  ContentBlockDeltaEvent,
  ContentBlockStartEvent,
  ContentBlockStopEvent,
  ConverseRequest,
  ConverseResponse,
  ConverseStreamEvent,
  ConverseStreamMetadataEvent,
  ConverseStreamRequest,
  formatZodIssues,
  InferenceConfiguration,
  Message,
  MessageStartEvent,
  MessageStopEvent,
  SystemContentBlock,
  TokenUsage,
  ToolConfiguration,
} from "../server/bedrock/schemas.ts";

/** The §3.4 request example of the wire digest. */
function exampleRequest(): Record<string, unknown> {
  return {
    system: [{ text: "Be brief." }, { cachePoint: { type: "default" } }],
    messages: [
      { role: "user", content: [{ text: "Weather in Paris?" }] },
      {
        role: "assistant",
        content: [{ toolUse: { toolUseId: "tooluse_1", name: "get_weather", input: { city: "Paris" } } }],
      },
      {
        role: "user",
        content: [{ toolResult: { toolUseId: "tooluse_1", content: [{ json: { tempC: 18 } }], status: "success" } }],
      },
    ],
    inferenceConfig: { maxTokens: 512, temperature: 0.2, topP: 0.9, stopSequences: ["END"] },
    toolConfig: {
      tools: [{
        toolSpec: {
          name: "get_weather",
          inputSchema: {
            json: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          },
        },
      }],
      toolChoice: { auto: {} },
    },
    additionalModelRequestFields: { top_k: 50 },
    additionalModelResponseFieldPaths: ["/stop_sequence"],
    requestMetadata: { tenant: "acme" },
  };
}

const PNG = "iVBORw0KGgo=";

/** One block of every ContentBlock kind in §3.2. */
const everyContentKind: Record<string, unknown>[] = [
  { text: "hello" },
  { image: { format: "png", source: { bytes: PNG } } },
  { image: { format: "jpeg", source: { s3Location: { uri: "s3://b/k.jpg", bucketOwner: "123456789012" } } } },
  {
    document: {
      format: "pdf",
      name: "report",
      source: { bytes: "JVBERi0=" },
      context: "Q3",
      citations: { enabled: true },
    },
  },
  { document: { name: "notes", source: { text: "plain text" } } },
  { document: { format: "txt", name: "chunks", source: { content: [{ text: "a" }, { text: "b" }] } } },
  { video: { format: "mp4", source: { s3Location: { uri: "s3://b/v.mp4" } } } },
  { audio: { format: "mp3", source: { bytes: "SUQz" } } },
  { toolUse: { toolUseId: "t1", name: "search", input: { q: "x" }, type: "server_tool_use" } },
  {
    toolResult: {
      toolUseId: "t1",
      status: "error",
      content: [
        { json: [1, 2] },
        { text: "result" },
        { image: { format: "gif", source: { bytes: PNG } } },
        { document: { format: "md", name: "d", source: { text: "# h" } } },
        { video: { format: "mov", source: { bytes: "AAAA" } } },
        { searchResult: { source: "https://x", title: "X", content: [{ text: "snippet" }] } },
      ],
    },
  },
  { guardContent: { text: { text: "check me", qualifiers: ["grounding_source", "query"] } } },
  { guardContent: { image: { format: "png", source: { bytes: PNG } } } },
  { cachePoint: { type: "default", ttl: "1h" } },
  { reasoningContent: { reasoningText: { text: "Thinking…", signature: "sig" } } },
  { reasoningContent: { redactedContent: "cmVkYWN0ZWQ=" } },
  {
    citationsContent: {
      content: [{ text: "Paris is in France." }],
      citations: [
        {
          title: "Atlas",
          source: "atlas.pdf",
          sourceContent: [{ text: "Paris, France" }],
          location: { documentChar: { documentIndex: 0, start: 3, end: 15 } },
        },
        { location: { web: { url: "https://example.com", domain: "example.com" } } },
        { location: { documentPage: { documentIndex: 0, start: 1, end: 2 } } },
        { location: { documentChunk: { documentIndex: 1, start: 0, end: 0 } } },
        { location: { searchResultLocation: { searchResultIndex: 0, start: 0, end: 1 } } },
      ],
    },
  },
  {
    searchResult: {
      source: "https://kb/1",
      title: "KB",
      content: [{ text: "fact" }],
      citations: { enabled: false },
    },
  },
  { toolAddition: { tool: { type: "mcp", name: "fetch", serverName: "web" } } },
  { toolRemoval: { tool: { name: "fetch" } } },
];

/** Parses `body` with `schema`, asserts failure and returns the formatted message. */
function rejectMessage(schema: z.ZodType, body: unknown): string {
  const result = schema.safeParse(body);
  assert.equal(result.success, false, `expected rejection of ${JSON.stringify(body)}`);
  return formatZodIssues(result.error!);
}

function withMessages(messages: unknown): Record<string, unknown> {
  return { messages };
}

Deno.test("the §3.4 request example parses for Converse and ConverseStream", () => {
  const parsed = ConverseRequest.parse(exampleRequest());
  assert.deepEqual(parsed, exampleRequest());
  // Typed access (fails `deno check` if the inferred types degrade to unknown).
  const toolName: string | undefined = parsed.messages?.[1].content[0].toolUse?.name;
  const maxTokens: number | undefined = parsed.inferenceConfig?.maxTokens;
  assert.equal(toolName, "get_weather");
  assert.equal(maxTokens, 512);
  assert.equal(ConverseStreamRequest.safeParse(exampleRequest()).success, true);
});

Deno.test("an empty body is structurally valid (only modelId, in the path, is required)", () => {
  assert.deepEqual(ConverseRequest.parse({}), {});
});

Deno.test("a body with every content-block kind parses unchanged", () => {
  const body = {
    system: [
      { text: "sys" },
      { guardContent: { text: { text: "guard" } } },
      { cachePoint: { type: "default", ttl: "5m" } },
    ],
    messages: [
      { role: "user", content: everyContentKind },
      { role: "assistant", content: [{ text: "ok" }, { reasoningContent: { reasoningText: { text: "hm" } } }] },
    ],
  };
  assert.deepEqual(ConverseRequest.parse(body), body);
  for (const block of everyContentKind) assert.equal(ContentBlock.safeParse(block).success, true);
});

Deno.test("every request configuration object parses", () => {
  const body = {
    ...exampleRequest(),
    toolConfig: {
      tools: [
        { toolSpec: { name: "a", description: "does a", inputSchema: { json: { type: "object" } }, strict: true } },
        { systemTool: { name: "nova_grounding" } },
        { cachePoint: { type: "default" } },
      ],
      toolChoice: { tool: { name: "a" } },
    },
    guardrailConfig: { guardrailIdentifier: "abc123", guardrailVersion: "DRAFT", trace: "enabled_full" },
    promptVariables: { city: { text: "Paris" } },
    performanceConfig: { latency: "optimized" },
    serviceTier: { type: "flex" },
    outputConfig: {
      textFormat: { type: "json_schema", structure: { jsonSchema: { schema: '{"type":"object"}', name: "out" } } },
      effort: "high",
    },
  };
  assert.deepEqual(ConverseRequest.parse(body), body);
  const stream = { ...body, guardrailConfig: { ...body.guardrailConfig, streamProcessingMode: "async" } };
  assert.deepEqual(ConverseStreamRequest.parse(stream), stream);
  assert.equal(
    ToolConfiguration.safeParse({ tools: [{ toolSpec: { name: "x", inputSchema: { json: {} } } }] }).success,
    true,
  );
  assert.equal(
    ToolConfiguration.safeParse({ tools: [{ cachePoint: { type: "default" } }], toolChoice: { any: {} } }).success,
    true,
  );
  assert.equal(InferenceConfiguration.safeParse({ stopSequences: Array(2500).fill("x") }).success, true);
  assert.equal(InferenceConfiguration.safeParse({ temperature: 0, topP: 1, maxTokens: 1 }).success, true);
  assert.equal(SystemContentBlock.safeParse({ text: "x" }).success, true);
});

Deno.test("unknown fields at top level and inside blocks pass through and are preserved", () => {
  const body = {
    ...exampleRequest(),
    futureTopLevel: { anything: [1, "two"] },
    inferenceConfig: { maxTokens: 10, futureKnob: 3 },
    messages: [{
      role: "user",
      extra: true,
      content: [
        { image: { format: "png", source: { bytes: PNG }, futureImageField: "x" } },
        { document: { name: "d", source: { s3Location: { uri: "s3://b/k", futureS3Field: 1 } }, futureDocField: [] } },
        { toolUse: { toolUseId: "t", name: "n", input: {}, futureToolField: null } },
      ],
    }],
  };
  const parsed = ConverseRequest.parse(body);
  assert.deepEqual(parsed, body);
  assert.deepEqual(parsed.futureTopLevel, { anything: [1, "two"] });
  assert.equal(parsed.messages?.[0].content[0].image?.futureImageField, "x");
});

Deno.test("an unknown content-block kind is accepted and preserved; so is an unknown format string", () => {
  const future = { hologram: { format: "holo3d", source: { bytes: "AAAA" } } };
  const body = withMessages([{ role: "user", content: [{ text: "look" }, future] }]);
  assert.deepEqual(ConverseRequest.parse(body), body);
  assert.deepEqual(ContentBlock.parse(future), future);
  // A new format for a known kind is also forwarded; Bedrock decides whether the model supports it.
  assert.equal(ContentBlock.safeParse({ image: { format: "avif", source: { bytes: PNG } } }).success, true);
  // An unknown kind inside the other unions is accepted too.
  assert.equal(SystemContentBlock.safeParse({ futureSystemKind: {} }).success, true);
  assert.equal(
    ToolConfiguration.safeParse({ tools: [{ mcpServer: { url: "x" } }], toolChoice: { none: {} } }).success,
    true,
  );
});

Deno.test("a body that is not an object is rejected", () => {
  assert.equal(rejectMessage(ConverseRequest, [exampleRequest()]), "body: expected object, received array");
  assert.equal(rejectMessage(ConverseRequest, "hello"), "body: expected object, received string");
  assert.equal(rejectMessage(ConverseRequest, null), "body: expected object, received null");
});

Deno.test("structural errors in messages are rejected and the path is named", () => {
  assert.equal(
    rejectMessage(ConverseRequest, withMessages({ role: "user", content: [] })),
    "messages: expected array, received object",
  );
  assert.equal(rejectMessage(ConverseRequest, withMessages([{ content: [] }])), "messages[0].role: required");
  assert.equal(rejectMessage(ConverseRequest, withMessages([{ role: "user" }])), "messages[0].content: required");
  assert.equal(
    rejectMessage(ConverseRequest, withMessages([{ role: "bot", content: [] }])),
    'messages[0].role: expected "user" | "assistant"',
  );
  assert.equal(
    rejectMessage(ConverseRequest, withMessages([{ role: "system", content: [] }])),
    'messages[0].role: expected "user" | "assistant"',
  );
  assert.equal(
    rejectMessage(ConverseRequest, withMessages([{ role: "user", content: "hi" }])),
    "messages[0].content: expected array, received string",
  );
  assert.equal(
    rejectMessage(ConverseRequest, withMessages([{ role: "user", content: ["hi"] }])),
    "messages[0].content[0]: expected object, received string",
  );
  assert.match(
    rejectMessage(ConverseRequest, withMessages([{ role: "user", content: [{ text: "a" }, {}] }])),
    /^messages\[0\]\.content\[1\]: content block must set exactly one member \(text, image, .*\); got none$/,
  );
  assert.equal(
    rejectMessage(ConverseRequest, withMessages([{ role: "user", content: [{ text: "a", image: {} }] }])),
    // The known member is validated first; the union rule is checked once members are valid.
    "messages[0].content[0].image.format: required; messages[0].content[0].image.source: required",
  );
  assert.equal(
    rejectMessage(ContentBlock, { text: "a", futureKind: {} }),
    "body: content block must set exactly one member; got 2: text, futureKind",
  );
  assert.equal(rejectMessage(ContentBlock, { text: 5 }), "text: expected string, received number");
  assert.equal(rejectMessage(ContentBlock, []), "body: expected object, received array");
});

Deno.test("invalid known content kinds are rejected at the inner path", () => {
  const msg = (block: unknown) => rejectMessage(ConverseRequest, withMessages([{ role: "user", content: [block] }]));
  assert.equal(msg({ image: { format: "png" } }), "messages[0].content[0].image.source: required");
  assert.equal(
    msg({ image: { format: "png", source: {} } }),
    "messages[0].content[0].image.source: source must set exactly one member (bytes, s3Location); got none",
  );
  assert.equal(
    msg({ image: { format: "png", source: { bytes: PNG, s3Location: { uri: "s3://b/k" } } } }),
    "messages[0].content[0].image.source: source must set exactly one member; got 2: bytes, s3Location",
  );
  assert.equal(
    msg({ image: { format: "png", source: { bytes: "" } } }),
    "messages[0].content[0].image.source.bytes: must not be empty",
  );
  assert.equal(
    msg({ document: { format: "pdf", name: "", source: { bytes: "AA==" } } }),
    "messages[0].content[0].document.name: must not be empty",
  );
  assert.equal(msg({ toolUse: { toolUseId: "t", name: "n" } }), "messages[0].content[0].toolUse.input: required");
  assert.equal(
    msg({ toolResult: { toolUseId: "t", content: [{ json: null }] } }),
    "messages[0].content[0].toolResult.content[0]: tool result content block must set exactly one member " +
      "(json, text, image, document, video, searchResult); got none",
  );
  assert.equal(msg({ cachePoint: {} }), "messages[0].content[0].cachePoint.type: required");
  assert.equal(
    msg({ citationsContent: { citations: [{ location: { documentChar: { start: -1 } } }] } }),
    "messages[0].content[0].citationsContent.citations[0].location.documentChar.start: must be >= 0",
  );
  assert.equal(msg({ toolAddition: {} }), "messages[0].content[0].toolAddition.tool: required");
});

Deno.test("inferenceConfig ranges are enforced", () => {
  const msg = (inferenceConfig: unknown) => rejectMessage(ConverseRequest, { inferenceConfig });
  assert.equal(msg({ maxTokens: 0 }), "inferenceConfig.maxTokens: must be >= 1");
  assert.equal(msg({ maxTokens: "100" }), "inferenceConfig.maxTokens: expected number, received string");
  assert.equal(msg({ maxTokens: 1.5 }), "inferenceConfig.maxTokens: expected int, received number");
  assert.equal(msg({ temperature: 1.5 }), "inferenceConfig.temperature: must be <= 1");
  assert.equal(msg({ temperature: -0.1 }), "inferenceConfig.temperature: must be >= 0");
  assert.equal(msg({ topP: 2 }), "inferenceConfig.topP: must be <= 1");
  assert.equal(msg({ stopSequences: ["ok", ""] }), "inferenceConfig.stopSequences[1]: must not be empty");
  assert.equal(
    msg({ stopSequences: Array(2501).fill("x") }),
    "inferenceConfig.stopSequences: must have at most 2500 items",
  );
  assert.equal(msg("fast"), "inferenceConfig: expected object, received string");
});

Deno.test("other top-level fields are structurally checked", () => {
  assert.equal(rejectMessage(ConverseRequest, { system: [{ text: "" }] }), "system[0].text: must not be empty");
  assert.equal(rejectMessage(ConverseRequest, { system: "Be brief." }), "system: expected array, received string");
  assert.equal(
    rejectMessage(ConverseRequest, { toolConfig: { tools: [] } }),
    "toolConfig.tools: must have at least 1 item",
  );
  assert.equal(rejectMessage(ConverseRequest, { toolConfig: {} }), "toolConfig.tools: required");
  assert.equal(
    rejectMessage(ConverseRequest, { toolConfig: { tools: [{ toolSpec: { name: "x" } }] } }),
    "toolConfig.tools[0].toolSpec.inputSchema: required",
  );
  assert.equal(
    rejectMessage(ConverseRequest, { toolConfig: { tools: [{ cachePoint: { type: "default" } }], toolChoice: {} } }),
    "toolConfig.toolChoice: toolChoice must set exactly one member (auto, any, tool); got none",
  );
  assert.equal(
    rejectMessage(ConverseRequest, { requestMetadata: { tenant: 5 } }),
    "requestMetadata.tenant: expected string, received number",
  );
  assert.equal(
    rejectMessage(ConverseRequest, { requestMetadata: { "my key": 5 } }),
    'requestMetadata["my key"]: expected string, received number',
  );
  assert.equal(rejectMessage(ConverseRequest, { serviceTier: {} }), "serviceTier.type: required");
  assert.equal(
    rejectMessage(ConverseRequest, { additionalModelResponseFieldPaths: "/x" }),
    "additionalModelResponseFieldPaths: expected array, received string",
  );
  assert.equal(
    rejectMessage(ConverseRequest, { guardrailConfig: { guardrailIdentifier: 7 } }),
    "guardrailConfig.guardrailIdentifier: expected string, received number",
  );
});

Deno.test("formatZodIssues lists at most five issues and counts the rest", () => {
  const body = withMessages(Array.from({ length: 7 }, () => ({ role: "nobody", content: [] })));
  const message = rejectMessage(ConverseRequest, body);
  const parts = message.split("; ");
  assert.equal(parts.length, 6);
  assert.equal(parts[0], 'messages[0].role: expected "user" | "assistant"');
  assert.equal(parts[4], 'messages[4].role: expected "user" | "assistant"');
  assert.equal(parts[5], "and 2 more issues");
  assert.equal(formatZodIssues(ConverseRequest.safeParse(body).error!, 1).split("; ").length, 2);
});

Deno.test("the §4 response example parses, unknown fields included", () => {
  const response = {
    output: { message: { role: "assistant", content: [{ text: "18°C and sunny." }] } },
    stopReason: "end_turn",
    usage: {
      inputTokens: 12,
      outputTokens: 7,
      totalTokens: 1231,
      cacheReadInputTokens: 1212,
      cacheWriteInputTokens: 0,
    },
    metrics: { latencyMs: 412 },
  };
  assert.deepEqual(ConverseResponse.parse(response), response);
  const full = {
    ...response,
    stopReason: "some_future_reason",
    usage: { ...response.usage, cacheDetails: [{ ttl: "1h", inputTokens: 1000 }, { ttl: "5m", inputTokens: 212 }] },
    additionalModelResponseFields: { stop_sequence: null },
    trace: { promptRouter: { invokedModelId: "m" }, guardrail: { modelOutput: ["x"], actionReason: "none" } },
    performanceConfig: { latency: "standard" },
    serviceTier: { type: "default" },
    futureResponseField: 1,
  };
  assert.deepEqual(ConverseResponse.parse(full), full);
  const { usage: _usage, ...noUsage } = response;
  assert.equal(rejectMessage(ConverseResponse, noUsage), "usage: required");
  assert.equal(
    rejectMessage(TokenUsage, { inputTokens: -1, outputTokens: 0, totalTokens: 0 }),
    "inputTokens: must be >= 0",
  );
  assert.equal(Message.safeParse(response.output.message).success, true);
});

Deno.test("each stream event kind parses, both as payload and in the SDK's one-member shape", () => {
  const payloads: [string, z.ZodType, Record<string, unknown>][] = [
    ["messageStart", MessageStartEvent, { role: "assistant" }],
    ["contentBlockStart", ContentBlockStartEvent, {
      contentBlockIndex: 1,
      start: { toolUse: { toolUseId: "t", name: "n" } },
    }],
    ["contentBlockStart", ContentBlockStartEvent, {
      contentBlockIndex: 2,
      start: { toolResult: { toolUseId: "t", status: "success" } },
    }],
    ["contentBlockStart", ContentBlockStartEvent, { contentBlockIndex: 3, start: { image: { format: "png" } } }],
    ["contentBlockDelta", ContentBlockDeltaEvent, { contentBlockIndex: 0, delta: { text: "Hi" }, p: "abcdefghij" }],
    ["contentBlockDelta", ContentBlockDeltaEvent, { contentBlockIndex: 0, delta: { text: "" } }],
    ["contentBlockDelta", ContentBlockDeltaEvent, { contentBlockIndex: 1, delta: { toolUse: { input: '{"ci' } } }],
    ["contentBlockDelta", ContentBlockDeltaEvent, {
      contentBlockIndex: 0,
      delta: { reasoningContent: { text: "hm" } },
    }],
    ["contentBlockDelta", ContentBlockDeltaEvent, {
      contentBlockIndex: 0,
      delta: { reasoningContent: { signature: "s" } },
    }],
    ["contentBlockDelta", ContentBlockDeltaEvent, {
      contentBlockIndex: 0,
      delta: { reasoningContent: { redactedContent: "AAAA" } },
    }],
    ["contentBlockDelta", ContentBlockDeltaEvent, {
      contentBlockIndex: 0,
      delta: { citation: { title: "t", sourceContent: [{ text: "s" }], location: { web: { url: "u" } } } },
    }],
    ["contentBlockDelta", ContentBlockDeltaEvent, {
      contentBlockIndex: 2,
      delta: { toolResult: [{ text: "partial" }, { json: { a: 1 } }] },
    }],
    ["contentBlockDelta", ContentBlockDeltaEvent, {
      contentBlockIndex: 3,
      delta: { image: { source: { bytes: PNG } } },
    }],
    ["contentBlockStop", ContentBlockStopEvent, { contentBlockIndex: 0 }],
    ["messageStop", MessageStopEvent, { stopReason: "end_turn", p: "abcdefghijklmnopqrstuvwxyzABCDEF" }],
    ["messageStop", MessageStopEvent, {
      stopReason: "stop_sequence",
      additionalModelResponseFields: { stop_sequence: "END" },
    }],
    ["metadata", ConverseStreamMetadataEvent, {
      usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 },
      metrics: { latencyMs: 9 },
      trace: {},
      performanceConfig: { latency: "standard" },
      serviceTier: { type: "priority" },
    }],
  ];
  for (const [member, schema, payload] of payloads) {
    assert.deepEqual(schema.parse(payload), payload, `${member} payload`);
    assert.deepEqual(ConverseStreamEvent.parse({ [member]: payload }), { [member]: payload }, `${member} event`);
  }
  const exceptions = [
    { internalServerException: { message: "boom" } },
    { modelStreamErrorException: { message: "bad", originalStatusCode: 500, originalMessage: "upstream" } },
    { validationException: { message: "nope" } },
    { throttlingException: { message: "slow down" } },
    { serviceUnavailableException: { message: "later" } },
  ];
  for (const event of exceptions) assert.deepEqual(ConverseStreamEvent.parse(event), event);
  // An unknown event type is skipped by the SDKs, so it must not fail validation either.
  assert.equal(ConverseStreamEvent.safeParse({ futureEvent: { x: 1 } }).success, true);
});

Deno.test("malformed stream events are rejected", () => {
  assert.equal(
    rejectMessage(ContentBlockStartEvent, { contentBlockIndex: 0, start: {} }),
    "start: start must set exactly one member (toolUse, toolResult, image); got none",
  );
  assert.equal(
    rejectMessage(ContentBlockDeltaEvent, { contentBlockIndex: 0, delta: { text: "a", type: "text" } }),
    "delta: delta must set exactly one member; got 2: text, type",
  );
  assert.equal(rejectMessage(ContentBlockDeltaEvent, { delta: { text: "a" } }), "contentBlockIndex: required");
  assert.equal(
    rejectMessage(ContentBlockStopEvent, { contentBlockIndex: -1 }),
    "contentBlockIndex: must be >= 0",
  );
  assert.equal(rejectMessage(MessageStopEvent, {}), "stopReason: required");
  assert.equal(
    rejectMessage(ConverseStreamEvent, {
      messageStart: { role: "assistant" },
      messageStop: { stopReason: "end_turn" },
    }),
    "body: stream event must set exactly one member; got 2: messageStart, messageStop",
  );
  assert.equal(
    rejectMessage(ConverseStreamEvent, { throttlingException: {} }),
    "throttlingException.message: required",
  );
});

Deno.test("error bodies and the exception table", () => {
  assert.deepEqual(BedrockErrorBody.parse({ message: "Malformed input request" }), {
    message: "Malformed input request",
  });
  const modelError = { message: "m", originalStatusCode: 500, resourceName: "arn:x" };
  assert.deepEqual(BedrockErrorBody.parse(modelError), modelError);
  assert.equal(rejectMessage(BedrockErrorBody, {}), "message: required");

  assert.deepEqual(BEDROCK_EXCEPTIONS.ValidationException, { status: 400, fault: "client" });
  assert.deepEqual(BEDROCK_EXCEPTIONS.ThrottlingException, { status: 429, fault: "client" });
  assert.deepEqual(BEDROCK_EXCEPTIONS.ModelNotReadyException, { status: 429, fault: "client" });
  assert.deepEqual(BEDROCK_EXCEPTIONS.ModelErrorException, { status: 424, fault: "client" });
  assert.deepEqual(BEDROCK_EXCEPTIONS.InternalServerException, { status: 500, fault: "server" });
  assert.deepEqual(BEDROCK_EXCEPTIONS.ServiceUnavailableException, { status: 503, fault: "server" });
  assert.deepEqual(BEDROCK_EXCEPTIONS.ServiceQuotaExceededException, { status: 400, fault: "client" });
  assert.equal(Object.keys(BEDROCK_EXCEPTIONS).length, 12);
  assert.ok(Object.isFrozen(BEDROCK_EXCEPTIONS) && Object.isFrozen(BEDROCK_EXCEPTIONS.ModelTimeoutException));
});

Deno.test("z.toJSONSchema converts the request and stream schemas with named components", () => {
  const request = z.toJSONSchema(ConverseRequest) as { $defs: Record<string, unknown> };
  for (const id of ["ConverseRequest", "Message", "ContentBlock", "SystemContentBlock", "InferenceConfiguration"]) {
    assert.ok(id in request.$defs, `ConverseRequest JSON Schema lacks ${id}`);
  }
  for (const id of ["ToolConfiguration", "ImageBlock", "ToolUseBlock", "ToolResultBlock", "Document"]) {
    assert.ok(id in request.$defs, `ConverseRequest JSON Schema lacks ${id}`);
  }
  const contentBlock = request.$defs.ContentBlock as { properties: Record<string, unknown>; maxProperties: number };
  assert.equal(Object.keys(contentBlock.properties).length, 14);
  assert.equal(contentBlock.maxProperties, 1);

  const events = z.toJSONSchema(ConverseStreamEvent) as { $defs: Record<string, unknown> };
  for (
    const id of [
      "ConverseStreamEvent",
      "MessageStartEvent",
      "ContentBlockStartEvent",
      "ContentBlockDeltaEvent",
      "ContentBlockStopEvent",
      "MessageStopEvent",
      "ConverseStreamMetadataEvent",
      "TokenUsage",
    ]
  ) assert.ok(id in events.$defs, `ConverseStreamEvent JSON Schema lacks ${id}`);

  // The request side of openapi.yaml may be generated in "input" mode; it must convert too.
  const requestInput = z.toJSONSchema(ConverseRequest, { io: "input" }) as { $defs: Record<string, unknown> };
  assert.ok("ContentBlock" in requestInput.$defs);

  const stream = z.toJSONSchema(ConverseStreamRequest) as { $defs: Record<string, unknown> };
  assert.ok("GuardrailStreamConfiguration" in stream.$defs);
  const response = z.toJSONSchema(ConverseResponse) as { $defs: Record<string, unknown> };
  assert.ok("ConverseResponse" in response.$defs && "TokenUsage" in response.$defs);
  assert.ok("BedrockErrorBody" in (z.toJSONSchema(BedrockErrorBody) as { $defs: Record<string, unknown> }).$defs);
});
