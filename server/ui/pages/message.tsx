/**
 * @module
 * A page with a heading and a message: refusals (403), not found (404), rate limits, errors.
 */
import type { Page } from "../page.ts";

/** A page with a heading and a message: refusals, not found, errors. */
export function messagePage(title: string, message: string, status: Page["status"], link = true): Page {
  return {
    title,
    status,
    body: (
      <div class="panel">
        <h1>{title}</h1>
        <p>{message}</p>
        {link && (
          <p>
            <a href="/ui">Back to the start page</a>
          </p>
        )}
      </div>
    ),
  };
}
