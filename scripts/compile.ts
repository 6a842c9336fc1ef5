/**
 * @module
 * `deno task compile [--out dist/converse-gateway] [--launcher]`: the gateway as one self-contained executable, with
 * the same CLI as `deno task start` (the example config and the price table are built into the module graph).
 *
 * 1. `deno bundle` turns `server/main.ts` into one JavaScript file: npm packages, the price table (JSON) and the
 *    example config and UI assets (text) inlined; only `node:` built-ins remain. (Compiling the bundle rather than the
 *    source graph also avoids Deno 2.9's `deno compile` stack overflow on a data file in a dependency, and leaves the
 *    test-only packages of `deno.lock` out.)
 * 2. With a `denort` at hand — `DENORT_BIN`, or the zip `deno compile` would otherwise download into
 *    `<DENO_DIR>/dl/release/v<version>/` — `deno compile` of that bundle; the result is checked to be ours (its
 *    `--help`), not a plain `deno` (what `DENORT_BIN=$(which deno)` gives).
 * 3. Otherwise (`deno compile` can fetch `denort` only from dl.deno.land), or with `--launcher`: a self-extracting
 *    executable — a POSIX `sh` header followed by a tar.gz of this machine's `deno` and the bundle. Its first run
 *    unpacks them into `${CONVERSE_GATEWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/converse-gateway}/<hash>` (a fresh
 *    directory renamed into place when complete), later runs start at once; it needs `sh`, `tail`, `tar`, `gzip`,
 *    `mktemp`, `mkdir`, `mv`, `rm`, and the builder's OS and CPU. Deno runs with `--no-config --no-lock --no-remote
 *    --no-npm` and its own `DENO_DIR` in that directory: no project file is read and nothing is ever downloaded.
 *
 * Either way the runtime flags are the ones `deno task start` runs with: its permissions and deno.json's `unstable`
 * list, read from deno.json (one source of truth).
 */
import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url).pathname;
const ENTRY = `${ROOT}server/main.ts`;

interface DenoJson {
  tasks: Record<string, string>;
  unstable?: string[];
}

/** `deno task start`'s permissions and deno.json's unstable features, as `deno run` flags. */
export async function runFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as DenoJson;
  const permissions = config.tasks.start.split(/\s+/).filter((a) => a.startsWith("--allow-"));
  return [...(config.unstable ?? []).map((u) => `--unstable-${u}`), ...permissions];
}

async function run(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${text}`);
  return text;
}

/** The denort `deno compile` would use without downloading, and where it was found; undefined when there is none. */
async function denortAtHand(): Promise<{ env?: Record<string, string>; where: string } | undefined> {
  const fromEnv = Deno.env.get("DENORT_BIN");
  if (fromEnv) return { env: { DENORT_BIN: fromEnv }, where: `DENORT_BIN=${fromEnv}` };
  const { denoDir } = JSON.parse(await run(Deno.execPath(), ["info", "--json"])) as { denoDir: string };
  const zip = `${denoDir}/dl/release/v${Deno.version.deno}/denort-${Deno.build.target}.zip`;
  try {
    await Deno.stat(zip);
    return { where: zip };
  } catch {
    return undefined;
  }
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The launcher's `sh` header; `@OFFSET@` becomes the payload's 1-based byte offset (fixed width). */
function header(hash: string, flags: string[]): string {
  return `#!/bin/sh
# Converse Gateway: one self-extracting executable (Deno ${Deno.version.deno} and the gateway bundled in one file).
# The first run unpacks both into \${CONVERSE_GATEWAY_CACHE:-\${XDG_CACHE_HOME:-$HOME/.cache}/converse-gateway}/${hash};
# then: converse-gateway [options], as deno task start (--help lists them).
set -eu
offset=@OFFSET@
self=$0
case $self in */*) ;; *) self=$(command -v -- "$self") ;; esac
base=\${CONVERSE_GATEWAY_CACHE:-\${XDG_CACHE_HOME:-\${HOME:-/tmp}/.cache}/converse-gateway}
dir=$base/${hash}
if [ ! -f "$dir/gateway.js" ]; then
  mkdir -p "$base"
  tmp=$(mktemp -d "$base/.extract.XXXXXX")
  tail -c +$offset "$self" | tar -xzf - -C "$tmp"
  # Renamed into place only once complete. Two first runs at once: one rename wins; the other copy is removed,
  # also when it landed inside the winner's directory.
  if [ ! -d "$dir" ]; then mv "$tmp" "$dir" 2>/dev/null || true; fi
  rm -rf "$tmp" "$dir/\${tmp##*/}"
fi
DENO_DIR=$dir/cache DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1 exec "$dir/deno" run --no-config --no-lock \\
  --no-remote --no-npm --no-prompt ${flags.join(" ")} "$dir/gateway.js" "$@"
`;
}

/** Writes the launcher: header + tar.gz of `deno` and the bundle. Returns the payload's hash. */
async function buildLauncher(bundle: string, stage: string, out: string, flags: string[]): Promise<string> {
  await Deno.copyFile(Deno.execPath(), `${stage}/deno`);
  await Deno.chmod(`${stage}/deno`, 0o755);
  await Deno.copyFile(bundle, `${stage}/gateway.js`);
  const payloadPath = `${stage}.tar.gz`;
  await run("tar", ["-czf", payloadPath, "-C", stage, "deno", "gateway.js"]);
  try {
    const payload = await Deno.readFile(payloadPath);
    const hash = (await sha256Hex(payload)).slice(0, 16);
    const template = header(hash, flags);
    const width = 10;
    const headLength = new TextEncoder().encode(template.replace("@OFFSET@", "0".repeat(width))).length;
    const head = new TextEncoder().encode(template.replace("@OFFSET@", String(headLength + 1).padStart(width, "0")));
    const file = await Deno.open(out, { write: true, create: true, truncate: true, mode: 0o755 });
    try {
      for (let at = 0; at < head.length;) at += await file.write(head.subarray(at));
      for (let at = 0; at < payload.length;) at += await file.write(payload.subarray(at));
    } finally {
      file.close();
    }
    await Deno.chmod(out, 0o755);
    return hash;
  } finally {
    await Deno.remove(payloadPath).catch(() => {});
  }
}

/** Whether `binary --help` prints the gateway's help (a plain deno prints its own). */
async function isOurs(binary: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(binary, {
      args: ["--help"],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).output();
    return out.success && new TextDecoder().decode(out.stdout).startsWith("Converse Gateway:");
  } catch {
    return false;
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export async function compile(args: string[]): Promise<{ kind: "deno compile" | "launcher"; out: string }> {
  const { values } = parseArgs({
    args,
    options: { out: { type: "string" }, launcher: { type: "boolean" } },
  });
  const out = values.out ?? `${ROOT}dist/converse-gateway`;
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")) || ".", { recursive: true });
  const flags = await runFlags();
  const stage = await Deno.makeTempDir({ prefix: "converse-gateway-build-" });
  try {
    const started = performance.now();
    const bundle = `${stage}/bundle/gateway.js`;
    await run(Deno.execPath(), ["bundle", "--quiet", "--platform", "deno", "-o", bundle, ENTRY]);
    console.log(`bundled ${ENTRY} -> ${mb((await Deno.stat(bundle)).size)} of JavaScript`);

    const denort = values.launcher ? undefined : await denortAtHand();
    if (denort) {
      await run(
        Deno.execPath(),
        ["compile", "--quiet", "--no-config", "--no-lock", ...flags, "-o", out, bundle],
        denort.env,
      );
      if (await isOurs(out)) {
        console.log(`deno compile (denort: ${denort.where}) -> ${out}: ${mb((await Deno.stat(out)).size)}`);
        return { kind: "deno compile", out };
      }
      console.log(`${denort.where} is not a denort (the result runs as plain deno): building the launcher instead`);
    } else if (!values.launcher) {
      console.log(
        `no denort at hand (DENORT_BIN unset, none in Deno's cache; deno compile downloads it only from ` +
          `dl.deno.land): building the self-extracting launcher`,
      );
    }
    await Deno.mkdir(`${stage}/payload`);
    const hash = await buildLauncher(bundle, `${stage}/payload`, out, flags);
    console.log(
      `launcher -> ${out}: ${mb((await Deno.stat(out)).size)} (deno ${Deno.version.deno} ${Deno.build.target} + ` +
        `bundle; unpacks into ~/.cache/converse-gateway/${hash}) in ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s`,
    );
    return { kind: "launcher", out };
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}

if (import.meta.main) await compile(Deno.args);
