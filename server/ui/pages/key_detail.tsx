/**
 * @module
 * One key: what it is (spend against budget, limits, expiry, state), its edit form, block/unblock, regenerate and
 * delete (each of the last two after a confirmation page), and its recent calls.
 */
import { UI_ACTOR } from "./owner_parts.tsx";
import { PageHead } from "../components/layout.tsx";
import { LogTable } from "../components/log_table.tsx";
import { BudgetBar, CsrfField, Money, Time } from "../components/widgets.tsx";
import { type FieldErrors, type KeyFormValues, readKeyForm, toUpdateRequest, valuesOf } from "../key_form.ts";
import { type Answer, formStatus, type Page, refusalErrors, type SignedIn } from "../page.ts";
import type { KeyInfo } from "../ports.ts";
import { messagePage } from "./message.tsx";
import { adminError } from "./key_errors.ts";
import { KeyForm, KeyOwners, KeySub, limitsText, modelsText } from "./key_parts.tsx";
import { modelNames, secretPage } from "./keys.tsx";

const RECENT_CALLS = 10;
export const KEY_HASH = /^[0-9a-f]{64}$/;

const DONE: Record<string, string> = {
  saved: "Saved. The change applies at once on this instance, and within seconds on others sharing the KV.",
  unchanged: "Nothing changed.",
  blocked: "Blocked: calls with this key are refused until it is unblocked.",
  unblocked: "Unblocked: the key may call again.",
};

/** The key, or a 404 page. */
async function find(s: SignedIn, hash: string): Promise<KeyInfo | Page> {
  if (!KEY_HASH.test(hash)) return notFound();
  try {
    return (await s.deps.keys.info(hash)).info;
  } catch (e) {
    adminError(e);
    return notFound();
  }
}

const notFound = () => messagePage("Key not found", "No key has this hash: it was deleted, or regenerated.", 404);
const isPage = (v: KeyInfo | Page): v is Page => "body" in v;

export async function keyPage(s: SignedIn, hash: string): Promise<Page> {
  const info = await find(s, hash);
  return isPage(info) ? info : render(s, info, valuesOf(info), {});
}

async function render(
  s: SignedIn,
  info: KeyInfo,
  form: KeyFormValues,
  errors: FieldErrors,
  error?: string,
): Promise<Page> {
  const rows = await s.deps.spend.logs({ keyHash: info.token, fromMs: 0, toMs: s.now + 60_000 }, 0, RECENT_CALLS);
  const done = DONE[s.url.searchParams.get("done") ?? ""];
  const name = info.key_alias ?? info.key_name;
  const base = `/ui/keys/${info.token}`;
  return {
    title: name,
    status: formStatus(errors, error),
    body: (
      <>
        <PageHead
          title={name}
          sub={<KeySub info={info} now={s.now} />}
        >
          <form method="post" action={`${base}/${info.blocked ? "unblock" : "block"}`}>
            <CsrfField token={s.viewer.csrf} />
            <button type="submit" class={info.blocked ? "" : "danger"}>{info.blocked ? "Unblock" : "Block"}</button>
          </form>
          <a class="button" href={`${base}/regenerate`}>Regenerate…</a>
          <a class="button danger" href={`${base}/delete`}>Delete…</a>
        </PageHead>
        {done && <div class="flash" role="status">{done}</div>}
        <div class="two-col">
          <section class="panel">
            <h2>Spend</h2>
            <BudgetBar spend={info.spend} budget={info.max_budget} />
            <dl class="facts">
              <dt>Window</dt>
              <dd>
                {info.budget_duration
                  ? (
                    <>
                      every {info.budget_duration}, resets <Time at={info.budget_reset_at} />
                    </>
                  )
                  : "none (all time)"}
              </dd>
              <dt>Soft budget</dt>
              <dd>{info.soft_budget === null ? "none" : <Money usd={info.soft_budget} trim />}</dd>
            </dl>
          </section>
          <section class="panel">
            <h2>Access</h2>
            <dl class="facts">
              <dt>Models</dt>
              <dd>{modelsText(info.models)}</dd>
              <dt>Limits</dt>
              <dd>{limitsText(info)}</dd>
              <dt>Expires</dt>
              <dd>{info.expires ? <Time at={info.expires} /> : "never"}</dd>
              <dt>Team · user</dt>
              <dd>
                <KeyOwners info={info} />
              </dd>
              <dt>Created</dt>
              <dd>
                <Time at={info.created_at} />
              </dd>
              <dt>Hash</dt>
              <dd class="mono">{info.token}</dd>
            </dl>
          </section>
        </div>
        <section>
          <h2>Recent calls</h2>
          <LogTable rows={rows} showKey={false} label="Recent calls of this key" empty="No calls with this key yet." />
          <p>
            <a href={`/ui/logs?key=${info.token}`}>All calls of this key</a>
          </p>
        </section>
        <section id="edit">
          <h2>Edit</h2>
          <KeyForm
            action={base}
            csrf={s.viewer.csrf}
            values={form}
            errors={errors}
            modelNames={modelNames(s)}
            mode="edit"
            error={error}
            cancel={base}
          />
        </section>
      </>
    ),
  };
}

export async function updateKey(s: SignedIn, hash: string, form: URLSearchParams): Promise<Answer> {
  const info = await find(s, hash);
  if (isPage(info)) return info;
  const values = readKeyForm(form);
  const request = toUpdateRequest(info, values);
  if (!request.ok) return render(s, info, values, request.errors);
  if (!request.changed) return { redirect: `/ui/keys/${hash}?done=unchanged` };
  try {
    await s.deps.keys.update(request.value, UI_ACTOR);
  } catch (e) {
    return render(s, info, values, ...refusalErrors(adminError(e)));
  }
  return { redirect: `/ui/keys/${hash}?done=saved` };
}

export async function setBlocked(s: SignedIn, hash: string, blocked: boolean): Promise<Answer> {
  const info = await find(s, hash);
  if (isPage(info)) return info;
  await s.deps.keys.setBlocked(hash, blocked, UI_ACTOR);
  return { redirect: `/ui/keys/${hash}?done=${blocked ? "blocked" : "unblocked"}` };
}

const CONFIRM = {
  regenerate: {
    title: "Regenerate key",
    what: "A new key replaces this one. The old key stops working at once; spend, alias and settings carry over.",
    button: "Regenerate",
  },
  delete: {
    title: "Delete key",
    what: "The key is deleted and calls with it are refused at once. Its spend stays in the reports and logs.",
    button: "Delete key",
  },
} as const;

/** The confirmation page of a regenerate or a delete (a plain page: it works without script, by keyboard). */
export async function confirmPage(s: SignedIn, hash: string, action: keyof typeof CONFIRM): Promise<Page> {
  const info = await find(s, hash);
  if (isPage(info)) return info;
  const c = CONFIRM[action];
  const name = info.key_alias ?? info.key_name;
  return {
    title: `${c.title}: ${name}`,
    body: (
      <div class="panel stack">
        <h1>{c.title} “{name}”?</h1>
        <p>{c.what}</p>
        <form method="post" action={`/ui/keys/${hash}/${action}`} class="actions">
          <CsrfField token={s.viewer.csrf} />
          <button type="submit" class="danger solid">{c.button}</button>
          <a class="button" href={`/ui/keys/${hash}`}>Cancel</a>
        </form>
      </div>
    ),
  };
}

export async function regenerateKey(s: SignedIn, hash: string): Promise<Answer> {
  const info = await find(s, hash);
  if (isPage(info)) return info;
  const created = await s.deps.keys.regenerate(hash, {}, UI_ACTOR);
  return secretPage("Key regenerated", created.key, created);
}

export async function deleteKey(s: SignedIn, hash: string): Promise<Answer> {
  const info = await find(s, hash);
  if (isPage(info)) return info;
  await s.deps.keys.remove({ keys: [hash] }, UI_ACTOR);
  return { redirect: "/ui/keys?done=deleted" };
}
