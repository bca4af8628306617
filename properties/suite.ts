// The property suite of one model, from its declaration:
//   - a variant declared to hold: "no run violates a property", with fast-check generating the
//     scenario (declared parameter ranges) and the schedule (uniform random, then PCT);
//   - a variant declared violated: for each declared property, "PCT finds it within `runs` runs,
//     and the shrunk trace is at most twice the exhaustive explorer's shortest", over a few
//     session seeds; and the counterexample saved under counterexamples/<model>/<variant>/fuzz/
//     replays.
// Seeds are fixed so that `npm test` is reproducible; change `seed` to explore further.

import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";
import type { ModelDef } from "../src/model/model.ts";
import { compileModel } from "../src/model/model.ts";
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
}

export function fuzzSuite(def: ModelDef, file: string, o: SuiteOptions = {}): void {
  const seed = o.seed ?? 20261123;
  const runs = o.runs ?? 2000;
  const depth = o.depth ?? 500;
  describe(`${def.name}: randomized schedules`, () => {
    for (const [variant, decl] of Object.entries(def.variants)) {
      if (o.variants && !o.variants.includes(variant)) continue;
      if (decl.expect === "holds") {
        for (const strategy of ["random", "pct"] as const) {
          const p = scheduleProperty(def, { variant, strategy, depth, file });
          test.prop(p.arbitraries, { numRuns: o.numRuns ?? 60, seed, includeErrorInReport: true })(
            `${variant}: no ${strategy} run violates a property`,
            (params, data) => p.holds(params, data),
          );
        }
        continue;
      }
      for (const property of decl.expect.violated) {
        test.prop([fc.integer({ min: 0, max: 0x7fffffff })], { numRuns: o.seeds ?? 3, seed })(
          `${variant}: PCT finds ${property} within ${runs} runs, shrunk to at most 2x the BFS shortest`,
          async (s) => {
            const r = await fuzzModel(def, {
              variant,
              strategy: "pct",
              runs,
              depth,
              seed: s,
              property,
              confirm: { maxStates: o.maxStates ?? 200_000, maxSeconds: 20 },
            });
            expect(r.error, formatFailure(r)).toBeUndefined();
            expect(r.counterexample, `${property} not found in ${runs} PCT runs from seed ${s}`).toBeDefined();
            const cx = r.counterexample!;
            expect(replay(cx.model, cx.shrunk.moves).outcomes.map((x) => x.property)).toContain(property);
            expect(cx.shrunk.length).toBeLessThanOrEqual(cx.found.length);
            if (cx.bfs?.complete) expect(cx.bfs.shortest, formatFailure(r)).toBeDefined();
            if (cx.bfs?.shortest !== undefined) {
              expect(cx.shrunk.length, formatFailure(r)).toBeLessThanOrEqual(2 * cx.bfs.shortest);
            }
          },
        );
        it(`${variant}: the saved fuzz counterexample for ${property} replays`, async () => {
          const r = await fuzzModel(def, {
            variant,
            strategy: "pct",
            runs,
            depth,
            seed,
            property,
            confirm: false,
            saveTo: "counterexamples",
            file,
          });
          expect(r.counterexample?.file, formatFailure(r)).toBeDefined();
          const saved = readCounterexample(r.counterexample!.file!);
          expect(saved.property).toBe(property);
          const model = compileModel(def, saved.variant, saved.params);
          const rep = replay(model, parseSchedule(saved.schedule));
          expect(rep.infeasible).toBeUndefined();
          expect(rep.outcomes.map((x) => x.property)).toContain(property);
          expect(saved.length).toBe(r.counterexample!.shrunk.length);
        });
      }
    }
  });
}
