/**
 * @module
 * `deno task build:sdk [--outdir DIR]`: the SDK as a package others install (default `dist/sdk/`): Node 20+,
 * Bun, bundlers and browsers import it without TypeScript, Deno and JSR users get the TypeScript sources.
 *
 * - one `.js` + `.d.ts` per `sdk/*.ts` module, compiled by the pinned TypeScript compiler (its `lib` is ES2022 +
 *   DOM, with no Deno or Node types, so a Deno-only API in the SDK fails the build);
 * - `package.json` (ESM, `exports` with `types` / `import`, no dependencies): `npm install ./dist/sdk`, or
 *   `npm pack` there and install the tarball;
 * - `jsr.json` and the `.ts` sources it publishes (`deno publish` in that directory);
 * - `converse-gateway.min.js`: everything in one minified file (`deno bundle --minify --platform browser`), whose
 *   gzipped size is printed — the number docs/sdk.md quotes. Also exported as `<package>/browser`.
 *
 * The wire modules the SDK shares with the gateway (`wire/`: the event-stream codec, model-id encoding) ship inside
 * the package, flat beside the SDK's own modules: the sources are staged first, `../wire/x.ts` becoming `./x.ts`.
 */
import ts from "typescript";

const ROOT = new URL("../", import.meta.url);
/** The folders whose modules make up the package, flattened into one. */
const SOURCE_DIRS = ["sdk", "wire"] as const;
export const BROWSER_BUNDLE = "converse-gateway.min.js";
export const PACKAGE_NAME = "@converse-gateway/sdk";
export const VERSION = "0.1.0";

const COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
  types: [],
  strict: true,
  declaration: true,
  rewriteRelativeImportExtensions: true,
  verbatimModuleSyntax: true,
  noEmitOnError: true,
  skipLibCheck: true,
};

/**
 * Copies the package's TypeScript modules into `stageDir`, flat: an SDK module's `../wire/x.ts` import becomes
 * `./x.ts`. Generated declarations and the package's layout then match what the modules say.
 */
async function stage(stageDir: string): Promise<void> {
  await Deno.mkdir(stageDir, { recursive: true });
  for (const dir of SOURCE_DIRS) {
    for await (const entry of Deno.readDir(new URL(`${dir}/`, ROOT))) {
      if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
      const text = await Deno.readTextFile(new URL(`${dir}/${entry.name}`, ROOT));
      await Deno.writeTextFile(`${stageDir}/${entry.name}`, text.replace(/(["'])\.\.\/wire\//g, "$1./"));
    }
  }
}

/** Compiles the staged SDK into `outDir`; throws with the compiler's diagnostics on any error. */
function compile(stageDir: string, outDir: string): string[] {
  const options = { ...COMPILER_OPTIONS, outDir, rootDir: stageDir };
  const program = ts.createProgram([`${stageDir}/mod.ts`], options);
  const written: string[] = [];
  const result = program.emit(undefined, (file, text) => {
    // TypeScript keeps `./x.ts` specifiers in declarations; the package ships `x.d.ts` next to `x.js`.
    const out = file.endsWith(".d.ts")
      ? text.replace(/(from\s+|import\()(["'])(\.{1,2}\/[^"']+)\.ts\2/g, "$1$2$3.js$2")
      : text;
    Deno.mkdirSync(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(file, out);
    written.push(file);
  });
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
  if (diagnostics.length > 0 || result.emitSkipped) {
    throw new Error(ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => ROOT.pathname,
      getNewLine: () => "\n",
    }));
  }
  return written;
}

/** Bundles and minifies everything into one browser file; returns its size raw and gzipped. */
async function bundle(stageDir: string, outFile: string): Promise<{ bytes: number; gzipped: number }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--minify", "--platform", "browser", "-o", outFile, `${stageDir}/mod.ts`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno bundle failed:\n${new TextDecoder().decode(out.stderr)}`);
  const bytes = await Deno.readFile(outFile);
  const gzipped = await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"))).bytes();
  return { bytes: bytes.length, gzipped: gzipped.length };
}

const DESCRIPTION = "Typed client for Converse Gateway (AWS Bedrock Converse, ConverseStream, InvokeModel, " +
  "CountTokens and the admin API through the gateway), with retries; no dependencies";

/** npm's manifest: ESM only, types beside the code, nothing to install besides the package itself. */
const PACKAGE_JSON = {
  name: PACKAGE_NAME,
  version: VERSION,
  description: DESCRIPTION,
  type: "module",
  exports: {
    ".": { types: "./mod.d.ts", import: "./mod.js" },
    "./browser": { types: "./mod.d.ts", import: `./${BROWSER_BUNDLE}` },
  },
  main: "./mod.js",
  types: "./mod.d.ts",
  files: ["*.js", "*.d.ts", "README.md"],
  sideEffects: false,
  engines: { node: ">=20" },
};

/**
 * JSR's manifest: JSR publishes the TypeScript sources and makes its own declarations and npm build. The project
 * has no license yet, so neither manifest names one; `deno publish` requires one.
 */
const JSR_JSON = {
  name: PACKAGE_NAME,
  version: VERSION,
  exports: "./mod.ts",
  publish: { include: ["*.ts", "README.md"], exclude: ["*.d.ts"] },
};

const README = `# ${PACKAGE_NAME}

${DESCRIPTION}. Runs in Node 20+, Deno, Bun and browsers.

\`\`\`ts
import { createClient } from "${PACKAGE_NAME}";

const client = createClient({ baseURL: "http://localhost:4000", apiKey: "sk-..." });
const answer = await client.converse("demo", { messages: [{ role: "user", content: [{ text: "Hello" }] }] });
console.log(answer.output.message?.content[0].text);
\`\`\`

The whole SDK in one minified file for a \`<script type="module">\`: \`${PACKAGE_NAME}/browser\` (\`${BROWSER_BUNDLE}\`).
Options, errors, retries and every method: docs/sdk.md in the Converse Gateway repository.
`;

/** Copies the (staged) TypeScript source of every compiled module next to its output, for `deno publish`. */
async function copySources(stageDir: string, outDir: string, compiled: string[]): Promise<string[]> {
  const sources = compiled.filter((f) => f.endsWith(".js")).map((f) => f.slice(outDir.length + 1, -3) + ".ts");
  for (const name of sources) await Deno.copyFile(`${stageDir}/${name}`, `${outDir}/${name}`);
  return sources.map((name) => `${outDir}/${name}`);
}

/** Builds the package into `outDir`. */
export async function buildSdk(outDir: string): Promise<{ files: string[]; bytes: number; gzipped: number }> {
  await Deno.remove(outDir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  const stageDir = await Deno.makeTempDir({ prefix: "sdk-stage-" });
  try {
    await stage(stageDir);
    return await buildStaged(stageDir, outDir);
  } finally {
    await Deno.remove(stageDir, { recursive: true });
  }
}

/** Compiles, copies the sources, writes the manifests and bundles, from the staged modules. */
async function buildStaged(
  stageDir: string,
  outDir: string,
): Promise<{ files: string[]; bytes: number; gzipped: number }> {
  const compiled = compile(stageDir, outDir);
  const sources = await copySources(stageDir, outDir, compiled);
  const manifests: Record<string, string> = {
    "package.json": JSON.stringify(PACKAGE_JSON, null, 2) + "\n",
    "jsr.json": JSON.stringify(JSR_JSON, null, 2) + "\n",
    "README.md": README,
  };
  for (const [name, text] of Object.entries(manifests)) await Deno.writeTextFile(`${outDir}/${name}`, text);
  const size = await bundle(stageDir, `${outDir}/${BROWSER_BUNDLE}`);
  const written = [...compiled, ...sources, ...Object.keys(manifests).map((name) => `${outDir}/${name}`)];
  return { files: [...written, `${outDir}/${BROWSER_BUNDLE}`], ...size };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--outdir");
  const outDir = i >= 0 ? Deno.args[i + 1] : new URL("dist/sdk", ROOT).pathname;
  const { files, bytes, gzipped } = await buildSdk(outDir);
  console.log(`wrote ${files.length} files to ${outDir}`);
  console.log(`${BROWSER_BUNDLE}: ${(bytes / 1024).toFixed(1)} KB minified, ${(gzipped / 1024).toFixed(1)} KB gzipped`);
}
