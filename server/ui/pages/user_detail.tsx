/**
 * @module
 * One user: its spend against budget, settings, teams and keys, its edit form, and delete (with its keys, after a
 * confirmation page).
 */
import { PageHead } from "../components/layout.tsx";
import { Time } from "../components/widgets.tsx";
import {
  type OwnerFieldErrors,
  type OwnerFormValues,
  ownerValues,
  readOwnerForm,
  toUserUpdate,
} from "../owner_form.ts";
import { type Answer, formStatus, type Page, refusalErrors, type SignedIn } from "../page.ts";
import type { KeyInfo, TeamInfo, UserInfo } from "../ports.ts";
import { modelsText } from "./key_parts.tsx";
import { modelNames } from "./keys.tsx";
import { messagePage } from "./message.tsx";
import {
  confirmDeletePage,
  LinkList,
  ownerError,
  OwnerForm,
  OwnerKeys,
  ownerLimitsText,
  OwnerSpend,
  UI_ACTOR,
} from "./owner_parts.tsx";
import { teamPath } from "./teams.tsx";
import { teamOptions, userPath } from "./users.tsx";

const DONE: Record<string, string> = {
  saved: "Saved. The change applies at once on this instance, and within seconds on others sharing the KV.",
  unchanged: "Nothing changed.",
};

const notFound = () => messagePage("User not found", "No user has this id: it was deleted.", 404);

interface Found {
  user: UserInfo;
  keys: KeyInfo[];
  teams: TeamInfo[];
}

async function find(s: SignedIn, id: string): Promise<Found | Page> {
  try {
    const info = await s.deps.users.info(id);
    return { user: info.user_info, keys: info.keys, teams: info.teams };
  } catch (e) {
    ownerError(e);
    return notFound();
  }
}

const isPage = (v: object): v is Page => "body" in v;

export async function userPage(s: SignedIn, id: string): Promise<Page> {
  const found = await find(s, id);
  return isPage(found) ? found : render(s, found, ownerValues(found.user), {});
}

async function render(
  s: SignedIn,
  found: Found,
  form: OwnerFormValues,
  errors: OwnerFieldErrors,
  error?: string,
): Promise<Page> {
  const { user, keys, teams } = found;
  const done = DONE[s.url.searchParams.get("done") ?? ""];
  const name = user.user_alias ?? user.user_id;
  const base = userPath(user.user_id);
  return {
    title: name,
    status: formStatus(errors, error),
    body: (
      <>
        <PageHead title={name} sub={<span class="mono">{user.user_id}</span>}>
          <a class="button danger" href={`${base}/delete`}>Delete…</a>
        </PageHead>
        {done && <div class="flash" role="status">{done}</div>}
        <div class="two-col">
          <OwnerSpend info={user} name={name} />
          <section class="panel">
            <h2>Access</h2>
            <dl class="facts">
              <dt>Email</dt>
              <dd>{user.user_email ?? "—"}</dd>
              <dt>Teams</dt>
              <dd>
                <LinkList links={teams.map((t) => ({ href: teamPath(t.team_id), text: t.team_alias ?? t.team_id }))} />
              </dd>
              <dt>Models</dt>
              <dd>{modelsText(user.models)}</dd>
              <dt>Limits</dt>
              <dd>{ownerLimitsText(user)}</dd>
              <dt>Created</dt>
              <dd>
                <Time at={user.created_at} />
              </dd>
            </dl>
          </section>
        </div>
        <OwnerKeys keys={keys} now={s.now} label="Keys of this user" empty="No keys for this user yet." column="Team" />
        <section id="edit">
          <h2>Edit</h2>
          <OwnerForm
            kind="user"
            action={base}
            csrf={s.viewer.csrf}
            values={form}
            errors={errors}
            modelNames={modelNames(s)}
            teams={await teamOptions(s)}
            mode="edit"
            error={error}
            cancel={base}
          />
        </section>
      </>
    ),
  };
}

export async function updateUser(s: SignedIn, id: string, form: URLSearchParams): Promise<Answer> {
  const found = await find(s, id);
  if (isPage(found)) return found;
  const values = readOwnerForm(form);
  const request = toUserUpdate(found.user, values);
  if (!request.ok) return render(s, found, values, request.errors);
  if (!request.changed) return { redirect: `${userPath(id)}?done=unchanged` };
  try {
    await s.deps.users.update(request.value, UI_ACTOR);
  } catch (e) {
    return render(s, found, values, ...refusalErrors(ownerError(e)));
  }
  return { redirect: `${userPath(id)}?done=saved` };
}

export async function confirmUserDelete(s: SignedIn, id: string): Promise<Page> {
  const found = await find(s, id);
  if (isPage(found)) return found;
  const n = found.keys.length;
  return confirmDeletePage({
    title: "Delete user",
    name: found.user.user_alias ?? id,
    what: `The user is deleted with its ${n} ${n === 1 ? "key" : "keys"}: calls with them are refused at once. ` +
      "Its spend stays in the reports and logs.",
    action: `${userPath(id)}/delete`,
    csrf: s.viewer.csrf,
    cancel: userPath(id),
  });
}

export async function deleteUser(s: SignedIn, id: string): Promise<Answer> {
  const found = await find(s, id);
  if (isPage(found)) return found;
  await s.deps.users.remove([id], UI_ACTOR);
  return { redirect: "/ui/users?done=deleted" };
}
