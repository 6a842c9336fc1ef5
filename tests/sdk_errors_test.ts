/**
 * The SDK's error mapping and stream decoding against hand-made wire bytes (an injected `fetch`): both error
 * formats, the budget error whatever Bedrock type it carries, exception and error frames, corrupt frames, and
 * the generic operation methods' URL and body building.
 */
import assert from "node:assert/strict";
import {
  AccessDeniedException,
  AuthenticationError,
  BudgetExceededError,
  ConnectionError,
  ConverseError,
  createClient,
  encodeModelId,
  EventStreamError,
  InternalServerException,
  ModelErrorException,
  ModelStreamErrorException,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  ServiceUnavailableException,
  ThrottlingException,
  TimeoutError,
  UnrecognizedClientException,
  ValidationException,
} from "../sdk/mod.ts";
import { operationMethods } from "../sdk/admin.ts";
import { encodeEvent, encodeException, encodeMessage } from "../wire/eventstream.ts";
import { errorFromException } from "../sdk/errors.ts";

const FAULT = ":http://internal.amazon.com/coral/com.amazon.bedrock/";
const messages = [{ role: "user" as const, content: [{ text: "Hi" }] }];

/** A client whose fetch answers `res` and records what was asked; no retries (`sdk_retry_test.ts` has those). */
function clientAnswering(res: () => Response) {
  const seen: Array<{ url: string; init: RequestInit }> = [];
  const client = createClient({
    baseUrl: "http://gateway.test",
    apiKey: "sk-test",
    maxRetries: 0,
    fetch: (url, init) => {
      seen.push({ url, init });
      return Promise.resolve(res());
    },
  });
  return { client, seen };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => () =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

async function errorOf(res: () => Response): Promise<ConverseError> {
  const { client } = clientAnswering(res);
  try {
    await client.converse("claude", { messages });
  } catch (e) {
    assert.ok(e instanceof ConverseError, `not a ConverseError: ${e}`);
    return e;
  }
  throw new Error("converse did not throw");
}

Deno.test("Bedrock-format errors map to the class named by x-amzn-ErrorType", async () => {
  const cases: Array<[string, number, new (...a: never[]) => ConverseError]> = [
    ["ValidationException", 400, ValidationException],
    ["AccessDeniedException", 403, AccessDeniedException],
    ["ModelErrorException", 424, ModelErrorException],
    ["ThrottlingException", 429, ThrottlingException],
    ["InternalServerException", 500, InternalServerException],
    ["ServiceUnavailableException", 504, ServiceUnavailableException],
    ["UnrecognizedClientException", 401, UnrecognizedClientException],
  ];
  for (const [type, status, Class] of cases) {
    const e = await errorOf(
      json(status, { message: `${type} happened` }, { "x-amzn-errortype": type + FAULT, "x-amzn-requestid": "rid-1" }),
    );
    assert.ok(e instanceof Class, `${type} → ${e.name}`);
    assert.equal(e.name, type);
    assert.equal(e.type, type);
    assert.equal(e.status, status);
    assert.equal(e.message, `${type} happened`);
    assert.equal(e.requestId, "rid-1");
  }
  // No header: the body's `__type` (as some AWS services send it) names the class.
  const byBody = await errorOf(json(429, { __type: "com.amazon.coral#ThrottlingException", Message: "slow" }));
  assert.ok(byBody instanceof ThrottlingException);
  assert.equal(byBody.message, "slow");
});

Deno.test("a budget error is BudgetExceededError whatever x-amzn-ErrorType and status it comes with", async () => {
  const message = "Budget has been exceeded! Current cost: 1.25, Max budget: 1.0";
  const litellm = { message, type: "budget_exceeded", param: null, code: "400" };
  const bedrockFormat = await errorOf(
    json(400, { message, error: litellm }, { "x-amzn-errortype": "ValidationException" + FAULT }),
  );
  assert.ok(bedrockFormat instanceof BudgetExceededError);
  assert.ok(bedrockFormat instanceof ServiceQuotaExceededException, "what the AWS SDKs raise for it");
  assert.ok(!(bedrockFormat instanceof ValidationException), "a budget error is not retried as bad input");
  assert.equal(bedrockFormat.name, "BudgetExceededError");
  assert.equal(bedrockFormat.status, 400);
  assert.equal(bedrockFormat.message, message);

  const litellmFormat = await errorOf(
    json(429, { error: { ...litellm, code: "429" } }, { "retry-after": "3600", "x-litellm-call-id": "call-9" }),
  );
  assert.ok(litellmFormat instanceof BudgetExceededError);
  assert.equal(litellmFormat.status, 429);
  assert.equal(litellmFormat.retryAfter, 3600);
  assert.equal(litellmFormat.requestId, "call-9");
  assert.equal(litellmFormat.type, "budget_exceeded");
});

Deno.test("LiteLLM-format errors map by error.type; unknown types stay ConverseError with their type", async () => {
  const auth = await errorOf(json(401, { error: { message: "Invalid key", type: "auth_error", code: "401" } }));
  assert.ok(auth instanceof AuthenticationError);
  assert.ok(!(auth instanceof UnrecognizedClientException));
  assert.equal(auth.message, "Invalid key");

  const notFound = await errorOf(
    json(404, { error: { message: "no such key", type: "not_found_error", code: "404" } }),
  );
  assert.ok(notFound instanceof ResourceNotFoundException);
  assert.equal(notFound.type, "not_found_error");
  assert.equal(notFound.status, 404);
  const badInput = await errorOf(json(400, { error: { message: "bad", type: "bad_request_error", code: "400" } }));
  assert.ok(badInput instanceof ValidationException);

  const other = await errorOf(json(409, { error: { message: "taken", type: "conflict_error", code: "409" } }));
  assert.equal(other.constructor, ConverseError);
  assert.equal(other.type, "conflict_error");
  assert.equal(other.status, 409);

  const html = await errorOf(() => new Response("<html>Bad Gateway</html>", { status: 502 }));
  assert.equal(html.constructor, ConverseError);
  assert.equal(html.status, 502);
  assert.equal(html.type, "HTTP502");
  assert.equal(html.message, "<html>Bad Gateway</html>");

  const date = new Date(Date.now() + 120_000).toUTCString();
  const dated = await errorOf(json(503, { message: "later" }, { "retry-after": date }));
  assert.ok(dated.retryAfter !== undefined && dated.retryAfter > 0 && dated.retryAfter <= 120);
});

Deno.test("a network failure is a ConnectionError (status 0) with the fetch error as its cause", async () => {
  const failure = new TypeError("fetch failed");
  const client = createClient({ baseUrl: "http://gateway.test", maxRetries: 0, fetch: () => Promise.reject(failure) });
  const isConnectionError = (e: unknown) => {
    assert.ok(e instanceof ConnectionError && e instanceof ConverseError, String(e));
    assert.ok(!(e instanceof TimeoutError));
    assert.equal(e.name, "ConnectionError");
    assert.equal(e.status, 0);
    assert.equal(e.cause, failure);
    assert.match(e.message, /fetch failed/);
    return true;
  };
  await assert.rejects(client.converse("claude", { messages }), isConnectionError);
  await assert.rejects(client.converseStream("claude", { messages }).collect(), isConnectionError);
  await assert.rejects(client.keys.list(), isConnectionError);
});

Deno.test("a body that breaks while read is a ConnectionError; a corrupt frame is not", async () => {
  const broken = new TypeError("error reading a body from connection");
  const breaking = (first: Uint8Array) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(first);
        c.error(broken);
      },
    });
  const { client } = clientAnswering(() => new Response(breaking(new TextEncoder().encode('{"out'))));
  await assert.rejects(
    client.converse("claude", { messages }),
    (e) => e instanceof ConnectionError && e.cause === broken,
  );
  const frame = encodeEvent("messageStart", { role: "assistant" });
  const stream = clientAnswering(() => new Response(breaking(frame))).client;
  await assert.rejects(stream.converseStream("claude", { messages }).collect(), (e) => e instanceof ConnectionError);
  const corrupt = frame.slice();
  corrupt[corrupt.length - 1] ^= 1;
  const bad = clientAnswering(() => new Response(new Blob([corrupt]).stream())).client;
  await assert.rejects(bad.converseStream("claude", { messages }).collect(), EventStreamError);
});

Deno.test("the request carries the key, JSON content type, Accept and the encoded model id", async () => {
  const { client, seen } = clientAnswering(
    json(200, { output: { message: { role: "assistant", content: [] } }, stopReason: "end_turn" }),
  );
  const arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6";
  await client.converse(arn, { messages }, { headers: { "x-litellm-tags": "a,b" } });
  assert.equal(
    seen[0].url,
    "http://gateway.test/bedrock/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3d4e5f6/converse",
  );
  const headers = seen[0].init.headers as Record<string, string>;
  assert.equal(headers.authorization, "Bearer sk-test");
  assert.equal(headers["content-type"], "application/json");
  assert.equal(headers.accept, "application/json");
  assert.equal(headers["x-litellm-tags"], "a,b");
  assert.equal(seen[0].init.method, "POST");
  assert.deepEqual(JSON.parse(seen[0].init.body as string), { messages });
  assert.equal(encodeModelId("it's(a)*test!"), "it%27s%28a%29%2Atest%21");
});

/** A client whose stream answer is exactly `frames`. */
function streamOf(frames: Uint8Array[], headers: Record<string, string> = {}) {
  return clientAnswering(() =>
    new Response(new Blob(frames.map((f) => f.slice())).stream(), {
      status: 200,
      headers: { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "rid-s", ...headers },
    })
  ).client;
}

Deno.test("exception frames of every stream union member throw their class with the modeled status", async () => {
  const cases: Array<[string, number, new (...a: never[]) => ConverseError]> = [
    ["throttlingException", 429, ThrottlingException],
    ["validationException", 400, ValidationException],
    ["internalServerException", 500, InternalServerException],
    ["serviceUnavailableException", 503, ServiceUnavailableException],
    ["modelStreamErrorException", 424, ModelStreamErrorException],
  ];
  for (const [member, status, Class] of cases) {
    const payload = { message: `${member}!`, originalStatusCode: 500, originalMessage: "upstream" };
    const client = streamOf([encodeEvent("messageStart", { role: "assistant" }), encodeException(member, payload)]);
    const events: unknown[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of client.converseStream("m", { messages })) events.push(e);
      })(),
      (e) => {
        assert.ok(e instanceof Class, `${member} → ${e}`);
        assert.equal(e.status, status);
        assert.equal(e.message, `${member}!`);
        assert.equal(e.requestId, "rid-s");
        assert.deepEqual(e.body, payload);
        return true;
      },
    );
    assert.deepEqual(events, [{ messageStart: { role: "assistant" } }]);
  }
  const unknown = errorFromException("brandNewException", { message: "new" });
  assert.equal(unknown.constructor, ConverseError);
  assert.equal(unknown.type, "BrandNewException");
});

Deno.test("an unmodeled error frame, a corrupt frame and unknown event types", async () => {
  const errorFrame = encodeMessage(
    { ":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom" },
    new Uint8Array(0),
  );
  await assert.rejects(streamOf([errorFrame]).converseStream("m", { messages }).collect(), (e) => {
    assert.ok(e instanceof ConverseError);
    assert.equal(e.type, "InternalFailure");
    assert.equal(e.message, "boom");
    return true;
  });

  const good = encodeEvent("messageStart", { role: "assistant" });
  const corrupt = encodeEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "x" } });
  corrupt[corrupt.length - 6] ^= 0xff; // a payload byte: the message CRC no longer matches
  const seen: unknown[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of streamOf([good, corrupt]).converseStream("m", { messages })) seen.push(e);
    })(),
    EventStreamError,
  );
  assert.equal(seen.length, 1);

  // Unknown event types are skipped, as the AWS SDKs do; known ones lose only the `p` padding.
  const events: unknown[] = [];
  const client = streamOf([
    encodeEvent("messageStart", { role: "assistant", p: "abcdef" }),
    encodeEvent("someFutureEvent", { x: 1 }),
    encodeEvent("messageStop", { stopReason: "end_turn", newField: true }),
  ]);
  for await (const e of client.converseStream("m", { messages })) events.push(e);
  assert.deepEqual(events, [
    { messageStart: { role: "assistant" } },
    { messageStop: { stopReason: "end_turn", newField: true } },
  ]);
});

Deno.test("a ConverseStream is single-use: a second iteration throws instead of sending again", async () => {
  const { client, seen } = clientAnswering(() =>
    new Response(new Blob([encodeEvent("messageStart", { role: "assistant" }).slice()]).stream())
  );
  const stream = client.converseStream("m", { messages });
  for await (const _ of stream) { /* drain */ }
  await assert.rejects(stream.collect(), /only once/);
  assert.equal(seen.length, 1);
});

Deno.test("generic operation methods: path parameters, query for GET, JSON body for POST, typed errors", async () => {
  const seen: Array<{ url: string; init: RequestInit }> = [];
  const answers = [
    json(200, { ok: 1 }),
    json(200, { ok: 2 }),
    json(200, { ok: 3 }),
    json(403, { error: { message: "admin only", type: "auth_error", code: "403" } }),
  ];
  const methods = operationMethods({
    baseUrl: "http://gateway.test",
    apiKey: "sk-admin",
    maxRetries: 0,
    random: Math.random,
    sleep: () => Promise.resolve(),
    fetch: (url, init) => {
      seen.push({ url, init });
      return Promise.resolve(answers[seen.length - 1]());
    },
  }, {
    keys: {
      info: ["GET", "/key/info", true],
      regenerate: ["POST", "/key/{key}/regenerate", true],
      list: ["GET", "/key/list", false],
    },
  });
  assert.deepEqual(await methods.keys.info({ key: "sk-1", page: 2, tags: ["a", "b"], skip: undefined }), { ok: 1 });
  assert.equal(seen[0].url, "http://gateway.test/key/info?key=sk-1&page=2&tags=a&tags=b");
  assert.equal(seen[0].init.method, "GET");
  assert.equal(seen[0].init.body, undefined);

  assert.deepEqual(await methods.keys.regenerate({ key: "sk/1", duration: "30d" }), { ok: 2 });
  assert.equal(seen[1].url, "http://gateway.test/key/sk%2F1/regenerate");
  assert.deepEqual(JSON.parse(seen[1].init.body as string), { duration: "30d" });

  const controller = new AbortController();
  assert.deepEqual(await methods.keys.list({ signal: controller.signal }), { ok: 3 });
  assert.equal(seen[2].url, "http://gateway.test/key/list");

  await assert.rejects(methods.keys.list(), (e) => e instanceof AuthenticationError && e.status === 403);
  assert.equal((seen[3].init.headers as Record<string, string>).authorization, "Bearer sk-admin");
});
