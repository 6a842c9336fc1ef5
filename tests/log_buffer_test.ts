/**
 * `createLogger` line format, and `bufferedStdout`: the request log's lines reach stdout complete and in order, in one write per turn instead of
 * one per line, and a broken stdout never throws into a call.
 */
import assert from "node:assert/strict";
import { bufferedStdout, createLogger } from "../server/log.ts";

const decoder = new TextDecoder();
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("bufferedStdout: lines written in one turn go out together, in order, newline-terminated", async () => {
  const writes: string[] = [];
  const write = bufferedStdout((bytes) => {
    writes.push(decoder.decode(bytes));
    return bytes.length;
  });
  write('{"msg":"a"}');
  write('{"msg":"b"}');
  assert.deepEqual(writes, [], "nothing is written synchronously");
  await Promise.resolve(); // one microtask checkpoint
  assert.deepEqual(writes, ['{"msg":"a"}\n{"msg":"b"}\n']);
  write('{"msg":"é"}');
  await nextTurn();
  assert.deepEqual(writes.slice(1), ['{"msg":"é"}\n']);
});

Deno.test("bufferedStdout: partial writes are continued; a large burst is written at once", () => {
  const out: number[] = [];
  const write = bufferedStdout((bytes) => {
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

Deno.test("bufferedStdout: a failing stdout drops the lines without throwing", async () => {
  const write = bufferedStdout(() => {
    throw new Deno.errors.BrokenPipe("closed");
  });
  write("lost");
  await nextTurn(); // an exception in the flush would fail this test as uncaught
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
