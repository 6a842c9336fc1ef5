/**
 * @module
 * Settlement: the one place a finished call's record is accounted for, exactly once per call that reached it (a
 * model call, a pass-through call, a `/health` probe). In order: priced and queued for spend logs, roll-ups, metrics
 * and the request log (`spend/`); the key billed, its tokens counted, its holds settled and its parallel slot freed
 * (`keys/admission.ts`); counted as waiting to be written to KV until its sums are (readiness, fail closed).
 */
import type { CallRecord, CallSink } from "../core/call_record.ts";
import type { Ledger } from "../kv/ledger.ts";
import type { Admission } from "../keys/admission.ts";
import type { Quote } from "../pricing/cost.ts";

export interface SettlementDeps {
  /** Prices the call and queues everything cost tracking keeps of it; never throws (`SpendServices.account`). */
  account(record: CallRecord): Quote;
  admission: Pick<Admission, "finished">;
  ledger: Pick<Ledger, "noteCall">;
  /** Extra listener (tests observe finished calls here). */
  onCall?: (record: CallRecord) => void;
}

/** The sink every finished call's record goes to; returns the call's cost in nano-USD. */
export function createSettlement(deps: SettlementDeps): CallSink {
  return (record) => {
    const quote = deps.account(record);
    deps.admission.finished(record, quote.nanos);
    // Its sums and row are queued: counted until they are in KV (readiness, and the refusal of billable calls).
    deps.ledger.noteCall();
    deps.onCall?.(record);
    return quote.nanos;
  };
}
