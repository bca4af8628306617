import { describe, it, expect } from "vitest";
import {
  array,
  bool,
  check,
  compileModel,
  either,
  explore,
  int,
  spinlock,
  type CompiledModel,
} from "../../src/index.ts";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.ts";
import { choicesOf, enabledCpus, execute } from "../../src/rt/machine.ts";
import { stateOutcomes } from "../../src/trace/replay.ts";
import { cpu, tiny } from "../helpers.ts";
import counters from "../fixtures/counters.ts";
import endless from "../fixtures/endless.ts";
import peterson from "../../models/classic/peterson.ts";
import flagLock from "../../models/classic/flag-lock.ts";
import philosophers from "../../models/classic/philosophers.ts";

/**
 * A reference explorer, as plain as it gets: states are strings in a Set, successors come from
 * machine.execute. Returns the number of states and transitions, and the BFS depth of the first
 * state where `property` shows.
 */
function naive(model: CompiledModel, property?: string) {
  const key = (b: Int32Array) => b.join(",");
  const seen = new Set([key(model.init)]);
  let layer: Int32Array[] = [model.init.slice()];
  let transitions = 0;
  let firstHit: number | undefined;
  for (let depth = 0; layer.length > 0; depth++) {
    const nextLayer: Int32Array[] = [];
    for (const b of layer) {
      if (property && firstHit === undefined) {
        if (stateOutcomes(model, b).some((o) => o.property === property)) firstHit = depth;
      }
      for (const t of enabledCpus(model, b)) {
        const n = choicesOf(model, t, b);
        for (let c = 0; c < n; c++) {
          const nb = b.slice();
          execute(model, t, c, nb);
          transitions++;
          const k = key(nb);
          if (!seen.has(k)) {
            seen.add(k);
            nextLayer.push(nb);
          }
        }
      }
    }
    layer = nextLayer;
  }
  return { states: seen.size, transitions, firstHit };
}

describe("exact state counts on models counted by hand", () => {
  it("two CPUs doing k independent steps each: (k+1)^2 states", async () => {
    for (const k of [0, 1, 2, 3, 5, 8]) {
      for (const strategy of ["bfs", "dfs"] as const) {
        const r = await explore(compileModel(counters, "plain", { cpus: 2, k }), { strategy });
        expect(r.verdict).toBe("holds");
        expect(r.states).toBe((k + 1) ** 2);
        // each of the two CPUs can step in every state where it has not finished
        expect(r.transitions).toBe(2 * k * (k + 1));
        expect(r.maxDepth).toBe(2 * k);
      }
    }
  });

  it("three CPUs: (k+1)^3 states", async () => {
    for (const k of [1, 2, 4]) {
      const r = await explore(compileModel(counters, "plain", { cpus: 3, k }));
      expect(r.states).toBe((k + 1) ** 3);
    }
  });

  it("a spinlock excludes the states where both CPUs hold it", async () => {
    // each CPU: lock, unlock. pcs 0..2 each (9 pairs) minus "both hold the lock" = 8 states
    const model = tiny({ lock: spinlock() }, (m) => {
      for (const n of [0, 1]) cpu(m, `t${n}`, ({ s }) => [spin_lock(s.lock), spin_unlock(s.lock)]);
    });
    const r = await explore(model);
    expect(r.verdict).toBe("holds");
    expect(r.states).toBe(8);
    // CPU0 may take the lock when CPU1 is before or after it (2), release it (2); same for CPU1
    expect(r.transitions).toBe(8);
  });

  it("lock, critical step, unlock: 4x4 pc pairs minus the 2x2 inside both", async () => {
    const model = tiny({ lock: spinlock(), x: array(2, int(0, 1)) }, (m) => {
      for (const n of [0, 1])
        cpu(m, `t${n}`, ({ s, step }) => [
          spin_lock(s.lock),
          step("x = 1", (c) => {
            c.s.x[n] = 1;
          }),
          spin_unlock(s.lock),
        ]);
    });
    expect((await explore(model)).states).toBe(16 - 4);
  });

  it("either(): one state per alternative, then one per outcome", async () => {
    const model = tiny({ x: int(0, 3) }, (m) => {
      cpu(m, "t", ({ step }) => [
        either(
          "pick",
          [step("x = 1", ({ s }) => void (s.x = 1))],
          [step("x = 2", ({ s }) => void (s.x = 2))],
          [step("x = 3", ({ s }) => void (s.x = 3))],
        ),
      ]);
    });
    const r = await explore(model);
    // initial, 3 after the choice, 3 after the alternative's step
    expect(r.states).toBe(7);
    expect(r.transitions).toBe(6);
  });

  it("two CPUs with a two-way either each: 5 x 5 states", async () => {
    const model = tiny({ x: array(2, int(0, 2)) }, (m) => {
      for (const n of [0, 1])
        cpu(m, `t${n}`, ({ step }) => [
          either(
            "pick",
            [step("x = 1", ({ s }) => void (s.x[n] = 1))],
            [step("x = 2", ({ s }) => void (s.x[n] = 2))],
          ),
        ]);
    });
    expect((await explore(model)).states).toBe(25);
  });

  it("a step with N choices branches N ways", async () => {
    const model = tiny({ x: int(0, 3) }, (m) => {
      cpu(m, "t", ({ step }) => [step("x = choice", ({ s }, c) => void (s.x = c), { choices: 4 })]);
    });
    const r = await explore(model);
    expect(r.states).toBe(5);
    expect(r.transitions).toBe(4);
  });

  it("a while loop: test and body are one step each", async () => {
    const model = tiny({ n: int(0, 3) }, (m) => {
      cpu(m, "t", ({ step, while_ }) => [
        while_(({ s }) => s.n < 3, [step("n++", ({ s }) => void s.n++)]),
      ]);
    });
    // (test,0) (body,0) (test,1) (body,1) (test,2) (body,2) (test,3) (end,3)
    const r = await explore(model);
    expect(r.states).toBe(8);
    expect(r.transitions).toBe(7);
  });

  it("agrees with a naive reference explorer, BFS and DFS, on every classic model", async () => {
    const cases: [CompiledModel, string][] = [
      [compileModel(peterson, "peterson"), "peterson"],
      [compileModel(peterson, "no-turn"), "peterson/no-turn"],
      [compileModel(flagLock, "test-and-set", { cpus: 3 }), "flag-lock 3 cpus"],
      [compileModel(philosophers, "left-then-right", { n: 4 }), "philosophers 4"],
      [compileModel(philosophers, "ordered", { n: 4 }), "philosophers ordered 4"],
    ];
    for (const [model, what] of cases) {
      const ref = naive(model);
      for (const strategy of ["bfs", "dfs"] as const) {
        const r = await explore(model, { strategy });
        expect({ what, strategy, states: r.states, transitions: r.transitions }).toEqual({
          what,
          strategy,
          states: ref.states,
          transitions: ref.transitions,
        });
        expect(r.complete).toBe(true);
      }
    }
  });
});

describe("the classic models", () => {
  it("Peterson's algorithm holds over its whole state space", async () => {
    const r = await explore(compileModel(peterson, "peterson"));
    expect(r.verdict).toBe("holds");
    expect(r.complete).toBe(true);
    expect(r.violations).toEqual([]);
    expect(r.states).toBe(naive(compileModel(peterson, "peterson")).states);
  });

  it("the flag lock is violated, with the shortest trace under BFS", async () => {
    const model = compileModel(flagLock, "test-then-set");
    const bfs = await explore(model);
    expect(bfs.verdict).toBe("violated");
    const v = bfs.violations.find((x) => x.property === "mutual-exclusion")!;
    expect(v.kind).toBe("invariant");
    expect(v.message).toBe("2 CPUs in the critical section");
    // both CPUs read the flag clear (2 steps), both set it and enter (4 steps)
    expect(v.length).toBe(6);
    // the reference explorer finds no violating state nearer the start
    expect(naive(model, "mutual-exclusion").firstHit).toBe(6);
    // DFS finds a violation too, never a shorter one
    const dfs = await explore(model, { strategy: "dfs" });
    const dv = dfs.violations.find((x) => x.property === "mutual-exclusion")!;
    expect(dv.length).toBeGreaterThanOrEqual(6);
  });

  it("the flag lock with 3 CPUs: still 6 steps (two CPUs suffice)", async () => {
    const r = await explore(compileModel(flagLock, "test-then-set", { cpus: 3 }));
    expect(r.violations.map((v) => [v.property, v.length])).toEqual([["mutual-exclusion", 6]]);
  });

  it("the philosophers deadlock; the report names each blocked CPU and the lock's holder", async () => {
    for (const n of [2, 3, 5]) {
      const r = await explore(compileModel(philosophers, "left-then-right", { n }));
      expect(r.verdict).toBe("violated");
      const d = r.violations.find((v) => v.property === "deadlock")!;
      expect(d.kind).toBe("deadlock");
      // each philosopher took its left fork: n steps
      expect(d.length).toBe(n);
      for (let i = 0; i < n; i++) {
        const right = (i + 1) % n;
        expect(d.message).toContain(
          `CPU${i} (philosopher${i}) blocked at spin_lock(&fork${right}): waits for fork${right}, held by CPU${right}`,
        );
      }
    }
    const ordered = await explore(compileModel(philosophers, "ordered", { n: 5 }));
    expect(ordered.verdict).toBe("holds");
  });

  it("Peterson without turn deadlocks after both flags are raised", async () => {
    const r = await explore(compileModel(peterson, "no-turn"));
    const d = r.violations.find((v) => v.property === "deadlock")!;
    expect(d.length).toBe(2);
    expect(d.message).toContain("waits for !flag[1]");
    expect(d.message).toContain("waits for !flag[0]");
  });
});

describe("properties", () => {
  it("an assertion inside a step is reported with the move that fails it", async () => {
    const model = tiny({ refcount: int(0, 2, 1) }, (m) => {
      for (const n of [0, 1])
        cpu(m, `folio_put${n}`, ({ step }) => [
          step("folio_put(F1)", ({ s }) => {
            check(s.refcount > 0, "refcount-underflow", "folio_put() on a zero refcount");
            s.refcount--;
          }),
        ]);
    });
    const r = await explore(model);
    const v = r.violations.find((x) => x.property === "refcount-underflow")!;
    expect(v.kind).toBe("assertion");
    expect(v.length).toBe(2);
    expect(v.schedule.map((mv) => mv.cpu).sort()).toEqual([0, 1]);
  });

  it("an end-state property is checked when every CPU has finished", async () => {
    const model = tiny({ queued: bool(true) }, (m) => {
      cpu(m, "t", ({ step }) => [step("nothing", () => undefined)]);
      m.endState("queue-empty", ({ s }) => !s.queued || "a folio is still queued");
    });
    const r = await explore(model);
    expect(r.violations.map((v) => [v.property, v.kind, v.message, v.length])).toEqual([
      ["queue-empty", "end-state", "a folio is still queued", 1],
    ]);
  });

  it("an unlocked write racing another access is a data race; a locked one is not", async () => {
    const racy = tiny(
      { len: int(0, 2) },
      (m) => {
        for (const n of [0, 1])
          cpu(m, `t${n}`, ({ step }) => [step("len++", ({ s }) => void s.len++)]);
      },
      { races: true },
    );
    const r = await explore(racy);
    const d = r.violations.find((v) => v.property === "data-race")!;
    expect(d.kind).toBe("data-race");
    expect(d.message).toContain("data race on len");
    expect(d.length).toBe(0);

    const locked = tiny(
      { lock: spinlock(), len: int(0, 2) },
      (m) => {
        for (const n of [0, 1])
          cpu(m, `t${n}`, ({ s, step }) => [
            spin_lock(s.lock),
            step("len++", (c) => void c.s.len++),
            spin_unlock(s.lock),
          ]);
      },
      { races: true },
    );
    expect((await explore(locked)).verdict).toBe("holds");
  });

  it("stopAtFirst ends the run at the first violation", async () => {
    const r = await explore(compileModel(philosophers, "left-then-right", { n: 4 }), {
      stopAtFirst: true,
    });
    expect(r.verdict).toBe("violated");
    expect(r.violations).toHaveLength(1);
    expect(r.complete).toBe(true);
  });
});

describe("bounds: the run ends as incomplete, saying what was explored", () => {
  it("max states", async () => {
    const r = await explore(compileModel(counters, "plain", { k: 3 }), { maxStates: 10 });
    expect(r.verdict).toBe("incomplete");
    expect(r.complete).toBe(false);
    expect(r.stopReason).toBe("states");
    expect(r.states).toBe(10);
    expect(r.transitions).toBeGreaterThan(0);
  });

  it("max depth: only states within the depth are explored", async () => {
    const r = await explore(compileModel(counters, "plain", { k: 3 }), { maxDepth: 2 });
    expect(r.verdict).toBe("incomplete");
    expect(r.stopReason).toBe("depth");
    // depth 0: 1 state, depth 1: 2, depth 2: 3
    expect(r.states).toBe(6);
    expect(r.maxDepth).toBe(2);
  });

  it("max seconds", async () => {
    const r = await explore(compileModel(endless, "only"), { maxSeconds: 0.001 });
    expect(r.verdict).toBe("incomplete");
    expect(r.stopReason).toBe("time");
    expect(r.states).toBeGreaterThan(0);
  });

  it("memory budget", async () => {
    const r = await explore(compileModel(endless, "only"), { maxMemory: 1024 });
    expect(r.verdict).toBe("incomplete");
    expect(r.stopReason).toBe("memory");
    expect(r.memoryBytes).toBeGreaterThan(1024);
    expect(r.states).toBeGreaterThan(0);
  });

  it("a stop signal (what Ctrl-C sets) ends the run as interrupted", async () => {
    const signal = { stop: false };
    let calls = 0;
    const r = await explore(compileModel(endless, "only"), {
      signal,
      progressEveryMs: 0,
      onProgress: () => {
        calls++;
        signal.stop = true;
      },
    });
    expect(calls).toBe(1);
    expect(r.verdict).toBe("incomplete");
    expect(r.stopReason).toBe("interrupted");
    expect(r.states).toBeGreaterThan(0);
  });

  it("a violation found before a bound is still reported (violated, not complete)", async () => {
    const model = tiny({ n: int(0, 100), bad: bool() }, (m) => {
      cpu(m, "bug_on", ({ step }) => [step("BUG_ON(1)", () => check(false, "bug", "BUG_ON hit"))]);
      cpu(m, "counter", ({ step }) =>
        Array.from({ length: 100 }, () => step("n++", ({ s }) => void s.n++)),
      );
    });
    const r = await explore(model, { maxStates: 50 });
    expect(r.verdict).toBe("violated");
    expect(r.violations.map((v) => [v.property, v.length])).toEqual([["bug", 1]]);
    expect(r.complete).toBe(false);
    expect(r.stopReason).toBe("states");
    expect(r.states).toBe(50);
  });
});

describe("model errors are reported, not thrown", () => {
  it("a step that throws: verdict error with the trace that led to it", async () => {
    const model = tiny({ x: int(0, 3) }, (m) => {
      cpu(m, "buggy", ({ step }) => [
        step("x = 1", ({ s }) => void (s.x = 1)),
        step("x = 2", ({ s }) => void (s.x = 2)),
        step("boom", () => {
          throw new TypeError("folio is undefined");
        }),
      ]);
    });
    const r = await explore(model);
    expect(r.verdict).toBe("error");
    expect(r.error!.code).toBe("E_STEP");
    expect(r.error!.message).toBe("folio is undefined");
    expect(r.error!.where).toContain("`boom`");
    expect(r.error!.schedule).toHaveLength(3);
    expect(r.error!.stack).toContain("TypeError");
  });

  it("an invariant that throws is a model error naming the invariant", async () => {
    const model = tiny({ x: int(0, 3) }, (m) => {
      cpu(m, "t", ({ step }) => [step("x = 1", ({ s }) => void (s.x = 1))]);
      m.invariant("broken", ({ s }) => {
        if (s.x === 1) throw new Error("oops");
        return true;
      });
    });
    const r = await explore(model);
    expect(r.verdict).toBe("error");
    expect(r.error!.code).toBe("E_PROPERTY");
    expect(r.error!.message).toContain('invariant "broken" threw: oops');
    expect(r.error!.schedule).toHaveLength(1);
  });

  it("a guard that throws is a model error too", async () => {
    const model = tiny({ x: int(0, 3) }, (m) => {
      cpu(m, "t", ({ step }) => [
        step("x = 1", ({ s }) => void (s.x = 1), {
          guard: () => {
            throw new Error("bad guard");
          },
        }),
      ]);
    });
    const r = await explore(model);
    expect(r.verdict).toBe("error");
    expect(r.error!.message).toBe("bad guard");
  });
});
