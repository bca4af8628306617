// The library API from a vitest test: the helpers, the matcher, and model errors met on the way.
import { describe, expect, it } from "vitest";
import philosophers from "../../models/classic/philosophers.ts";
import { defineModel, int, ModelBuilder } from "../../src/index.ts";
import {
  expectFuzzFinds,
  expectNoFuzzViolation,
  FuzzFailure,
  fuzzMatchers,
  fuzzModel,
} from "../../src/fuzz/index.ts";
import type { FuzzOptions } from "../../src/fuzz/index.ts";
import type { ModelDef } from "../../src/model/model.ts";

declare module "vitest" {
  interface Assertion {
    toSurviveFuzzing(opts?: FuzzOptions): Promise<void>;
  }
}
expect.extend(fuzzMatchers);

// two CPUs add 1 to a field that holds 0..1: the second add leaves the declared range
const overflow = defineModel({
  name: "overflow",
  doc: "a model with a bug of its own",
  params: {},
  variants: { only: { options: {}, expect: "holds" } },
  build: () => {
    const m = new ModelBuilder({ x: int(0, 1) }, { races: false });
    for (let i = 0; i < 2; i++) {
      m.thread(`add${i}`, {}, ({ step }) => [
        step("x += 1", ({ s }) => {
          s.x = s.x + 1;
        }),
      ]);
    }
    return m;
  },
});

describe("fuzz API", () => {
  it("expectNoFuzzViolation passes on a correct variant and returns the result", async () => {
    const r = await expectNoFuzzViolation(philosophers, { variant: "ordered", runs: 100, seed: 1 });
    expect(r.runs).toBe(100);
    expect(r.counterexample).toBeUndefined();
  });

  it("expectNoFuzzViolation fails with the diagram, the seed and the command", async () => {
    const err = await expectNoFuzzViolation(philosophers, {
      variant: "left-then-right",
      property: "deadlock",
      runs: 100,
      seed: 1,
      file: "models/classic/philosophers.ts",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FuzzFailure);
    const msg = (err as Error).message;
    expect(msg).toMatch(/deadlock violated/);
    expect(msg).toMatch(/CPU0 \(philosopher0\)\s+CPU1 \(philosopher1\)/);
    expect(msg).toMatch(
      /seed \d+: npx interleave fuzz models\/classic\/philosophers\.ts --variant left-then-right --strategy mix --seed \d+ --runs 1/,
    );
    expect((err as FuzzFailure).result.counterexample!.shrunk.params.n).toBe(2);
  });

  it("expectFuzzFinds returns the counterexample of the property asked for", async () => {
    const r = await expectFuzzFinds(philosophers, "deadlock", {
      variant: "left-then-right",
      runs: 100,
      seed: 2,
    });
    expect(r.counterexample!.property).toBe("deadlock");
    await expect(
      expectFuzzFinds(philosophers, "deadlock", { variant: "ordered", runs: 20, seed: 2 }),
    ).rejects.toThrow(/deadlock not found in 20 mix runs \(seed 2\)/);
  });

  it("the toSurviveFuzzing matcher", async () => {
    await expect(philosophers).toSurviveFuzzing({ variant: "ordered", runs: 50, seed: 3 });
    await expect(philosophers).not.toSurviveFuzzing({
      variant: "left-then-right",
      runs: 50,
      seed: 3,
    });
  });

  it("replay is a strategy: a schedule as data, checked move by move", async () => {
    const base = {
      variant: "left-then-right",
      params: { n: 2 },
      strategy: "replay",
      runs: 1,
    } as const;
    const r = await fuzzModel(philosophers, {
      ...base,
      schedule: [
        { cpu: 1, choice: 0 },
        { cpu: 0, choice: 0 },
      ],
    });
    expect(r.counterexample!.property).toBe("deadlock");
    expect(r.counterexample!.found.moves).toEqual([
      { cpu: 1, choice: 0 },
      { cpu: 0, choice: 0 },
    ]);
    const bad = await fuzzModel(philosophers, { ...base, schedule: [{ cpu: 3, choice: 0 }] });
    expect(bad.error?.code).toBe("E_INFEASIBLE");
    expect(bad.error?.message).toMatch(/CPU3 cannot move/);
  });

  it("a step that breaks the model is a model error with its trace, not a violation", async () => {
    const r = await fuzzModel(overflow as unknown as ModelDef, {
      runs: 50,
      seed: 1,
      strategy: "random",
    });
    expect(r.error).toBeDefined();
    expect(r.error!.message).toMatch(/a step failed/);
    expect(r.counterexample!.kind).toBe("model-error");
    expect(r.counterexample!.shrunk.length).toBe(2);
  });
});

describe("fuzzModel: ending a session early", () => {
  it("an interrupt (signal.stop) ends the session with stopped: interrupted and the runs done so far", async () => {
    const signal = { stop: false };
    let seen = 0;
    const r = await fuzzModel(philosophers, {
      variant: "ordered",
      runs: 100_000,
      seed: 5,
      signal,
      onProgress: (p) => {
        seen = p.run;
        if (p.run >= 50) signal.stop = true;
      },
    });
    expect(r.counterexample).toBeUndefined();
    expect(r.stopped).toBe("interrupted");
    expect(r.runs).toBeGreaterThanOrEqual(50);
    expect(r.runs).toBeLessThan(100_000);
    expect(seen).toBeGreaterThanOrEqual(50);
  });
});
