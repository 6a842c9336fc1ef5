/**
 * @module
 * The users: the list (id, email, teams, keys, spend against budget, limits), and creating a user — with a key for
 * it, shown once, as `/user/new` makes one by default.
 */
import { PageHead } from "../components/layout.tsx";
import { BudgetBar, Pager, TableWrap } from "../components/widgets.tsx";
import { EMPTY_OWNER_FORM, type OwnerFieldErrors, readOwnerForm, toUserNew } from "../owner_form.ts";
import { type Answer, formStatus, type Page, pageParam, refusalErrors, type SignedIn, withQuery } from "../page.ts";
import { BudgetText, KeyReveal, modelsText } from "./key_parts.tsx";
import { modelNames } from "./keys.tsx";
import { ownerError, OwnerForm, ownerLimitsText, UI_ACTOR } from "./owner_parts.tsx";

const PAGE_SIZE = 25;

const DONE: Record<string, string> = {
  deleted: "The user was deleted, with its keys: their calls are refused from now on.",
};

/** A user's path in the UI (ids may hold any character). */
export const userPath = (id: string) => `/ui/users/${encodeURIComponent(id)}`;

/** The teams a user may be put in, for the form's checkboxes. */
export async function teamOptions(s: SignedIn) {
  return (await s.deps.teams.list()).map((t) => ({ id: t.team_id, alias: t.team_alias }));
}

export async function usersPage(s: SignedIn): Promise<Page> {
  const page = pageParam(s.url);
  const team = (s.url.searchParams.get("team") ?? "").trim();
  const list = await s.deps.users.list({ page, page_size: PAGE_SIZE, ...(team ? { team } : {}) });
  const done = DONE[s.url.searchParams.get("done") ?? ""];
  return {
    title: "Users",
    body: (
      <>
        <PageHead
          title="Users"
          sub={`${list.total} ${list.total === 1 ? "user" : "users"}${team ? ` in team “${team}”` : ""}.`}
        >
          <a class="button primary" href="/ui/users/new">New user</a>
        </PageHead>
        {done && <div class="flash" role="status">{done}</div>}
        <TableWrap label="Users">
          <table>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col" class="opt">Teams</th>
                <th scope="col" class="opt">Models</th>
                <th scope="col">Spend</th>
                <th scope="col" class="opt">Limits</th>
                <th scope="col" class="opt">Keys</th>
              </tr>
            </thead>
            <tbody>
              {list.users.length === 0 && (
                <tr>
                  <td colspan={6} class="empty">No users yet. A user's budget caps all its keys together.</td>
                </tr>
              )}
              {list.users.map((u) => (
                <tr>
                  <td>
                    <a href={userPath(u.user_id)}>{u.user_alias ?? u.user_id}</a>
                    <div class="muted">{u.user_email ?? u.user_id}</div>
                  </td>
                  <td class="opt">{u.teams.length ? u.teams.join(", ") : <span class="muted">none</span>}</td>
                  <td class="opt">{modelsText(u.models)}</td>
                  <td>
                    <BudgetBar spend={u.spend} budget={u.max_budget} label={`Spend of ${u.user_alias ?? u.user_id}`} />
                    {u.budget_duration && <div class="muted">per {u.budget_duration}</div>}
                  </td>
                  <td class="opt">{ownerLimitsText(u)}</td>
                  <td class="opt">{u.key_count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
        <Pager
          page={page}
          hasNext={page * PAGE_SIZE < list.total}
          href={(p) => withQuery("/ui/users", { team, page: p })}
          label="Pages of users"
        />
      </>
    ),
  };
}

export async function newUserPage(
  s: SignedIn,
  form = EMPTY_OWNER_FORM,
  errors: OwnerFieldErrors = {},
  error?: string,
): Promise<Page> {
  return {
    title: "New user",
    status: formStatus(errors, error),
    body: (
      <>
        <PageHead title="New user" sub="A key for the user is made with it, and shown once." />
        <OwnerForm
          kind="user"
          action="/ui/users/new"
          csrf={s.viewer.csrf}
          values={form}
          errors={errors}
          modelNames={modelNames(s)}
          teams={await teamOptions(s)}
          mode="create"
          error={error}
          cancel="/ui/users"
        />
      </>
    ),
  };
}

export async function createUser(s: SignedIn, form: URLSearchParams): Promise<Answer> {
  const values = readOwnerForm(form);
  const request = toUserNew(values);
  if (!request.ok) return newUserPage(s, values, request.errors);
  try {
    const user = await s.deps.users.create(request.value, UI_ACTOR);
    const name = user.user_alias ?? user.user_id;
    return {
      title: "User created",
      body: (
        <>
          <PageHead title="User created" sub={name} />
          {user.key && <KeyReveal raw={user.key} lead="Copy the user's key now." />}
          <dl class="facts panel">
            <dt>Budget</dt>
            <dd>
              <BudgetText info={user} />
            </dd>
            <dt>Teams</dt>
            <dd>{user.teams.length ? user.teams.join(", ") : "none"}</dd>
          </dl>
          <div class="actions after-panel">
            <a class="button" href={userPath(user.user_id)}>Go to the user</a>
            <a class="button" href="/ui/users">All users</a>
          </div>
        </>
      ),
    };
  } catch (e) {
    return newUserPage(s, values, ...refusalErrors(ownerError(e)));
  }
}
