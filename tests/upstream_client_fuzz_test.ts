/**
 * A seeded, bounded fuzzer for the native upstream client's response parsing: a raw TCP server on 127.0.0.1 answers
 * each request with a generated answer (split into random writes) and closes the connection. Three families:
 *
 * - malformed by construction (bare CR/LF, obs-fold, bad names and values, duplicate or malformed Content-Length,
 *   Transfer-Encoding with Content-Length or with other codings, bad status lines, huge heads, bad chunk framing,
 *   truncated heads and bodies, unasked-for 101 / content codings, garbage): each must be rejected, at the call or
 *   while its body is read, with an {@link HttpClientError} of the expected code;
 * - random byte flips of valid answers: each must either be read to its end or fail with an `HttpClientError`;
 * - valid answers, randomly split: each must arrive byte for byte.
 *
 * Every case is bounded by a deadline (a hang fails the test by name), and after every failed case the client's pool
 * must be empty (a connection that saw a bad answer is never reused). Seeds are fixed: a failure names its case.
 */
import assert from "node:assert/strict";
import { createHttpClient, HttpClientError, type HttpClientErrorCode } from "../server/upstream_client/mod.ts";
import { startRawServer } from "./raw_http_server.ts";
import { seededRandom } from "../testing/seeded_random.ts";

const CASE_DEADLINE_MS = 5_000;
const SEEDS = [1, 2, 3, 4, 5, 6];
const FLIPS_PER_SEED = 25;

type Rng = () => number;
const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)];
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

interface Case {
  name: string;
  answer: string;
  /** Codes a malformed answer may be rejected with; undefined: the answer is valid and its body must be `body`. */
  codes?: HttpClientErrorCode[];
  body?: string;
  /** Byte flips: success or any HttpClientError. */
  either?: boolean;
}

function jsonBody(rng: Rng): string {
  return JSON.stringify({ output: { text: "x".repeat(int(rng, 0, 300)) }, n: int(rng, 0, 1e6) });
}

function lengthAnswer(body: string, extra = ""): string {
  return `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${extra}content-length: ${body.length}\r\n\r\n${body}`;
}

function chunkedBody(rng: Rng, body: string): string {
  let out = "";
  for (let i = 0; i < body.length;) {
    const n = Math.min(body.length - i, int(rng, 1, 64));
    out += `${n.toString(16)}${rng() < 0.2 ? ";ext=1" : ""}\r\n${body.slice(i, i + n)}\r\n`;
    i += n;
  }
  return out + (rng() < 0.3 ? "0\r\nx-trailer: t\r\n\r\n" : "0\r\n\r\n");
}

function chunkedAnswer(rng: Rng, body: string, extra = ""): string {
  return `HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n${extra}` +
    `transfer-encoding: chunked\r\n\r\n${chunkedBody(rng, body)}`;
}

const HEAD_END = "\r\n\r\n";
const headOf = (answer: string) => answer.slice(0, answer.indexOf(HEAD_END) + 2); // up to the last field's CRLF
const restOf = (answer: string) => answer.slice(answer.indexOf(HEAD_END) + 2);

/** Malformed answers by construction: name → generator and the codes it may be rejected with. */
const MALFORMED: Array<[string, HttpClientErrorCode[], (rng: Rng) => string]> = [
  ["bare LF or CR in the head", ["bad_line"], (rng) => {
    const a = lengthAnswer(jsonBody(rng));
    const head = headOf(a);
    const breaks = [...head.matchAll(/\r\n/g)].map((m) => m.index!);
    const at = pick(rng, breaks);
    return head.slice(0, at) + (rng() < 0.5 ? "\n" : "\r") + head.slice(at + 2) + restOf(a);
  }],
  ["obs-fold", ["obs_fold"], (rng) => lengthAnswer(jsonBody(rng), `x-a: one\r\n${pick(rng, [" ", "\t"])}folded\r\n`)],
  ["whitespace before a field's colon", ["bad_header"], (rng) => lengthAnswer(jsonBody(rng), "x-a : 1\r\n")],
  ["control character in a value", ["bad_header"], (rng) => {
    const ctl = pick(rng, ["\x00", "\x01", "\x1b", "\x7f", "\x0b"]);
    return lengthAnswer(jsonBody(rng), `x-a: a${ctl}b\r\n`);
  }],
  ["bad field name", ["bad_header"], (rng) => {
    const name = pick(rng, ["x(a)", "x@a", 'x"a', "", "x{a}", "x/a", "x[a]"]);
    return lengthAnswer(jsonBody(rng), `${name}: 1\r\n`);
  }],
  ["two Content-Length fields", ["bad_content_length"], (rng) => {
    const body = jsonBody(rng);
    const second = rng() < 0.5 ? body.length : body.length + int(rng, 1, 9);
    return lengthAnswer(body, `content-length: ${second}\r\n`);
  }],
  ["malformed Content-Length", ["bad_content_length"], (rng) => {
    const v = pick(rng, ["", "-1", "+2", "0x10", "1e3", "2 2", "2,2", "2, 2", "9999999999999999", "abc", "1.5"]);
    return `HTTP/1.1 200 OK\r\ncontent-length: ${v}\r\n\r\nhi`;
  }],
  ["Transfer-Encoding with Content-Length", ["conflicting_framing"], (rng) => {
    const body = jsonBody(rng);
    return chunkedAnswer(rng, body, `content-length: ${body.length}\r\n`);
  }],
  ["a transfer coding other than chunked alone", ["unsupported_transfer_encoding"], (rng) => {
    const te = pick(rng, [
      "gzip",
      "chunked, gzip",
      "gzip, chunked",
      "chunked, chunked",
      "identity",
      "chunked,",
      "chunk",
    ]);
    return `HTTP/1.1 200 OK\r\ntransfer-encoding: ${te}\r\n\r\n${chunkedBody(rng, jsonBody(rng))}`;
  }],
  [
    "Transfer-Encoding in HTTP/1.0",
    ["conflicting_framing"],
    (rng) => `HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${chunkedBody(rng, jsonBody(rng))}`,
  ],
  ["bad status line", ["bad_status_line"], (rng) => {
    const line = pick(rng, [
      "HTTP/1.2 200 OK",
      "HTTP/2 200 OK",
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "http/1.1 200 OK",
      " HTTP/1.1 200 OK",
      "HTTP/1.1  200 OK",
      "HTTP/1.1 600 Nope",
      "HTTP/1.1 099 Low",
      "ICY 200 OK",
      "HTTP/1.1 200 OK\x00",
      "HTTP/1.1 2x0 OK",
    ]);
    return `${line}\r\ncontent-length: 2\r\n\r\nok`;
  }],
  ["huge head", ["head_too_large"], (rng) => lengthAnswer("ok", `x-big: ${"a".repeat(int(rng, 17_000, 70_000))}\r\n`)],
  ["bad chunk-size line", ["bad_chunk"], (rng) => {
    const size = pick(rng, ["g", "-1", "0x5", " 5", "5 ", "ffffffffffffff", "", "5;\x01", "+5"]);
    return `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${size}\r\nhello\r\n0\r\n\r\n`;
  }],
  [
    "chunk-size line too long",
    ["chunk_line_too_long"],
    (rng) =>
      `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;${
        "e".repeat(int(rng, 4100, 20_000))
      }\r\nhello\r\n0\r\n\r\n`,
  ],
  [
    "chunk data longer than its size",
    ["bad_chunk"],
    (rng) => `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${int(rng, 1, 4)}\r\nhello\r\n0\r\n\r\n`,
  ],
  [
    "bare LF in chunked framing",
    ["bad_chunk"],
    () => "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
  ],
  [
    "bad trailer field",
    ["bad_header", "obs_fold"],
    (rng) =>
      `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n${
        pick(rng, ["x : y", " folded", "x\x01: y"])
      }\r\n\r\n`,
  ],
  ["body shorter than Content-Length", ["truncated_body"], (rng) => {
    const body = jsonBody(rng);
    return lengthAnswer(body).slice(0, -int(rng, 1, Math.max(1, body.length)));
  }],
  ["chunked body without its last chunk", ["truncated_body"], (rng) => {
    const a = chunkedAnswer(rng, jsonBody(rng) + "x");
    return a.slice(0, a.lastIndexOf("0\r\n", a.length - 4) - int(rng, 0, 3));
  }],
  ["head cut off", ["closed_before_response"], (rng) => {
    const head = headOf(lengthAnswer(jsonBody(rng)));
    return head.slice(0, int(rng, 0, head.length - 1));
  }],
  [
    "unasked-for 101 or endless 1xx",
    ["unexpected_informational"],
    (rng) =>
      rng() < 0.5
        ? "HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n"
        : "HTTP/1.1 100 Continue\r\n\r\n".repeat(9) + lengthAnswer("ok"),
  ],
  [
    "unasked-for content coding",
    ["unsupported_content_encoding"],
    (rng) =>
      lengthAnswer(jsonBody(rng), `content-encoding: ${pick(rng, ["gzip", "br", "deflate", "gzip, identity"])}\r\n`),
  ],
  ["garbage", ["bad_status_line", "bad_line", "closed_before_response", "head_too_large"], (rng) => {
    let s = "";
    for (let i = int(rng, 1, 3000); i > 0; i--) s += String.fromCharCode(int(rng, 0, 255));
    return s.startsWith("HTTP/") ? "X" + s : s;
  }],
];

function flipBytes(rng: Rng, s: string): string {
  const chars = [...s];
  for (let i = int(rng, 1, 3); i > 0; i--) chars[int(rng, 0, chars.length - 1)] = String.fromCharCode(int(rng, 0, 255));
  return chars.join("");
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const seed of SEEDS) {
    const rng = seededRandom(seed);
    for (const [name, codes, make] of MALFORMED) out.push({ name: `${name} (seed ${seed})`, answer: make(rng), codes });
    for (let i = 0; i < FLIPS_PER_SEED; i++) {
      const body = jsonBody(rng);
      const valid = rng() < 0.5 ? lengthAnswer(body) : chunkedAnswer(rng, body);
      out.push({ name: `byte flips #${i} (seed ${seed})`, answer: flipBytes(rng, valid), either: true });
    }
    for (let i = 0; i < 5; i++) {
      const body = jsonBody(rng);
      const answer = pick(rng, [
        () => lengthAnswer(body),
        () => chunkedAnswer(rng, body),
        () => `HTTP/1.1 200 OK\r\n\r\n${body}`, // to the end of the connection
        () => `HTTP/1.1 100 Continue\r\n\r\n${lengthAnswer(body, "x-b: \t spaced \t\r\n")}`,
      ])();
      out.push({ name: `valid #${i} (seed ${seed})`, answer, body });
    }
  }
  return out;
}

/** The answer as 1–5 writes cut at random places, as latin-1 bytes. */
function splitWrites(rng: Rng, answer: string): Uint8Array[] {
  const bytes = Uint8Array.from(answer, (c) => c.charCodeAt(0));
  const cuts = Array.from({ length: int(rng, 0, 4) }, () => int(rng, 0, bytes.length)).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const c of [...cuts, bytes.length]) {
    if (c > from) out.push(bytes.subarray(from, c));
    from = Math.max(from, c);
  }
  return out;
}

async function withDeadline<T>(p: Promise<T>, name: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`case "${name}" did not settle within ${CASE_DEADLINE_MS} ms`)),
      CASE_DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("native client fuzz: malformed answers are typed errors, never hang, never pool their connection", async () => {
  const all = cases();
  const splitter = seededRandom(99);
  let current: Case = all[0];
  await using server = startRawServer(() => ({ writes: splitWrites(splitter, current.answer), then: "close" }));
  const tally = { rejected: 0, read: 0 };
  for (const c of all) {
    current = c;
    const client = createHttpClient({ env: () => undefined });
    try {
      const outcome = await withDeadline(
        (async () => {
          try {
            const res = await client.fetch(server.url + "/model/m/converse", { method: "POST", body: "{}" });
            return { body: new TextDecoder("latin1").decode(await res.arrayBuffer()) };
          } catch (e) {
            return { error: e };
          }
        })(),
        c.name,
      );
      if ("error" in outcome) {
        tally.rejected++;
        const e = outcome.error;
        assert.ok(e instanceof HttpClientError, `${c.name}: not an HttpClientError: ${e}`);
        if (c.codes) assert.ok(c.codes.includes(e.code), `${c.name}: code ${e.code}, expected ${c.codes.join("|")}`);
        assert.ok(c.codes || c.either, `${c.name}: a valid answer was refused: ${e.message}`);
        assert.equal(client.idleConnections, 0, `${c.name}: a connection that failed went back to the pool`);
      } else {
        tally.read++;
        assert.ok(!c.codes, `${c.name}: a malformed answer was accepted: ${JSON.stringify(c.answer.slice(0, 200))}`);
        if (c.body !== undefined) assert.equal(outcome.body, c.body, c.name);
      }
    } finally {
      client.close();
    }
  }
  const malformed = all.filter((c) => c.codes).length;
  assert.ok(tally.rejected >= malformed, `every malformed case was rejected (${tally.rejected} of ${malformed})`);
  assert.ok(tally.read >= all.filter((c) => c.body !== undefined).length);
});
