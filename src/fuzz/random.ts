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

/**
 * One preference per step up to the depth bound, drawn without bias, straight from the random
 * source (fast-check's array-of-records machinery costs ten times more, and a run draws `depth`
 * of them whatever its length). Shrinking keeps a prefix (past the end of a shorter list the
 * last CPU keeps running, so no try is wasted on the steps after the violation), then zeroes
 * preferences one at a time (0: no switch, first choice).
 */
class PrefList extends fc.Arbitrary<readonly Pref[]> {
  constructor(private readonly depth: number) {
    super();
  }
  generate(mrng: fc.Random): fc.Value<readonly Pref[]> {
    const out = new Array<Pref>(this.depth);
    for (let i = 0; i < this.depth; i++) {
      const d = mrng.nextInt(0, SPAN - 1);
      out[i] = { d, c: mrng.nextInt(0, SPAN - 1) };
    }
    return new fc.Value(out, undefined);
  }
  canShrinkWithoutContext(value: unknown): value is readonly Pref[] {
    return (
      Array.isArray(value) &&
      value.length <= this.depth &&
      value.every(
        (p: unknown) =>
          typeof p === "object" &&
          p !== null &&
          Number.isInteger((p as Pref).d) &&
          Number.isInteger((p as Pref).c),
      )
    );
  }
  shrink(value: readonly Pref[]): fc.Stream<fc.Value<readonly Pref[]>> {
    function* candidates(): Generator<fc.Value<readonly Pref[]>> {
      const n = value.length;
      // shorter prefixes: 0, n/2, 3n/4, ..., n-1
      for (let cut = n, len = 0; len < n; cut = Math.ceil(cut / 2), len = n - cut) {
        yield new fc.Value(value.slice(0, len), undefined);
        if (cut <= 1) break;
      }
      for (let i = 0; i < n; i++) {
        const p = value[i]!;
        if (p.d === 0 && p.c === 0) continue;
        const next = value.slice();
        next[i] = p.d !== 0 ? { d: 0, c: p.c } : { d: 0, c: 0 };
        yield new fc.Value(next, undefined);
      }
    }
    return new fc.Stream(candidates());
  }
}

export const random: Strategy<readonly Pref[]> = {
  name: "random",
  arbitrary: ({ depth }) => new PrefList(depth),
  scheduler: (prefs) => prefScheduler(prefs),
};

export const _internals = { relativeCpu, prefScheduler };
