/**
 * @module
 * `deno task build:sdk [--outdir DIR]`: the SDK as an npm-style ESM package (default `dist/sdk/`) that Node 20+,
 * Bun, bundlers and browsers import without TypeScript:
 *
 * - one `.js` + `.d.ts` per `sdk/*.ts` module, compiled by the pinned TypeScript compiler (its `lib` is ES2022 +
 *   DOM, with no Deno or Node types, so a Deno-only API in the SDK fails the build);
 * - `package.json` with `exports` pointing at `mod.js` / `mod.d.ts`;
 * - `converse-gateway.min.js`: everything in one minified file (`deno bundle --minify --platform browser`), whose
 *   gzipped size is printed — the number the README quotes.
 */
import ts from "typescript";

const ROOT = new URL("../", import.meta.url);
const ENTRY = new URL("sdk/mod.ts", ROOT);
export const BROWSER_BUNDLE = "converse-gateway.min.js";
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

/** Compiles the SDK into `outDir`; throws with the compiler's diagnostics on any error. */
function compile(outDir: string): string[] {
  const options = { ...COMPILER_OPTIONS, outDir, rootDir: new URL("sdk/", ROOT).pathname };
  const program = ts.createProgram([ENTRY.pathname], options);
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
async function bundle(outFile: string): Promise<{ bytes: number; gzipped: number }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--minify", "--platform", "browser", "-o", outFile, ENTRY.pathname],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno bundle failed:\n${new TextDecoder().decode(out.stderr)}`);
  const bytes = await Deno.readFile(outFile);
  const gzipped = await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"))).bytes();
  return { bytes: bytes.length, gzipped: gzipped.length };
}

/** Builds the package into `outDir`. */
export async function buildSdk(outDir: string): Promise<{ files: string[]; bytes: number; gzipped: number }> {
  await Deno.remove(outDir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  const files = compile(outDir);
  const pkg = {
    name: "@converse-gateway/sdk",
    version: VERSION,
    description: "Typed client for Converse Gateway (AWS Bedrock Converse / ConverseStream), no dependencies",
    type: "module",
    exports: { ".": { types: "./mod.d.ts", default: "./mod.js" } },
    main: "./mod.js",
    types: "./mod.d.ts",
    sideEffects: false,
    engines: { node: ">=20" },
  };
  await Deno.writeTextFile(`${outDir}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
  const size = await bundle(`${outDir}/${BROWSER_BUNDLE}`);
  return { files: [...files, `${outDir}/package.json`, `${outDir}/${BROWSER_BUNDLE}`], ...size };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--outdir");
  const outDir = i >= 0 ? Deno.args[i + 1] : new URL("dist/sdk", ROOT).pathname;
  const { files, bytes, gzipped } = await buildSdk(outDir);
  console.log(`wrote ${files.length} files to ${outDir}`);
  console.log(`${BROWSER_BUNDLE}: ${(bytes / 1024).toFixed(1)} KB minified, ${(gzipped / 1024).toFixed(1)} KB gzipped`);
}
