// Runs a one-variant model built inline, for the primitive tests.
import {
  compileModel,
  defineModel,
  type CompiledModel,
  type ModelBuilder,
} from "../../src/model/model.ts";
import type { Fields } from "../../src/model/schema.ts";
import { explore, type ExploreOptions } from "../../src/explore/explorer.ts";
import type { CheckResult } from "../../src/explore/result.ts";

export function compile<F extends Fields>(build: () => ModelBuilder<F>): CompiledModel {
  const def = defineModel({
    name: "t",
    doc: "test",
    params: {},
    variants: { v: { options: {}, expect: "holds" } },
    build: () => build(),
  });
  return compileModel(def, "v");
}

export async function run<F extends Fields>(
  build: () => ModelBuilder<F>,
  opts: ExploreOptions = {},
): Promise<CheckResult> {
  return explore(compile(build), opts);
}

/** Property names violated, sorted. */
export function violated(r: CheckResult): string[] {
  return r.violations.map((v) => v.property).sort();
}

export function messageOf(r: CheckResult, property: string): string {
  const v = r.violations.find((x) => x.property === property);
  if (!v)
    throw new Error(
      `no violation of ${property}; got ${violated(r).join(", ") || "none"} (${r.verdict}${r.error ? ": " + r.error.message : ""})`,
    );
  return v.message;
}
