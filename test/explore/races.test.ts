// The LKMM / KCSAN data-race rule: the same word, different CPUs, at least one write, at least
// one plain access, neither inside data_race(), not both inside one lock. The explorer and the
// replay's state check (used by the randomized runs) apply the same rule.
import { describe, it, expect } from "vitest";
import { explore, int, spinlock, type CompiledModel } from "../../src/index.ts";
import { stateOutcomes } from "../../src/trace/replay.ts";
import { tiny } from "../helpers.ts";

type Access = "plain-rmw" | "atomic-rmw" | "data_race-read" | "marked-read" | "locked-rmw";

/** Two CPUs, one step each on word `flags`. */
function twoSteps(a: Access, b: Access): CompiledModel {
  return tiny(
    { flags: int(0, 3), lock: spinlock() },
    (m) => {
      const one = (acc: Access, bit: number) =>
        m.thread(acc, {}, ({ step }) => [
          step(
            acc,
            (c) => {
              const off = m.s.flags.$off(c.m.b);
              const lock = m.s.lock.$off(c.m.b);
              switch (acc) {
                case "plain-rmw": // __set_bit(): load, modify, store
                  c.m.set(off, c.m.get(off) | bit);
                  break;
                case "atomic-rmw": // test_and_set_bit()
                  c.m.setMarked(off, c.m.getMarked(off) | bit);
                  break;
                case "data_race-read":
                  c.m.dataRace(() => c.m.get(off));
                  break;
                case "marked-read":
                  c.m.getMarked(off);
                  break;
                case "locked-rmw": // spin_lock(); __set_bit(); spin_unlock() in one step
                  c.m.setMarked(lock, c.cpu);
                  c.m.set(off, c.m.get(off) | bit);
                  c.m.setMarked(lock, -1);
                  break;
              }
            },
            { guard: (c) => c.m.b[m.s.lock.$off(c.m.b)] === -1 },
          ),
        ]);
      one(a, 1);
      one(b, 2);
    },
    { races: true },
  );
}

const cases: [Access, Access, RegExp | undefined][] = [
  // the issue's case: a plain RMW against an atomic one on the same word
  [
    "plain-rmw",
    "atomic-rmw",
    /CPU0 plain (reads|writes) flags .* CPU1 marked (reads|writes) flags .*; the plain access is CPU0's (read|write)/,
  ],
  ["plain-rmw", "plain-rmw", /both accesses are plain/],
  ["marked-read", "plain-rmw", /the plain access is CPU1's write/],
  ["atomic-rmw", "atomic-rmw", undefined],
  ["marked-read", "atomic-rmw", undefined],
  ["data_race-read", "plain-rmw", undefined],
  ["locked-rmw", "locked-rmw", undefined],
  ["plain-rmw", "locked-rmw", /data race on flags/],
];

describe("data races (LKMM: at least one plain access)", () => {
  for (const [a, b, msg] of cases) {
    it(`${a} vs ${b}: ${msg ? "a race" : "no race"}`, async () => {
      const m = twoSteps(a, b);
      const r = await explore(m);
      const race = r.violations.find((v) => v.property === "data-race");
      const state = stateOutcomes(m, m.init).find((o) => o.property === "data-race");
      if (!msg) {
        expect(race).toBeUndefined();
        expect(state).toBeUndefined();
        return;
      }
      expect(race?.message).toMatch(msg);
      expect(race?.severity).toBe("warn");
      expect(state?.message).toBe(race?.message);
    });
  }
});
