// A seed always reproduces the same run; the same property run twice with the same seed gives
// the same result; the seed printed for a failure finds it on the first run.
import { describe, expect, it } from "vitest";
import * as fc from "fast-check";
import flagLock from "../../models/classic/flag-lock.ts";
import philosophers from "../../models/classic/philosophers.ts";
import { fuzzModel, runSeed, scheduleProperty } from "../../src/fuzz/index.ts";

const strategies = ["random", "pct", "preempt", "pos", "mix"] as const;

describe("fuzz determinism", () => {
  for (const strategy of strategies) {
    it(`${strategy}: the same seed gives the same session, counterexample included`, async () => {
      const opts = {
        variant: "test-then-set",
        strategy,
        runs: 3000,
        seed: 77,
        confirm: false,
      } as const;
      const a = await fuzzModel(flagLock, opts);
      const b = await fuzzModel(flagLock, opts);
      expect(a.counterexample).toBeDefined();
      expect(b.runs).toBe(a.runs);
      expect(b.steps).toBe(a.steps);
      expect(b.counterexample!.seed).toBe(a.counterexample!.seed);
      expect(b.counterexample!.found.moves).toEqual(a.counterexample!.found.moves);
      expect(b.counterexample!.shrunk.moves).toEqual(a.counterexample!.shrunk.moves);
      expect(b.counterexample!.shrunk.params).toEqual(a.counterexample!.shrunk.params);
    });

    it(`${strategy}: the failure's seed finds the same failure on run 1`, async () => {
      const a = await fuzzModel(flagLock, {
        variant: "test-then-set",
        strategy,
        runs: 3000,
        seed: 1234,
        confirm: false,
      });
      const cx = a.counterexample!;
      const again = await fuzzModel(flagLock, {
        variant: "test-then-set",
        strategy,
        runs: 1,
        seed: cx.seed,
        confirm: false,
      });
      expect(again.counterexample?.run).toBe(1);
      expect(again.counterexample!.found.moves).toEqual(cx.found.moves);
      expect(again.counterexample!.shrunk.moves).toEqual(cx.shrunk.moves);
    });
  }

  it("different seeds give different sessions", async () => {
    const a = await fuzzModel(philosophers, {
      variant: "ordered",
      strategy: "random",
      runs: 50,
      seed: 1,
    });
    const b = await fuzzModel(philosophers, {
      variant: "ordered",
      strategy: "random",
      runs: 50,
      seed: 2,
    });
    expect(a.counterexample).toBeUndefined();
    expect(b.counterexample).toBeUndefined();
    expect(a.steps).not.toBe(b.steps);
  });

  it("run seeds are distinct and run 0 uses the session seed", () => {
    expect(runSeed(99, 0)).toBe(99);
    const seen = new Set(Array.from({ length: 1000 }, (_, i) => runSeed(99, i)));
    expect(seen.size).toBe(1000);
  });

  it("the same fast-check property with the same seed gives the same result twice", () => {
    const p = scheduleProperty(flagLock, { variant: "test-then-set", strategy: "random" });
    const once = (): fc.RunDetails<[Readonly<Record<string, number | string>>, unknown]> =>
      fc.check(
        fc.property(...p.arbitraries, (params, data) => p.run(params, data).end !== "violation"),
        { seed: 4242, numRuns: 200 },
      );
    const a = once();
    const b = once();
    expect(a.failed).toBe(true);
    expect(b.failed).toBe(a.failed);
    expect(b.numRuns).toBe(a.numRuns);
    expect(b.numShrinks).toBe(a.numShrinks);
    expect(b.counterexample).toEqual(a.counterexample);
  });
});
