// Liveness under weak fairness: termination by default, unfair and endless CPUs, eventually /
// leadsTo, lassos that replay (the cycle closes), and the shortest stem. Each property is tested
// on a scenario that must raise it and on look-alikes that must not.

import { describe, expect, it } from "vitest";
import {
  bool,
  compileModel,
  defineModel,
  either,
  explore,
  goto_,
  int,
  label,
  ModelBuilder,
  type CompiledModel,
} from "../../src/index.ts";
import { explain } from "../../src/check.ts";
import { livenessOutcome, replay, stateOutcomes } from "../../src/trace/replay.ts";
import { execute } from "../../src/rt/machine.ts";
import { CYCLE_MARK } from "../../src/trace/diagram.ts";
import type { CheckResult, ViolationReport } from "../../src/explore/result.ts";
import type { ThreadOptions } from "../../src/model/model.ts";
import type { Fields } from "../../src/model/schema.ts";
import { tiny } from "../helpers.ts";
import mutexStarvation from "../../models/classic/mutex-starvation.ts";
import politeLivelock from "../../models/classic/polite-livelock.ts";

function violation(r: CheckResult, property: string): ViolationReport | undefined {
  return r.violations.find((v) => v.property === property);
}

/** The lasso of `property`: its schedule replays, and the cycle closes and is fair. */
function expectLassoReplays(model: CompiledModel, v: ViolationReport): void {
  expect(v.kind).toBe("liveness");
  const rep = replay(model, v.schedule, { liveness: { property: v.property, cycle: v.cycle } });
  expect(rep.infeasible).toBeUndefined();
  expect(rep.outcomes.map((o) => o.property)).toContain(v.property);
  const o = livenessOutcome(model, v.schedule, v.cycle, v.property);
  expect(typeof o, typeof o === "string" ? o : "").toBe("object");
}

/**
 * A retry loop on a "queued" flag: CPU0 retries (`goto retry`) until it sees the folio queued;
 * CPU1 queues it when `queues`, or (the bug) may decide not to.
 */
function retryModel(opts: { mayNotQueue: boolean }): CompiledModel {
  return tiny({ queued: bool(), done: bool() }, (m) => {
    m.thread("retry", {}, ({ step, if_, when }) => [
      label("retry"),
      if_(
        when("!queued", ({ s }) => !s.queued),
        [goto_("retry")],
      ),
      step("done = true", ({ s }) => {
        s.done = true;
      }),
    ]);
    m.thread("queuer", {}, ({ step }) => [
      opts.mayNotQueue
        ? either(
            "queue it?",
            [
              step("queued = true", ({ s }) => {
                s.queued = true;
              }),
            ],
            [],
          )
        : step("queued = true", ({ s }) => {
            s.queued = true;
          }),
    ]);
  });
}

/** Sets x, then spins while x holds; the invariant "x stays false" breaks on the way in. */
function spinsOnX(severity?: "bug") {
  return tiny({ x: bool() }, (m) => {
    m.thread("t", {}, ({ step, if_, when }) => [
      step("x = true", ({ s }) => {
        s.x = true;
      }),
      label("spin"),
      if_(
        when("x", ({ s }) => s.x),
        [goto_("spin")],
      ),
    ]);
    m.invariant("x stays false", ({ s }) => !s.x, severity ? { severity } : {});
  });
}

describe("termination under weak fairness", () => {
  it("a retry loop that can spin forever is violated: termination, with a lasso that replays", async () => {
    const model = retryModel({ mayNotQueue: true });
    const r = await explore(model);
    expect(r.verdict).toBe("violated");
    const v = violation(r, "termination")!;
    expect(v).toBeDefined();
    expect(v.cycle).toBeDefined();
    // stem: CPU1 decides not to queue (1 move); cycle: CPU0's failing test (a self-loop)
    expect(v.schedule.slice(0, v.cycle)).toEqual([{ cpu: 1, choice: 1 }]);
    expect(v.schedule.slice(v.cycle)).toEqual([{ cpu: 0, choice: 0 }]);
    expect(v.message).toContain("CPU0 (retry) runs forever without finishing");
    expectLassoReplays(model, v);
    const text = explain(model, v);
    expect(text).toContain(CYCLE_MARK);
    // the mark comes before the cycle's first step and after the stem's
    expect(text.indexOf("queue it?")).toBeLessThan(text.indexOf(CYCLE_MARK));
    expect(text.indexOf(CYCLE_MARK)).toBeLessThan(text.indexOf("!queued -> true"));
  });

  it("the same loop with progress guaranteed holds", async () => {
    const r = await explore(retryModel({ mayNotQueue: false }));
    expect(r.verdict).toBe("holds");
    expect(r.liveness).toBe(true);
  });

  it("--no-liveness (liveness: false) skips it: the looping model then holds", async () => {
    const r = await explore(retryModel({ mayNotQueue: true }), { liveness: false });
    expect(r.verdict).toBe("holds");
    expect(r.liveness).toBe(false);
  });

  it("a CPU spinning (a busy loop of steps) on a lock another CPU releases holds", async () => {
    const model = tiny({ locked: int(-1, 1) }, (m) => {
      m.init((s) => {
        s.locked = 1;
      });
      m.thread("spinner", {}, ({ step, if_ }) => [
        label("spin"),
        if_(
          step(
            (_c, r) => `spin_trylock -> ${String(r)}`,
            ({ s }) => {
              if (s.locked !== -1) return false;
              s.locked = 0;
              return true;
            },
          ),
          [],
          [goto_("spin")],
        ),
        step("spin_unlock", ({ s }) => {
          s.locked = -1;
        }),
      ]);
      m.thread("holder", {}, ({ step }) => [
        step("critical section", () => undefined),
        step("spin_unlock", ({ s }) => {
          s.locked = -1;
        }),
      ]);
    });
    const r = await explore(model);
    expect(r.verdict, r.violations.map((v) => v.message).join("\n")).toBe("holds");
    expect(r.transitions).toBeGreaterThan(r.states - 1); // the spin closes cycles
  });

  it("a spin that nothing can release is a termination violation", async () => {
    const model = tiny({ locked: int(-1, 1) }, (m) => {
      m.init((s) => {
        s.locked = 1;
      });
      m.thread("spinner", {}, ({ if_, when }) => [
        label("spin"),
        if_(
          when("locked", ({ s }) => s.locked !== -1),
          [goto_("spin")],
        ),
      ]);
    });
    const r = await explore(model);
    expect(violation(r, "termination")).toBeDefined();
    expect(violation(r, "deadlock")).toBeUndefined();
  });

  it("a bounded retry (a retry counter) holds", async () => {
    const model = tiny({ queued: bool(), tries: int(0, 3) }, (m) => {
      m.thread("retry", {}, ({ step, if_, when }) => [
        label("retry"),
        if_(
          when("!queued && tries < 3", ({ s }) => !s.queued && s.tries < 3),
          [
            step("tries++", ({ s }) => {
              s.tries++;
            }),
            goto_("retry"),
          ],
        ),
      ]);
    });
    expect((await explore(model)).verdict).toBe("holds");
  });

  it("the classic models: a polite livelock, and a test-and-set lock that starves a CPU", async () => {
    const live = await explore(compileModel(politeLivelock, "both-back-off"));
    const v = violation(live, "termination")!;
    expect(v.cycle).toBe(0);
    expectLassoReplays(compileModel(politeLivelock, "both-back-off"), v);
    expect((await explore(compileModel(politeLivelock, "cpu0-has-priority"))).verdict).toBe(
      "holds",
    );
    for (const variant of ["test-and-set", "trylock-spin"]) {
      const model = compileModel(mutexStarvation, variant);
      const r = await explore(model);
      const s = violation(r, "termination")!;
      expect(s.message).toContain("CPU1 (task)");
      expectLassoReplays(model, s);
    }
    expect((await explore(compileModel(mutexStarvation, "ticket"))).verdict).toBe("holds");
  });
});

/** The starving lock of mutex-starvation with the task's ThreadOptions chosen by the test. */
function starvation(task: ThreadOptions, kthread: ThreadOptions = { endless: true }) {
  return tiny({ locked: bool() }, (m) => {
    m.thread(
      "kthread",
      {},
      ({ step }) => [
        label("again"),
        step(
          "spin_lock",
          ({ s }) => {
            s.locked = true;
          },
          { guard: ({ s }) => !s.locked },
        ),
        step("spin_unlock", ({ s }) => {
          s.locked = false;
        }),
        goto_("again"),
      ],
      kthread,
    );
    m.thread(
      "task",
      {},
      ({ step }) => [
        step(
          "spin_lock",
          ({ s }) => {
            s.locked = true;
          },
          { guard: ({ s }) => !s.locked },
        ),
        step("spin_unlock", ({ s }) => {
          s.locked = false;
        }),
      ],
      task,
    );
  });
}

describe("unfair and endless CPUs", () => {
  it("a starved fair CPU is a violation; the same CPU declared unfair (may stop forever) is not", async () => {
    expect(violation(await explore(starvation({})), "termination")).toBeDefined();
    expect((await explore(starvation({ fair: false }))).verdict).toBe("holds");
  });

  it("an unfair CPU that keeps running without finishing is still a violation", async () => {
    const model = tiny({ x: bool() }, (m) => {
      m.thread(
        "unfair-spinner",
        {},
        ({ if_, when }) => [
          label("spin"),
          if_(
            when("!x", ({ s }) => !s.x),
            [goto_("spin")],
          ),
        ],
        { fair: false },
      );
    });
    const r = await explore(model);
    const v = violation(r, "termination")!;
    expect(v.message).toContain("runs forever");
    expectLassoReplays(model, v);
  });

  it("an endless kthread loop need not finish; not marked, it is a termination violation", async () => {
    const kthread = (endless: boolean) =>
      tiny({ work: int(0, 2), done: int(0, 2) }, (m) => {
        m.thread(
          "kthread",
          {},
          ({ step, if_, when }) => [
            label("again"),
            if_(
              when("work > 0", ({ s }) => s.work > 0),
              [
                step("work--; done++", ({ s }) => {
                  s.work--;
                  s.done++;
                }),
              ],
            ),
            goto_("again"),
          ],
          { endless },
        );
        m.thread("producer", {}, ({ step }) => [
          step("work++", ({ s }) => {
            s.work++;
          }),
          step("work++", ({ s }) => {
            s.work++;
          }),
        ]);
      });
    expect((await explore(kthread(true))).verdict).toBe("holds");
    const r = await explore(kthread(false));
    expect(violation(r, "termination")!.message).toContain("CPU0 (kthread)");
  });

  it("an endless kthread blocked once everyone else is done is an end state, not a deadlock", async () => {
    const model = (endless: boolean) =>
      tiny({ work: int(0, 1) }, (m) => {
        m.thread(
          "kthread",
          {},
          ({ step, wait_until }) => [
            label("again"),
            wait_until("work", ({ s }) => s.work > 0),
            step("work--", ({ s }) => {
              s.work--;
            }),
            goto_("again"),
          ],
          { endless },
        );
        m.thread("producer", {}, ({ step }) => [
          step("work++", ({ s }) => {
            s.work++;
          }),
        ]);
        m.endState("work drained", ({ s }) => s.work === 0);
      });
    expect((await explore(model(true))).verdict).toBe("holds");
    expect(violation(await explore(model(false)), "deadlock")).toBeDefined();
    // replay agrees: after the producer's step the kthread can still run: not an end state yet;
    // once it has drained the work and blocks, it is one
    const m = model(true);
    const after = (moves: number[]) => {
      const b = m.init.slice();
      for (const t of moves) execute(m, t, 0, b);
      return stateOutcomes(m, b).map((o) => o.property);
    };
    expect(after([1])).toEqual([]);
    expect(after([1, 0, 0])).toEqual([]);
    const bad = tiny({ work: int(0, 1) }, (b) => {
      b.thread("kthread", {}, ({ wait_until }) => [wait_until("never", () => false)], {
        endless: true,
      });
      b.thread("producer", {}, ({ step }) => [
        step("work++", ({ s }) => {
          s.work++;
        }),
      ]);
      b.endState("work drained", ({ s }) => s.work === 0);
    });
    const b1 = bad.init.slice();
    execute(bad, 1, 0, b1);
    expect(stateOutcomes(bad, b1).map((o) => o.property)).toEqual(["work drained"]);
  });

  it("an endless CPU must not starve the others", async () => {
    // the kthread loops forever and the task waits for a flag the kthread never sets
    const model = tiny({ flag: bool(), n: int(0, 1) }, (m) => {
      m.thread(
        "kthread",
        {},
        ({ step }) => [
          label("again"),
          step("n ^= 1", ({ s }) => {
            s.n ^= 1;
          }),
          goto_("again"),
        ],
        { endless: true },
      );
      m.thread("task", {}, ({ wait_until }) => [wait_until("flag", ({ s }) => s.flag)]);
    });
    const r = await explore(model);
    expect(violation(r, "termination")!.message).toContain("CPU1 (task) never finishes");
  });

  it("rejects an unknown thread option", () => {
    expect(() =>
      tiny({ x: bool() }, (m) => {
        m.thread("t", {}, () => [], { fiar: false } as ThreadOptions);
      }),
    ).toThrow(/unknown option "fiar"/);
  });
});

describe("the lasso's stem is the shortest", () => {
  it("of two ways into the same livelock, the stem takes the shorter", async () => {
    const model = tiny({ a: int(0, 3) }, (m) => {
      m.thread("t", {}, ({ step }) => [
        either(
          "way",
          [
            step("a = 1", ({ s }) => {
              s.a = 1;
            }),
            step("a = 2", ({ s }) => {
              s.a = 2;
            }),
            step("a = 3", ({ s }) => {
              s.a = 3;
            }),
            goto_("spin"),
          ],
          [
            step("a = 3", ({ s }) => {
              s.a = 3;
            }),
          ],
        ),
        label("spin"),
        step("spin", () => undefined),
        goto_("spin"),
      ]);
    });
    for (const strategy of ["bfs", "dfs"] as const) {
      const r = await explore(model, { strategy });
      const v = violation(r, "termination")!;
      // `way` (choice 2), `a = 3`: two moves, then the one-step spin
      expect(v.cycle, strategy).toBe(2);
      expect(v.schedule.length, strategy).toBe(3);
    }
  });
});

/** A one-variant model with eventually / leadsTo properties. */
function liveModel<F extends Fields>(shared: F, fill: (m: ModelBuilder<F>) => void) {
  return compileModel(
    defineModel({
      name: "live",
      doc: "test",
      params: {},
      variants: { only: { options: {}, expect: "holds" } },
      build: () => {
        const m = new ModelBuilder(shared, { races: false });
        fill(m);
        return m;
      },
    }),
    "only",
  );
}

describe("eventually and leadsTo", () => {
  /** CPU0 queues a folio; the scanner scans it (waiting for it to be queued, or not). */
  const queueScan = (waits: boolean) =>
    liveModel({ queued: bool(), scanned: bool(), freed: bool() }, (m) => {
      m.thread("queue", {}, ({ step }) => [
        step("deferred_split_folio", ({ s }) => {
          s.queued = true;
        }),
      ]);
      m.thread("scan", {}, ({ step, if_, when, wait_until }) => [
        ...(waits ? [wait_until("queued", ({ s }) => s.queued)] : []),
        if_(
          when("queued", ({ s }) => s.queued),
          [
            step("scan it", ({ s }) => {
              s.scanned = true;
              s.queued = false;
            }),
          ],
        ),
      ]);
      m.leadsTo(
        "queued-is-scanned",
        ({ s }) => s.queued,
        ({ s }) => s.scanned || s.freed,
      );
      m.eventually("scanned", ({ s }) => s.scanned);
    });

  it("a queued folio that is never scanned: a run to an end state where q never came", async () => {
    const model = queueScan(false);
    const r = await explore(model);
    expect(r.verdict).toBe("violated");
    const v = violation(r, "queued-is-scanned")!;
    expect(v.cycle).toBeUndefined();
    expect(v.message).toContain("no CPU can move");
    expectLassoReplays(model, v);
    expect(violation(r, "scanned")).toBeDefined();
    expect(violation(r, "termination")).toBeUndefined();
  });

  it("the scanner that waits for the folio: both hold", async () => {
    const r = await explore(queueScan(true));
    expect(r.verdict, r.violations.map((v) => v.message).join("\n")).toBe("holds");
  });

  it("a fair cycle where q never holds is a lasso; a q that holds on the way is not broken", async () => {
    const model = liveModel({ n: int(0, 1), hit: bool() }, (m) => {
      m.thread(
        "ticker",
        {},
        ({ step }) => [
          label("again"),
          step("n ^= 1", ({ s }) => {
            s.n ^= 1;
          }),
          goto_("again"),
        ],
        { endless: true },
      );
      m.eventually("hit", ({ s }) => s.hit);
      m.eventually("n-is-1", ({ s }) => s.n === 1);
      m.leadsTo(
        "n1-leads-to-n0",
        ({ s }) => s.n === 1,
        ({ s }) => s.n === 0,
      );
    });
    const r = await explore(model);
    expect(r.violations.map((v) => v.property)).toEqual(["hit"]);
    const v = violation(r, "hit")!;
    expect(v.cycle).toBe(0);
    expect(v.schedule.length).toBe(2);
    expectLassoReplays(model, v);
  });

  it("unfairness lets a CPU stop: eventually(its effect) breaks only when it is unfair", async () => {
    const model = (fair: boolean) =>
      liveModel({ n: int(0, 1), set: bool() }, (m) => {
        m.thread(
          "ticker",
          {},
          ({ step }) => [
            label("again"),
            step("n ^= 1", ({ s }) => {
              s.n ^= 1;
            }),
            goto_("again"),
          ],
          { endless: true },
        );
        m.thread(
          "setter",
          {},
          ({ step }) => [
            step("set = true", ({ s }) => {
              s.set = true;
            }),
          ],
          { fair },
        );
        m.eventually("set", ({ s }) => s.set);
      });
    expect((await explore(model(true))).verdict).toBe("holds");
    const r = await explore(model(false));
    expect(r.violations.map((v) => v.property)).toEqual(["set"]);
  });

  it("kernel style: a folio queued on a dying memcg's list_lru is eventually scanned only if reparenting sets the parent's shrinker bit", async () => {
    // deferred_split_folio() adds to the child memcg's sublist (list_lru_add sets its shrinker
    // bit; a dying child's lookup walks up to the parent); memcg offline reparents the child's
    // sublist into the parent's; the shrinker is a kthread loop that scans a memcg only when its
    // bit is set, and clears the bit when it finds the sublist empty (SHRINK_EMPTY).
    const model = (setsBit: boolean) =>
      liveModel(
        {
          child_items: int(0, 1),
          parent_items: int(0, 2),
          child_bit: bool(),
          parent_bit: bool(),
          child_dying: bool(),
          scanned: bool(),
        },
        (m) => {
          m.thread("deferred_split_folio", {}, ({ step }) => [
            step("list_lru_add(&ds_queue, &folio->_deferred_list)", ({ s }) => {
              if (s.child_dying) {
                s.parent_items++;
                s.parent_bit = true;
              } else {
                s.child_items++;
                s.child_bit = true;
              }
            }),
          ]);
          m.thread("mem_cgroup_css_offline", {}, ({ step }) => [
            step("memcg_reparent_list_lrus(child, parent)", ({ s }) => {
              s.child_dying = true;
              const moved = s.child_items;
              s.parent_items += moved;
              s.child_items = 0;
              if (setsBit && moved > 0) s.parent_bit = true;
            }),
          ]);
          m.thread(
            "shrinker",
            {},
            ({ step }) => [
              label("again"),
              step("shrink_slab_memcg(child)", ({ s }) => {
                if (s.child_dying || !s.child_bit) return;
                if (s.child_items > 0) {
                  s.child_items = 0;
                  s.scanned = true;
                } else s.child_bit = false;
              }),
              step("shrink_slab_memcg(parent)", ({ s }) => {
                if (!s.parent_bit) return;
                if (s.parent_items > 0) {
                  s.parent_items = 0;
                  s.scanned = true;
                } else s.parent_bit = false;
              }),
              goto_("again"),
            ],
            { endless: true },
          );
          m.leadsTo(
            "queued-is-scanned",
            ({ s }) => s.child_items + s.parent_items > 0,
            ({ s }) => s.scanned,
          );
        },
      );
    const buggy = model(false);
    const r = await explore(buggy);
    expect(r.violations.map((v) => v.property)).toEqual(["queued-is-scanned"]);
    const v = violation(r, "queued-is-scanned")!;
    expect(v.cycle).toBeDefined();
    expectLassoReplays(buggy, v);
    // the cycle is the shrinker passing over both memcgs, the parent's bit clear
    expect(v.schedule.slice(v.cycle).every((mv) => mv.cpu === 2)).toBe(true);
    expect((await explore(model(true))).verdict).toBe("holds");
  });

  it("a predicate that throws is a model error naming the property", async () => {
    const model = liveModel({ x: bool() }, (m) => {
      m.thread("t", {}, ({ step }) => [step("x", () => undefined)]);
      m.eventually("boom", () => {
        throw new Error("bad predicate");
      });
    });
    const r = await explore(model);
    expect(r.verdict).toBe("error");
    expect(r.error!.message).toContain('liveness property "boom" threw: bad predicate');
  });

  it("rejects a duplicate or reserved name", () => {
    expect(() =>
      liveModel({ x: bool() }, (m) => {
        m.eventually("termination", ({ s }) => s.x);
      }),
    ).toThrow(/declared twice/);
  });
});

describe("limits", () => {
  it("more than 32 CPUs: the liveness check is off (never a silent holds for it)", async () => {
    const many = tiny({ x: bool() }, (m) => {
      for (let i = 0; i < 33; i++) m.thread(`t${i}`, {}, () => []);
    });
    const r = await explore(many);
    expect(r.liveness).toBe(false);
    const few = tiny({ x: bool() }, (m) => {
      for (let i = 0; i < 32; i++) m.thread(`t${i}`, {}, () => []);
    });
    expect((await explore(few)).liveness).toBe(true);
  });

  it("stop at the first violation: a safety violation found first skips the liveness analysis", async () => {
    const model = spinsOnX();
    const first = await explore(model, { stopAtFirst: true });
    expect(first.violations.map((v) => v.property)).toEqual(["x stays false"]);
  });
});

describe("incomplete runs", () => {
  it("a run cut by a bound does not claim termination holds", async () => {
    const r = await explore(retryModel({ mayNotQueue: false }), { maxStates: 2 });
    expect(r.verdict).toBe("incomplete");
  });

  it("states not expanded (an invariant broke there) make no false lasso", async () => {
    // every state of the would-be livelock breaks a BUG-style invariant: the search does not go on
    const model = spinsOnX("bug");
    const r = await explore(model);
    expect(r.violations.map((v) => v.property)).toEqual(["x stays false"]);
  });

  it("past a WARN-style invariant the search goes on, and the spin behind it is found", async () => {
    const model = spinsOnX();
    const r = await explore(model);
    expect(r.violations.map((v) => v.property).sort()).toEqual(["termination", "x stays false"]);
  });

  it("a depth bound makes no false lasso and no holds", async () => {
    const r = await explore(retryModel({ mayNotQueue: false }), { maxDepth: 1 });
    expect(r.verdict).toBe("incomplete");
    expect(violation(r, "termination")).toBeUndefined();
  });
});
