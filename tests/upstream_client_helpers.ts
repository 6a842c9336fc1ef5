/**
 * @module
 * Shared pieces of the native upstream client's tests: a deployment pointing at a fake, a signed sender on a given
 * client, reading a body to its end, and an in-memory socket whose reads, writes and failures the test scripts.
 */
import { createCredentialSources } from "../server/aws/mod.ts";
import { createSigV4Signer } from "../server/aws/mod.ts";
import { createUpstream, type Upstream } from "../server/calls/upstream.ts";
import type { Deployment } from "../server/config/types.ts";
import { FAKE_CREDENTIALS } from "../testing/fake_bedrock.ts";

export const CONVERSE_BODY = new TextEncoder().encode(
  JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi" }] }] }),
);

export function deploymentAt(endpoint: string): Deployment {
  return {
    id: "native-test",
    modelName: "claude",
    bedrockModelId: "anthropic.claude-3-haiku-20240307-v1:0",
    region: "us-west-2",
    endpoint,
    auth: { kind: "sigv4", credentials: { kind: "static", ...FAKE_CREDENTIALS } },
    prices: {},
  };
}

/** The gateway's own signed sender (upstream.ts) on `send`. */
export function signedUpstream(send: typeof fetch): Upstream {
  // Static keys: their source holds them from the start (no I/O, no timer).
  const credentials = createCredentialSources();
  return createUpstream({ fetch: send, signer: createSigV4Signer(), credentials, now: Date.now });
}

export async function readAll(body: ReadableStream<Uint8Array> | null): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  return new Uint8Array(await new Response(body).arrayBuffer());
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * An in-memory `Deno.Conn` (only what the client uses: read, write, close). Each write is handed to `onWrite`,
 * which may answer (bytes for the client to read) or fail the write; `end()` is the server closing its side.
 */
export class MemoryConn {
  /** Every write the client made, as text. */
  readonly writes: string[] = [];
  closed = false;
  /** Decides each write's fate: bytes accepted (default all), or an error to throw. */
  writeResult: (bytes: Uint8Array, call: number) => number | Error = (b) => b.length;
  /** Called with each accepted write's text; its return (if any) is queued for the client to read. */
  answer: (request: string) => string | undefined = () => undefined;
  #incoming: Uint8Array[] = [];
  #eof = false;
  #wake: (() => void) | undefined;

  /** Queues bytes for the client to read. */
  push(text: string): void {
    this.#incoming.push(encoder.encode(text));
    this.#wake?.();
  }

  /** The server closes its side: pending and later reads see the end of the stream. */
  end(): void {
    this.#eof = true;
    this.#wake?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (!this.#incoming.length && !this.#eof && !this.closed) {
      await new Promise<void>((r) => this.#wake = r);
      this.#wake = undefined;
    }
    if (this.closed) throw new Deno.errors.BadResource("closed");
    const next = this.#incoming[0];
    if (!next) return null;
    const n = Math.min(p.length, next.length);
    p.set(next.subarray(0, n));
    if (n === next.length) this.#incoming.shift();
    else this.#incoming[0] = next.subarray(n);
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    const r = this.writeResult(p, this.writes.length);
    if (r instanceof Error) return Promise.reject(r);
    const text = decoder.decode(p.subarray(0, r));
    this.writes.push(text);
    const reply = this.answer(text);
    if (reply !== undefined) this.push(reply);
    return Promise.resolve(r);
  }

  close(): void {
    this.closed = true;
    this.#wake?.();
  }

  asConn(): Deno.Conn {
    return this as unknown as Deno.Conn;
  }
}

/** Lets every already-settled promise callback run (microtasks only: no timers). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

export const OK_ANSWER = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";
