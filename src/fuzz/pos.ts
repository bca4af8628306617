// POS, partial order sampling: X. Yuan, J. Yang, R. Gu, "Partial Order Aware Concurrency
// Sampling", CAV 2018. Every CPU's next step (an event) carries a random priority, and each step
// runs the enabled event with the highest. After a step, the CPU that took it gets a new priority
// for its next event, and so does every CPU whose next event conflicts with the step just taken
// (they touch the same word of state and one of them writes: a lock word, a refcount, a list
// pointer). Re-drawing the priorities of the conflicting events is what spreads the runs over the
// partial orders of the events rather than over the interleavings: uniform random picks a CPU at
// each step and spends most runs on orders that differ only in independent steps.
//
// The conflicts are found by dry runs that record each step's accesses (the race check's
// tracking), so a step costs one dry run per enabled CPU. In `npm run bench:fuzz` POS finds the
// list-lru-split use-after-frees in about 20 runs, where random needs 150 and PCT d=3 misses them
// in 1000. The data is one number, the seed of the priorities and choices of the run.

import * as fc from "fast-check";
import { stepAccesses } from "../trace/replay.ts";
import { ACC_SHIFT, ACC_WRITE } from "../rt/mem.ts";
import type { Scheduler, Strategy } from "./strategy.ts";

/** A small deterministic random source (mulberry32): numbers in [0, 1). */
function randomSource(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Two access lists touch the same word and one of the two accesses writes. */
function conflicts(a: Int32Array, b: Int32Array): boolean {
  for (const x of a)
    for (const y of b) if (x >> ACC_SHIFT === y >> ACC_SHIFT && (x | y) & ACC_WRITE) return true;
  return false;
}

function posScheduler(seed: number): Scheduler {
  const rand = randomSource(seed);
  let prio: number[] | undefined;
  let scratch: Int32Array | undefined;
  /** The accesses of the step taken last, and its CPU. */
  let taken: Int32Array | undefined;
  let last = -1;
  return {
    next(view) {
      const b = view.state;
      scratch ??= new Int32Array(b.length);
      prio ??= view.model.threads.map(() => rand());
      if (last >= 0) {
        prio[last] = rand(); // a new event
        if (taken) {
          for (const u of view.enabled) {
            if (u === last) continue;
            const a = stepAccesses(view.model, u, 0, b, scratch);
            if (a && conflicts(a.list, taken)) prio[u] = rand();
          }
        }
      }
      let t = view.enabled[0]!;
      for (const u of view.enabled) if (prio[u]! > prio[t]!) t = u;
      const n = view.choices(t);
      const choice = n > 1 ? Math.floor(rand() * n) : 0;
      taken = stepAccesses(view.model, t, choice, b, scratch)?.list;
      last = t;
      return { cpu: t, choice };
    },
  };
}

export const pos: Strategy<number> = {
  name: "pos",
  arbitrary: () => fc.noBias(fc.nat()),
  scheduler: (seed) => posScheduler(seed),
};

export const _internals = { randomSource, conflicts };
