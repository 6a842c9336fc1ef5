/**
 * @module
 * The CLI: `deno task start [--config FILE] [--port N] [--host H] [--kv PATH] [--detailed-debug]`.
 * Serves with `Deno.serve`, prints one line with the URL and the model names, and flushes pending writes on
 * SIGINT/SIGTERM before exiting. (`deno serve` and Deno Deploy use `serve.ts`, which builds the same gateway.)
 */
import { parseArgs } from "node:util";
import { boot, ConfigError } from "./boot.ts";

function usage(): never {
  console.error(
    "usage: deno task start [--config FILE] [--port N] [--host H] [--kv PATH|:memory:] [--detailed-debug]",
  );
  Deno.exit(2);
}

export async function main(args: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        kv: { type: "string" },
        "detailed-debug": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error((e as Error).message);
    usage();
  }
  if (values.help) usage();
  const port = Number(values.port ?? Deno.env.get("PORT") ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid port: ${values.port}`);
    usage();
  }
  const hostname = values.host ?? "0.0.0.0";

  let booted;
  try {
    booted = await boot({ configPath: values.config, kvPath: values.kv, detailedDebug: values["detailed-debug"] });
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      Deno.exit(1);
    }
    throw e;
  }
  const { gateway, config, kv } = booted;
  const models = [...config.byModelName.keys()].join(", ");
  const server = Deno.serve({
    port,
    hostname,
    onListen: ({ hostname, port }) => {
      const shown = hostname === "0.0.0.0" ? "localhost" : hostname;
      console.log(
        `Converse Gateway listening on http://${shown}:${port} (config ${booted.configSource}) models: ${models}`,
      );
    },
  }, gateway.fetch);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.shutdown();
    await gateway.close();
    kv.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
}

if (import.meta.main) await main(Deno.args);
