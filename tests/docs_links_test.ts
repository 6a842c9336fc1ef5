/**
 * The README and `docs/*.md` link to each other: every relative link (and image) in them must point to a file that
 * exists and, with a `#fragment`, to a heading that exists in it — so moving a section or renaming a heading cannot
 * leave a dead link behind. Anchors are GitHub's: the heading's text, lower-cased, without punctuation, spaces as
 * hyphens, repeats numbered `-1`, `-2`, …. Code blocks and code spans are not prose: links inside them are not checked.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";

const ROOT = new URL("../", import.meta.url).pathname;

/** GitHub's anchor for a heading's markdown text. */
function anchorOf(heading: string): string {
  const text = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/[`*]/g, "").trim();
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "").replace(/ /g, "-");
}

/** The text outside fenced code blocks, with code spans blanked. */
function prose(markdown: string): string {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const opener = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (opener && opener[0] === fence[0] && opener.length >= fence.length) fence = undefined;
      lines.push("");
    } else if (opener) {
      fence = opener;
      lines.push("");
    } else {
      lines.push(line);
    }
  }
  // A code span may wrap onto the next line: blank spans over the whole text, not line by line.
  return lines.join("\n").replace(/(`+)[\s\S]*?\1/g, (span) => span.replace(/[^\n]/g, " "));
}

/** Every anchor a markdown file's headings define (headings inside code blocks are not headings). */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let inFence = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) inFence = !inFence;
    const m = inFence ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = anchorOf(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** `[text](target)` and `![alt](target)` targets in a markdown file's prose. */
function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
}

async function isFile(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile || info.isDirectory;
  } catch {
    return false;
  }
}

/** Dead relative links in `files` (paths under `root`), each as `file: target (why)`. */
async function deadLinks(root: string, files: string[]): Promise<{ dead: string[]; checked: number }> {
  const dead: string[] = [];
  let checked = 0;
  for (const file of files) {
    const path = join(root, file);
    const text = await Deno.readTextFile(path);
    for (const target of linkTargets(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue; // http:, mailto:, …
      checked++;
      const hash = target.indexOf("#");
      const pathPart = decodeURI(hash < 0 ? target : target.slice(0, hash));
      const fragment = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
      const resolved = pathPart ? join(dirname(path), pathPart) : path;
      if (!await isFile(resolved)) {
        dead.push(`${file}: ${target} (no file ${relative(root, resolved)})`);
        continue;
      }
      if (fragment === undefined) continue;
      if (!resolved.endsWith(".md")) {
        dead.push(`${file}: ${target} (an anchor into a file that is not markdown)`);
        continue;
      }
      if (!anchorsOf(await Deno.readTextFile(resolved)).has(fragment)) {
        dead.push(`${file}: ${target} (no heading #${fragment} in ${relative(root, resolved)})`);
      }
    }
  }
  return { dead, checked };
}

Deno.test("anchors are GitHub's: punctuation dropped, spaces to hyphens, repeats numbered", () => {
  assert.equal(anchorOf("Billing rules: what a key holder can rely on"), "billing-rules-what-a-key-holder-can-rely-on");
  assert.equal(anchorOf("Every core: `--workers N`"), "every-core---workers-n");
  assert.equal(anchorOf("Virtual keys (`/key/*`)"), "virtual-keys-key");
  assert.equal(
    anchorOf("The pass-through account: `bedrock_passthrough`"),
    "the-pass-through-account-bedrock_passthrough",
  );
  assert.equal(anchorOf("LiteLLM's other sections"), "litellms-other-sections");
  assert.deepEqual([...anchorsOf("# A\n## B\n```\n# not a heading\n```\n## B\n")], ["a", "b", "b-1"]);
});

Deno.test("the link checker finds a missing file and a missing heading, and ignores code and URLs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "docs"));
    await Deno.writeTextFile(join(dir, "docs", "a.md"), "# A\n\n## Real heading\n");
    await Deno.writeTextFile(
      join(dir, "README.md"),
      [
        "# Readme",
        "[ok](docs/a.md#real-heading) [ok](#readme) [web](https://example.com/x.md#nope)",
        "[gone](docs/b.md) [no heading](docs/a.md#made-up)",
        "`[in a code span](docs/c.md)`",
        "```md",
        "[in a code block](docs/d.md)",
        "```",
      ].join("\n"),
    );
    const { dead, checked } = await deadLinks(dir, ["README.md", "docs/a.md"]);
    assert.equal(checked, 4);
    assert.deepEqual(dead, [
      "README.md: docs/b.md (no file docs/b.md)",
      "README.md: docs/a.md#made-up (no heading #made-up in docs/a.md)",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every relative link in README.md and docs/*.md points to a file and a heading that exist", async () => {
  const docs = [...Deno.readDirSync(join(ROOT, "docs"))]
    .filter((e) => e.isFile && e.name.endsWith(".md"))
    .map((e) => `docs/${e.name}`)
    .sort();
  const { dead, checked } = await deadLinks(ROOT, ["README.md", ...docs]);
  assert.ok(checked > 50, `only ${checked} relative links found: is the checker reading the files?`);
  assert.deepEqual(dead, []);
});
