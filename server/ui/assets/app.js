// Converse Gateway admin UI: small enhancements only; every page works without this file.
// - <time datetime=…> elements show the viewer's local time (the server writes UTC), the UTC text as their title;
// - buttons with data-copy="ID" copy that element's text (the new key, shown once);
// - forms with data-confirm="…" ask before submitting.
"use strict";
(() => {
  const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

  function localiseTimes() {
    for (const el of document.querySelectorAll("time[datetime]")) {
      const at = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(at.getTime())) continue;
      if (!el.title) el.title = el.textContent.trim();
      el.textContent = (el.dataset.format === "date" ? dateOnly : dateTime).format(at);
    }
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    for (const el of document.querySelectorAll("[data-local-zone]")) el.textContent = zone;
  }

  /** Copies with the Clipboard API (secure contexts), else by selecting the text (plain http on a LAN address). */
  async function copy(button) {
    const target = document.getElementById(button.dataset.copy);
    if (!target) return;
    const text = target.textContent.trim();
    let done = false;
    try {
      if (navigator.clipboard) {
        await navigator.clipboard.writeText(text);
        done = true;
      }
    } catch {
      done = false;
    }
    if (!done) {
      const range = document.createRange();
      range.selectNodeContents(target);
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      done = document.execCommand("copy");
    }
    const status = document.getElementById(button.dataset.copy + "-status");
    if (status) status.textContent = done ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy.";
  }

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
    if (button) copy(button);
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  localiseTimes();
})();
