/**
 * @module
 * One team: its spend against budget, settings, members and keys, its edit form, block/unblock, and delete (with
 * its keys, after a confirmation page).
 */
import { PageHead } from "../components/layout.tsx";
import { CsrfField, Time } from "../components/widgets.tsx";
import {
  type OwnerFieldErrors,
  type OwnerFormValues,
  ownerValues,
  readOwnerForm,
  toTeamUpdate,
} from "../owner_form.ts";
import { type Answer, formStatus, type Page, refusalErrors, type SignedIn } from "../page.ts";
import type { KeyInfo, TeamInfo } from "../ports.ts";
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
import { teamPath, TeamState } from "./teams.tsx";
import { userPath } from "./users.tsx";

const DONE: Record<string, string> = {
  created: "Team created. Give keys its id as their team to put them under its budget and limits.",
  saved: "Saved. The change applies at once on this instance, and within seconds on others sharing the KV.",
  unchanged: "Nothing changed.",
  blocked: "Blocked: calls with the team's keys are refused until it is unblocked.",
  unblocked: "Unblocked: the team's keys may call again.",
};

const notFound = () => messagePage("Team not found", "No team has this id: it was deleted.", 404);

/** The team and its keys, or a 404 page. */
async function find(s: SignedIn, id: string): Promise<{ team: TeamInfo; keys: KeyInfo[] } | Page> {
  try {
    const info = await s.deps.teams.info(id);
    return { team: info.team_info, keys: info.keys };
  } catch (e) {
    ownerError(e);
    return notFound();
  }
}

const isPage = (v: object): v is Page => "body" in v;

export async function teamPage(s: SignedIn, id: string): Promise<Page> {
  const found = await find(s, id);
  return isPage(found) ? found : render(s, found.team, found.keys, ownerValues(found.team), {});
}

function render(
  s: SignedIn,
  team: TeamInfo,
  keys: KeyInfo[],
  form: OwnerFormValues,
  errors: OwnerFieldErrors,
  error?: string,
): Page {
  const done = DONE[s.url.searchParams.get("done") ?? ""];
  const name = team.team_alias ?? team.team_id;
  const base = teamPath(team.team_id);
  return {
    title: name,
    status: formStatus(errors, error),
    body: (
      <>
        <PageHead
          title={name}
          sub={
            <>
              <span class="mono">{team.team_id}</span> · <TeamState info={team} />
            </>
          }
        >
          <form method="post" action={`${base}/${team.blocked ? "unblock" : "block"}`}>
            <CsrfField token={s.viewer.csrf} />
            <button type="submit" class={team.blocked ? "" : "danger"}>{team.blocked ? "Unblock" : "Block"}</button>
          </form>
          <a class="button danger" href={`${base}/delete`}>Delete…</a>
        </PageHead>
        {done && <div class="flash" role="status">{done}</div>}
        <div class="two-col">
          <OwnerSpend info={team} name={name} />
          <section class="panel">
            <h2>Access</h2>
            <dl class="facts">
              <dt>Models</dt>
              <dd>{modelsText(team.models)}</dd>
              <dt>Limits</dt>
              <dd>{ownerLimitsText(team)}</dd>
              <dt>Members</dt>
              <dd>
                <LinkList
                  links={team.members_with_roles.map((m) => ({ href: userPath(m.user_id), text: m.user_id }))}
                />
              </dd>
              <dt>Created</dt>
              <dd>
                <Time at={team.created_at} />
              </dd>
            </dl>
          </section>
        </div>
        <OwnerKeys keys={keys} now={s.now} label="Keys of this team" empty="No keys in this team yet." column="User" />
        <section id="edit">
          <h2>Edit</h2>
          <OwnerForm
            kind="team"
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

export async function updateTeam(s: SignedIn, id: string, form: URLSearchParams): Promise<Answer> {
  const found = await find(s, id);
  if (isPage(found)) return found;
  const values = readOwnerForm(form);
  const request = toTeamUpdate(found.team, values);
  if (!request.ok) return render(s, found.team, found.keys, values, request.errors);
  if (!request.changed) return { redirect: `${teamPath(id)}?done=unchanged` };
  try {
    await s.deps.teams.update(request.value, UI_ACTOR);
  } catch (e) {
    return render(s, found.team, found.keys, values, ...refusalErrors(ownerError(e)));
  }
  return { redirect: `${teamPath(id)}?done=saved` };
}

export async function setTeamBlocked(s: SignedIn, id: string, blocked: boolean): Promise<Answer> {
  const found = await find(s, id);
  if (isPage(found)) return found;
  await s.deps.teams.setBlocked(id, blocked, UI_ACTOR);
  return { redirect: `${teamPath(id)}?done=${blocked ? "blocked" : "unblocked"}` };
}

export async function confirmTeamDelete(s: SignedIn, id: string): Promise<Page> {
  const found = await find(s, id);
  if (isPage(found)) return found;
  const n = found.keys.length;
  return confirmDeletePage({
    title: "Delete team",
    name: found.team.team_alias ?? id,
    what: `The team is deleted with its ${n} ${n === 1 ? "key" : "keys"}: calls with them are refused at once. ` +
      "Its spend stays in the reports and logs.",
    action: `${teamPath(id)}/delete`,
    csrf: s.viewer.csrf,
    cancel: teamPath(id),
  });
}

export async function deleteTeam(s: SignedIn, id: string): Promise<Answer> {
  const found = await find(s, id);
  if (isPage(found)) return found;
  await s.deps.teams.remove([id], UI_ACTOR);
  return { redirect: "/ui/teams?done=deleted" };
}
