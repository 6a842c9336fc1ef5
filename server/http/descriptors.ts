/**
 * @module
 * The process's open-descriptor limit (RLIMIT_NOFILE): raised from its soft value to the hard one, read, and turned
 * into the default connection cap.
 *
 * Deno has no `getrlimit`/`setrlimit` API; the supported way is FFI to the C library's own functions, which needs
 * `--allow-ffi` (`deno task start` grants it). Deno's CLI already raises the soft limit to the hard one when it starts
 * (`raise_fd_limit` in Deno's `cli/lib.rs`, as Node does), so under `deno run` the raise here finds nothing left to do;
 * it matters where the runtime did not (an embedder, a future Deno). Without the permission, or on Windows, the limit
 * is unknown: the gateway says so and uses a fixed default cap.
 */

export interface DescriptorLimit {
  /** What is enforced; after {@link raiseDescriptorLimit}, the hard limit when that could be reached. */
  soft: number;
  hard: number;
  /** The soft limit before the raise. */
  before: number;
}

const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** Raises the soft open-files limit to the hard one through libc; the limits, or undefined when not reachable. */
export function raiseDescriptorLimit(): DescriptorLimit | undefined {
  const os = Deno.build.os;
  if (os !== "linux" && os !== "darwin") return undefined;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
  let libc;
  try {
    libc = Deno.dlopen(os === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
      getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
      setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
    });
  } catch {
    return undefined; // another C library (musl), or none by that name
  }
  try {
    const RLIMIT_NOFILE = os === "darwin" ? 8 : 7;
    // struct rlimit { rlim_t rlim_cur; rlim_t rlim_max; }: two 64-bit words on both.
    const limits = new BigUint64Array(2);
    const bytes = new Uint8Array(limits.buffer);
    if (libc.symbols.getrlimit(RLIMIT_NOFILE, bytes) !== 0) return undefined;
    const before = limits[0];
    // An unlimited hard limit cannot be the soft one (macOS caps it at kern.maxfilesperproc): leave it be.
    if (limits[0] < limits[1] && limits[1] !== RLIM_INFINITY) {
      limits[0] = limits[1];
      libc.symbols.setrlimit(RLIMIT_NOFILE, bytes);
      libc.symbols.getrlimit(RLIMIT_NOFILE, bytes);
    }
    const n = (v: bigint) => v === RLIM_INFINITY ? Number.POSITIVE_INFINITY : Number(v);
    return { soft: n(limits[0]), hard: n(limits[1]), before: n(before) };
  } finally {
    libc.close();
  }
}

/** Descriptors kept out of the client connections' share (KV, logs, runtime, listener, DNS, …). */
const RESERVED = 128;
/** The default cap, whatever the limit: beyond it, more instances serve better than one. */
const MOST = 16_384;
/** Without a known limit: a cap that suits the common defaults (1,024 soft, more after Deno's raise). */
const UNKNOWN_LIMIT_DEFAULT = 1_024;

/**
 * The default `max_connections`: half of what the soft limit leaves after a reserve (each client connection with a
 * call in flight also holds an upstream connection), between 64 and 16,384.
 */
export function defaultMaxConnections(limit: Pick<DescriptorLimit, "soft"> | undefined): number {
  if (!limit) return UNKNOWN_LIMIT_DEFAULT;
  return Math.max(64, Math.min(MOST, Math.floor((limit.soft - RESERVED) / 2)));
}
