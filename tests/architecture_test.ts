/**
 * The house's shape, checked: `docs/architecture.md` lists every file under `server/` exactly once and names only
 * paths that exist; every import in `server/` goes down the layers drawn there (never sideways, never up); `wire/`
 * imports nothing, the SDK only `wire/`, and nothing but tests imports `tests/`; no module in `server/` keeps state.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const doc = await Deno.readTextFile(`${ROOT}/docs/architecture.md`);

/** Every file under `dir` (relative to the repository root), recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await filesUnder(path));
    else if (entry.isFile) out.push(path);
  }
  return out.sort();
}

async function exists(path: string): Promise<"file" | "dir" | undefined> {
  try {
    const info = await Deno.stat(`${ROOT}/${path}`);
    return info.isDirectory ? "dir" : "file";
  } catch {
    return undefined;
  }
}

/** The relative imports of a module (doc-comment examples and comments left out), resolved from the root. */
async function importsOf(path: string): Promise<string[]> {
  const code = (await Deno.readTextFile(`${ROOT}/${path}`)).split("\n")
    .filter((line) => !/^\s*(\*|\/\*|\/\/)/.test(line)).join("\n");
  const dir = path.slice(0, path.lastIndexOf("/"));
  const specifiers = [
    ...code.matchAll(/(?:import|export)\s[^;]*?from\s+["'](\.{1,2}\/[^"']+)["']/g),
    ...code.matchAll(/import\s*\(\s*["'](\.{1,2}\/[^"']+)["']/g),
    ...code.matchAll(/^import\s+["'](\.{1,2}\/[^"']+)["']/gm),
  ].map((m) => m[1]);
  return specifiers.map((s) => new URL(s, `file:///${dir}/`).pathname.slice(1));
}

const isModule = (path: string) => path.endsWith(".ts") || path.endsWith(".tsx");

/** The layer node of a path in `server/`: its folder (`calls/`), or the file itself when directly in `server/`. */
function nodeOf(path: string): string {
  const rest = path.slice("server/".length);
  const slash = rest.indexOf("/");
  return slash < 0 ? rest : rest.slice(0, slash + 1);
}

/** The drawing's lines, top first: each node's line number (a node imports only nodes on higher numbers). */
function layers(): Map<string, number> {
  const block = /```layers\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, "docs/architecture.md has a ```layers block");
  const line = new Map<string, number>();
  block[1].trim().split("\n").forEach((text, i) => {
    for (const node of text.trim().split(/\s+/)) {
      assert.ok(!line.has(node), `${node} is drawn twice`);
      line.set(node, i);
    }
  });
  return line;
}

Deno.test("docs/architecture.md lists every file under server/ exactly once, and every path it names exists", async () => {
  const files = await filesUnder("server");
  assert.ok(files.length > 100, `${files.length} files under server/`);
  for (const file of files) {
    const rows = doc.split("\n").filter((line) => line.startsWith(`| \`${file}\``)).length;
    assert.equal(rows, 1, `${file} is listed ${rows} times in the tables of docs/architecture.md`);
  }
  // Every path the document names (a backticked file or folder, not a pattern) exists: nothing stale. A path is
  // from the repository's root or `server/`; a bare file name is found anywhere.
  const everything = (await Promise.all(["server", "tests", "testing", "bench", "scripts", "sdk", "wire", "docs"]
    .map(filesUnder))).flat();
  const names = new Set(everything.map((f) => f.slice(f.lastIndexOf("/") + 1)));
  const named = new Set(
    [...doc.matchAll(/`([\w./-]+\.(?:ts|tsx|json|yaml|md|js|css|svg)|[a-z_][\w-]*(?:\/[\w-]+)*\/)`/g)].map((m) => m[1]),
  );
  assert.ok(named.size > 150, `${named.size} paths named`);
  for (const path of named) {
    if (path.startsWith("/") || path.startsWith("../")) continue; // routes and URLs
    if (path === "config.yaml") continue; // the operator's own file (the repository ships config.example.yaml)
    const found = path.includes("/")
      ? await exists(path) ?? await exists(`server/${path}`)
      : names.has(path) || await exists(path);
    assert.ok(found, `docs/architecture.md names ${path}, which does not exist`);
  }
});

Deno.test("server/ imports only down the layers drawn in docs/architecture.md (no cycle, nothing sideways)", async () => {
  const line = layers();
  const modules = (await filesUnder("server")).filter(isModule);
  const nodes = new Set(modules.map(nodeOf));
  assert.deepEqual([...nodes].filter((n) => !line.has(n)), [], "every folder and root file of server/ is drawn");
  for (const from of modules) {
    for (const to of await importsOf(from)) {
      if (!to.startsWith("server/")) {
        // The example config is data the CLI builds in (server/boot.ts): the one file from outside that may be read.
        if (from === "server/boot.ts" && to === "config.example.yaml") continue;
        assert.ok(to.startsWith("wire/"), `${from} imports ${to}: server/ imports nothing outside it but wire/`);
        continue;
      }
      const [a, b] = [nodeOf(from), nodeOf(to)];
      if (a === b) continue;
      assert.ok(line.get(b)! > line.get(a)!, `${from} imports ${to}: ${a} is not above ${b} in the drawing`);
    }
  }
});

Deno.test("wire/ imports nothing, the SDK only wire/, and only tests import tests/", async () => {
  for (const file of (await filesUnder("wire")).filter(isModule)) {
    assert.deepEqual(await importsOf(file), [], `${file} imports nothing`);
  }
  for (const file of (await filesUnder("sdk")).filter(isModule)) {
    for (const to of await importsOf(file)) {
      assert.ok(to.startsWith("sdk/") || to.startsWith("wire/"), `${file} imports ${to}`);
    }
  }
  for (const dir of ["server", "sdk", "wire", "testing", "bench", "scripts"]) {
    for (const file of (await filesUnder(dir)).filter(isModule)) {
      for (const to of await importsOf(file)) assert.ok(!to.startsWith("tests/"), `${file} imports ${to}`);
    }
  }
});

Deno.test("no module in server/ keeps state: no top-level let or var, no mutable collection", async () => {
  for (const file of (await filesUnder("server")).filter(isModule)) {
    const text = await Deno.readTextFile(`${ROOT}/${file}`);
    for (const [i, code] of text.split("\n").entries()) {
      const where = `${file}:${i + 1}: ${code.trim()}`;
      assert.ok(!/^(export\s+)?(let|var)\s/.test(code), `module-level variable: ${where}`);
      // A module-level collection is a lookup table, typed so that nothing can add to it.
      const collection = /^(export\s+)?const\s+\w+\s*(:\s*([^=]+))?=\s*new\s+(Map|Set|WeakMap|WeakSet)\b/.exec(code);
      if (collection) {
        assert.ok(/^Readonly(Map|Set)</.test(collection[3]?.trim() ?? ""), `mutable module-level collection: ${where}`);
      }
    }
  }
});
