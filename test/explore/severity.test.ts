// Severities: a warn-severity violation is reported and the search goes on past it (WARN_ON,
// DEBUG_LIST, KCSAN), a bug-severity one ends its path (BUG_ON, an oops). The explorer, the
// replay and the randomized runs follow the same rule.
import { describe, it, expect } from "vitest";
import { array, explore, int, type CompiledModel } from "../../src/index.ts";
import type { Severity } from "../../src/rt/mem.ts";
import { folio, folio_put, folio_ref_freeze } from "../../src/kernel/folio.ts";
import { list_del, list_add_tail } from "../../src/kernel/list.ts";
import { listHead, spinlock } from "../../src/model/schema.ts";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.ts";
import { replay } from "../../src/trace/replay.ts";
import { diagram } from "../../src/trace/diagram.ts";
import { runSchedule } from "../../src/fuzz/run.ts";
import type { Scheduler } from "../../src/fuzz/strategy.ts";
import { fuzzModel } from "../../src/fuzz/fuzz.ts";
import { defineModel, ModelBuilder } from "../../src/model/model.ts";
import { cpu, tiny } from "../helpers.ts";

const label = { label: (i: number) => `F${i}` };

/** One CPU: a check of `first` (its severity as given) fails, then folio_put of a frozen folio (BUG). */
function warnThenBug(severity: Severity): CompiledModel {
  return tiny({ folio: array(1, folio(), label), x: int(0, 1) }, (m) => {
    m.property("first", { severity });
    cpu(m, "t", ({ s, step, if_ }) => [
      step(
        "WARN_ON(x == 0); x = 1",
        (c) => {
          c.m.check(c.s.x !== 0, "first", "x is 0");
          c.s.x = 1;
        },
        { raises: ["first"] },
      ),
      if_(folio_ref_freeze(s.folio[0]!, 1), [folio_put(s.folio[0]!)]),
    ]);
  });
}

describe("severities", () => {
  it("a WARN-style violation does not hide a later BUG-style one on the same path", async () => {
    const r = await explore(warnThenBug("warn"));
    expect(r.violations.map((v) => [v.property, v.severity, v.length])).toEqual([
      ["first", "warn", 1],
      ["refcount-underflow", "bug", 3],
    ]);
    expect(r.verdict).toBe("violated");
    expect(r.complete).toBe(true);
  });

  it("the same check declared BUG-style ends the path: the later violation is not reached", async () => {
    const r = await explore(warnThenBug("bug"));
    expect(r.violations.map((v) => [v.property, v.severity])).toEqual([["first", "bug"]]);
  });

  it("an invariant violation (warn by default) does not hide a later violation of another property", async () => {
    for (const severity of ["warn", "bug"] as const) {
      const m = tiny({ x: int(0, 2), y: int(0, 1) }, (b) => {
        b.invariant("x-small", ({ s }) => s.x < 1 || `x is ${s.x}`, { severity });
        b.invariant("y-zero", ({ s }) => s.y === 0 || "y is 1");
        cpu(b, "t", ({ step }) => [
          step("x = 1", ({ s }) => void (s.x = 1)),
          step("x = 2", ({ s }) => void (s.x = 2)),
          step("y = 1", ({ s }) => void (s.y = 1)),
        ]);
      });
      const r = await explore(m);
      if (severity === "warn")
        expect(r.violations.map((v) => [v.property, v.severity, v.length])).toEqual([
          ["x-small", "warn", 1],
          ["y-zero", "warn", 3],
        ]);
      // a bug-severity invariant ends the path where it breaks
      else expect(r.violations.map((v) => [v.property, v.severity])).toEqual([["x-small", "bug"]]);
    }
  });

  it("DEBUG_LIST: list corruption is reported and the operation refused; the CPU goes on (split and atomic forms)", async () => {
    for (const locked of [false, true]) {
      // unlocked: a list without a declared lock (a lock-protected one would be wrong-lock)
      const shared = {
        folio: array(1, folio(), label),
        q: locked ? listHead({ lock: "lock" }) : listHead(),
        lock: spinlock(),
        after: int(0, 1),
      };
      const m = tiny(shared, (b) => {
        cpu(b, "t", ({ s, step }) => [
          ...(locked ? [spin_lock(s.lock)] : []),
          list_add_tail(s.folio[0]!._deferred_list, s.q),
          list_del(s.folio[0]!._deferred_list),
          list_del(s.folio[0]!._deferred_list), // LIST_POISON: refused
          ...(locked ? [spin_unlock(s.lock)] : []),
          step("after = 1", ({ s }) => void (s.after = 1)),
        ]);
        b.endState("went-on", ({ s }) => s.after === 1 || "the CPU stopped");
        b.endState("q-empty", (w) => {
          const q = w.m.layout.nodes.find((n) => n.name === "q")!;
          return w.m.b[q.nextOff] === q.id || "the refused list_del wrote to the list";
        });
      });
      const r = await explore(m);
      expect(r.violations.map((v) => [v.property, v.severity])).toEqual([
        ["list-corruption", "warn"],
      ]);
      expect(r.violations[0]!.message).toMatch(/F0\._deferred_list->next is LIST_POISON1/);
      // unlocked, each operation is its writes (4 + 4 + the check of the third); locked, one
      // step each after the lock
      expect(r.violations[0]!.length).toBe(locked ? 4 : 9);
      // the counterexample replays, the warning being its last step's outcome
      const rep = replay(m, r.violations[0]!.schedule);
      expect(rep.outcomes.map((o) => [o.property, o.severity])).toEqual([
        ["list-corruption", "warn"],
      ]);
    }
  });

  it("a later violation's diagram shows the warnings its path went past", async () => {
    const m = warnThenBug("warn");
    const r = await explore(m);
    const bug = r.violations.find((v) => v.property === "refcount-underflow")!;
    const rep = replay(m, bug.schedule);
    expect(rep.steps[0]!.warnings?.map((w) => w.property)).toEqual(["first"]);
    const d = diagram(m, rep.steps, rep.outcomes[0]);
    expect(d).toContain("  WARNING: x is 0");
    expect(d).toMatch(/=> refcount-underflow: /);
  });

  it("a randomized run goes past a warning when another property is looked for, as the explorer does", () => {
    const first: Scheduler = { next: (v) => ({ cpu: v.enabled[0]!, choice: 0 }) };
    for (const severity of ["warn", "bug"] as const) {
      const m = warnThenBug(severity);
      const any = runSchedule(m, first, { depth: 10 });
      expect(any.violation?.property).toBe("first");
      const target = runSchedule(m, first, { depth: 10, target: "refcount-underflow" });
      if (severity === "warn") {
        expect(target.violation?.property).toBe("refcount-underflow");
        expect(target.moves).toHaveLength(3);
      } else {
        // the run ended where the explorer's path ends, without the target
        expect(target.violation?.property).toBe("first");
        expect(target.moves).toHaveLength(1);
      }
    }
  });

  it("a fuzz session looking for the later BUG finds it past the WARN (and reports the WARN's severity)", async () => {
    const def = (severity: Severity) =>
      defineModel({
        name: `warn-then-bug-${severity}`,
        doc: "",
        params: {},
        variants: { v: { options: {}, expect: "holds" } },
        build: () => {
          const m = new ModelBuilder({ folio: array(1, folio(), label), x: int(0, 1) });
          m.property("first", { severity });
          m.thread("t", {}, ({ s, step, if_ }) => [
            step("WARN_ON(x == 0); x = 1", (c) => {
              c.m.check(c.s.x !== 0, "first", "x is 0");
              c.s.x = 1;
            }),
            if_(folio_ref_freeze(s.folio[0]!, 1), [folio_put(s.folio[0]!)]),
          ]);
          return m;
        },
      });
    const later = await fuzzModel(def("warn"), {
      runs: 5,
      seed: 1,
      property: "refcount-underflow",
      confirm: false,
    });
    expect(later.counterexample?.property).toBe("refcount-underflow");
    expect(later.counterexample?.severity).toBe("bug");
    const hidden = await fuzzModel(def("bug"), {
      runs: 5,
      seed: 1,
      property: "refcount-underflow",
      confirm: false,
    });
    expect(hidden.counterexample).toBeUndefined();
    const any = await fuzzModel(def("warn"), { runs: 5, seed: 1, confirm: false });
    expect([any.counterexample?.property, any.counterexample?.severity]).toEqual(["first", "warn"]);
  });
});
