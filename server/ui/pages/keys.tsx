/**
 * @module
 * The keys list (alias, models, spend against budget, limits, expiry, state), finding a key by alias or hash,
 * and creating a key: the form, and the page that shows the new key once.
 */
import { UI_ACTOR } from "./owner_parts.tsx";
import { PageHead } from "../components/layout.tsx";
import { BudgetBar, Pager, TableWrap, Time } from "../components/widgets.tsx";
import { EMPTY_FORM, readKeyForm, toGenerateRequest } from "../key_form.ts";
import { type Answer, formStatus, type Page, pageParam, refusalErrors, type SignedIn, withQuery } from "../page.ts";
import type { KeyInfo } from "../ports.ts";
import { BudgetText, KeyForm, KeyOwners, KeyReveal, KeyState, limitsText, modelsText } from "./key_parts.tsx";
import { adminError } from "./key_errors.ts";

const PAGE_SIZE = 25;
const HASH = /^[0-9a-f]{64}$/;

/** What a finished action says at the top of the list. */
const DONE: Record<string, string> = {
  deleted: "The key was deleted. Calls with it are refused from now on.",
};

/** Model names the gateway serves, in config order (for the form's checkboxes and filters). */
export function modelNames(s: SignedIn): string[] {
  return [...new Set(s.deps.models.prices().map((p) => p.modelName))];
}

export async function keysPage(s: SignedIn): Promise<Answer> {
  const q = (s.url.searchParams.get("q") ?? "").trim();
  if (HASH.test(q)) return { redirect: `/ui/keys/${q}` };
  if (q.startsWith("sk-")) {
    return keyList(s, [], 0, 1, q, "Search by alias or hash: a key itself does not belong in an address bar.");
  }
  const page = pageParam(s.url);
  const list = await s.deps.keys.list({
    page,
    size: PAGE_SIZE,
    return_full_object: true,
    ...(q ? { key_alias: q } : {}),
  });
  return keyList(s, list.keys as KeyInfo[], list.total_count, page, q);
}

function keyList(s: SignedIn, keys: KeyInfo[], total: number, page: number, q: string, error?: string): Page {
  const done = DONE[s.url.searchParams.get("done") ?? ""];
  return {
    title: "Keys",
    body: (
      <>
        <PageHead title="Keys" sub={`${total} ${total === 1 ? "key" : "keys"}${q ? ` with alias “${q}”` : ""}.`}>
          <a class="button primary" href="/ui/keys/new">New key</a>
        </PageHead>
        {done && <div class="flash" role="status">{done}</div>}
        {error && <div class="alert" role="alert">{error}</div>}
        <form method="get" action="/ui/keys" class="filters" role="search">
          <div>
            <label for="q">Find a key</label>
            <input id="q" name="q" type="search" value={q} placeholder="alias or hash" autocomplete="off" />
          </div>
          <div class="actions">
            <button type="submit">Find</button>
            {q && <a class="button" href="/ui/keys">Show all</a>}
          </div>
        </form>
        <TableWrap label="Keys">
          <table>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col" class="opt">Team · user</th>
                <th scope="col" class="opt">Models</th>
                <th scope="col">Spend</th>
                <th scope="col" class="opt">Limits</th>
                <th scope="col" class="opt">Expires</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {keys.length === 0 && (
                <tr>
                  <td colspan={7} class="empty">
                    {q ? "No key has this alias." : "No keys yet. Create one to hand out."}
                  </td>
                </tr>
              )}
              {keys.map((k) => (
                <tr>
                  <td>
                    <a href={`/ui/keys/${k.token}`}>{k.key_alias ?? k.key_name}</a>
                    <div class="muted mono">{k.key_name}</div>
                  </td>
                  <td class="opt">
                    <KeyOwners info={k} />
                  </td>
                  <td class="opt">{modelsText(k.models)}</td>
                  <td>
                    <BudgetBar spend={k.spend} budget={k.max_budget} label={`Spend of ${k.key_alias ?? k.key_name}`} />
                    {k.budget_duration && <div class="muted">per {k.budget_duration}</div>}
                  </td>
                  <td class="opt">{limitsText(k)}</td>
                  <td class="opt">{k.expires ? <Time at={k.expires} /> : <span class="muted">never</span>}</td>
                  <td>
                    <KeyState info={k} now={s.now} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
        <Pager
          page={page}
          hasNext={page * PAGE_SIZE < total}
          href={(p) => withQuery("/ui/keys", { q, page: p })}
          label="Pages of keys"
        />
      </>
    ),
  };
}

export function newKeyPage(s: SignedIn, form = EMPTY_FORM, errors = {}, error?: string): Page {
  return {
    title: "New key",
    status: formStatus(errors, error),
    body: (
      <>
        <PageHead title="New key" sub="The key is shown once, right after it is created." />
        <KeyForm
          action="/ui/keys/new"
          csrf={s.viewer.csrf}
          values={form}
          errors={errors}
          modelNames={modelNames(s)}
          mode="create"
          error={error}
          cancel="/ui/keys"
        />
      </>
    ),
  };
}

export async function createKey(s: SignedIn, form: URLSearchParams): Promise<Answer> {
  const values = readKeyForm(form);
  const request = toGenerateRequest(values);
  if (!request.ok) return newKeyPage(s, values, request.errors);
  try {
    const created = await s.deps.keys.generate(request.value, UI_ACTOR);
    return secretPage("Key created", created.key, created);
  } catch (e) {
    return newKeyPage(s, values, ...refusalErrors(adminError(e)));
  }
}

/** The raw key, shown this once (created or regenerated), with a copy button. */
export function secretPage(title: string, raw: string, info: KeyInfo): Page {
  return {
    title,
    body: (
      <>
        <PageHead title={title} sub={info.key_alias ?? info.key_name} />
        <KeyReveal raw={raw} lead="Copy this key now." />
        <dl class="facts panel">
          <dt>Models</dt>
          <dd>{modelsText(info.models)}</dd>
          <dt>Budget</dt>
          <dd>
            <BudgetText info={info} />
          </dd>
          <dt>Limits</dt>
          <dd>{limitsText(info)}</dd>
          <dt>Expires</dt>
          <dd>{info.expires ? <Time at={info.expires} /> : "never"}</dd>
        </dl>
        <div class="actions after-panel">
          <a class="button" href={`/ui/keys/${info.token}`}>Go to the key</a>
          <a class="button" href="/ui/keys">All keys</a>
        </div>
      </>
    ),
  };
}
