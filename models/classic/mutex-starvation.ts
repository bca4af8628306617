// Starvation under weak fairness. CPU0 is a kthread whose main loop takes a lock, does its work
// and drops it, forever (`endless`: it need not finish). CPU1 takes the lock once.
//
// With a test-and-set lock (a guarded step, or a spin on trylock) CPU1 is only enabled while the
// lock is free; CPU0 can take it back each time before CPU1 runs, so CPU1 is disabled infinitely
// often and weak fairness (a CPU that *stays* enabled eventually runs) does not help it: CPU1
// never finishes, a termination violation. Only strong fairness would rule that out, which no
// hardware promises for a test-and-set lock. A ticket lock (what x86 spinlocks were from 2.6.25,
// and what qspinlock's queue gives) is fair: CPU1's ticket makes CPU0 wait behind it, CPU1
// stays enabled until it runs, and termination holds.

import { defineModel, goto_, int, label, ModelBuilder } from "../../src/index.ts";
import type { Stmt } from "../../src/index.ts";

type Lock = "test-and-set" | "trylock-spin" | "ticket";

const TICKETS = 4; // two CPUs are at most two tickets apart: counting modulo 4 is exact

export default defineModel({
  name: "mutex-starvation",
  doc: "A kthread looping on a lock starves another CPU under a test-and-set lock, not a ticket lock",
  params: {},
  variants: {
    "test-and-set": {
      doc: "spin_lock as a guarded test-and-set: CPU1 can starve",
      options: { lock: "test-and-set" as Lock },
      expect: { violated: ["termination"] },
    },
    "trylock-spin": {
      doc: "CPU1 spins on trylock (a busy loop of steps): it can spin forever",
      options: { lock: "trylock-spin" as Lock },
      expect: { violated: ["termination"] },
    },
    ticket: {
      doc: "a ticket lock: first come, first served; CPU1 gets in",
      options: { lock: "ticket" as Lock },
      expect: "holds",
    },
  },
  build: ({ options }) => {
    const lock = options.lock;
    const m = new ModelBuilder(
      {
        locked: int(-1, 1),
        next: int(0, TICKETS - 1),
        owner: int(0, TICKETS - 1),
        in_critical: int(0, 2),
      },
      { races: false },
    );
    m.init((s) => {
      s.locked = -1;
    });
    for (const cpu of [0, 1]) {
      const endless = cpu === 0;
      m.thread(
        endless ? "kthread" : "task",
        { my: int(0, TICKETS - 1) },
        ({ step, wait_until, if_ }) => {
          const trylock = step(
            (_c, r) => `spin_trylock(&lock) -> ${r ? "true" : "false"}`,
            ({ s }) => {
              if (s.locked !== -1) return false;
              s.locked = cpu;
              return true;
            },
          );
          const acquire: Stmt[] =
            lock === "ticket"
              ? [
                  step("my = xadd(&next, 1)", ({ s, l }) => {
                    l.my = s.next;
                    s.next = (s.next + 1) % TICKETS;
                  }),
                  wait_until("owner == my", ({ s, l }) => s.owner === l.my),
                ]
              : lock === "trylock-spin" && !endless
                ? // while (!spin_trylock(&lock)) cpu_relax();
                  [label("spin"), if_(trylock, [], [goto_("spin")])]
                : [
                    step(
                      "spin_lock(&lock)",
                      ({ s }) => {
                        s.locked = cpu;
                      },
                      { guard: ({ s }) => s.locked === -1, waitsFor: () => "lock to be free" },
                    ),
                  ];
          const release =
            lock === "ticket"
              ? step("owner++", ({ s }) => {
                  s.owner = (s.owner + 1) % TICKETS;
                })
              : step("spin_unlock(&lock)", ({ s }) => {
                  s.locked = -1;
                });
          const what = endless ? "work" : "once";
          const critical = [
            step(`${what}: enter`, ({ s }) => {
              s.in_critical++;
            }),
            step(`${what}: leave`, ({ s }) => {
              s.in_critical--;
            }),
          ];
          // the kthread: for (;;) { lock; work; unlock; }
          return endless
            ? [label("again"), ...acquire, ...critical, release, goto_("again")]
            : [...acquire, ...critical, release];
        },
        { endless },
      );
    }
    m.invariant(
      "mutual-exclusion",
      ({ s }) => s.in_critical <= 1 || `${s.in_critical} CPUs in the critical section`,
    );
    return m;
  },
});
