// Type-checking the model files a command loads. Models are TypeScript run through tsx, which
// strips types without checking them: a misspelt field or a wrong argument would otherwise run
// and give a verdict. Before loading, the model files and the local files they import are
// checked with the TypeScript compiler API; a type error is a usage error naming file:line:col.
//
// Cost: the compiler is loaded and run only when something changed. The key is a hash of the
// content of every file in the closure (the model files, the files they import by relative
// path, recursively), the compiler's version and options; a clean result is remembered as an
// empty file named by that hash in the cache folder ($INTERLEAVE_CACHE_DIR, default
// <tmpdir>/interleave-cache), so an unchanged `npm start` reads the files, hashes them and goes on.
// The checker's own sources (src/) are part of the key but their diagnostics are not reported:
// `npm run typecheck` covers them.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "./errors.ts";

/** The checker's own source folder (…/src/). */
const OWN_SRC = fileURLToPath(new URL("../", import.meta.url));

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*["']([^"']+)["']|(?:^|[\s;])import\s*\(?\s*["']([^"']+)["']/gm;

/** Relative imports of a module's text (static and literal dynamic ones). */
export function localImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (spec !== undefined && /^\.{0,2}\//.test(spec)) out.push(spec);
  }
  return out;
}

/** The files of the closure: absolute paths, in a stable order, with their contents. */
export function closure(roots: readonly string[]): Map<string, string> {
  const seen = new Map<string, string>();
  const todo = roots.map((r) => resolve(r));
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue; // a missing import: the compiler reports it
    }
    seen.set(f, text);
    for (const spec of localImports(text)) todo.push(resolve(dirname(f), spec));
  }
  return new Map([...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function cacheDir(): string {
  return process.env["INTERLEAVE_CACHE_DIR"] ?? join(tmpdir(), "interleave-cache");
}

function tsVersion(): string {
  try {
    const pkg = fileURLToPath(
      new URL("../../node_modules/typescript/package.json", import.meta.url),
    );
    return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

export interface TypecheckResult {
  /** Whether the result came from the cache (nothing was compiled). */
  readonly cached: boolean;
  readonly files: number;
  readonly seconds: number;
}

/**
 * Type-checks model files and their local imports; throws a UsageError (E_MODEL_TYPE) listing
 * the first errors. `INTERLEAVE_NO_TYPECHECK=1` skips it.
 */
export async function typecheckModels(files: readonly string[]): Promise<TypecheckResult> {
  const t0 = performance.now();
  if (files.length === 0 || process.env["INTERLEAVE_NO_TYPECHECK"] === "1")
    return { cached: true, files: 0, seconds: 0 };
  const all = closure(files);
  const h = createHash("sha256");
  h.update(`interleave-typecheck 1\0${tsVersion()}\0`);
  for (const r of [...files].map((f) => resolve(f)).sort()) h.update(`root ${r}\0`);
  for (const [f, text] of all) h.update(`${f}\0${text}\0`);
  const key = h.digest("hex");
  const dir = cacheDir();
  const stamp = join(dir, `typecheck-${key}.ok`);
  if (existsSync(stamp)) {
    return { cached: true, files: all.size, seconds: (performance.now() - t0) / 1000 };
  }
  const errors = await compile(files.map((f) => resolve(f)));
  if (errors.length > 0) {
    const shown = errors.slice(0, 5);
    throw new UsageError(
      "E_MODEL_TYPE",
      `the model does not type-check: ${shown.join("; ")}${errors.length > shown.length ? ` (and ${errors.length - shown.length} more)` : ""}`,
      "fix the type error: a model runs only once it type-checks (tsx would run it with the mistake); " +
        "INTERLEAVE_NO_TYPECHECK=1 skips this check",
    );
  }
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${stamp}.${process.pid}.tmp`;
    writeFileSync(tmp, "");
    renameSync(tmp, stamp);
  } catch {
    // an unwritable cache only costs time
  }
  return { cached: false, files: all.size, seconds: (performance.now() - t0) / 1000 };
}

/** Diagnostics of the model files and their local imports outside the checker's src/. */
async function compile(roots: string[]): Promise<string[]> {
  const ts = (await import("typescript")).default;
  const configPath = ts.findConfigFile(dirname(roots[0]!), (f) => ts.sys.fileExists(f));
  let options: import("typescript").CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    types: ["node"],
  };
  if (configPath) {
    const cfg = ts.readConfigFile(configPath, (f) => ts.sys.readFile(f));
    if (!cfg.error) {
      options = ts.parseJsonConfigFileContent(cfg.config, ts.sys, dirname(configPath)).options;
    }
  }
  options = { ...options, noEmit: true, skipLibCheck: true, incremental: false };
  const program = ts.createProgram({ rootNames: roots, options });
  const out: string[] = [];
  const mine = (f: string): boolean =>
    !f.includes("/node_modules/") && !resolve(f).startsWith(OWN_SRC);
  const diags = [
    ...program.getOptionsDiagnostics(),
    ...program
      .getSourceFiles()
      .filter((sf) => mine(sf.fileName))
      .flatMap((sf) => [
        ...program.getSyntacticDiagnostics(sf),
        ...program.getSemanticDiagnostics(sf),
      ]),
  ];
  for (const d of diags) {
    if (d.category !== ts.DiagnosticCategory.Error) continue;
    const msg = ts.flattenDiagnosticMessageText(d.messageText, " ");
    if (d.file && d.start !== undefined) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      out.push(`${relative(process.cwd(), d.file.fileName)}:${line + 1}:${character + 1}: ${msg}`);
    } else out.push(msg);
  }
  return out;
}
