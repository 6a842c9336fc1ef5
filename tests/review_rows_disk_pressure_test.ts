/**
 * Review (audit trail): the ledger drops a batch's spend-log rows when the batch fails 3 times with a non-busy error
 * and then lands without them (`server/kv/ledger.ts`, `ROW_ATTEMPTS`), on the theory that KV refuses those rows
 * outright. A nearly full disk does exactly that for a while: a small commit (the sums) still finds room, a large one
 * (a page of rows) does not, yet nothing is wrong with the rows. The calls are billed but their rows — the audit trail
 * a team lead reads — are gone for good, after three attempts a few milliseconds apart.
 * Fails on main; passes once rows that fail with a storage error (`database or disk is full`) stay queued and are
 * retried like the sums (only a row KV rejects as such — too large, not serializable — is dropped).
 */
import assert from "node:assert/strict";
import { nextTick } from "./failing_kv.ts";
import { Latch } from "../testing/latch.ts";
import { MASTER_KEY } from "../testing/harness.ts";
import { setupKeys } from "./keys_helpers.ts";

/** A KV whose commits fail with SQLite's full-disk error while `full` is set and they write a spend-log page. */
function nearlyFullKv(inner: Deno.Kv) {
  const state = { full: false, refused: 0 };
  /** Released once the ledger has decided: a fourth refused attempt (kept retrying), or a commit without rows. */
  const decided = new Latch();
  const kv = new Proxy(inner, {
    get(target, prop) {
      if (prop !== "atomic") {
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      }
      return () => {
        const op = target.atomic();
        let big = false;
        const proxy: Deno.AtomicOperation = new Proxy(op, {
          get(o, p) {
            if (p === "commit") {
              return () => {
                if (state.full && big) {
                  if (++state.refused >= 4) decided.release();
                  return Promise.reject(new TypeError("database or disk is full"));
                }
                if (state.refused > 0) decided.release();
                return o.commit();
              };
            }
            const v = Reflect.get(o, p);
            if (typeof v !== "function") return v;
            return (...args: unknown[]) => {
              if (p === "set" && (args[0] as Deno.KvKey)[0] === "spend_log_page") big = true;
              v.apply(o, args);
              return proxy;
            };
          },
        });
        return proxy;
      };
    },
  });
  return { kv, state, decided };
}

Deno.test("review: spend-log rows are kept, not dropped, while the disk is too full for them", async () => {
  await using inner = await Deno.openKv(":memory:");
  const disk = nearlyFullKv(inner);
  await using t = await setupKeys({ kv: disk.kv, ledgerSleep: nextTick });
  disk.state.full = true;
  const res = await t.converse(MASTER_KEY);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await disk.decided.wait();
  const refusedWhileFull = disk.state.refused;
  disk.state.full = false; // space is back
  await t.gw.gateway.flush();
  const rows = (await t.admin("GET", "/spend/logs")).json;
  assert.ok(refusedWhileFull > 0);
  assert.equal(rows.length, 1, `the call's row is gone after ${refusedWhileFull} refused commits`);
});
