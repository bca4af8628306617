// Dining philosophers (Dijkstra): N CPUs, N forks as spinlocks; each takes its left fork, then
// its right. All take their left fork, and every CPU waits on its right neighbour: deadlock.
// The "ordered" variant takes the lower-numbered fork first, which breaks the cycle.
//
// lockdep: the forks are one array of locks, so lock order is kept per fork (instance), not per
// lock class (which would make every fork one class and any nesting "recursive locking").
// left-then-right also violates lock-order: fork0 -> fork1 -> fork2 -> fork0 is a cycle of the
// order graph, reported with one acquisition path per edge, as lockdep reports it whether or not
// the run deadlocks; ordered takes them in one global order and holds.

import { array, defineModel, ModelBuilder, spinlock } from "../../src/index.ts";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.ts";

export default defineModel({
  name: "philosophers",
  doc: "Dining philosophers with spinlocks as forks: left-then-right deadlocks, ordered does not",
  params: { n: { default: 3, min: 2, max: 6, doc: "philosophers (and forks)" } },
  variants: {
    "left-then-right": {
      options: { ordered: false },
      expect: { violated: ["deadlock", "lock-order"] },
    },
    ordered: { options: { ordered: true }, expect: "holds" },
  },
  build: ({ params, options }) => {
    const n = params.n;
    const m = new ModelBuilder(
      { fork: array(n, spinlock(), { label: (i) => `fork${i}` }) },
      { lockdep: { order: "instance" } },
    );
    for (let i = 0; i < n; i++) {
      const left = i;
      const right = (i + 1) % n;
      const [first, second] = options.ordered
        ? [Math.min(left, right), Math.max(left, right)]
        : [left, right];
      m.thread(`philosopher${i}`, {}, ({ s }) => [
        spin_lock(s.fork[first]!),
        spin_lock(s.fork[second]!),
        spin_unlock(s.fork[second]!),
        spin_unlock(s.fork[first]!),
      ]);
    }
    return m;
  },
});
