/**
 * CORS (`general_settings.cors_allow_origins`): preflights answered before any route (no key, no KV), allowed and
 * refused origins, the exposed response headers, credentials never with `"*"`, error answers carrying the headers,
 * the admin API only when configured, and the config's validation.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { createFetch } from "../server/http/app.ts";
import type { UiEnv } from "../server/ui/mod.ts";
import { ConfigError, loadConfig } from "../server/config/load.ts";
import { withCors } from "../server/http/cors.ts";
import { createLogger } from "../server/core/log.ts";
import { converseBody, MASTER_KEY, startGateway } from "../testing/harness.ts";

const PAGE = "http://127.0.0.1:5173";
const OTHER = "https://evil.example";

const config = (general = "", models = "") =>
  `model_list:
  - model_name: demo
    litellm_params: { model: bedrock/x, mock_response: "Hello from the mock" }
  - model_name: unreachable
    litellm_params: { model: bedrock/y, aws_region_name: us-west-2, aws_access_key_id: os.environ/UNSET_KEY_ID, aws_secret_access_key: x }
${models}general_settings:
  master_key: ${MASTER_KEY}
${general}`;

function preflight(url: string, origin: string, headers = "authorization,content-type"): Promise<Response> {
  return fetch(url, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": headers },
  });
}

function converse(url: string, key: string, origin?: string): Promise<Response> {
  return fetch(`${url}/bedrock/model/demo/converse`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(origin ? { origin } : {}) },
    body: converseBody(),
  });
}

const exposed = (res: Response) =>
  (res.headers.get("access-control-expose-headers") ?? "").split(",").map((h) => h.trim()).filter(Boolean);

const corsHeaders = (res: Response) => [...res.headers.keys()].filter((h) => h.startsWith("access-control-"));

Deno.test("default (master key set): a preflight for a model call is answered for any origin, without a key", async () => {
  await using gw = await startGateway({ yaml: config() });
  const res = await preflight(
    `${gw.url}/bedrock/model/demo/converse`,
    PAGE,
    "Authorization, Content-Type, X-Amz-User-Agent, amz-sdk-invocation-id, x-litellm-api-key, x-api-key, x-unknown",
  );
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  // Exactly the requested headers the gateway allows (browsers check each one), x-unknown left out.
  assert.equal(
    res.headers.get("access-control-allow-headers"),
    "authorization, content-type, x-amz-user-agent, amz-sdk-invocation-id, x-litellm-api-key, x-api-key",
  );
  assert.match(res.headers.get("access-control-allow-methods") ?? "", /\bPOST\b/);
  assert.equal(res.headers.get("access-control-max-age"), "7200");
  assert.equal(res.headers.get("access-control-allow-credentials"), null, "never credentials with *");
  assert.match(res.headers.get("vary") ?? "", /Access-Control-Request-Headers/);
  assert.equal(await res.text(), "");
  // Pass-through routes and unknown /bedrock paths are covered too (the preflight comes before routing).
  for (const path of ["/bedrock/guardrail/g1/version/1/apply", "/bedrock/retrieveAndGenerate", "/bedrock/nope"]) {
    const r = await preflight(`${gw.url}${path}`, PAGE);
    await r.body?.cancel();
    assert.equal(r.status, 204, path);
    assert.equal(r.headers.get("access-control-allow-origin"), "*", path);
  }
  assert.equal(gw.calls.length, 0);
});

Deno.test("default: answers to any origin carry Allow-Origin * and expose the headers the SDK reads", async () => {
  await using gw = await startGateway({ yaml: config() });
  const res = await converse(gw.url, MASTER_KEY, PAGE);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).output.message.content[0].text, "Hello from the mock");
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal(res.headers.get("access-control-allow-credentials"), null);
  for (const h of ["x-amzn-requestid", "x-litellm-call-id", "x-litellm-response-cost"]) {
    assert.ok(exposed(res).includes(h), `${h} not in ${exposed(res)}`);
    assert.ok(res.headers.has(h), h);
  }
  // Safelisted headers are readable anyway, CORS's own are not "exposed".
  assert.ok(!exposed(res).includes("content-type"));
  assert.ok(!exposed(res).some((h) => h.startsWith("access-control-")));
  // Any origin gets the same answer: no Vary needed.
  assert.equal(res.headers.get("vary"), null);

  const stream = await fetch(`${gw.url}/bedrock/model/demo/converse-stream`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json", origin: PAGE },
    body: converseBody(),
  });
  await stream.body?.cancel();
  assert.equal(stream.status, 200);
  assert.equal(stream.headers.get("access-control-allow-origin"), "*");
  assert.ok(exposed(stream).includes("x-amzn-requestid"));
});

Deno.test("a request without Origin (curl, boto3, servers) gets no CORS header at all", async () => {
  await using gw = await startGateway({ yaml: config(`  cors_allow_origins: ["${PAGE}"]\n`) });
  const res = await converse(gw.url, MASTER_KEY);
  await res.body?.cancel();
  assert.equal(res.status, 200);
  assert.deepEqual(corsHeaders(res), []);
  assert.equal(res.headers.get("vary"), null);
  // An OPTIONS that is not a preflight still reaches the routes (405 on a model route, as before).
  const options = await fetch(`${gw.url}/bedrock/model/demo/converse`, { method: "OPTIONS" });
  await options.body?.cancel();
  assert.equal(options.status, 405);
});

Deno.test("listed origins: the allowed one is echoed with Vary: Origin; another gets no CORS header", async () => {
  await using gw = await startGateway({
    yaml: config(`  cors_allow_origins: ["${PAGE}", "https://app.example.com"]\n`),
  });
  const ok = await preflight(`${gw.url}/bedrock/model/demo/converse`, PAGE);
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get("access-control-allow-origin"), PAGE);
  assert.match(ok.headers.get("vary") ?? "", /^Origin\b/);

  const refused = await preflight(`${gw.url}/bedrock/model/demo/converse`, OTHER);
  assert.equal(refused.status, 403);
  assert.deepEqual(corsHeaders(refused), []);
  assert.match(await refused.text(), /not allowed/);

  const answer = await converse(gw.url, MASTER_KEY, PAGE);
  await answer.body?.cancel();
  assert.equal(answer.headers.get("access-control-allow-origin"), PAGE);
  assert.equal(answer.headers.get("vary"), "Origin");

  // A browser would not have sent it (its preflight failed); if something else does, the answer says nothing CORS.
  const other = await converse(gw.url, MASTER_KEY, OTHER);
  await other.body?.cancel();
  assert.equal(other.status, 200);
  assert.deepEqual(corsHeaders(other), []);
  assert.equal(other.headers.get("vary"), "Origin");
});

Deno.test("errors carry the CORS headers, so a page can read the typed error (401, 403, 404, 429, 503)", async () => {
  await using gw = await startGateway({ yaml: config(`  cors_allow_origins: ["${PAGE}"]\n`) });
  const gen = await fetch(`${gw.url}/key/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ models: ["demo"], rpm_limit: 1 }),
  });
  const { key } = await gen.json();
  const gen2 = await fetch(`${gw.url}/key/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ models: ["demo"] }),
  });
  const demoOnly = (await gen2.json()).key;

  const expectCors = async (res: Response, status: number, type: string, extra: string[] = []) => {
    await res.body?.cancel();
    assert.equal(res.status, status, type);
    assert.equal(res.headers.get("x-amzn-errortype")?.split(":")[0], type);
    assert.equal(res.headers.get("access-control-allow-origin"), PAGE, type);
    for (const h of ["x-amzn-errortype", "x-amzn-requestid", "x-litellm-call-id", ...extra]) {
      assert.ok(exposed(res).includes(h), `${type}: ${h} not in ${exposed(res)}`);
    }
  };
  await expectCors(await converse(gw.url, "sk-wrong", PAGE), 401, "UnrecognizedClientException");
  await expectCors(
    await fetch(`${gw.url}/bedrock/model/unreachable/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${demoOnly}`, "content-type": "application/json", origin: PAGE },
      body: converseBody(),
    }),
    403,
    "AccessDeniedException",
  );
  await expectCors(
    await fetch(`${gw.url}/bedrock/nope`, { method: "POST", headers: { origin: PAGE } }),
    404,
    "UnknownOperationException",
  );
  await expectCors(
    await fetch(`${gw.url}/bedrock/model/unreachable/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json", origin: PAGE },
      body: converseBody(),
    }),
    503,
    "ServiceUnavailableException",
  );
  const first = await converse(gw.url, key, PAGE);
  await first.body?.cancel();
  assert.equal(first.status, 200);
  await expectCors(await converse(gw.url, key, PAGE), 429, "ThrottlingException", ["retry-after"]);
});

Deno.test("credentials: allowed for listed origins when configured, never with *", async () => {
  await using listed = await startGateway({
    yaml: config(`  cors_allow_origins: ["${PAGE}"]\n  cors_allow_credentials: true\n`),
  });
  const pre = await preflight(`${listed.url}/bedrock/model/demo/converse`, PAGE);
  assert.equal(pre.headers.get("access-control-allow-credentials"), "true");
  assert.equal(pre.headers.get("access-control-allow-origin"), PAGE);
  const res = await converse(listed.url, MASTER_KEY, PAGE);
  await res.body?.cancel();
  assert.equal(res.headers.get("access-control-allow-credentials"), "true");
  assert.equal(res.headers.get("access-control-allow-origin"), PAGE);

  await using star = await startGateway({
    yaml: config(`  cors_allow_origins: "*"\n  cors_allow_credentials: true\n`),
  });
  assert.ok(star.config.warnings.some((w) => w.includes("never allowed with")), star.config.warnings.join("\n"));
  const starPre = await preflight(`${star.url}/bedrock/model/demo/converse`, PAGE);
  assert.equal(starPre.headers.get("access-control-allow-origin"), "*");
  assert.equal(starPre.headers.get("access-control-allow-credentials"), null);
  const starRes = await converse(star.url, MASTER_KEY, PAGE);
  await starRes.body?.cancel();
  assert.equal(starRes.headers.get("access-control-allow-origin"), "*");
  assert.equal(starRes.headers.get("access-control-allow-credentials"), null);
});

Deno.test("admin API: no CORS unless cors_allow_origins is configured; then errors carry it too", async () => {
  const generate = (url: string, key: string) =>
    fetch(`${url}/key/generate`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", origin: PAGE },
      body: "{}",
    });
  {
    await using gw = await startGateway({ yaml: config() });
    const pre = await preflight(`${gw.url}/key/generate`, PAGE);
    await pre.body?.cancel();
    assert.equal(pre.status, 403);
    assert.deepEqual(corsHeaders(pre), []);
    const res = await generate(gw.url, MASTER_KEY);
    await res.body?.cancel();
    assert.equal(res.status, 200);
    assert.deepEqual(corsHeaders(res), []);
  }
  {
    await using gw = await startGateway({ yaml: config(`  cors_allow_origins: ["${PAGE}"]\n`) });
    const pre = await preflight(`${gw.url}/key/generate`, PAGE);
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), PAGE);
    const res = await generate(gw.url, MASTER_KEY);
    await res.body?.cancel();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), PAGE);
    const denied = await generate(gw.url, "sk-wrong");
    await denied.body?.cancel();
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get("access-control-allow-origin"), PAGE);
    assert.ok(exposed(denied).includes("x-litellm-call-id"));
    const health = await fetch(`${gw.url}/health/readiness`, { headers: { origin: PAGE } });
    await health.body?.cancel();
    assert.equal(health.headers.get("access-control-allow-origin"), PAGE);
  }
});

Deno.test("an open gateway (no master key) answers no CORS unless origins are configured; [] turns CORS off", async () => {
  const open = `model_list:\n  - model_name: demo\n    litellm_params: { model: bedrock/x, mock_response: hi }\n`;
  {
    await using gw = await startGateway({ yaml: open });
    const pre = await preflight(`${gw.url}/bedrock/model/demo/converse`, PAGE);
    await pre.body?.cancel();
    assert.equal(pre.status, 403);
    const res = await converse(gw.url, "", PAGE);
    await res.body?.cancel();
    assert.equal(res.status, 200);
    assert.deepEqual(corsHeaders(res), []);
  }
  {
    await using gw = await startGateway({ yaml: `${open}general_settings: { cors_allow_origins: ["${PAGE}"] }\n` });
    const res = await converse(gw.url, "", PAGE);
    await res.body?.cancel();
    assert.equal(res.headers.get("access-control-allow-origin"), PAGE);
  }
  {
    await using gw = await startGateway({ yaml: config("  cors_allow_origins: []\n") });
    assert.ok(gw.config.warnings.some((w) => w.includes("CORS is off")));
    const pre = await preflight(`${gw.url}/bedrock/model/demo/converse`, PAGE);
    await pre.body?.cancel();
    assert.equal(pre.status, 403);
    assert.deepEqual(corsHeaders(pre), []);
    const res = await converse(gw.url, MASTER_KEY, PAGE);
    await res.body?.cancel();
    assert.deepEqual(corsHeaders(res), []);
  }
});

Deno.test("cors_allow_headers adds request headers; * mirrors any requested header", async () => {
  {
    await using gw = await startGateway({ yaml: config(`  cors_allow_headers: ["Traceparent"]\n`) });
    const res = await preflight(`${gw.url}/bedrock/model/demo/converse`, PAGE, "authorization,traceparent,x-other");
    assert.equal(res.headers.get("access-control-allow-headers"), "authorization, traceparent");
  }
  {
    await using gw = await startGateway({ yaml: config(`  cors_allow_headers: "*"\n`) });
    const res = await preflight(`${gw.url}/bedrock/model/demo/converse`, PAGE, "authorization,x-other");
    assert.equal(res.headers.get("access-control-allow-headers"), "authorization, x-other");
  }
});

/** Services that fail the test if touched: a preflight must be answered before auth, admission, KV or a route. */
function untouchableServices(touched: string[]) {
  const trap = <T extends object>(name: string): T =>
    new Proxy({} as T, {
      get: (_, prop) => {
        touched.push(`${name}.${String(prop)}`);
        throw new Error(`${name}.${String(prop)} touched`);
      },
    });
  const routes = (name: string) =>
    new Hono<UiEnv>().all("*", () => {
      touched.push(name);
      throw new Error(`${name} touched`);
    });
  return createFetch({
    // The call pipeline admits (KV), reads bodies and routes: none of it may run for a preflight.
    calls: {
      model: () => {
        touched.push("modelCall");
        throw new Error("modelCall touched");
      },
      passthrough: () => {
        touched.push("passthroughCall");
        throw new Error("passthroughCall touched");
      },
    },
    // Authentication, readiness (KV) and every admin route's service.
    health: trap("health"),
    keys: trap("keys"),
    owners: trap("owners"),
    audit: trap("audit"),
    models: trap("models"),
    spend: trap("spend"),
    ui: routes("ui"),
    newId: () => "id",
    log: createLogger({ write: () => {} }),
  });
}

Deno.test("preflights never reach authentication, admission (KV) or a route, allowed or refused", async () => {
  const touched: string[] = [];
  const policy = { origins: new Set([PAGE]), credentials: false, extraHeaders: new Set<string>() };
  const serve = withCors({ bedrock: policy, admin: policy }, untouchableServices(touched));
  for (const path of ["/bedrock/model/demo/converse", "/bedrock/guardrail/g/version/1/apply", "/key/generate"]) {
    for (const [origin, status] of [[PAGE, 204], [OTHER, 403]] as const) {
      const res = await serve(
        new Request(`http://gw.test${path}`, {
          method: "OPTIONS",
          headers: {
            origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization",
          },
        }),
      );
      assert.equal(res.status, status, `${path} from ${origin}`);
    }
  }
  // Admin routes with no policy: refused, still before any route.
  const noAdmin = withCors({ bedrock: policy }, untouchableServices(touched));
  const res = await noAdmin(
    new Request("http://gw.test/spend/logs", {
      method: "OPTIONS",
      headers: { origin: PAGE, "access-control-request-method": "GET" },
    }),
  );
  assert.equal(res.status, 403);
  assert.deepEqual(touched, []);
});

Deno.test("a relayed answer with immutable headers is copied once, body intact", async () => {
  const policy = { origins: "*" as const, credentials: false, extraHeaders: new Set<string>() };
  const upstream = await fetch("data:text/plain,hello");
  assert.throws(() => upstream.headers.set("x", "y"), TypeError);
  const serve = withCors({ bedrock: policy }, () => upstream);
  const res = await serve(new Request("http://gw.test/bedrock/x", { method: "POST", headers: { origin: PAGE } }));
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal(await res.text(), "hello");
});

Deno.test("config: origins validated and normalised; comma strings and os.environ/ references resolved", () => {
  const load = (general: string, env: Record<string, string> = {}) => loadConfig(config(general), (n) => env[n]);
  const c = load(`  cors_allow_origins: "https://App.Example.com, http://localhost:3000"\n`);
  assert.deepEqual(c.cors.bedrock?.origins, new Set(["https://app.example.com", "http://localhost:3000"]));
  assert.equal(c.cors.admin, c.cors.bedrock);
  const https = load(`  cors_allow_origins: ["https://a.example:443"]\n`);
  assert.deepEqual(https.cors.bedrock?.origins, new Set(["https://a.example"]));
  const env = load(`  cors_allow_origins: os.environ/WEB_ORIGINS\n`, { WEB_ORIGINS: "https://a.example,*" });
  assert.equal(env.cors.bedrock?.origins, "*");
  const dflt = load("");
  assert.equal(dflt.cors.bedrock?.origins, "*");
  assert.equal(dflt.cors.admin, undefined);

  const problems = (general: string) => {
    try {
      load(general);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.problems;
    }
    assert.fail("no ConfigError");
  };
  assert.deepEqual(problems(`  cors_allow_origins: ["https://a.example/"]\n`), [
    'general_settings.cors_allow_origins: "https://a.example/" is not an origin (scheme://host[:port], no path); ' +
    'did you mean "https://a.example"?',
  ]);
  assert.match(problems(`  cors_allow_origins: ["a.example"]\n`)[0], /"a\.example" is not an origin/);
  assert.match(problems(`  cors_allow_origins: os.environ/NOPE\n`)[0], /NOPE is not set/);
  assert.match(problems(`  cors_allow_headers: ["x bad"]\n`)[0], /"x bad" is not a header name/);
  assert.match(problems(`  cors_allow_origins: 42\n`)[0], /^general_settings\.cors_allow_origins: /);
});
