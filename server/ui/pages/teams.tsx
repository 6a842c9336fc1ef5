/**
 * @module
 * The teams: the list (alias, members, keys, spend against budget, limits, state), and creating a team.
 */
import { PageHead } from "../components/layout.tsx";
import { Badge, BudgetBar, TableWrap } from "../components/widgets.tsx";
import { EMPTY_OWNER_FORM, type OwnerFieldErrors, readOwnerForm, toTeamNew } from "../owner_form.ts";
import { type Answer, formStatus, type Page, refusalErrors, type SignedIn } from "../page.ts";
import type { TeamInfo } from "../ports.ts";
import { modelsText } from "./key_parts.tsx";
import { modelNames } from "./keys.tsx";
import { ownerError, OwnerForm, ownerLimitsText, UI_ACTOR } from "./owner_parts.tsx";

const DONE: Record<string, string> = {
  deleted: "The team was deleted, with its keys: their calls are refused from now on.",
};

/** A team's path in the UI (ids may hold any character). */
export const teamPath = (id: string) => `/ui/teams/${encodeURIComponent(id)}`;

/** Active or blocked. */
export const TeamState = (props: { info: Pick<TeamInfo, "blocked"> }) =>
  props.info.blocked ? <Badge tone="bad">blocked</Badge> : <Badge tone="ok">active</Badge>;

export async function teamsPage(s: SignedIn): Promise<Page> {
  const teams = await s.deps.teams.list();
  const done = DONE[s.url.searchParams.get("done") ?? ""];
  return {
    title: "Teams",
    body: (
      <>
        <PageHead title="Teams" sub={`${teams.length} ${teams.length === 1 ? "team" : "teams"}.`}>
          <a class="button primary" href="/ui/teams/new">New team</a>
        </PageHead>
        {done && <div class="flash" role="status">{done}</div>}
        <TableWrap label="Teams">
          <table>
            <thead>
              <tr>
                <th scope="col">Team</th>
                <th scope="col" class="opt">Models</th>
                <th scope="col">Spend</th>
                <th scope="col" class="opt">Limits</th>
                <th scope="col" class="opt">Members · keys</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {teams.length === 0 && (
                <tr>
                  <td colspan={6} class="empty">No teams yet. A team's budget and limits cap all its keys together.</td>
                </tr>
              )}
              {teams.map((t) => (
                <tr>
                  <td>
                    <a href={teamPath(t.team_id)}>{t.team_alias ?? t.team_id}</a>
                    <div class="muted mono">{t.team_id}</div>
                  </td>
                  <td class="opt">{modelsText(t.models)}</td>
                  <td>
                    <BudgetBar spend={t.spend} budget={t.max_budget} label={`Spend of ${t.team_alias ?? t.team_id}`} />
                    {t.budget_duration && <div class="muted">per {t.budget_duration}</div>}
                  </td>
                  <td class="opt">{ownerLimitsText(t)}</td>
                  <td class="opt">{t.members_with_roles.length} · {t.keys.length}</td>
                  <td>
                    <TeamState info={t} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </>
    ),
  };
}

export function newTeamPage(s: SignedIn, form = EMPTY_OWNER_FORM, errors: OwnerFieldErrors = {}, error?: string): Page {
  return {
    title: "New team",
    status: formStatus(errors, error),
    body: (
      <>
        <PageHead title="New team" sub="Keys join a team by its id (the key's Team field)." />
        <OwnerForm
          kind="team"
          action="/ui/teams/new"
          csrf={s.viewer.csrf}
          values={form}
          errors={errors}
          modelNames={modelNames(s)}
          mode="create"
          error={error}
          cancel="/ui/teams"
        />
      </>
    ),
  };
}

export async function createTeam(s: SignedIn, form: URLSearchParams): Promise<Answer> {
  const values = readOwnerForm(form);
  const request = toTeamNew(values);
  if (!request.ok) return newTeamPage(s, values, request.errors);
  try {
    const team = await s.deps.teams.create(request.value, UI_ACTOR);
    return { redirect: `${teamPath(team.team_id)}?done=created` };
  } catch (e) {
    return newTeamPage(s, values, ...refusalErrors(ownerError(e)));
  }
}
