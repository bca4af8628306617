// A broken lock: test the flag, then set it, in two separate steps. Both CPUs can see the flag
// clear before either sets it, and both enter the critical section. The fixed variant makes
// test-and-set one atomic step (what spin_lock does).

import { bool, defineModel, int, ModelBuilder } from "../../src/index.ts";

export default defineModel({
  name: "flag-lock",
  doc: "Test-then-set is not a lock: two CPUs enter together; an atomic test-and-set is",
  params: { cpus: { default: 2, min: 2, max: 4, doc: "CPUs competing for the lock" } },
  variants: {
    "test-then-set": { options: { atomic: false }, expect: { violated: ["mutual-exclusion"] } },
    "test-and-set": { options: { atomic: true }, expect: "holds" },
  },
  build: ({ params, options }) => {
    const m = new ModelBuilder(
      { locked: bool(), in_critical: int(0, params.cpus) },
      { races: false },
    );
    for (let i = 0; i < params.cpus; i++) {
      m.thread(`flag_lock${i}`, {}, ({ step, while_, when }) => [
        ...(options.atomic
          ? [
              step(
                "test_and_set(locked)",
                ({ s }) => {
                  s.locked = true;
                },
                { guard: ({ s }) => !s.locked, waitsFor: () => "locked to be cleared" },
              ),
            ]
          : [
              while_(
                when("locked", ({ s }) => s.locked),
                [],
              ),
              step("locked = true", ({ s }) => {
                s.locked = true;
              }),
            ]),
        step("critical section: enter", ({ s }) => {
          s.in_critical++;
        }),
        step("critical section: leave", ({ s }) => {
          s.in_critical--;
        }),
        step("locked = false", ({ s }) => {
          s.locked = false;
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
