// PCT, probabilistic concurrency testing: S. Burckhardt, P. Kothari, M. Musuvathi,
// S. Nagarakatte, "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs",
// ASPLOS 2010. With n CPUs, k steps and a bug of depth d, one run finds the bug with
// probability at least 1/(n·k^(d−1)):
//   - give the n CPUs distinct random priorities d, d+1, ..., d+n−1;
//   - pick d−1 change points k_1..k_{d−1} among the steps 1..k;
//   - at each step run the enabled CPU with the highest priority; when step k_i is reached,
//     lower the priority of the CPU about to run to i (below every initial priority; a CPU
//     lowered at a later-numbered change point ranks above one lowered at an earlier-numbered
//     one) and pick again. The change points are drawn independently, so giving the i-th one
//     priority d−i instead would find bugs with the same probability; we use i.
//   - a CPU spinning in a busy-wait loop (its move led back to a state already seen in the run)
//     yields: its priority drops below every other, so the CPU it waits for can run.
// Here k is an upper estimate of a run's length in steps (ScheduleContext.k, from run.ts's
// estimateSteps: the longest of a few deterministic runs). The data is plain numbers: a
// random key per CPU (sorting CPUs by key gives the priority order; ties go to the lower CPU,
// so shrunk keys mean CPU0 first), change points drawn in [0, SPAN) and taken modulo k, and the
// choices of nondeterministic steps.

import * as fc from "fast-check";
import { SPAN, stateHash, type Scheduler, type Strategy } from "./strategy.ts";

/** CPUs beyond this many share the last keys' order by CPU number. */
const MAX_KEYED_CPUS = 64;
/** Choices of steps past this many reuse the list cyclically. */
const CHOICE_SLOTS = 64;

export interface PctData {
  readonly keys: readonly number[];
  readonly changes: readonly number[];
  readonly choices: readonly number[];
}

/** Initial priorities: the CPU with the largest key gets d+n−1, the smallest gets d. */
function initialPriorities(keys: readonly number[], n: number, d: number): number[] {
  const order = Array.from({ length: n }, (_, t) => t).sort((a, b) => {
    const ka = keys[a] ?? 0;
    const kb = keys[b] ?? 0;
    return ka !== kb ? ka - kb : b - a;
  });
  // order is ascending priority: order[0] gets d
  const prio = new Array<number>(n);
  order.forEach((t, rank) => (prio[t] = d + rank));
  return prio;
}

/**
 * Step number (1-based) -> index i (1-based) of the change point there: change point i is drawn
 * uniformly in [1, k] (a value in [0, SPAN) modulo k). Two change points on the same step would
 * be one; the later one moves to the next free step, wrapping around within [1, k], so every
 * change point stays inside the run (when d−1 > k, only k of them fit).
 */
function changePoints(changes: readonly number[], k: number, d: number): Map<number, number> {
  const K = Math.max(1, k);
  const at = new Map<number, number>();
  for (let i = 1; i <= d - 1 && at.size < K; i++) {
    let s = 1 + ((changes[i - 1] ?? 0) % K);
    while (at.has(s)) s = (s % K) + 1;
    at.set(s, i);
  }
  return at;
}

function highest(enabled: readonly number[], prio: readonly number[]): number {
  let best = enabled[0]!;
  for (const t of enabled) if (prio[t]! > prio[best]!) best = t;
  return best;
}

export interface PctState {
  readonly prio: number[];
  readonly at: Map<number, number>;
  /** States seen in this run (to spot a CPU spinning without progress). */
  readonly seen: Set<number>;
  /** Yields so far (a spinning CPU's priority becomes −yields, below everyone's). */
  yields: number;
}

function pctScheduler(
  data: PctData,
  k: number,
  d: number,
  n: number,
): Scheduler & { state: PctState } {
  const state: PctState = {
    prio: initialPriorities(data.keys, n, d),
    at: changePoints(data.changes, k, d),
    seen: new Set(),
    yields: 0,
  };
  return {
    state,
    next(view) {
      // A move that brought the machine back to a state of this run made no progress: the CPU
      // is spinning (a busy-wait loop). The paper assumes every run ends within k steps; a
      // spinning CPU of the highest priority would instead starve the CPU it waits for until
      // the depth bound. So it yields: its priority drops below every other.
      const key = stateHash(view.state);
      if (state.seen.has(key)) {
        if (view.last >= 0) state.prio[view.last] = -++state.yields;
      } else state.seen.add(key);
      let t = highest(view.enabled, state.prio);
      const i = state.at.get(view.step + 1);
      if (i !== undefined) {
        state.prio[t] = i;
        t = highest(view.enabled, state.prio);
      }
      const nch = view.choices(t);
      return { cpu: t, choice: nch > 1 ? data.choices[view.step % CHOICE_SLOTS]! % nch : 0 };
    },
  };
}

/** PCT with bug depth d (d−1 change points). */
export function pct(d = 3): Strategy<PctData> {
  if (!Number.isInteger(d) || d < 1)
    throw new RangeError(`PCT depth ${d}: expected an integer >= 1`);
  return {
    name: "pct",
    label: `pct d=${d}`,
    cliArgs: ["--pct-depth", String(d)],
    arbitrary: () =>
      fc.noBias(
        fc.record({
          keys: fc.array(fc.nat(SPAN - 1), {
            minLength: MAX_KEYED_CPUS,
            maxLength: MAX_KEYED_CPUS,
          }),
          changes: fc.array(fc.nat(SPAN - 1), { minLength: d - 1, maxLength: d - 1 }),
          choices: fc.array(fc.nat(SPAN - 1), { minLength: CHOICE_SLOTS, maxLength: CHOICE_SLOTS }),
        }),
      ),
    scheduler: (data, ctx) => {
      let inner: Scheduler | undefined;
      return {
        next(view) {
          inner ??= pctScheduler(data, ctx.k, d, view.model.threads.length);
          return inner.next(view);
        },
      };
    },
  };
}

export const _internals = { initialPriorities, changePoints, highest, pctScheduler };
