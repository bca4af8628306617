// Using the fuzzer from any vitest test:
//   await expectNoFuzzViolation(model, { variant: "fixed", runs: 200, seed: 1 });
// or, with `expect.extend(fuzzMatchers)`:
//   await expect(model).toSurviveFuzzing({ variant: "fixed", runs: 200, seed: 1 });
// A failure's message is the kernel-commit style diagram, the seed and the replay command.

import type { ModelDef } from "../model/model.ts";
import { fuzzModel, type FuzzOptions, type FuzzResult } from "./fuzz.ts";
import { formatFailure } from "./report.ts";

export class FuzzFailure extends Error {
  override name = "FuzzFailure";
  constructor(readonly result: FuzzResult) {
    super(formatFailure(result));
  }
}

/** Fuzzes and throws a FuzzFailure (message: diagram, seed, replay command) on any violation. */
export async function expectNoFuzzViolation(
  def: ModelDef,
  opts: FuzzOptions = {},
): Promise<FuzzResult> {
  const r = await fuzzModel(def, opts);
  if (r.counterexample || r.error) throw new FuzzFailure(r);
  return r;
}

/** Fuzzes and throws unless `property` is found; returns the result with its counterexample. */
export async function expectFuzzFinds(
  def: ModelDef,
  property: string,
  opts: FuzzOptions = {},
): Promise<FuzzResult> {
  const r = await fuzzModel(def, { ...opts, property });
  if (r.error) throw new FuzzFailure(r);
  if (!r.counterexample) {
    throw new Error(
      `${def.name} / ${r.variant}: ${property} not found in ${r.runs} ${r.strategy} runs (seed ${r.seed})`,
    );
  }
  return r;
}

export const fuzzMatchers = {
  async toSurviveFuzzing(
    received: ModelDef,
    opts: FuzzOptions = {},
  ): Promise<{ pass: boolean; message: () => string }> {
    const r = await fuzzModel(received, opts);
    const pass = !r.counterexample && !r.error;
    return { pass, message: () => formatFailure(r) };
  },
};
