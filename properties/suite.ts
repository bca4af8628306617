// The property suite of one model, from its declaration:
//   - a variant declared to hold: "no run violates a property", with fast-check generating the
//     scenario (declared parameter ranges) and the schedule (uniform random, then PCT);
//   - a variant declared violated: "PCT finds one of its declared properties within `runs` runs,
//     and the shrunk trace is at most twice the exhaustive explorer's shortest", over a few
//     session seeds; and the counterexample saved under counterexamples/<model>/<variant>/fuzz/
//     replays.
// Seeds are fixed so that `npm test` is reproducible; change `seed` to explore further.

import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import type { ModelDef } from "../src/model/model.ts";
import { compileModel, resolveParams } from "../src/model/model.ts";
import { fuzzModel, scheduleProperty } from "../src/fuzz/index.ts";
import { readCounterexample } from "../src/trace/counterexample.ts";
import { parseSchedule } from "../src/trace/schedule.ts";
import { replay } from "../src/trace/replay.ts";
import { formatFailure } from "../src/fuzz/report.ts";

export interface SuiteOptions {
  /** fast-check runs of each "no run violates" property (default 60). */
  readonly numRuns?: number;
  /** PCT runs allowed to find a declared violation (default 2000). */
  readonly runs?: number;
  /** Session seeds tried per declared violation (default 3). */
  readonly seeds?: number;
  readonly depth?: number;
  readonly seed?: number;
  /** BFS bound for the confirmation of the shrunk scenario. */
  readonly maxStates?: number;
  /** Only these variants. */
  readonly variants?: readonly string[];
  /** Hold a violated variant's scenario at its declared parameters (kernel models: faster). */
  readonly fixScenario?: boolean;
  /** PCT's bug depth d for the violated variants (default 3). */
  readonly pctDepth?: number;
}

export function fuzzSuite(def: ModelDef, file: string, o: SuiteOptions = {}): void {
  const seed = o.seed ?? 20261123;
  const runs = o.runs ?? 2000;
  const depth = o.depth ?? 500;
  describe(`${def.name}: randomized schedules`, () => {
    for (const [variant, decl] of Object.entries(def.variants)) {
      if (o.variants && !o.variants.includes(variant)) continue;
      if (decl.expect === "holds") {
        for (const strategy of ["random", "pct", "pos"] as const) {
          const p = scheduleProperty(def, { variant, strategy, depth, file });
          test.prop(p.arbitraries, { numRuns: o.numRuns ?? 60, seed, includeErrorInReport: true })(
            `${variant}: no ${strategy} run violates a property`,
            (params, data) => p.holds(params, data),
          );
        }
        continue;
      }
      const declared = decl.expect.violated;
      const params = o.fixScenario ? resolveParams(def, variant) : undefined;
      const fuzzOpts = {
        variant,
        strategy: "pct" as const,
        pctDepth: o.pctDepth,
        runs,
        depth,
        property: declared,
        params,
      };
      test.prop([fc.integer({ min: 0, max: 0x7fffffff })], { numRuns: o.seeds ?? 3, seed })(
        `${variant}: PCT${o.pctDepth ? ` (d=${o.pctDepth})` : ""} finds ${declared.join(" / ")} within ${runs} runs, shrunk to at most 2x the BFS shortest`,
        async (s) => {
          const r = await fuzzModel(def, {
            ...fuzzOpts,
            seed: s,
            confirm: { maxStates: o.maxStates ?? 200_000, maxSeconds: 20 },
          });
          expect(r.error, formatFailure(r)).toBeUndefined();
          expect(
            r.counterexample,
            `${declared.join(", ")} not found in ${runs} PCT runs from seed ${s}`,
          ).toBeDefined();
          const cx = r.counterexample!;
          expect(declared).toContain(cx.property);
          expect(replay(cx.model, cx.shrunk.moves).outcomes.map((x) => x.property)).toContain(
            cx.property,
          );
          expect(cx.shrunk.length).toBeLessThanOrEqual(cx.found.length);
          if (cx.bfs?.complete) expect(cx.bfs.shortest, formatFailure(r)).toBeDefined();
          if (cx.bfs?.shortest !== undefined) {
            expect(cx.shrunk.length, formatFailure(r)).toBeLessThanOrEqual(2 * cx.bfs.shortest);
          }
        },
      );
      it(`${variant}: the saved fuzz counterexample replays`, async () => {
        const r = await fuzzModel(def, {
          ...fuzzOpts,
          seed,
          confirm: false,
          saveTo: "counterexamples",
          file,
        });
        expect(r.counterexample?.file, formatFailure(r)).toBeDefined();
        const saved = readCounterexample(r.counterexample!.file!);
        expect(saved.property).toBe(r.counterexample!.property);
        const model = compileModel(def, saved.variant, saved.params);
        const rep = replay(model, parseSchedule(saved.schedule));
        expect(rep.infeasible).toBeUndefined();
        expect(rep.outcomes.map((x) => x.property)).toContain(saved.property);
        const shown = r.counterexample!.shortest ?? r.counterexample!.shrunk;
        expect(saved.length).toBe(shown.length);
      });
    }
  });
}
