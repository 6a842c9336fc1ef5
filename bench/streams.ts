/**
 * @module
 * Client side of the streaming measurements: time to first event and total time of one converse-stream call,
 * the no-buffering proof against the fake's gated stream, and many concurrent held streams for the memory test.
 * Events are counted by decoding the frames with the project's event-stream decoder, as an SDK would.
 */
import { EventStreamDecoder } from "../wire/eventstream.ts";

export interface StreamTiming {
  /** Request start to the first complete event frame, ms. */
  ttfeMs: number;
  /** Request start to the end of the stream, ms. */
  totalMs: number;
  events: number;
  bytes: number;
}

export interface StreamCall {
  url: string;
  body: string;
  headers: Record<string, string>;
}

async function call(c: StreamCall): Promise<Response> {
  const res = await fetch(c.url, { method: "POST", headers: c.headers, body: c.body });
  if (!res.ok || !res.body) {
    const text = await res.text();
    throw new Error(`stream call to ${c.url} answered ${res.status}: ${text.slice(0, 300)}`);
  }
  return res;
}

/**
 * Reads a stream to its end. `onFirstEvent` runs once, when the first full frame has been decoded
 * (the gated test releases the fake's remaining events from there).
 */
export async function timeStream(c: StreamCall, onFirstEvent?: () => Promise<void> | void): Promise<StreamTiming> {
  const start = performance.now();
  const res = await call(c);
  const decoder = new EventStreamDecoder();
  const reader = res.body!.getReader();
  let ttfe = NaN;
  let events = 0;
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    const before = events;
    for (const _ of decoder.push(value)) events++;
    if (before === 0 && events > 0) {
      ttfe = performance.now() - start;
      if (onFirstEvent) await onFirstEvent();
    }
  }
  return { ttfeMs: ttfe, totalMs: performance.now() - start, events, bytes };
}

/** Reads a stream to its end counting bytes only (large streams), calling `sample` with the bytes so far every `everyMs`. */
export async function drainStream(
  c: StreamCall,
  sample: (bytesSoFar: number) => void,
  everyMs: number,
): Promise<{ bytes: number; seconds: number }> {
  const start = performance.now();
  const res = await call(c);
  const reader = res.body!.getReader();
  let bytes = 0;
  let last = performance.now();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    const now = performance.now();
    if (now - last >= everyMs) {
      last = now;
      sample(bytes);
    }
  }
  return { bytes, seconds: (performance.now() - start) / 1000 };
}

/**
 * Opens `n` streams that the fake holds after their first event; resolves once every stream has delivered that
 * first event (all are open at once), with a function that reads them all to the end.
 */
export async function holdStreams(
  c: StreamCall,
  n: number,
  timeoutMs: number,
): Promise<{ finish: () => Promise<{ events: number; failed: number }> }> {
  let firstSeen = 0;
  let allFirst!: () => void;
  const allHeld = new Promise<void>((resolve) => allFirst = resolve);
  // A stream that fails before its first event must end the wait at once, not at the timeout.
  let fail!: (e: Error) => void;
  const failed = new Promise<never>((_, reject) => fail = reject);
  failed.catch(() => {});
  const runs = Array.from({ length: n }, () =>
    timeStream(c, () => {
      if (++firstSeen === n) allFirst();
    }).then((t) => ({ ok: true as const, events: t.events }), (e: Error) => {
      fail(e);
      return { ok: false as const, error: e };
    }));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`only ${firstSeen} of ${n} held streams delivered a first event in ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([allHeld, timedOut, failed]);
  } finally {
    clearTimeout(timer);
  }
  return {
    finish: async () => {
      const rs = await Promise.all(runs);
      let events = 0;
      let failed = 0;
      for (const r of rs) {
        if (r.ok) events += r.events;
        else failed++;
      }
      return { events, failed };
    },
  };
}
