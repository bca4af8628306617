// Finding and loading model files: TypeScript modules whose exports are defineModel() results.

import { readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ModelDef } from "../model/model.ts";
import { UsageError } from "./errors.ts";
import { typecheckModels } from "./typecheck.ts";

export interface LoadOptions {
  /** Type-check the model files and their local imports before loading them (see typecheck.ts). */
  readonly typecheck?: boolean;
}

export interface LoadedModel {
  readonly def: ModelDef;
  /** Path relative to the working directory, as written in counterexample files. */
  readonly file: string;
}

function isModel(x: unknown): x is ModelDef {
  return (
    typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "interleave-model"
  );
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === "node_modules" || name.startsWith(".") || name.startsWith("_")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (isModelFileName(name)) out.push(p);
  }
  return out;
}

/** A TypeScript module that may hold models (tests and declaration files are skipped). */
function isModelFileName(name: string): boolean {
  return (
    (name.endsWith(".ts") || name.endsWith(".mts")) &&
    !/\.test\.m?ts$/.test(name) &&
    !/\.d\.m?ts$/.test(name)
  );
}

export async function loadModels(
  paths: readonly string[],
  opts: LoadOptions = {},
): Promise<LoadedModel[]> {
  const out: LoadedModel[] = [];
  const found: { p: string; dir: boolean; files: string[] }[] = [];
  for (const p of paths) {
    const abs = resolve(p);
    let st;
    try {
      st = statSync(abs);
    } catch {
      throw new UsageError(
        "E_NO_FILE",
        `${p}: no such file or directory`,
        "give a model file (.ts) or a folder of models",
      );
    }
    found.push({ p, dir: st.isDirectory(), files: st.isDirectory() ? listTs(abs) : [abs] });
  }
  if (opts.typecheck) await typecheckModels(found.flatMap((x) => x.files));
  for (const { dir, files } of found) {
    for (const f of files) {
      const found = await loadFile(f);
      if (found.length === 0 && !dir) {
        throw new UsageError(
          "E_NOT_MODEL",
          `${relative(process.cwd(), f)}: exports no model`,
          "a model file does `export default defineModel({ ... })`",
        );
      }
      out.push(...found);
    }
  }
  return out;
}

export async function loadFile(abs: string): Promise<LoadedModel[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    const err = e as Error;
    // outside a package with "type": "module", a .ts file is loaded as CommonJS and its ESM
    // imports fail with a message about require() that does not say so
    const cjs = /require\(\) ES Module|require\(esm\)/.test(err.message);
    throw new UsageError(
      "E_MODEL_LOAD",
      `${relative(process.cwd(), abs)}: the model file failed to load: ${err.message}`,
      cjs
        ? 'the file is outside a package with "type": "module", so it was loaded as CommonJS: ' +
            "put it under the repository (e.g. models/) or name it .mts"
        : "fix the error in the model file; set INTERLEAVE_DEBUG=1 to see the stack",
      err.stack,
    );
  }
  const file = relative(process.cwd(), abs);
  const seen = new Set<ModelDef>();
  const out: LoadedModel[] = [];
  for (const v of Object.values(mod)) {
    if (isModel(v) && !seen.has(v)) {
      seen.add(v);
      out.push({ def: v, file });
    }
  }
  return out;
}
