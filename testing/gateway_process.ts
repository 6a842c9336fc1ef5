/**
 * @module
 * Runs `server/main.ts` (or another entry taking its arguments) as a child process for the tests that need a real process (start-up failures, signals,
 * descriptor limits): its stdout is read line by line, so a test waits for what the gateway says, never for time.
 */

export interface GatewayProcess extends AsyncDisposable {
  child: Deno.ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Resolves with the first stdout line matching `pattern` (rejects if stdout ends first). */
  waitFor(pattern: RegExp): Promise<string>;
  /** The port from the "listening on" line. */
  port(): Promise<number>;
  /** Exit status and all of stderr, once the process has ended. */
  ended(): Promise<{ code: number; stderr: string; stdout: string }>;
}

export interface GatewayProcessOptions {
  args: string[];
  /** The entry point (default `server/main.ts`; the bench's KV counting gateway takes the same arguments). */
  script?: string;
  env?: Record<string, string>;
  /** Shell prefix such as `ulimit -n 64;` (runs through `sh -c`). */
  shell?: string;
  /** Working directory (default: this process's). */
  cwd?: string;
}

export function startGatewayProcess(opts: GatewayProcessOptions): GatewayProcess {
  const deno = ["run", "-A", opts.script ?? "server/main.ts", ...opts.args];
  const quoted = [Deno.execPath(), ...deno].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const command = opts.shell
    ? new Deno.Command("sh", {
      args: ["-c", `${opts.shell} exec ${quoted}`],
      env: opts.env,
      cwd: opts.cwd,
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(Deno.execPath(), { args: deno, env: opts.env, cwd: opts.cwd, stdout: "piped", stderr: "piped" });
  const child = command.spawn();
  let out = "";
  let done = false;
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void; reject: (e: Error) => void }> = [];
  const check = () => {
    for (const w of waiters.splice(0)) {
      const line = out.split("\n").find((l) => w.pattern.test(l));
      if (line !== undefined) w.resolve(line);
      else if (done) w.reject(new Error(`stdout ended without ${w.pattern}:\n${out}`));
      else waiters.push(w);
    }
  };
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      out += chunk;
      check();
    }
    done = true;
    check();
  })();
  const stderrText = new Response(child.stderr).text();
  const waitFor = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      waiters.push({ pattern, resolve, reject });
      check();
    });
  const ended = async () => {
    const status = await child.status;
    await reading;
    return { code: status.code, stderr: await stderrText, stdout: out };
  };
  return {
    child,
    stdout: () => out,
    waitFor,
    port: async () => Number(/listening on http:\/\/[^:]+:(\d+)/.exec(await waitFor(/listening on http:/))![1]),
    ended,
    [Symbol.asyncDispose]: async () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await ended();
    },
  };
}
