/** `relayHeaders` (server/calls/upstream.ts): what of an upstream answer's headers reaches the client. */
import assert from "node:assert/strict";
import { relayHeaders } from "../server/calls/upstream.ts";

Deno.test("relayHeaders keeps Bedrock's headers, drops the rest, and always carries the call id", () => {
  const upstream = new Headers({
    "content-type": "application/json",
    "x-amzn-requestid": "aws-req-1",
    "x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
    "x-amzn-bedrock-input-token-count": "12",
    "x-amz-bedrock-agent-session-id": "s-1",
    "retry-after": "3",
    "set-cookie": "a=b",
    "content-length": "99",
    connection: "keep-alive",
  });
  const out = relayHeaders(upstream, "call-1");
  assert.deepEqual({ ...out }, {
    "content-type": "application/json",
    "x-amzn-requestid": "aws-req-1",
    "x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
    "x-amzn-bedrock-input-token-count": "12",
    "x-amz-bedrock-agent-session-id": "s-1",
    "retry-after": "3",
    "x-litellm-call-id": "call-1",
  });
  // No upstream request id: the call id stands in, so AWS SDKs always have one to report.
  const bare = relayHeaders(new Headers({ "content-type": "application/json" }), "call-2");
  assert.equal(bare["x-amzn-requestid"], "call-2");
  assert.equal(bare["x-litellm-call-id"], "call-2");
});
