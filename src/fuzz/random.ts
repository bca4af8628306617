// Uniform random scheduling: each step picks uniformly among the enabled CPUs, and uniformly
// among that step's choices. The data is one preference per step, relative to the CPU that ran
// last: 0 means "the same CPU again" (or the next enabled one after it), j means "the j-th
// enabled CPU after it". Drawn in [0, SPAN) it is uniform; shrunk towards 0 it means fewer
// context switches, and a value that no longer fits is taken modulo, so it always replays.

import * as fc from "fast-check";
import { SPAN, type SchedView, type Scheduler, type Strategy } from "./strategy.ts";

export interface Pref {
  /** Which enabled CPU, counted from the one that ran last. */
  readonly d: number;
  /** Which choice of the step. */
  readonly c: number;
}

/** The enabled CPU `d` places after the CPU that ran last (cyclically; 0: that CPU if enabled). */
function relativeCpu(view: Pick<SchedView, "enabled" | "last">, d: number): number {
  const E = view.enabled;
  let i0 = E.indexOf(view.last);
  if (i0 < 0) {
    i0 = E.findIndex((t) => t > view.last);
    if (i0 < 0) i0 = 0;
  }
  return E[(i0 + d) % E.length]!;
}

/** Interprets preferences; past their end, the last CPU keeps running (d = 0, c = 0). */
function prefScheduler(prefs: readonly Pref[]): Scheduler {
  return {
    next(view) {
      const p = prefs[view.step] ?? { d: 0, c: 0 };
      const cpu = relativeCpu(view, p.d);
      const n = view.choices(cpu);
      return { cpu, choice: n > 1 ? p.c % n : 0 };
    },
  };
}

const prefArb = fc.record({ d: fc.nat(SPAN - 1), c: fc.nat(SPAN - 1) });

/**
 * One preference per step up to the depth bound, drawn without bias; shrunk as a list of any
 * length (fast-check drops preferences, then makes them smaller): the shorter list means "keep
 * running the last CPU" past its end, so shrinking never wastes tries on the steps after the
 * violation.
 */
class PrefList extends fc.Arbitrary<readonly Pref[]> {
  private readonly full: fc.Arbitrary<Pref[]>;
  private readonly any: fc.Arbitrary<Pref[]>;
  constructor(depth: number) {
    super();
    this.full = fc.noBias(fc.array(prefArb, { minLength: depth, maxLength: depth }));
    this.any = fc.array(prefArb, { minLength: 0, maxLength: depth });
  }
  generate(mrng: fc.Random, biasFactor: number | undefined): fc.Value<readonly Pref[]> {
    return new fc.Value(this.full.generate(mrng, biasFactor).value_, undefined);
  }
  canShrinkWithoutContext(value: unknown): value is readonly Pref[] {
    return this.any.canShrinkWithoutContext(value);
  }
  shrink(value: readonly Pref[], context: unknown): fc.Stream<fc.Value<readonly Pref[]>> {
    return this.any.shrink(value as Pref[], context);
  }
}

export const random: Strategy<readonly Pref[]> = {
  name: "random",
  arbitrary: ({ depth }) => new PrefList(depth),
  scheduler: (prefs) => prefScheduler(prefs),
};

export const _internals = { relativeCpu, prefScheduler };
