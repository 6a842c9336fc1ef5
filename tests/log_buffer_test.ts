/**
 * `createLogger` line format, and `bufferedStdout`: the request log's lines reach stdout complete and in order, in
 * one write per 10 ms window instead of one per line, none lost at exit, and a broken stdout never throws into a call.
 */
import assert from "node:assert/strict";
import { bufferedStdout, createLogger } from "../server/core/log.ts";

const decoder = new TextDecoder();

/** A bufferedStdout whose flush timer fires only when the test says so. */
function captured(writeSync: (bytes: Uint8Array) => number) {
  const timers: Array<{ fire: () => void; ms: number }> = [];
  const write = bufferedStdout({ writeSync, setTimer: (fire, ms) => void timers.push({ fire, ms }) });
  return { write, timers };
}

Deno.test("bufferedStdout: lines of one 10 ms window go out in one write, in order, newline-terminated", () => {
  const writes: string[] = [];
  const { write, timers } = captured((bytes) => {
    writes.push(decoder.decode(bytes));
    return bytes.length;
  });
  write('{"msg":"a"}');
  write('{"msg":"b"}');
  assert.deepEqual(writes, [], "nothing is written synchronously");
  assert.deepEqual(timers.map((t) => t.ms), [10], "one timer for the window, not one per line");
  timers[0].fire();
  assert.deepEqual(writes, ['{"msg":"a"}\n{"msg":"b"}\n']);
  write('{"msg":"é"}');
  assert.equal(timers.length, 2, "the next line opens a new window");
  timers[1].fire();
  assert.deepEqual(writes.slice(1), ['{"msg":"é"}\n']);
});

Deno.test("bufferedStdout: lines still waiting are written at exit (unload)", () => {
  const writes: string[] = [];
  const { write } = captured((bytes) => {
    writes.push(decoder.decode(bytes));
    return bytes.length;
  });
  write("last words");
  globalThis.dispatchEvent(new Event("unload"));
  assert.deepEqual(writes, ["last words\n"]);
});

Deno.test("bufferedStdout: partial writes are continued; a large burst is written at once", () => {
  const out: number[] = [];
  const { write } = captured((bytes) => {
    const n = Math.min(bytes.length, 1000); // a pipe taking at most 1000 bytes per write
    out.push(...bytes.subarray(0, n));
    return n;
  });
  const line = "x".repeat(999);
  for (let i = 0; i < 70; i++) write(line); // 70 KB > the 64 KiB threshold: flushed without waiting
  const text = decoder.decode(new Uint8Array(out));
  assert.equal(text, (line + "\n").repeat(text.length / 1000));
  assert.ok(text.length >= 64 * 1024);
});

Deno.test("bufferedStdout: a failing stdout drops the lines without throwing", () => {
  let broken = true;
  const writes: string[] = [];
  const { write, timers } = captured((bytes) => {
    if (broken) throw new Deno.errors.BrokenPipe("closed");
    writes.push(decoder.decode(bytes));
    return bytes.length;
  });
  write("lost");
  assert.doesNotThrow(() => timers[0].fire(), "a failing write never reaches the caller");
  broken = false;
  write("next");
  timers[1].fire();
  assert.deepEqual(writes, ["next\n"], "the failed batch is dropped, not written again; later lines still go out");
});

Deno.test("createLogger writes the same JSON as JSON.stringify({ time, level, msg, ...fields })", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 6), debug: true });
  const cases: Array<Record<string, unknown> | undefined> = [
    undefined,
    {},
    { a: 1 },
    { request_id: "r", skipped: undefined, nested: { x: [1, "two", null] }, quote: 'say "hi"\n' },
    { only: undefined },
  ];
  for (const fields of cases) log.warn('a "message"', fields);
  log.debug("d", { n: 1 });
  const time = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)).toISOString();
  assert.deepEqual(lines, [
    ...cases.map((f) => JSON.stringify({ time, level: "warn", msg: 'a "message"', ...f })),
    JSON.stringify({ time, level: "debug", msg: "d", n: 1 }),
  ]);
  for (const line of lines) JSON.parse(line);
});

Deno.test("createLogger: the logger's own fields (a worker's index) follow msg on every line", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), now: () => 0, fields: { worker: 3 } });
  log.info("a");
  log.warn("b", { x: 1 });
  const time = new Date(0).toISOString();
  assert.deepEqual(lines, [
    JSON.stringify({ time, level: "info", msg: "a", worker: 3 }),
    JSON.stringify({ time, level: "warn", msg: "b", worker: 3, x: 1 }),
  ]);
});

Deno.test("bufferedStdout with maxWriteBytes: whole lines per write, none longer than the maximum unless one line is", () => {
  const writes: string[] = [];
  const timers: Array<() => void> = [];
  const write = bufferedStdout({
    writeSync: (bytes) => {
      writes.push(decoder.decode(bytes));
      return bytes.length;
    },
    setTimer: (fire) => void timers.push(fire),
    maxWriteBytes: 100,
  });
  const lines = ["a".repeat(30), "b".repeat(30), "c".repeat(45), "d".repeat(150), "e".repeat(98), "f".repeat(10)];
  for (const line of lines) write(line);
  timers[0]();
  assert.equal(writes.join(""), lines.map((l) => l + "\n").join(""), "every byte, in order");
  for (const w of writes) {
    assert.ok(w.endsWith("\n"), "each write ends a line");
    assert.ok(w.length <= 100 || w.split("\n").length === 2, `a write over the maximum holds one line: ${w.length}`);
  }
  assert.deepEqual(writes.map((w) => w.length), [62, 46, 151, 99, 11]);
});
