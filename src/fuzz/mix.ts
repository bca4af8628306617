// A portfolio of strategies: each run draws one arm (uniform random, PCT at a few depths,
// bounded preemption, POS) and schedules the whole run with it. No single strategy is best on every
// bug (`npm run bench:fuzz`: random wins on short windows that need many switches, PCT on
// bugs that need one CPU to run long stretches uninterrupted, POS on use-after-frees in short
// threads), and a bug's depth is not known before it is found. If arm i (drawn with weight w_i)
// finds a bug with probability p_i per run, the portfolio finds it with probability
// sum(w_i p_i) >= w_best p_best: in expectation at most 1/w_best times the runs of the arm that
// is best for the bug. The default weights (DEFAULT_WEIGHTS) were fitted to bench:fuzz's seeded
// bugs. The data is plain: the arm's index and that arm's own data, so it replays, and
// fast-check shrinks it within the arm (and towards arm 0).

import * as fc from "fast-check";
import { pct } from "./pct.ts";
import { pos } from "./pos.ts";
import { preempt } from "./preempt.ts";
import { random } from "./random.ts";
import type { Scheduler, Strategy } from "./strategy.ts";

export interface MixData {
  /** Index of the arm that schedules this run. */
  readonly arm: number;
  /** That arm's data. */
  readonly data: unknown;
}

/** The arms of `mix()` when none are given: random, PCT d=2, d=3, d=5, preempt k=2, POS. */
export function defaultArms(): readonly Strategy<unknown>[] {
  return [random, pct(2), pct(3), pct(5), preempt(2), pos] as readonly Strategy<unknown>[];
}

/**
 * How often the default arms are drawn, out of 40: random 7, PCT 2 at each depth, preempt 9,
 * POS 18. Fitted to `npm run bench:fuzz` (2026-11-29): taking each strategy's per-run success
 * probability from its median runs to failure on every seeded bug, these weights minimise the
 * largest ratio of the mix's predicted median to the best strategy's (2.2x predicted, against
 * 5.3x for equal weights); POS carries the most because it alone finds the list-lru-split
 * use-after-frees in few runs.
 */
export const DEFAULT_WEIGHTS: readonly number[] = [7, 2, 2, 2, 9, 18];

/** A portfolio of arms (default: defaultArms()), each run drawing arm i with probability weights[i] / sum(weights). */
export function mix(
  given?: readonly Strategy<unknown>[],
  weightsGiven?: readonly number[],
): Strategy<MixData> {
  const arms = given ?? defaultArms();
  // the default arms get the fitted weights, arms given without weights equal ones
  const weights = weightsGiven ?? (given === undefined ? DEFAULT_WEIGHTS : arms.map(() => 1));
  if (arms.length === 0) throw new RangeError("mix: expected at least one strategy");
  if (arms.some((a) => a.name === "replay" || a.name === "mix"))
    throw new RangeError("mix: an arm cannot be replay or another mix");
  if (weights.length !== arms.length || weights.some((w) => !Number.isInteger(w) || w < 1))
    throw new RangeError(`mix: expected one positive integer weight per arm (${arms.length})`);
  return {
    name: "mix",
    arbitrary: (ctx) =>
      fc.noBias(
        fc.oneof(
          { depthSize: "small", withCrossShrink: false },
          ...arms.map((a, i) => ({
            weight: weights[i]!,
            arbitrary: a.arbitrary(ctx).map(
              (data): MixData => ({ arm: i, data }),
              (v): unknown => {
                if (typeof v !== "object" || v === null || (v as MixData).arm !== i)
                  throw new Error("not this arm's data");
                return (v as MixData).data;
              },
            ),
          })),
        ),
      ),
    describe: (data) => {
      const a = arms[data.arm];
      return a ? (a.label ?? a.name) : `arm ${data.arm}`;
    },
    scheduler(data, ctx): Scheduler {
      const arm = arms[data.arm];
      if (arm === undefined)
        throw new RangeError(`mix: arm ${data.arm} does not exist (${arms.length} arms)`);
      return arm.scheduler(data.data, ctx);
    },
  };
}

/** The arm names, for reports: "random, pct d=2, ...". */
export function describeArms(arms: readonly Strategy<unknown>[] = defaultArms()): string {
  return arms.map((a) => a.label ?? a.name).join(", ");
}
