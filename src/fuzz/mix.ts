// A portfolio of strategies: each run draws one arm (uniform random, PCT at a few depths,
// bounded preemption, POS) and schedules the whole run with it. No single strategy is best on every
// bug (`npm run bench:fuzz`: random wins on short windows that need many switches, PCT on
// bugs that need one CPU to run long stretches uninterrupted), and a bug's depth is not known
// before it is found. If arm i finds a bug with probability p_i per run, the portfolio finds it
// with probability mean(p_i) >= max(p_i)/arms: in expectation never more than `arms` times the
// runs of the best arm, whichever that is. The data is plain: the arm's index and that arm's own data, so
// it replays, and fast-check shrinks it within the arm (and towards arm 0).

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

export function mix(arms: readonly Strategy<unknown>[] = defaultArms()): Strategy<MixData> {
  if (arms.length === 0) throw new RangeError("mix: expected at least one strategy");
  if (arms.some((a) => a.name === "replay" || a.name === "mix"))
    throw new RangeError("mix: an arm cannot be replay or another mix");
  return {
    name: "mix",
    arbitrary: (ctx) =>
      fc.noBias(
        fc.oneof(
          { depthSize: "small", withCrossShrink: false },
          ...arms.map((a, i) =>
            a.arbitrary(ctx).map(
              (data): MixData => ({ arm: i, data }),
              (v): unknown => {
                if (typeof v !== "object" || v === null || (v as MixData).arm !== i)
                  throw new Error("not this arm's data");
                return (v as MixData).data;
              },
            ),
          ),
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
