// A portfolio of strategies: each run is scheduled whole by one arm (uniform random, PCT at a few
// depths, bounded preemption, POS). No single strategy is best on every bug (`npm run
// bench:fuzz`: random wins on short windows that need many switches, PCT and bounded preemption
// on bugs that need one CPU to run long stretches uninterrupted, POS on use-after-frees in short
// threads), and a bug's shape is not known before it is found.
//
// A session does not draw each run's arm at random: it follows a fixed layout, an opening (the
// first runs, one arm each, chosen so that a bug some arm finds in one or two runs is found in
// few) and then a cycle in which arm i has weights[i] of every sum(weights) runs, spread evenly
// (smooth weighted round-robin). If arm i finds the bug with probability p_i per run, every
// cycle of W runs finds it with probability 1 − Π(1 − p_i)^w_i, so in expectation the mix needs
// at most W / w_best times the runs of the arm that is best for the bug, and no run of an arm is
// left to chance: a random draw of the arm can starve the one arm that finds a bug for many runs.
//
// The arm of a run is written in its seed (bits 27..30: arm + 1), and a run draws its data from
// that arm alone, so a failing run's seed replays it (`--seed S --runs 1`), fast-check shrinks it
// within its arm, and run i of a session depends on (seed, i) alone, as worker threads need. A
// seed without an arm in it (any seed below 2^27, as people type them) starts the layout.
//
// Why a layout and not a bandit that learns which arm works: before the first failure the only
// signals are novelty (new states, new orders of conflicting accesses), and on bench:fuzz's bugs
// they point the wrong way (the arms that reach the most new states are not those that find the
// bug); see the README's fuzz section for the figures.

import * as fc from "fast-check";
import { pct } from "./pct.ts";
import { pos } from "./pos.ts";
import { preempt } from "./preempt.ts";
import { random } from "./random.ts";
import { runSeed, type Scheduler, type Strategy } from "./strategy.ts";

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
 * Runs of each default arm in every cycle of 25 (after DEFAULT_OPENING): random 1, PCT d=2 1,
 * d=3 3, d=5 5, preempt 1, POS 14. Fitted (2026-11-29) to each arm's per-run hit rate on every
 * seeded bug of `npm run bench:fuzz` (300 to 1800 runs per arm and bug): POS carries the most
 * because it alone finds the list-lru-split use-after-frees in few runs (its hit rate there is
 * 3-5x random's, PCT's and preemption's about 0), and PCT d=3 and d=5 carry the deferred-split
 * queue bugs (2-3x POS's rate). With the opening, the predicted median runs of the mix are at
 * most 2x the best single strategy's on every seeded bug (1.33x on average); no fixed layout of
 * these arms does better than 1.66x on the slow bugs (a linear program over the hit rates).
 */
export const DEFAULT_WEIGHTS: readonly number[] = [1, 1, 3, 5, 1, 14];

/**
 * The arms of the first four runs: preempt k=2, random, PCT d=3, POS. A bug some arm finds in
 * one or two runs must be found in two to four: the first two runs are the best arm of each
 * family, bounded preemption for the bugs it and PCT find at once (the migration-requeue v1/v2
 * and device-migration-split ones, 40-90% per run) and random for those it and POS find at once
 * (v3 requeue, the partial-unmap races: 18-50% per run).
 */
export const DEFAULT_OPENING: readonly number[] = [4, 0, 2, 5];

/** Where a run's seed carries its arm: bits TAG_SHIFT.. hold arm + 1 (0: none). */
const TAG_SHIFT = 27;
const TAG_BITS = 4;
const LOW = (1 << TAG_SHIFT) - 1;
/** At most this many arms fit in a seed's tag. */
export const MAX_ARMS = (1 << TAG_BITS) - 1;

/** The arm a run seed names, or undefined (no tag, or a tag past the arms). */
export function seedArm(seed: number, arms: number): number | undefined {
  const tag = (seed >>> TAG_SHIFT) & MAX_ARMS;
  return tag >= 1 && tag <= arms ? tag - 1 : undefined;
}

/** `seed` with arm `arm` written in it (its low 27 bits kept). */
export function withArm(seed: number, arm: number): number {
  return (seed & LOW) | ((arm + 1) << TAG_SHIFT);
}

/**
 * Smooth weighted round-robin: sum(weights) slots in which arm i has weights[i], each arm's
 * slots as evenly spread as the others' allow (ties: the lower arm first).
 */
export function cycleOf(weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const cur = weights.map(() => 0);
  const out: number[] = [];
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let i = 0; i < weights.length; i++) {
      cur[i]! += weights[i]!;
      if (cur[i]! > cur[best]!) best = i;
    }
    cur[best]! -= total;
    out.push(best);
  }
  return out;
}

/** The layout of a session: the arm of run i. */
export function layout(
  weights: readonly number[],
  opening: readonly number[] = [],
): (i: number) => number {
  const cycle = cycleOf(weights);
  return (i) => (i < opening.length ? opening[i]! : cycle[(i - opening.length) % cycle.length]!);
}

/**
 * A portfolio of arms (default: defaultArms()). In a session, run i is scheduled by arm
 * layout(weights, opening)(i); `arbitrary()` (a property outside a session, e.g. `test.prop`)
 * draws arm i with probability weights[i] / sum(weights).
 */
export function mix(
  given?: readonly Strategy<unknown>[],
  weightsGiven?: readonly number[],
  openingGiven?: readonly number[],
): Strategy<MixData> {
  const arms = given ?? defaultArms();
  // the default arms get the fitted weights and opening, arms given without weights equal ones
  const weights = weightsGiven ?? (given === undefined ? DEFAULT_WEIGHTS : arms.map(() => 1));
  const opening = openingGiven ?? (given === undefined ? DEFAULT_OPENING : []);
  if (arms.length === 0) throw new RangeError("mix: expected at least one strategy");
  if (arms.length > MAX_ARMS) throw new RangeError(`mix: at most ${MAX_ARMS} arms`);
  if (arms.some((a) => a.name === "replay" || a.name === "mix"))
    throw new RangeError("mix: an arm cannot be replay or another mix");
  if (weights.length !== arms.length || weights.some((w) => !Number.isInteger(w) || w < 1))
    throw new RangeError(`mix: expected one positive integer weight per arm (${arms.length})`);
  if (opening.some((a) => !Number.isInteger(a) || a < 0 || a >= arms.length))
    throw new RangeError(
      `mix: an opening run names an arm that does not exist (${arms.length} arms)`,
    );
  const armOf = layout(weights, opening);
  const armArbitrary = (i: number, ctx: { readonly depth: number }): fc.Arbitrary<MixData> =>
    arms[i]!.arbitrary(ctx).map(
      (data): MixData => ({ arm: i, data }),
      (v): unknown => {
        if (typeof v !== "object" || v === null || (v as MixData).arm !== i)
          throw new Error("not this arm's data");
        return (v as MixData).data;
      },
    );
  return {
    name: "mix",
    arbitrary: (ctx) =>
      fc.noBias(
        fc.oneof(
          { depthSize: "small", withCrossShrink: false },
          ...arms.map((_, i) => ({ weight: weights[i]!, arbitrary: armArbitrary(i, ctx) })),
        ),
      ),
    plan: {
      runSeed(seed, i) {
        // run 0 is the session seed: its arm is the one it names, or the layout's first
        return i === 0 ? seed | 0 : withArm(runSeed(seed, i), armOf(i));
      },
      arbitraryFor(s, ctx) {
        const arm = seedArm(s, arms.length) ?? armOf(0);
        return { key: arm, arbitrary: fc.noBias(armArbitrary(arm, ctx)) };
      },
    },
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

/** The default layout in words, for reports: the opening's arms, then the cycle's weights. */
export function describeLayout(
  arms: readonly Strategy<unknown>[] = defaultArms(),
  weights: readonly number[] = DEFAULT_WEIGHTS,
  opening: readonly number[] = DEFAULT_OPENING,
): string {
  const name = (i: number): string => arms[i]!.label ?? arms[i]!.name;
  const total = weights.reduce((a, b) => a + b, 0);
  return (
    (opening.length ? `runs 1-${opening.length}: ${opening.map(name).join(", ")}; then ` : "") +
    `every ${total} runs: ${arms.map((_, i) => `${weights[i]} ${name(i)}`).join(", ")}`
  );
}

/** The arm names, for reports: "random, pct d=2, ...". */
export function describeArms(arms: readonly Strategy<unknown>[] = defaultArms()): string {
  return arms.map((a) => a.label ?? a.name).join(", ");
}
