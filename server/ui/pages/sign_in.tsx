/**
 * @module
 * The sign-in form (a password field named `key`), and the page shown instead when the UI is off because the
 * gateway has no master key.
 */
import type { Page } from "../page.ts";

export interface SignInProps {
  /** The form's double-submit token (also set as a cookie). */
  token: string;
  /** Where to go after signing in (a `/ui` path). */
  next?: string;
  error?: string;
  /** Why the previous session ended (deleted key, expiry…). */
  notice?: string;
}

export function signInPage(props: SignInProps, status: Page["status"] = 200): Page {
  return {
    title: "Sign in",
    status,
    body: (
      <div class="signin">
        <div class="panel">
          <h1>Sign in</h1>
          <p class="muted">
            The master key opens the admin view (keys, spend, logs, models). A virtual key shows its own spend and
            calls, read only.
          </p>
          {props.notice && <div class="alert warn" role="status">{props.notice}</div>}
          {props.error && <div class="alert" role="alert">{props.error}</div>}
          <form method="post" action="/ui/sign-in">
            <input type="hidden" name="csrf" value={props.token} />
            {props.next && <input type="hidden" name="next" value={props.next} />}
            {/* What password managers store the key under (the gateway ignores it). */}
            <input type="text" name="username" value="converse-gateway" autocomplete="username" hidden />
            <div class="stack">
              <div>
                <label for="key">Key</label>
                <input
                  id="key"
                  name="key"
                  type="password"
                  required
                  autofocus
                  autocomplete="current-password"
                  placeholder="sk-…"
                  aria-invalid={props.error ? "true" : undefined}
                />
              </div>
              <button type="submit" class="primary">Sign in</button>
            </div>
          </form>
        </div>
      </div>
    ),
  };
}

/** With no master key the gateway is open, and the UI stays off: it could not tell an admin from anyone else. */
export function uiOffPage(): Page {
  return {
    title: "Admin UI is off",
    status: 503,
    body: (
      <div class="signin">
        <div class="panel">
          <h1>The admin UI is off</h1>
          <div class="alert warn" role="alert">
            This gateway has no master key, so it is open: anyone who can reach it may call every model and the admin
            API.
          </div>
          <p>
            The UI needs a master key to sign admins in. Set <code>general_settings.master_key</code> (e.g.{" "}
            <code>os.environ/LITELLM_MASTER_KEY</code>) in the config and restart the gateway.
          </p>
        </div>
      </div>
    ),
  };
}
