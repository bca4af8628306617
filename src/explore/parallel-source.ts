// Where a parallel search's workers get the model from: each worker compiles its own copy (a
// compiled model holds its run-time memory, which cannot be shared). A model file (the CLI's
// case), or a module with a function that builds the model definition from plain data (tests
// with generated models).

import { pathToFileURL } from "node:url";
import { isAbsolute, resolve } from "node:path";
import { compileModel, type CompiledModel, type ModelDef } from "../model/model.ts";
import { withoutSites } from "../model/dsl.ts";
import type { ParamValues } from "../model/params.ts";

export type ModelSource =
  /** The model named `name` in this file (a module that exports it). */
  | { readonly kind: "file"; readonly file: string; readonly name: string }
  /**
   * `module`'s export `build`, called with `arg` (plain data), gives the definition;
   * `sites: false` compiles it without source sites (as withoutSites()).
   */
  | {
      readonly kind: "module";
      readonly module: string;
      readonly build: string;
      readonly arg: unknown;
      readonly sites?: boolean;
    };

const href = (f: string): string =>
  /^[a-z]+:/.test(f) ? f : pathToFileURL(isAbsolute(f) ? f : resolve(f)).href;

/** The model the source names, compiled as `variant` with `params`. */
export async function loadSource(
  source: ModelSource,
  variant: string,
  params: ParamValues,
): Promise<CompiledModel> {
  if (source.kind === "file") {
    const mod = (await import(href(source.file))) as Record<string, unknown>;
    const def = Object.values(mod).find(
      (v): v is ModelDef =>
        typeof v === "object" &&
        v !== null &&
        (v as { kind?: unknown }).kind === "interleave-model" &&
        (v as ModelDef).name === source.name,
    );
    if (!def) throw new Error(`${source.file} has no model named ${source.name}`);
    return compileModel(def, variant, params);
  }
  const mod = (await import(href(source.module))) as Record<string, unknown>;
  const build = mod[source.build];
  if (typeof build !== "function")
    throw new Error(`${source.module} has no function ${source.build}`);
  const def = (build as (a: unknown) => ModelDef)(source.arg);
  return source.sites === false
    ? withoutSites(() => compileModel(def, variant, params))
    : compileModel(def, variant, params);
}
