// Livelock: two polite CPUs that each raise a flag, see the other's raised, lower their own and
// retry (`goto retry`). Under weak fairness they can back off in lock step forever: no state is
// stuck (so no deadlock), yet neither CPU ever enters: termination is violated, with a lasso
// whose cycle is the two CPUs raising and lowering their flags. The fixed variant breaks the
// symmetry as lock-ordering rules do: only CPU1 backs off, and it waits for CPU0's flag to drop
// before it retries; CPU0 waits for CPU1's flag to drop (`wait_until`). Once CPU1 has backed off,
// CPU0 stays enabled until it runs, so weak fairness gets it in, then CPU1. (Backing off without
// waiting is not enough: CPU1 could raise its flag every time CPU0 looks, and weak fairness only
// promises a run to a CPU that stays enabled; CPU0 would starve.)

import { array, bool, defineModel, goto_, int, label, ModelBuilder } from "../../src/index.ts";

export default defineModel({
  name: "polite-livelock",
  doc: "Two CPUs backing off forever (livelock) vs one CPU with priority",
  params: {},
  variants: {
    "both-back-off": {
      doc: "each CPU lowers its flag and retries when it sees the other's: a livelock",
      options: { priority: false },
      expect: { violated: ["termination"] },
    },
    "cpu0-has-priority": {
      doc: "only CPU1 backs off, then waits for CPU0's flag to drop; CPU0 waits for CPU1's",
      options: { priority: true },
      expect: "holds",
    },
  },
  build: ({ options }) => {
    const m = new ModelBuilder(
      { want: array(2, bool()), in_critical: int(0, 2) },
      { races: false },
    );
    for (const me of [0, 1]) {
      const other = 1 - me;
      const waits = options.priority && me === 0;
      m.thread(`polite${me}`, {}, ({ step, if_, when, wait_until }) => [
        label("retry"),
        step(`want[${me}] = true`, ({ s }) => {
          s.want[me] = true;
        }),
        waits
          ? wait_until(`!want[${other}]`, ({ s }) => !s.want[other])
          : if_(
              when(`want[${other}]`, ({ s }) => s.want[other]!),
              [
                step(`want[${me}] = false (back off)`, ({ s }) => {
                  s.want[me] = false;
                }),
                ...(options.priority
                  ? [wait_until(`!want[${other}]`, ({ s }) => !s.want[other])]
                  : []),
                goto_("retry"),
              ],
            ),
        step("critical section: enter", ({ s }) => {
          s.in_critical++;
        }),
        step("critical section: leave", ({ s }) => {
          s.in_critical--;
        }),
        step(`want[${me}] = false`, ({ s }) => {
          s.want[me] = false;
        }),
      ]);
    }
    m.invariant(
      "mutual-exclusion",
      ({ s }) => s.in_critical <= 1 || `${s.in_critical} CPUs in the critical section`,
    );
    return m;
  },
});
