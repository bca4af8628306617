// A fuzz session over worker threads gives the result of the serial session with the same seed:
// the same failing run, counterexample, steps and runs counted; errors as well.
import { describe, expect, it } from "vitest";
import flagLock from "../../models/classic/flag-lock.ts";
import philosophers from "../../models/classic/philosophers.ts";
import counter from "../fixtures/counter.ts";
import { fuzzModel, type FuzzOptions, type FuzzResult } from "../../src/fuzz/fuzz.ts";
import { fuzzParallel } from "../../src/fuzz/parallel.ts";
import { random } from "../../src/fuzz/random.ts";
import type { ModelDef } from "../../src/model/model.ts";

function same(a: FuzzResult, b: FuzzResult): void {
  expect(b.runs).toBe(a.runs);
  expect(b.steps).toBe(a.steps);
  expect(b.cutAtDepth).toBe(a.cutAtDepth);
  expect(b.seed).toBe(a.seed);
  expect(b.error).toEqual(a.error);
  expect(b.counterexample === undefined).toBe(a.counterexample === undefined);
  if (a.counterexample && b.counterexample) {
    expect(b.counterexample.run).toBe(a.counterexample.run);
    expect(b.counterexample.seed).toBe(a.counterexample.seed);
    expect(b.counterexample.arm).toBe(a.counterexample.arm);
    expect(b.counterexample.found.moves).toEqual(a.counterexample.found.moves);
    expect(b.counterexample.shrunk.moves).toEqual(a.counterexample.shrunk.moves);
    expect(b.counterexample.shrunk.params).toEqual(a.counterexample.shrunk.params);
    expect(b.counterexample.diagram).toBe(a.counterexample.diagram);
  }
}

async function both(def: ModelDef, file: string, o: FuzzOptions, jobs = 2) {
  const serial = await fuzzModel(def, o);
  const par = await fuzzParallel(def, { ...o, jobs, modelFile: file });
  return { serial, par };
}

describe("fuzz over worker threads", () => {
  it("finds the same first failing run, shrunk the same, with the same counts", async () => {
    const failingRuns: number[] = [];
    for (const strategy of ["pct", "mix"] as const) {
      for (const seed of [1, 2]) {
        const { serial, par } = await both(flagLock, "models/classic/flag-lock.ts", {
          variant: "test-then-set",
          strategy,
          runs: 3000,
          seed,
          confirm: false,
        });
        expect(serial.counterexample, `${strategy} seed ${seed}`).toBeDefined();
        failingRuns.push(serial.counterexample!.run);
        same(serial, par);
      }
    }
    // both workers made runs before the failing one (it is not always the first run)
    expect(Math.max(...failingRuns)).toBeGreaterThan(4);
  });

  it("a session that finds nothing counts every run and every step", async () => {
    const { serial, par } = await both(
      philosophers,
      "models/classic/philosophers.ts",
      { variant: "ordered", runs: 300, seed: 4 },
      3,
    );
    expect(serial.counterexample).toBeUndefined();
    expect(par.runs).toBe(300);
    same(serial, par);
  });

  it("a generated scenario the model rejects is the same error at the same run", async () => {
    const { serial, par } = await both(counter, "test/fixtures/counter.ts", {
      variant: "quiet",
      strategy: "random",
      runs: 500,
      seed: 3,
      property: "no-such",
    });
    expect(serial.error?.code).toBe("E_SCENARIO");
    same(serial, par);
  });

  it("one job in a fresh worker (isolate) gives the serial result too", async () => {
    const o = {
      variant: "test-then-set",
      strategy: "mix",
      runs: 500,
      seed: 9,
      confirm: false,
    } as const;
    const serial = await fuzzModel(flagLock, o);
    const isolated = await fuzzParallel(flagLock, {
      ...o,
      jobs: 1,
      isolate: true,
      modelFile: "models/classic/flag-lock.ts",
    });
    expect(serial.counterexample).toBeDefined();
    same(serial, isolated);
  });

  it("refuses what a worker cannot rebuild", async () => {
    const o = { variant: "ordered", runs: 10, modelFile: "models/classic/philosophers.ts" };
    await expect(fuzzParallel(philosophers, { ...o, jobs: 0 })).rejects.toThrow(/jobs 0/);
    await expect(
      fuzzParallel(philosophers, { ...o, jobs: 2, strategy: random as never }),
    ).rejects.toThrow(/strategy must be a name/);
  });
});
