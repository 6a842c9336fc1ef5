/**
 * @module
 * Micro-benchmarks of the steps one gateway call takes, in isolation, to see where per-request CPU goes:
 * `deno bench -A bench/hot_path_bench.ts`. (The end-to-end numbers come from `deno task bench`; these only
 * explain them.)
 */
import { createHash } from "node:crypto";
import { ConverseRequest } from "../server/bedrock/schemas.ts";
import { createSigV4Signer } from "../server/aws/mod.ts";
import { relayHeaders } from "../server/calls/upstream.ts";
import { masterKeyAuthenticator } from "../server/keys/auth.ts";
import { createUuidV7 } from "../server/core/uuidv7.ts";
import { CONVERSE_ANSWER } from "./fake_upstream.ts";
import { jsonShapeProblem } from "../server/core/json_guard.ts";
import { estimateRequest } from "../server/bedrock/expected_usage.ts";

const BODY = JSON.stringify({
  messages: [{ role: "user", content: [{ text: "Hello, benchmark. Say hi." }] }],
  inferenceConfig: { maxTokens: 64 },
});
const BODY_BYTES = new TextEncoder().encode(BODY);
const parsed = JSON.parse(BODY);
const MASTER = "sk-bench-master-key-0001";

const signer = createSigV4Signer();
const credentials = { accessKeyId: "AKIABENCHFAKE0000001", secretAccessKey: "secret", sessionToken: "token" };
const url = "http://127.0.0.1:9/model/bench.fixed/converse";

Deno.bench("JSON.parse request body (decode + parse)", () => {
  JSON.parse(new TextDecoder().decode(BODY_BYTES));
});

/** A typical ~2 KB Converse body: a system prompt, three turns, a tool with a JSON schema, settings. */
const TYPICAL = new TextEncoder().encode(JSON.stringify({
  system: [{
    text: "You are a helpful assistant for the billing team. Answer briefly and cite the invoice id. ".repeat(12),
  }],
  messages: [
    {
      role: "user",
      content: [{ text: "Which invoices of account 4411 are overdue, and by how many days? ".repeat(3) }],
    },
    { role: "assistant", content: [{ toolUse: { toolUseId: "t1", name: "list_invoices", input: { account: 4411 } } }] },
    {
      role: "user",
      content: [{
        toolResult: {
          toolUseId: "t1",
          content: [{ json: { invoices: [{ id: "INV-1", due: "2026-10-01", amount: 120.5 }, { id: "INV-2" }] } }],
        },
      }],
    },
  ],
  toolConfig: {
    tools: [{
      toolSpec: {
        name: "list_invoices",
        description: "Lists the invoices of an account, with their due dates and amounts.",
        inputSchema: {
          json: {
            type: "object",
            properties: { account: { type: "integer", description: "The account number." } },
            required: ["account"],
          },
        },
      },
    }],
  },
  inferenceConfig: { maxTokens: 512, temperature: 0.2 },
}));
const LIMITS = { maxDepth: 128, maxValues: 250_000 };

Deno.bench(`jsonShapeProblem, typical ${TYPICAL.length}-byte Converse body`, () => {
  jsonShapeProblem(TYPICAL, LIMITS);
});

const typicalParsed = JSON.parse(new TextDecoder().decode(TYPICAL));
Deno.bench(`estimateRequest, typical ${TYPICAL.length}-byte Converse body`, () => {
  estimateRequest(typicalParsed);
});

Deno.bench("zod ConverseRequest.safeParse", () => {
  ConverseRequest.safeParse(parsed);
});

Deno.bench("SigV4 sign", () => {
  signer.sign({
    method: "POST",
    url,
    headers: { "content-type": "application/json" },
    body: BODY_BYTES,
    region: "us-west-2",
    service: "bedrock",
    credentials,
    now: new Date(),
  });
});

Deno.bench("node:crypto sha256 of the body (one createHash)", () => {
  createHash("sha256").update(BODY_BYTES).digest("hex");
});

const auth = masterKeyAuthenticator(MASTER);
const authHeaders = new Headers({ authorization: `Bearer ${MASTER}` });
Deno.bench("master-key authenticate", async () => {
  await auth.authenticate(authHeaders);
});

const upstreamHeaders = new Headers({ "content-type": "application/json", "x-amzn-requestid": "abc" });
Deno.bench("relayHeaders", () => {
  relayHeaders(upstreamHeaders, "id");
});

Deno.bench("crypto.randomUUID", () => {
  crypto.randomUUID();
});

const newUuidV7 = createUuidV7(Date.now);
Deno.bench("createUuidV7 (the default request id)", () => {
  newUuidV7();
});

Deno.bench("AbortController + setTimeout/clearTimeout", () => {
  const c = new AbortController();
  const t = setTimeout(() => c.abort(), 60_000);
  clearTimeout(t);
});

Deno.bench("new Request(url, {POST, 5 headers, body})", () => {
  new Request(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-amz-date": "20250101T000000Z",
      "x-amz-content-sha256": "0".repeat(64),
      "x-amz-security-token": "token",
      authorization: "AWS4-HMAC-SHA256 Credential=AKIA/20250101/us-west-2/bedrock/aws4_request, " +
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=" + "0".repeat(64),
    },
    body: BODY_BYTES,
  });
});

Deno.bench("JSON.parse upstream answer (usage)", () => {
  JSON.parse(CONVERSE_ANSWER);
});

// The whole in-process path (everything but the sockets) is `bench/in_process.ts`: a budgeted key, KV on disk, CPU
// per call over thousands of calls, which a per-iteration `Deno.bench` of one call measures less well.
