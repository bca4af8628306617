// The scenario space comes from the declared parameters; a generated scenario the model rejects
// is a clear error naming the parameter; the fuzzer detects the same properties as the explorer.
import { describe, expect, it } from "vitest";
import * as fc from "fast-check";
import counter from "../fixtures/counter.ts";
import peterson from "../../models/classic/peterson.ts";
import flagLock from "../../models/classic/flag-lock.ts";
import philosophers from "../../models/classic/philosophers.ts";
import { checkVariant } from "../../src/check.ts";
import { fuzzModel, scenarioSpace, ScenarioError } from "../../src/fuzz/index.ts";
import { formatFailure } from "../../src/fuzz/report.ts";
import type { ModelDef } from "../../src/model/model.ts";

describe("scenario space", () => {
  it("varies the parameters with a range, within it, and holds the variant's and the caller's fixed", () => {
    const sp = scenarioSpace(counter, "racy");
    expect(sp.ranges.map((r) => r.name)).toEqual(["cpus", "start"]);
    const held = scenarioSpace(counter, "racy", { start: 2 });
    expect(held.ranges.map((r) => r.name)).toEqual(["cpus"]);
    expect(scenarioSpace(counter, "single").ranges.map((r) => r.name)).toEqual(["start"]);
    for (const p of fc.sample(held.arbitrary, { seed: 1, numRuns: 100 })) {
      expect(p.start).toBe(2);
      expect(p.cpus).toBeGreaterThanOrEqual(1);
      expect(p.cpus).toBeLessThanOrEqual(3);
    }
  });

  it("compiles a fixed scenario, and checks it exhaustively through the same declaration", async () => {
    const sp = scenarioSpace(philosophers, "left-then-right");
    expect(sp.compile({ n: 4 }).threads.length).toBe(4);
    const c = await sp.check({ n: 3 });
    expect(c.result.violations.find((v) => v.property === "deadlock")?.length).toBe(3);
  });

  it("a generated scenario the model rejects is an error naming the parameter, not a crash", async () => {
    const r = await fuzzModel(counter, {
      variant: "quiet",
      strategy: "random",
      runs: 500,
      seed: 3,
      property: "no-such",
    });
    expect(r.error?.code).toBe("E_SCENARIO");
    expect(r.error?.fields).toEqual(["start"]);
    expect(r.error?.message).toMatch(/rejects the generated scenario .*params\.start=5/);
    expect(r.counterexample).toBeUndefined();
    expect(r.error?.hint).toMatch(/narrow the declared range of "start"/);
    expect(formatFailure(r)).toMatch(/error E_SCENARIO/);
    expect(() => sp()).toThrow(ScenarioError);
    function sp(): void {
      scenarioSpace(counter, "quiet").compile({ cpus: 3, start: 5 });
    }
  });

  it("runs build scenarios without step sites; what is shown names them", async () => {
    const sp = scenarioSpace(counter, "racy");
    const sited = sp.compile({ cpus: 2, start: 0 });
    const bare = scenarioSpace(counter, "racy").compileForRun({ cpus: 2, start: 0 });
    const siteOf = (m: typeof sited): string => m.threads[0]!.nodes[0]!.site;
    expect(siteOf(sited)).toMatch(/^test\/fixtures\/counter\.ts:\d+$/);
    expect(siteOf(bare)).toBe("(site not recorded)");
    // a data race found by a run is reported with the sites of both accesses
    const r = await fuzzModel(counter, {
      variant: "racy",
      strategy: "random",
      runs: 200,
      seed: 1,
      property: "data-race",
      confirm: false,
    });
    expect(r.counterexample?.property).toBe("data-race");
    expect(r.counterexample!.message).toMatch(
      /\(test\/fixtures\/counter\.ts:\d+\).*\(test\/fixtures\/counter\.ts:\d+\)/,
    );
    expect(r.counterexample!.diagram).not.toContain("site not recorded");
  });

  it("an unknown variant or a fixed parameter out of range is refused up front", async () => {
    await expect(fuzzModel(philosophers, { variant: "nope" })).rejects.toThrow(/no variant "nope"/);
    await expect(
      fuzzModel(philosophers, { variant: "ordered", params: { n: 99 } }),
    ).rejects.toThrow(/n=99 .* outside 2\.\.6/);
  });
});

describe("the fuzzer detects what the explorer detects", () => {
  const cases: [ModelDef, string, Record<string, number>][] = [
    [peterson, "peterson", {}],
    [peterson, "no-turn", {}],
    [flagLock, "test-then-set", { cpus: 2 }],
    [flagLock, "test-and-set", { cpus: 3 }],
    [philosophers, "left-then-right", { n: 3 }],
    [philosophers, "ordered", { n: 3 }],
    [counter, "racy", { cpus: 2, start: 0 }],
    [counter, "quiet", { cpus: 2, start: 0 }],
    [counter, "single", { start: 0 }],
  ];
  for (const [def, variant, params] of cases) {
    it(`${def.name} / ${variant} ${JSON.stringify(params)}`, async () => {
      const c = await checkVariant(def, variant, { params });
      expect(c.result.complete).toBe(true);
      const want = c.result.violations.map((v) => v.property).sort();
      // every property the explorer finds, the fuzzer finds (targeting it)...
      for (const property of want) {
        const r = await fuzzModel(def, {
          variant,
          params,
          strategy: "random",
          runs: 2000,
          seed: 1,
          property,
          confirm: false,
        });
        expect(r.counterexample?.property, `${property} not found`).toBe(property);
        expect(r.counterexample!.kind).toBe(
          c.result.violations.find((v) => v.property === property)!.kind,
        );
      }
      // ...and nothing else, whatever it stops on first
      const seen = new Set<string>();
      for (const seed of [1, 2, 3, 4, 5]) {
        const r = await fuzzModel(def, {
          variant,
          params,
          strategy: "random",
          runs: 300,
          seed,
          shrink: false,
          confirm: false,
        });
        if (r.counterexample) seen.add(r.counterexample.property);
      }
      for (const p of seen) expect(want).toContain(p);
      if (want.length === 0) expect(seen.size).toBe(0);
    });
  }
});
