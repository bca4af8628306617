// Peterson's mutual exclusion for two CPUs (G. L. Peterson, "Myths About the Mutual Exclusion
// Problem", IPL 1981), with sequentially consistent memory: each read or write of `flag` and
// `turn` is one atomic step, the wait loop re-reads both on every round.
// Variant "no-turn" drops the `turn` hand-off: both CPUs can then wait for each other forever.

import { array, bool, defineModel, int, ModelBuilder } from "../../src/index.ts";

export default defineModel({
  name: "peterson",
  doc: "Peterson's algorithm for two CPUs: mutual exclusion holds; without `turn` it deadlocks",
  params: {},
  variants: {
    peterson: { options: { turn: true }, expect: "holds" },
    "no-turn": { options: { turn: false }, expect: { violated: ["deadlock"] } },
  },
  build: ({ options }) => {
    const m = new ModelBuilder(
      { flag: array(2, bool()), turn: int(0, 1), in_critical: int(0, 2) },
      { races: false },
    );
    for (const me of [0, 1]) {
      const other = 1 - me;
      m.thread(`peterson_lock${me}`, {}, ({ step, wait_until }) => [
        step(`flag[${me}] = true`, ({ s }) => {
          s.flag[me] = true;
        }),
        ...(options.turn
          ? [
              step(`turn = ${other}`, ({ s }) => {
                s.turn = other;
              }),
            ]
          : []),
        // while (flag[other] && turn == other) cpu_relax();
        wait_until(
          options.turn ? `!flag[${other}] || turn == ${me}` : `!flag[${other}]`,
          ({ s }) => (options.turn ? !s.flag[other] || s.turn === me : !s.flag[other]),
        ),
        step("critical section: enter", ({ s }) => {
          s.in_critical++;
        }),
        step("critical section: leave", ({ s }) => {
          s.in_critical--;
        }),
        step(`flag[${me}] = false`, ({ s }) => {
          s.flag[me] = false;
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
