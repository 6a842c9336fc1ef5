/**
 * @module
 * The benchmark's child processes: start a Deno server, wait for the port it prints, read its memory from
 * `/proc/<pid>/status`, and stop it (SIGTERM, then SIGKILL after a grace period). Each measured server runs in its
 * own process so none of them shares an event loop with the load generator. `command` runs something other than
 * Deno (the Node.js peer gateway, see peer.ts), with its own `listening` pattern.
 */

export interface ServerProcess {
  name: string;
  pid: number;
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Resident set size in KiB (`VmRSS`), or NaN where /proc is unavailable. */
  rssKiB(): number;
  /** CPU time (user + system, all threads) used so far, in ms; NaN where /proc is unavailable. */
  cpuMs(): number;
  /** The last lines the process wrote to stderr (for error reports). */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  /** The executable (default: this Deno). */
  command?: string;
  /** Arguments after the executable, e.g. `["run", "-A", "bench/fake_upstream.ts"]` for Deno. */
  args: string[];
  /** Matches the stdout line that says the server is up; its first group is the port (default: LISTENING). */
  listening?: RegExp;
  cwd: string;
  env?: Record<string, string>;
  /** Pin to these CPUs with `taskset` (ignored when taskset is missing). */
  cpus?: string;
  startTimeoutMs?: number;
}

/** Matches both `listening 1234` (bench servers) and the gateway's `listening on http://host:1234`. */
const LISTENING = /listening(?: on https?:\/\/[^\s]*?:| )(\d+)/;

let tasksetPath: string | null | undefined;

/** Whether `taskset` can pin processes here (cached). */
export function hasTaskset(): boolean {
  if (tasksetPath === undefined) {
    tasksetPath = null;
    for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
      try {
        Deno.statSync(`${dir}/taskset`);
        tasksetPath = `${dir}/taskset`;
        break;
      } catch { /* keep looking */ }
    }
  }
  return tasksetPath !== null;
}

/** `VmRSS` of a process in KiB, or NaN when it cannot be read. */
export function readRssKiB(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 on every mainstream Linux). */
const USER_HZ = 100;

/** User + system CPU time of a process (all threads) in ms, or NaN when it cannot be read. */
export function readCpuMs(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the parenthesised command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 1000 / USER_HZ;
  } catch {
    return NaN;
  }
}

export async function spawnServer(opts: SpawnOptions): Promise<ServerProcess> {
  const pinned = opts.cpus !== undefined && hasTaskset();
  const executable = opts.command ?? Deno.execPath();
  const command = pinned ? tasksetPath! : executable;
  const args = pinned ? ["-c", opts.cpus!, executable, ...opts.args] : opts.args;
  const listening = opts.listening ?? LISTENING;
  const child = new Deno.Command(command, {
    args,
    cwd: opts.cwd,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let stderr = "";
  const drainStderr = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      stderr = (stderr + decoder.decode(chunk, { stream: true })).slice(-8192);
    }
  })().catch(() => {});

  // Read stdout until the port line, then keep draining it so the child never blocks on a full pipe.
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${opts.name} did not start within ${opts.startTimeoutMs ?? 60_000} ms:\n${stderr}`)),
      opts.startTimeoutMs ?? 60_000,
    );
    (async () => {
      const decoder = new TextDecoder();
      let buffered = "";
      let found = false;
      for await (const chunk of child.stdout) {
        if (found) continue;
        buffered += decoder.decode(chunk, { stream: true });
        const m = listening.exec(buffered);
        if (m) {
          found = true;
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      }
      if (!found) {
        clearTimeout(timer);
        await drainStderr;
        reject(new Error(`${opts.name} exited before listening:\n${buffered}\n${stderr}`));
      }
    })().catch(reject);
  });

  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  return {
    name: opts.name,
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    rssKiB: () => readRssKiB(child.pid),
    cpuMs: () => readCpuMs(child.pid),
    stderrTail: () => stderr,
    async stop(graceMs = 10_000) {
      if (exited) return;
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* already gone */ }
          resolve();
        }, graceMs);
      });
      await Promise.race([status, killed]);
      clearTimeout(timer);
      await status;
      await drainStderr;
    },
  };
}
