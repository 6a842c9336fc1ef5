/**
 * The pass-through routes that are not model calls: ApplyGuardrail (bedrock-runtime) and Retrieve,
 * RetrieveAndGenerate, InvokeAgent (bedrock-agent-runtime), signed with the `general_settings.bedrock_passthrough`
 * account. Clients are the real AWS SDKs; upstream are two fakes, one per AWS API, that verify SigV4. Also: key route
 * permissions (`allowed_routes`), an unconfigured account, and input checks.
 */
import assert from "node:assert/strict";
import {
  AccessDeniedException as AgentAccessDenied,
  BedrockAgentRuntimeClient,
  InvokeAgentCommand,
  ResourceNotFoundException,
  type ResponseStream,
  RetrieveAndGenerateCommand,
  RetrieveCommand,
} from "@aws-sdk/client-bedrock-agent-runtime";
import {
  AccessDeniedException,
  ApplyGuardrailCommand,
  ConverseCommand,
  ServiceUnavailableException,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import {
  FAKE_BEARER_TOKEN,
  FAKE_CREDENTIALS,
  type FakeBedrock,
  type FakeCredentials,
  Latch,
  startFakeBedrock,
} from "../testing/fake_bedrock.ts";
import { bedrockClient, fakeConfig, type GatewayUnderTest, MASTER_KEY, startGateway } from "../testing/harness.ts";
import { adminCall, Clock, ENV } from "./keys_helpers.ts";
import { get } from "./spend_helpers.ts";

/** The pass-through account: distinct from the deployments' credentials, so the tests see which one signed. */
const PT: FakeCredentials = {
  accessKeyId: "AKIAPASSTHROUGH00001",
  secretAccessKey: "passthrough/Secret/Key/For/Tests/0000001",
};
const PT_ENV = { PT_KEY_ID: PT.accessKeyId, PT_SECRET: PT.secretAccessKey };

const KB = "KB12345678";
const AGENT = "AGENT12345";
const ALIAS = "TSTALIASID";
const GUARDRAIL_ARN = "arn:aws:bedrock:us-west-2:123456789012:guardrail/gr0abc123";

const passthroughBlock = (runtime: string, agent: string) =>
  `  bedrock_passthrough:
    aws_region_name: us-west-2
    aws_access_key_id: os.environ/PT_KEY_ID
    aws_secret_access_key: os.environ/PT_SECRET
    aws_bedrock_runtime_endpoint: ${runtime}
    aws_bedrock_agent_runtime_endpoint: ${agent}
`;

interface Setup extends AsyncDisposable {
  runtime: FakeBedrock;
  agent: FakeBedrock;
  gw: GatewayUnderTest;
  generate(settings: Record<string, unknown>): Promise<string>;
}

/** `extra` replaces the default `bedrock_passthrough` block (pass "" for none); `env` replaces the default env. */
async function setup(opts: { extra?: (runtime: string, agent: string) => string; env?: Record<string, string> } = {}) {
  const clock = new Clock();
  const now = () => new Date(clock.now());
  const runtime = await startFakeBedrock({ now, credentials: [FAKE_CREDENTIALS, PT] });
  const agent = await startFakeBedrock({ now, api: "agent-runtime", credentials: [PT] });
  const gw = await startGateway({
    yaml: fakeConfig(runtime.url, { extra: (opts.extra ?? passthroughBlock)(runtime.url, agent.url) }),
    env: opts.env ?? { ...ENV, ...PT_ENV },
    now: clock.now,
  });
  const setup: Setup = {
    runtime,
    agent,
    gw,
    async generate(settings) {
      const r = await adminCall(gw.url, "POST", "/key/generate", settings);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return r.json.key;
    },
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await runtime.close();
      await agent.close();
    },
  };
  return setup;
}

/**
 * The agent-runtime SDK pointed at the gateway. It only speaks SigV4, so it signs with throwaway credentials and
 * carries the gateway key in `x-litellm-api-key` (LiteLLM's recipe); HTTP/1.1 for the event stream.
 */
function agentClient(gatewayUrl: string, key: string): BedrockAgentRuntimeClient {
  const client = new BedrockAgentRuntimeClient({
    endpoint: `${gatewayUrl}/bedrock`,
    region: "us-west-2",
    credentials: { accessKeyId: "AKIAUNUSED", secretAccessKey: "unused" },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  client.middlewareStack.add((next) => (args) => {
    (args.request as { headers: Record<string, string> }).headers["x-litellm-api-key"] = key;
    return next(args);
  }, { step: "build", name: "gatewayKey" });
  return client;
}

const post = (url: string, body: string, key = MASTER_KEY, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    body,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
  });

const decoder = new TextDecoder();

async function agentAnswer(stream: AsyncIterable<ResponseStream> | undefined) {
  let text = "";
  const citations: unknown[] = [];
  for await (const e of stream ?? []) {
    if (e.chunk?.bytes) text += decoder.decode(e.chunk.bytes);
    citations.push(...(e.chunk?.attribution?.citations ?? []));
  }
  return { text, citations };
}

const signedBy = (f: FakeBedrock, i: number) => {
  const auth = f.requests[i].auth;
  return auth.kind === "sigv4" ? auth.accessKeyId : auth.kind;
};

// ---------------------------------------------------------------------------------------------- ApplyGuardrail

Deno.test("ApplyGuardrail (AWS SDK) goes to bedrock-runtime signed with the pass-through account; its policy units billed", async () => {
  await using t = await setup();
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  const pass = await client.send(
    new ApplyGuardrailCommand({
      guardrailIdentifier: "gr0abc123",
      guardrailVersion: "1",
      source: "INPUT",
      content: [{ text: { text: "what is the weather?" } }],
    }),
  );
  const blocked = await client.send(
    new ApplyGuardrailCommand({
      guardrailIdentifier: GUARDRAIL_ARN,
      guardrailVersion: "DRAFT",
      source: "OUTPUT",
      content: [{ text: { text: "a forbidden topic" } }],
    }),
  );
  client.destroy();
  assert.equal(pass.action, "NONE");
  assert.equal(blocked.action, "GUARDRAIL_INTERVENED");
  assert.equal(blocked.outputs?.[0].text, "Sorry, I can't help with that.");
  assert.equal(blocked.usage?.topicPolicyUnits, 1);

  assert.equal(t.runtime.requests.length, 2);
  for (const [i, seen] of t.runtime.requests.entries()) {
    assert.equal(seen.rejected, false, seen.rejectReason);
    assert.equal(signedBy(t.runtime, i), PT.accessKeyId);
  }
  assert.equal(t.runtime.requests[0].rawPath, "/guardrail/gr0abc123/version/1/apply");
  // An ARN is one path segment, encoded the way the AWS SDKs do.
  assert.equal(
    t.runtime.requests[1].rawPath,
    "/guardrail/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aguardrail%2Fgr0abc123/version/DRAFT/apply",
  );
  assert.deepEqual(t.runtime.requests[1].pathParams, { guardrailIdentifier: GUARDRAIL_ARN, guardrailVersion: "DRAFT" });
  assert.equal(t.agent.requests.length, 0);

  assert.deepEqual(t.gw.calls.map((c) => [c.callType, c.modelName, c.status, c.usage]), [
    ["apply-guardrail", "guardrail/gr0abc123/1", "success", undefined],
    ["apply-guardrail", `guardrail/${GUARDRAIL_ARN}/DRAFT`, "success", undefined],
  ]);
  const rows = (await get(t.gw.url, "/spend/logs")).json;
  // The fake reports 1 topic, 1 content, 1 word and 1 PII unit per call: $0.15 + $0.15 + 0 + $0.10 per 1,000.
  assert.deepEqual(rows.map((r: { call_type: string; spend: number }) => [r.call_type, r.spend]), [
    ["apply-guardrail", 0.0004],
    ["apply-guardrail", 0.0004],
  ]);
  assert.equal(rows[0].api_base, t.runtime.url);
  // The request log names the route that was called.
  const line = t.gw.logs.map((l) => JSON.parse(l)).find((l) => l.call_type === "apply-guardrail");
  assert.equal(line.route, "/bedrock/guardrail/gr0abc123/version/1/apply");
  // The pass-through account's secret appears nowhere.
  assert.equal(t.gw.logs.join("\n").includes(PT.secretAccessKey), false);
  assert.equal(JSON.stringify(rows).includes(PT.secretAccessKey), false);
});

Deno.test("ApplyGuardrail: an unencoded guardrail ARN in the path is sent upstream encoded, like the SDKs send it", async () => {
  await using t = await setup();
  const body = JSON.stringify({ source: "INPUT", content: [{ text: { text: "hi" } }] });
  const res = await post(`${t.gw.url}/bedrock/guardrail/${GUARDRAIL_ARN}/version/2/apply`, body);
  assert.equal(res.status, 200, await res.text());
  assert.equal(
    t.runtime.requests[0].rawPath,
    "/guardrail/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aguardrail%2Fgr0abc123/version/2/apply",
  );
});

// ---------------------------------------------------------------------------------------------- agent runtime

Deno.test("Retrieve and RetrieveAndGenerate (agent-runtime SDK) go to bedrock-agent-runtime with the pass-through account", async () => {
  await using t = await setup();
  const key = await t.generate({ allowed_routes: ["/bedrock/knowledgebases/*", "/bedrock/retrieveAndGenerate"] });
  const client = agentClient(t.gw.url, key);
  const retrieved = await client.send(
    new RetrieveCommand({ knowledgeBaseId: KB, retrievalQuery: { text: "refund policy" } }),
  );
  assert.equal(retrieved.retrievalResults?.[0].content?.text, "passage about refund policy");
  assert.equal(retrieved.retrievalResults?.[0].score, 0.87);
  assert.equal(retrieved.retrievalResults?.[0].location?.s3Location?.uri, "s3://fake-kb/doc1.txt");

  const generated = await client.send(
    new RetrieveAndGenerateCommand({
      input: { text: "How do refunds work?" },
      retrieveAndGenerateConfiguration: {
        type: "KNOWLEDGE_BASE",
        knowledgeBaseConfiguration: {
          knowledgeBaseId: KB,
          modelArn: "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        },
      },
    }),
  );
  client.destroy();
  assert.equal(generated.output?.text, "answer to How do refunds work?");
  assert.equal(generated.sessionId, "fake-session-0001");
  assert.equal(generated.citations?.[0].retrievedReferences?.[0].content?.text, "A fake passage.");

  assert.deepEqual(
    t.agent.requests.map((r) => [r.rawPath, r.rejected, signedBy(t.agent, t.agent.requests.indexOf(r))]),
    [
      [`/knowledgebases/${KB}/retrieve`, false, PT.accessKeyId],
      ["/retrieveAndGenerate", false, PT.accessKeyId],
    ],
  );
  // The client's own signature and key never go upstream.
  assert.equal(JSON.stringify(t.agent.requests[0].headers).includes(key), false);
  assert.equal(JSON.stringify(t.agent.requests[0].headers).includes("AKIAUNUSED"), false);
  assert.equal(t.runtime.requests.length, 0);
  assert.deepEqual(t.gw.calls.map((c) => [c.callType, c.modelName, c.status]), [
    ["retrieve", `knowledgebase/${KB}`, "success"],
    ["retrieve-and-generate", "retrieveAndGenerate", "success"],
  ]);
});

Deno.test("InvokeAgent (agent-runtime SDK): the event stream relayed, chunks and attribution decoded, session id returned", async () => {
  await using t = await setup();
  const key = await t.generate({ allowed_routes: ["/bedrock/agents/*"] });
  const client = agentClient(t.gw.url, key);
  const out = await client.send(
    new InvokeAgentCommand({
      agentId: AGENT,
      agentAliasId: ALIAS,
      sessionId: "session-42",
      inputText: "book a table for two",
      sourceArn: "arn:aws:lambda:us-west-2:123456789012:function:caller",
    }),
  );
  const answer = await agentAnswer(out.completion);
  client.destroy();
  assert.equal(answer.text, "agent echo: book a table for two");
  assert.equal(answer.citations.length, 1);
  assert.equal(out.sessionId, "session-42");
  assert.equal(out.contentType, "application/json");

  const seen = t.agent.requests[0];
  assert.equal(seen.rejected, false, seen.rejectReason);
  assert.equal(seen.rawPath, `/agents/${AGENT}/agentAliases/${ALIAS}/sessions/session-42/text`);
  assert.equal(signedBy(t.agent, 0), PT.accessKeyId);
  // InvokeAgent binds sourceArn to a header: forwarded (and signed).
  assert.equal(seen.headers["x-amz-source-arn"], "arn:aws:lambda:us-west-2:123456789012:function:caller");
  assert.equal(JSON.parse(decoder.decode(seen.body)).inputText, "book a table for two");

  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.callType, "invoke-agent");
  assert.equal(call.modelName, `agent/${AGENT}/${ALIAS}`);
  assert.equal(call.status, "success");
  assert.equal(call.incomplete, undefined);
  assert.equal(call.usage, undefined);
});

Deno.test("InvokeAgent: the stream reaches the client before the agent has finished; a client abort stops the upstream", async () => {
  await using t = await setup();
  const latch = new Latch();
  t.agent.enqueue({
    kind: "stream",
    pauseAfterFirst: latch,
    events: [["chunk", { bytes: btoa("first ") }], ["chunk", { bytes: btoa("second") }]],
  });
  const abort = new AbortController();
  const res = await fetch(`${t.gw.url}/bedrock/agents/${AGENT}/agentAliases/${ALIAS}/sessions/s1/text`, {
    method: "POST",
    body: JSON.stringify({ inputText: "hi" }),
    headers: { authorization: `Bearer ${MASTER_KEY}` },
    signal: abort.signal,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/vnd.amazon.eventstream");
  const reader = res.body!.getReader();
  const first = await reader.read();
  // The first frame arrived while the fake still holds the second one back.
  assert.deepEqual(first.value, t.agent.streamBytes[0]);
  abort.abort();
  await t.agent.whenAborted(0);
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "client_disconnected");
  latch.release();
});

Deno.test("InvokeAgent: an upstream error before the stream is the SDK's typed exception and a failed call", async () => {
  await using t = await setup();
  t.agent.enqueue({ kind: "error", status: 404, type: "ResourceNotFoundException", message: "no such agent alias" });
  const client = agentClient(t.gw.url, MASTER_KEY);
  await assert.rejects(
    client.send(new InvokeAgentCommand({ agentId: AGENT, agentAliasId: ALIAS, sessionId: "s-1", inputText: "hi" })),
    (e) => e instanceof ResourceNotFoundException && e.message === "no such agent alias",
  );
  client.destroy();
  const [call] = await t.gw.waitForCalls(1);
  assert.equal(call.status, "failure");
  assert.equal(call.httpStatus, 404);
  assert.equal(call.errorType, "ResourceNotFoundException");
});

// ----------------------------------------------------------------------------------------- route permissions

Deno.test("allowed_routes: a key needs an explicit grant for guardrail and agent routes; once set, it bounds model routes too", async () => {
  await using t = await setup();
  const guardrailBody = { source: "INPUT" as const, content: [{ text: { text: "hi" } }] };
  const messages = [{ role: "user" as const, content: [{ text: "hi" }] }];

  // No allowed_routes: model routes only.
  const plain = await t.generate({});
  const plainRuntime = bedrockClient(t.gw.url, plain);
  await plainRuntime.send(new ConverseCommand({ modelId: "claude", messages }));
  await assert.rejects(
    plainRuntime.send(
      new ApplyGuardrailCommand({ guardrailIdentifier: "g1", guardrailVersion: "1", ...guardrailBody }),
    ),
    (e) => e instanceof AccessDeniedException && /no allowed_routes/.test(e.message),
  );
  plainRuntime.destroy();
  const plainAgent = agentClient(t.gw.url, plain);
  await assert.rejects(
    plainAgent.send(new RetrieveCommand({ knowledgeBaseId: KB, retrievalQuery: { text: "q" } })),
    (e) => e instanceof AgentAccessDenied && e.$metadata.httpStatusCode === 403,
  );
  plainAgent.destroy();

  // Guardrails only: guardrails work, knowledge bases and models do not.
  const guard = await t.generate({ allowed_routes: ["/bedrock/guardrail/*"] });
  const guardRuntime = bedrockClient(t.gw.url, guard);
  await guardRuntime.send(
    new ApplyGuardrailCommand({ guardrailIdentifier: "g1", guardrailVersion: "1", ...guardrailBody }),
  );
  await assert.rejects(
    guardRuntime.send(new ConverseCommand({ modelId: "claude", messages })),
    (e) => e instanceof AccessDeniedException && /matches none of the key's allowed_routes/.test(e.message),
  );
  guardRuntime.destroy();
  const denied = await post(
    `${t.gw.url}/bedrock/knowledgebases/${KB}/retrieve`,
    '{"retrievalQuery":{"text":"q"}}',
    guard,
  );
  assert.equal(denied.status, 403);
  assert.equal(denied.headers.get("x-amzn-errortype")?.split(":")[0], "AccessDeniedException");
  assert.equal((await denied.json()).error.type, "key_route_access_denied");

  // One knowledge base and the models: that knowledge base, not another, and no agents.
  const kb = await t.generate({ allowed_routes: ["/bedrock/model/*", `/bedrock/knowledgebases/${KB}/retrieve`] });
  const kbAgent = agentClient(t.gw.url, kb);
  await kbAgent.send(new RetrieveCommand({ knowledgeBaseId: KB, retrievalQuery: { text: "q" } }));
  await assert.rejects(
    kbAgent.send(new RetrieveCommand({ knowledgeBaseId: "OTHERKB123", retrievalQuery: { text: "q" } })),
    (e) => e instanceof AgentAccessDenied,
  );
  await assert.rejects(
    kbAgent.send(new InvokeAgentCommand({ agentId: AGENT, agentAliasId: ALIAS, sessionId: "s-1", inputText: "x" })),
    (e) => e instanceof AgentAccessDenied,
  );
  kbAgent.destroy();
  const kbRuntime = bedrockClient(t.gw.url, kb);
  await kbRuntime.send(new ConverseCommand({ modelId: "claude", messages }));
  kbRuntime.destroy();

  // Exactly the allowed calls reached AWS: 2 converse + 1 guardrail on the runtime, 1 retrieve on the agent runtime.
  assert.equal(t.runtime.requests.length, 3);
  assert.equal(t.agent.requests.length, 1);
  // allowed_routes can be cleared again (null), back to model routes only.
  const cleared = await adminCall(t.gw.url, "POST", "/key/update", { key: kb, allowed_routes: null });
  assert.deepEqual(cleared.json.allowed_routes, []);
});

Deno.test("the master key may call every pass-through route", async () => {
  await using t = await setup();
  const client = agentClient(t.gw.url, MASTER_KEY);
  await client.send(new RetrieveCommand({ knowledgeBaseId: KB, retrievalQuery: { text: "q" } }));
  client.destroy();
  assert.equal(t.agent.requests.length, 1);
});

// ------------------------------------------------------------------------------------- account configuration

Deno.test("no pass-through account and no AWS credentials anywhere: 503 naming the default chain and what it tried", async () => {
  // Deployment credentials come from the entry itself; no AWS_* variables in the environment, so the default chain
  // (tried on the first pass-through call) finds nothing.
  await using t = await setup({
    extra: () => "",
    env: { ...PT_ENV, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
  });
  const client = bedrockClient(t.gw.url, MASTER_KEY);
  await assert.rejects(
    client.send(
      new ApplyGuardrailCommand({
        guardrailIdentifier: "g1",
        guardrailVersion: "1",
        source: "INPUT",
        content: [{ text: { text: "hi" } }],
      }),
    ),
    (e) => e instanceof ServiceUnavailableException && /general_settings\.bedrock_passthrough/.test(e.message),
  );
  client.destroy();
  const res = await post(`${t.gw.url}/bedrock/knowledgebases/${KB}/retrieve`, '{"retrievalQuery":{"text":"q"}}');
  assert.equal(res.status, 503);
  const message = (await res.json()).message;
  assert.match(
    message,
    /^Retrieve \(general_settings\.bedrock_passthrough\) is unavailable: no AWS credentials from the default credential chain: /,
  );
  assert.match(message, /container: AWS_CONTAINER_CREDENTIALS_\*_URI not set; instance-metadata: disabled/);
  assert.equal(t.runtime.requests.length + t.agent.requests.length, 0);
  // Both are logged as failed calls.
  assert.deepEqual(t.gw.calls.map((c) => [c.callType, c.status, c.httpStatus]), [
    ["apply-guardrail", "failure", 503],
    ["retrieve", "failure", 503],
  ]);
});

Deno.test("an api_key-only account: ApplyGuardrail uses the Bedrock API key; the agent runtime (SigV4 only) is unavailable", async () => {
  await using t = await setup({
    extra: (runtime, agent) =>
      `  bedrock_passthrough:
    aws_region_name: us-west-2
    api_key: ${FAKE_BEARER_TOKEN}
    aws_bedrock_runtime_endpoint: ${runtime}
    aws_bedrock_agent_runtime_endpoint: ${agent}
`,
    env: {},
  });
  const body = JSON.stringify({ source: "INPUT", content: [{ text: { text: "hi" } }] });
  const ok = await post(`${t.gw.url}/bedrock/guardrail/g1/version/1/apply`, body);
  assert.equal(ok.status, 200, await ok.text());
  assert.deepEqual(t.runtime.requests[0].auth, { kind: "bearer", token: FAKE_BEARER_TOKEN });
  const res = await post(`${t.gw.url}/bedrock/retrieveAndGenerate`, '{"input":{"text":"q"}}');
  assert.equal(res.status, 503);
  assert.match((await res.json()).message, /does not accept Bedrock API keys/);
  assert.equal(t.agent.requests.length, 0);
});

Deno.test("without a bedrock_passthrough block the environment's AWS credentials, region and endpoints are used", async () => {
  await using agent = await startFakeBedrock({ api: "agent-runtime", credentials: [PT] });
  await using runtime = await startFakeBedrock({ credentials: [PT] });
  await using gw = await startGateway({
    yaml: fakeConfig(runtime.url),
    env: {
      AWS_ACCESS_KEY_ID: PT.accessKeyId,
      AWS_SECRET_ACCESS_KEY: PT.secretAccessKey,
      AWS_REGION: "us-west-2",
      AWS_BEDROCK_RUNTIME_ENDPOINT: runtime.url,
      AWS_BEDROCK_AGENT_RUNTIME_ENDPOINT: agent.url,
    },
  });
  const res = await post(`${gw.url}/bedrock/knowledgebases/${KB}/retrieve`, '{"retrievalQuery":{"text":"q"}}');
  assert.equal(res.status, 200, await res.text());
  assert.equal(signedBy(agent, 0), PT.accessKeyId);
  const guard = await post(
    `${gw.url}/bedrock/guardrail/g1/version/1/apply`,
    '{"source":"INPUT","content":[{"text":{"text":"x"}}]}',
  );
  assert.equal(guard.status, 200, await guard.text());
  assert.equal(runtime.requests[0].rawPath, "/guardrail/g1/version/1/apply");
});

// --------------------------------------------------------------------------------------------- input checks

Deno.test("bad ids and bodies are a 400 naming the problem, unknown paths a Bedrock-format 404; nothing reaches AWS", async () => {
  await using t = await setup();
  const cases: Array<[string, string, number, RegExp]> = [
    [`/bedrock/knowledgebases/KB!/retrieve`, '{"retrievalQuery":{"text":"q"}}', 400, /Invalid knowledgeBaseId/],
    [`/bedrock/knowledgebases/TOOLONGKB12345/retrieve`, '{"retrievalQuery":{"text":"q"}}', 400, /knowledgeBaseId/],
    [`/bedrock/knowledgebases/${KB}/retrieve`, '{"query":"q"}', 400, /retrievalQuery/],
    [`/bedrock/knowledgebases/${KB}/retrieve`, "", 400, /body is empty/],
    [`/bedrock/guardrail/g1/version/abc/apply`, '{"source":"INPUT","content":[]}', 400, /guardrailVersion/],
    [`/bedrock/guardrail/G_1/version/1/apply`, '{"source":"INPUT","content":[]}', 400, /guardrailIdentifier/],
    [`/bedrock/guardrail/g1/version/1/apply`, '{"source":"BOTH","content":[{"text":{"text":"x"}}]}', 400, /source/],
    [`/bedrock/guardrail/g1/version/1/apply`, '{"source":"INPUT","content":[]}', 400, /content/],
    [`/bedrock/retrieveAndGenerate`, '{"input":{}}', 400, /input\.text/],
    [`/bedrock/agents/${AGENT}/agentAliases/${ALIAS}/sessions/x/text`, "{}", 400, /sessionId/],
    [`/bedrock/agents/${AGENT}/agentAliases/${ALIAS}/sessions/s1/text`, '{"inputText":5}', 400, /inputText/],
    [`/bedrock/knowledgebases/${KB}/query`, "{}", 404, /No route/],
    [`/bedrock/guardrail/g1/apply`, "{}", 404, /No route/],
    [`/bedrock/agents/${AGENT}/text`, "{}", 404, /No route/],
  ];
  for (const [path, body, status, message] of cases) {
    const res = await post(`${t.gw.url}${path}`, body);
    const json = await res.json();
    assert.equal(res.status, status, `${path} ${body}: ${JSON.stringify(json)}`);
    assert.ok(res.headers.get("x-amzn-errortype"), path);
    assert.match(json.message, message, path);
  }
  assert.equal(t.runtime.requests.length + t.agent.requests.length, 0);
  // Refused before validation passed: nothing to account for.
  assert.equal(t.gw.calls.length, 0);
});
