/**
 * @module
 * The CLI: `deno task start [--config FILE] [--port N] [--host H] [--kv PATH] [--workers N|auto] [--detailed-debug]`
 * (`--help` lists every option with its default and environment variable: `cli/options.ts`).
 *
 * With one worker (the default) the gateway runs here, behind the front door (`cli/run_gateway.ts`); it prints one
 * line with the URL and the model names, and on SIGINT/SIGTERM stops accepting, drains within `shutdown_grace_ms`,
 * ends the streams still running with an error event, and flushes accounting before exiting. With `--workers N` this
 * isolate supervises N workers serving the one port (`cli/supervisor.ts`), each running this same module, which
 * finds itself in a worker and serves as one (`cli/worker.ts`).
 *
 * Start-up failures print one line (what, where, how to fix) and exit 1, never a stack trace; bad usage prints the
 * problem and the usage line and exits 2. (`deno serve` and Deno Deploy use `serve.ts`, which builds the same gateway.)
 */
import { type BootOptions, StartupError } from "./boot.ts";
import { inWorker, type WorkerScope } from "./cli/messages.ts";
import { type CliOptions, helpText, parseCli, usageLine } from "./cli/options.ts";
import { runGateway, type RunningGateway } from "./cli/run_gateway.ts";
import { superviseWorkers, type Supervisor } from "./cli/supervisor.ts";
import { serveAsWorker } from "./cli/worker.ts";
import { listeningLine } from "./cli/banner.ts";
import { type DescriptorLimit, raiseDescriptorLimit } from "./http/descriptors.ts";

/** Prints bad usage (stderr) and exits 2. */
function usage(message: string): never {
  console.error(`error: ${message}`);
  console.error(usageLine());
  console.error("Run with --help to see every option, its default and its environment variable.");
  Deno.exit(2);
}

/** Prints a start-up failure as `error: <one line>` (plus its details) and exits 1. */
function fail(message: string, details: readonly string[] = []): never {
  console.error(`error: ${message}`);
  for (const line of details) console.error(line);
  Deno.exit(1);
}

/** A start-up failure's printable form: ours say what to fix; anything else still gets no stack trace. */
function failWith(e: unknown): never {
  if (e instanceof StartupError) fail(e.message, e.details);
  fail(`start-up failed: ${(e as Error).name}: ${(e as Error).message}`);
}

/** `--workers N`: the workers serve, this isolate prints the listening line and stops them on a signal. */
async function serveWithWorkers(options: CliOptions, descriptors: DescriptorLimit | undefined): Promise<void> {
  let workers: Supervisor;
  try {
    workers = superviseWorkers({ options, descriptors, workerUrl: import.meta.url });
  } catch (e) {
    failWith(e);
  }
  const stop = async (signal: string) => Deno.exit(await workers.stop(signal) ? 0 : 1);
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
  let ready;
  try {
    ready = await workers.ready;
  } catch (e) {
    failWith(e);
  }
  const shown = options.hostname === "0.0.0.0" ? "localhost" : options.hostname;
  console.log(listeningLine(`http://${shown}:${workers.port}`, options.workers, ready));
}

/**
 * Runs the CLI with `args`; `hooks` wrap the KV store and the request handler (the benchmark's KV counting gateway,
 * `bench/counting_gateway.ts`, starts the CLI this way; one worker only, as functions do not cross isolates).
 */
export async function main(args: string[], hooks: Pick<BootOptions, "wrapKv" | "wrapFetch"> = {}): Promise<void> {
  const parsed = parseCli(
    args,
    (name) => Deno.env.get(name),
    navigator.hardwareConcurrency,
    Deno.stdout.isTerminal(),
  );
  if (parsed.kind === "help") return console.log(helpText());
  if (parsed.kind === "usage") usage(parsed.message);
  const { options } = parsed;
  // Descriptors are per process: raised once, here, whatever runs the gateway.
  const descriptors = raiseDescriptorLimit();

  if (options.workers > 1) {
    if (hooks.wrapKv || hooks.wrapFetch) usage("this entry's hooks run in one isolate: use --workers 1");
    return await serveWithWorkers(options, descriptors);
  }

  let running: RunningGateway;
  try {
    running = await runGateway({ options, descriptors, hooks });
  } catch (e) {
    failWith(e);
  }
  const { addr } = running;
  const shown = addr.hostname === "0.0.0.0" ? "localhost" : addr.hostname;
  console.log(listeningLine(`http://${shown}:${addr.port}`, 1, running.banner));
  const stop = async (signal: string) => {
    await running.stop(signal);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
}

if (inWorker()) serveAsWorker(globalThis as unknown as WorkerScope);
else if (import.meta.main) await main(Deno.args);
