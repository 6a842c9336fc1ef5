/**
 * @module
 * `deno task gen`: writes `openapi.yaml`, `sdk/types.gen.ts` and `sdk/operations.gen.ts` from the route list and
 * its zod schemas. `deno task gen --check` writes nothing and fails when any of them is stale (part of
 * `deno task check`, so CI catches a schema change without regenerated files).
 *
 * TypeScript output goes through `deno fmt` so the files are exactly what the formatter would leave.
 */
import { stringify } from "yaml";
import { buildOpenApi } from "./document.ts";
import { ROUTES } from "./routes.ts";
import { GENERATED_NOTICE, operationsFile, typesFile } from "./sdk_files.ts";

const ROOT = new URL("../../", import.meta.url);

const INFO = {
  title: "Converse Gateway",
  version: "0.1.0",
  description: `A gateway in front of AWS Bedrock's Converse API: virtual keys, budgets, spend tracking and load
balancing, with Bedrock's own wire format on \`/bedrock/*\` (a LiteLLM Proxy compatible pass-through) and LiteLLM's
error format on the admin routes.

Errors on \`/bedrock/*\` carry the Bedrock exception name in \`x-amzn-ErrorType\` and a JSON \`message\`, so boto3 and
the AWS SDKs raise their typed exceptions; gateway-made errors add LiteLLM's \`error\` object. Admin routes answer
\`{"error": {"message", "type", "param", "code"}}\`. A key over its budget is refused with LiteLLM's
\`budget_exceeded\` as \`error.type\`, on either format.`,
  // Paths are the gateway's own: the document describes whichever gateway serves it.
  servers: [{ url: "/", description: "The gateway itself (deno task start listens on http://localhost:4000)." }],
  tags: {
    bedrock: "Bedrock Runtime and Agent Runtime operations in Bedrock's wire format (LiteLLM's `/bedrock` " +
      "pass-through): any gateway key.",
    health: "Liveness and readiness probes (no key), and each deployment's state (master key).",
    models: "Discovery: the models a key may call (OpenAI's `/v1/models`) and each deployment's public settings " +
      "and prices (LiteLLM's `/model/info`).",
    teams: "Teams: budgets, limits and models shared by their keys (LiteLLM's `/team/*`). Master key only.",
    users: "Internal users: budgets, limits and keys per person (LiteLLM's `/user/*`). Master key only.",
    keys: "Virtual keys: create, read, update, block and delete them (LiteLLM's `/key/*`). Master key only.",
    audit: "The audit trail of admin changes to keys, teams and users (LiteLLM's `/audit/logs`). Master key only.",
    spend: "Spend logs, totals and reports (LiteLLM's `/spend/*` and `/global/spend/*`), and Prometheus metrics.",
  },
};

/** Formats TypeScript source with `deno fmt` (the project's own settings). */
async function formatTs(source: string): Promise<string> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=ts", "-"],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(source));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`deno fmt failed on generated code:\n${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** Every generated file: path relative to the repository root → content. */
export async function generate(): Promise<Record<string, string>> {
  const { spec, components, operations } = buildOpenApi(ROUTES, INFO);
  const yaml = `# ${GENERATED_NOTICE}\n` + stringify(spec, { lineWidth: 0, aliasDuplicateObjects: false });
  return {
    "openapi.yaml": yaml,
    "sdk/types.gen.ts": await formatTs(typesFile(components)),
    "sdk/operations.gen.ts": await formatTs(operationsFile(operations)),
  };
}

async function readOrEmpty(url: URL): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(url);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function main(args: string[]): Promise<number> {
  const check = args.includes("--check");
  const files = await generate();
  const stale: string[] = [];
  for (const [path, content] of Object.entries(files)) {
    const url = new URL(path, ROOT);
    if ((await readOrEmpty(url)) === content) continue;
    stale.push(path);
    if (!check) await Deno.writeTextFile(url, content);
  }
  if (check) {
    if (stale.length === 0) return 0;
    console.error(`stale generated files (run \`deno task gen\` and commit them): ${stale.join(", ")}`);
    return 1;
  }
  console.log(stale.length ? `wrote ${stale.join(", ")}` : "generated files are up to date");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
