// Bounded preemption (context bounding, M. Musuvathi and S. Qadeer, "Iterative Context Bounding
// for Systematic Testing of Multithreaded Programs", PLDI 2007), randomized: a CPU keeps running
// until it blocks, finishes or spins (its move led back to a state already seen in the run: a
// busy-wait), then an enabled CPU is picked at random (not a preemption); at
// most `bound` times, at random steps, the running CPU is switched away from while it could
// still run (a preemption) to another enabled CPU picked at random.

import * as fc from "fast-check";
import { SPAN, stateHash, type Scheduler, type Strategy } from "./strategy.ts";

const PICK_SLOTS = 64;

export interface PreemptData {
  /** Preemption points: step `at` (modulo k), switch to the `to`-th other enabled CPU. */
  readonly points: readonly { readonly at: number; readonly to: number }[];
  /** Picks when the running CPU blocks or finishes, and choices of steps (cyclic). */
  readonly picks: readonly number[];
}

function preemptScheduler(
  data: PreemptData,
  k: number,
  bound: number,
): Scheduler & { preemptions(): number } {
  const at = new Map<number, number>();
  for (const p of data.points.slice(0, bound)) {
    const s = 1 + (p.at % Math.max(1, k));
    if (!at.has(s)) at.set(s, p.to);
  }
  let used = 0;
  const seen = new Set<number>();
  return {
    preemptions: () => used,
    next(view) {
      const E = view.enabled;
      const slot = data.picks[view.step % PICK_SLOTS] ?? 0;
      // back in a state already seen in this run: the last CPU is spinning (busy-wait) and
      // counts as blocked, so switching away from it is not a preemption
      const key = stateHash(view.state);
      const spinning = seen.has(key);
      seen.add(key);
      let cpu: number;
      if (spinning && E.length > 1 && E.includes(view.last)) {
        const others = E.filter((t) => t !== view.last);
        cpu = others[slot % others.length]!;
      } else if (E.includes(view.last)) {
        const to = at.get(view.step + 1);
        if (to !== undefined && E.length > 1 && used < bound) {
          const others = E.filter((t) => t !== view.last);
          cpu = others[to % others.length]!;
          used++;
        } else {
          cpu = view.last;
        }
      } else {
        cpu = E[slot % E.length]!;
      }
      const nch = view.choices(cpu);
      return { cpu, choice: nch > 1 ? Math.floor(slot / 97) % nch : 0 };
    },
  };
}

/** At most `bound` preemptions per run. */
export function preempt(bound = 2): Strategy<PreemptData> {
  if (!Number.isInteger(bound) || bound < 0)
    throw new RangeError(`preemption bound ${bound}: expected an integer >= 0`);
  const pt = fc.record({ at: fc.nat(SPAN - 1), to: fc.nat(SPAN - 1) });
  return {
    name: "preempt",
    label: `preempt k=${bound}`,
    cliArgs: ["--preemptions", String(bound)],
    arbitrary: () =>
      fc.noBias(
        fc.record({
          points: fc.array(pt, { minLength: 0, maxLength: bound }),
          picks: fc.array(fc.nat(SPAN - 1), { minLength: PICK_SLOTS, maxLength: PICK_SLOTS }),
        }),
      ),
    scheduler: (data, ctx) => preemptScheduler(data, ctx.k, bound),
  };
}

export const _internals = { preemptScheduler };
