// lockdep, built in: lock protection (`wrong-lock`) and lock order (`lock-order`), each on
// scenarios that must raise it and on look-alikes that must not.
import { describe, it, expect } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { defineModel, ModelBuilder } from "../../src/model/model.ts";
import { array, bool, int, listHead, spinlock } from "../../src/model/schema.ts";
import { protectedBy } from "../../src/model/schema.ts";
import { if_ } from "../../src/model/dsl.ts";
import { list_add_tail, list_del_init, list_empty } from "../../src/kernel/list.ts";
import {
  SINGLE_DEPTH_NESTING,
  spin_lock,
  spin_lock_nested,
  spin_trylock,
  spin_unlock,
} from "../../src/kernel/spinlock.ts";
import { data_race, lockdep_assert_held, READ_ONCE } from "../../src/kernel/lockdep.ts";
import { counter_inc, folio } from "../../src/kernel/folio.ts";
import {
  deferredSplitQueue,
  folio_split_queue_lock,
  splitQueues,
  type DeferredSplit,
} from "../../src/kernel/huge_memory.ts";
import { checkVariant } from "../../src/check.ts";
import { lockOrderOutcome, replay } from "../../src/trace/replay.ts";
import { parseSchedule } from "../../src/trace/schedule.ts";
import { fuzzModel } from "../../src/fuzz/index.ts";
import { messageOf, run, violated } from "./helpers.ts";
import { cli } from "../helpers.ts";

const label = { label: (i: number) => `F${i}` };

describe("wrong-lock: lock protection", () => {
  /** A counter protected by `lock`; the CPU holds `held` (or nothing) while it increments it. */
  const counterModel = (held: "lock" | "other" | "none") => () => {
    const m = new ModelBuilder({
      lock: spinlock(),
      other: spinlock(),
      nr: protectedBy(int(0, 2), "lock"),
    });
    m.thread("t", {}, ({ s }) => {
      const l = held === "lock" ? s.lock : s.other;
      const body = [counter_inc(s.nr)];
      return held === "none" ? body : [spin_lock(l), ...body, spin_unlock(l)];
    });
    return m;
  };

  it("touching a protected counter with no lock held is wrong-lock, naming the lock needed", async () => {
    const r = await run(counterModel("none"));
    expect(violated(r)).toEqual(["wrong-lock"]);
    expect(messageOf(r, "wrong-lock")).toBe(
      "wrong lock: CPU0 touches nr, which is protected by lock, while holding no lock (lockdep_assert_held(&lock) fails)",
    );
  });

  it("holding another lock of the model instead is wrong-lock naming both", async () => {
    const r = await run(counterModel("other"));
    expect(violated(r)).toEqual(["wrong-lock"]);
    expect(messageOf(r, "wrong-lock")).toContain("protected by lock, while holding other");
  });

  it("look-alike: the right lock held holds", async () => {
    const r = await run(counterModel("lock"));
    expect(r.verdict).toBe("holds");
  });

  it("look-alike: a lockless READ_ONCE or data_race() read of the counter is no wrong-lock", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        lock: spinlock(),
        nr: protectedBy(int(0, 2), "lock"),
        seen: int(0, 2),
      });
      m.thread("writer", {}, ({ s }) => [
        spin_lock(s.lock),
        counter_inc(s.nr),
        spin_unlock(s.lock),
      ]);
      m.thread("reader", {}, ({ step }) => [
        step("seen = READ_ONCE(nr)", (c) => {
          c.s.seen = READ_ONCE(c, m.s.nr);
        }),
        step("seen = data_race(nr)", (c) => {
          c.s.seen = data_race(c, () => c.s.nr);
        }),
      ]);
      return m;
    });
    // the READ_ONCE against the plain increment is still a data race (LKMM: one access plain)
    expect(violated(r)).toEqual(["data-race"]);
    expect(messageOf(r, "data-race")).toContain("seen = READ_ONCE(nr)");
  });

  it("ModelBuilder.protect() declares the same protection", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ lock: spinlock(), nr: int(0, 2) });
      m.protect(m.s.nr, m.s.lock);
      m.thread("t", {}, ({ s }) => [counter_inc(s.nr)]);
      return m;
    });
    expect(violated(r)).toEqual(["wrong-lock"]);
    expect(() => {
      const m = new ModelBuilder({ lock: spinlock(), nr: int(0, 2) });
      m.protect(m.s.nr, m.s.nr as never);
    }).toThrow(/is not a spinlock/);
  });

  /**
   * The motivating bug: F0 sits on its memcg's deferred split queue; a CPU that picked the node's
   * queue (memcg_queue vs node_queue: one lock class, two locks) unlinks it under the node
   * queue's lock.
   */
  const unqueueModel = (right: boolean) => () => {
    const Folio = folio({ memcgs: 1, memcg: 0 });
    const m = new ModelBuilder(
      { folio: array(1, Folio, label), queues: splitQueues({ nodes: 1, memcgs: 1 }) },
      { races: false },
    );
    const F = m.s.folio[0]!;
    const d: DeferredSplit = { queue: m.s.queues, lookup: "get_deferred_split_queue" };
    m.thread("queue", {}, () => {
      const q = folio_split_queue_lock(F, d, "plain");
      return [
        ...q.lock,
        list_add_tail(F._deferred_list, q.ds_queue.split_queue),
        counter_inc(q.ds_queue.split_queue_len),
        q.unlock,
      ];
    });
    m.thread("unqueue", {}, () => {
      const q = folio_split_queue_lock(F, d, "plain");
      const node = m.s.queues.node[0]!;
      return right
        ? [
            ...q.lock,
            if_(list_empty(F._deferred_list), [], [list_del_init(F._deferred_list)]),
            q.unlock,
          ]
        : [
            spin_lock(node.split_queue_lock),
            if_(list_empty(F._deferred_list), [], [list_del_init(F._deferred_list)]),
            spin_unlock(node.split_queue_lock),
          ];
    });
    return m;
  };

  it("unlinking a folio on the memcg queue under the node queue's lock is wrong-lock", async () => {
    const r = await run(unqueueModel(false));
    expect(violated(r)).toEqual(["wrong-lock"]);
    expect(messageOf(r, "wrong-lock")).toBe(
      "wrong lock: CPU1 touches list_del_init(&F0._deferred_list) on memcg0.ds_queue.split_queue, which is protected by " +
        "memcg0.ds_queue.split_queue_lock, while holding pgdat0.ds_queue.split_queue_lock (lockdep_assert_held(&memcg0.ds_queue.split_queue_lock) fails)",
    );
  });

  it("look-alike: the queue get_deferred_split_queue() picks (once, into a local) holds", async () => {
    const r = await run(unqueueModel(true));
    expect(r.verdict).toBe("holds");
  });

  it("look-alike: a private (on-stack) list without a lock is never wrong-lock", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label), lock: spinlock() });
      m.thread("t", { priv: listHead() }, ({ l }) => [
        list_add_tail(m.s.folio[0]!._deferred_list, l.priv),
        list_del_init(m.s.folio[0]!._deferred_list),
      ]);
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  it("lockdep_assert_held() fails unless this very CPU holds the lock", async () => {
    const build = (take: boolean) => () => {
      const m = new ModelBuilder({ lock: spinlock(), flag: bool() });
      m.thread("t", {}, ({ s }) =>
        take
          ? [spin_lock(s.lock), lockdep_assert_held(s.lock), spin_unlock(s.lock)]
          : [lockdep_assert_held(s.lock)],
      );
      m.thread("other", {}, ({ s }) => [spin_lock(s.lock), spin_unlock(s.lock)]);
      return m;
    };
    const bad = await run(build(false));
    expect(violated(bad)).toEqual(["wrong-lock"]);
    expect(messageOf(bad, "wrong-lock")).toMatch(
      /^wrong lock: lockdep_assert_held\(&lock\) fails: CPU0 holds no lock$/,
    );
    expect((await run(build(true))).verdict).toBe("holds");
  });

  it("wrong-lock is a warning (lockdep_assert_held is a WARN_ON): the access happens and the search goes on", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ lock: spinlock(), nr: protectedBy(int(0, 2), "lock") });
      m.thread("t", {}, ({ s, assert_ }) => [
        counter_inc(s.nr),
        assert_("after", "nr was incremented", ({ s }) => s.nr === 0),
      ]);
      return m;
    });
    // the increment took place (nr is 1), so the later BUG-style assertion fails too
    expect(violated(r)).toEqual(["after", "wrong-lock"]);
    expect(r.violations.find((v) => v.property === "after")!.length).toBe(2);
  });

  it("lockdep: false turns the check off", async () => {
    const r = await run(() => {
      const m = new ModelBuilder(
        { lock: spinlock(), nr: protectedBy(int(0, 2), "lock") },
        {
          lockdep: false,
        },
      );
      m.thread("t", {}, ({ s }) => [counter_inc(s.nr)]);
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
});

describe("lock-order", () => {
  /**
   * CPU0 takes A then B; CPU1 waits until CPU0 is done, then takes B then A. No state of the
   * search deadlocks, but the two orders make a cycle. `same` makes CPU1 take A then B too.
   */
  const abba = (same: boolean) =>
    defineModel({
      name: "abba",
      doc: "AB-BA without a reachable deadlock",
      params: {},
      variants: { v: { options: {}, expect: same ? "holds" : { violated: ["lock-order"] } } },
      build: () => {
        const m = new ModelBuilder({ A: spinlock(), B: spinlock(), done: bool() });
        m.thread("first", {}, ({ s, step }) => [
          spin_lock(s.A),
          spin_lock(s.B),
          spin_unlock(s.B),
          spin_unlock(s.A),
          step("done = true", ({ s }) => void (s.done = true)),
        ]);
        const [x, y] = same ? [m.s.A, m.s.B] : [m.s.B, m.s.A];
        m.thread("second", {}, ({ wait_until }) => [
          wait_until("done", ({ s }) => s.done),
          spin_lock(x),
          spin_lock(y),
          spin_unlock(y),
          spin_unlock(x),
        ]);
        m.invariant("done-is-read", ({ s }) => typeof s.done === "boolean");
        return m;
      },
    });

  it("an AB-BA inversion is reported with both acquisition paths, though nothing deadlocks", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "interleave-lockdep-"));
    try {
      const c = await checkVariant(abba(false), "v", { saveTo: tmp, file: "x.ts" });
      const r = c.result;
      expect(violated(r)).toEqual(["lock-order"]);
      expect(r.complete).toBe(true);
      const v = r.violations[0]!;
      expect(v.kind).toBe("lock-order");
      expect(v.message).toContain("possible circular locking dependency: ");
      expect(v.message).toContain("CPU0 (first) takes B while holding A: `spin_lock(&B)`");
      expect(v.message).toContain("CPU1 (second) takes A while holding B: `spin_lock(&A)`");
      expect(v.paths!.map((p) => `${p.from}->${p.to}`).sort()).toEqual(["A->B", "B->A"]);
      // each path replays to the step that takes its edge; together they close the cycle
      const model = c.model;
      for (const p of v.paths!) expect(replay(model, p.schedule).infeasible).toBeUndefined();
      // A -> B alone (CPU0's path) is no cycle; CPU1's path, after CPU0's, has both orders
      const ab = v.paths!.find((p) => p.from === "A")!;
      expect(lockOrderOutcome(model, [ab.schedule])).toBeUndefined();
      expect(
        lockOrderOutcome(
          model,
          v.paths!.map((p) => p.schedule),
        )?.property,
      ).toBe("lock-order");
      // the saved counterexample keeps every path, and its diagram shows them
      const saved = JSON.parse(readFileSync(v.file!, "utf8")) as {
        paths: { from: string; to: string; schedule: string }[];
        diagram: string[];
      };
      expect(saved.paths).toHaveLength(2);
      expect(parseSchedule(saved.paths[1]!.schedule).length).toBeGreaterThan(0);
      expect(saved.diagram.join("\n")).toMatch(/path 1 of 2: takes \w while holding \w/);
      expect(saved.diagram.join("\n")).toContain("path 2 of 2");
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("look-alike: the same order everywhere holds", async () => {
    const c = await checkVariant(abba(true), "v");
    expect(c.result.verdict).toBe("holds");
  });

  it("a spin_trylock adds no edge to the lock it takes (it cannot wait)", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ A: spinlock(), B: spinlock() });
      m.thread("t0", {}, ({ s }) => [
        spin_lock(s.A),
        if_(spin_trylock(s.B), [spin_unlock(s.B)]),
        spin_unlock(s.A),
      ]);
      m.thread("t1", {}, ({ s }) => [
        spin_lock(s.B),
        spin_lock(s.A),
        spin_unlock(s.A),
        spin_unlock(s.B),
      ]);
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  /** Two deferred split queues (one lock class): `nested` annotates the inner lock. */
  const twoQueues = (nested: boolean) => () => {
    const m = new ModelBuilder({ parent: deferredSplitQueue(), child: deferredSplitQueue() });
    m.thread("reparent", {}, ({ s }) => [
      spin_lock(s.parent.split_queue_lock),
      nested
        ? spin_lock_nested(s.child.split_queue_lock, SINGLE_DEPTH_NESTING)
        : spin_lock(s.child.split_queue_lock),
      spin_unlock(s.child.split_queue_lock),
      spin_unlock(s.parent.split_queue_lock),
    ]);
    return m;
  };

  it("two locks of one class nested without spin_lock_nested() is possible recursive locking", async () => {
    const r = await run(twoQueues(false));
    expect(violated(r)).toEqual(["lock-order"]);
    expect(messageOf(r, "lock-order")).toContain(
      "possible recursive locking: deferred_split.split_queue_lock taken while a lock of the same class is held",
    );
  });

  it("look-alike: spin_lock_nested(..., SINGLE_DEPTH_NESTING) says the nesting is intended", async () => {
    const r = await run(twoQueues(true));
    expect(r.verdict).toBe("holds");
  });

  it("by class, an inversion between two instances is found even when no CPU pair shares both", async () => {
    // CPU0: q0 (class Q) then L; CPU1: L then q1 (class Q). Instances never conflict; the
    // classes do: Q -> L -> Q. By instance there is no cycle.
    const build = (order: "class" | "instance") => () => {
      const m = new ModelBuilder(
        { q: array(2, deferredSplitQueue()), L: spinlock() },
        { lockdep: { order } },
      );
      m.thread("a", {}, ({ s }) => [
        spin_lock(s.q[0]!.split_queue_lock),
        spin_lock(s.L),
        spin_unlock(s.L),
        spin_unlock(s.q[0]!.split_queue_lock),
      ]);
      m.thread("b", {}, ({ s }) => [
        spin_lock(s.L),
        spin_lock(s.q[1]!.split_queue_lock),
        spin_unlock(s.q[1]!.split_queue_lock),
        spin_unlock(s.L),
      ]);
      return m;
    };
    const byClass = await run(build("class"));
    expect(violated(byClass)).toEqual(["lock-order"]);
    expect(messageOf(byClass, "lock-order")).toMatch(
      /possible circular locking dependency: (L -> deferred_split\.split_queue_lock -> L|deferred_split\.split_queue_lock -> L -> deferred_split\.split_queue_lock);/,
    );
    expect((await run(build("instance"))).verdict).toBe("holds");
  });

  it("the fuzzer finds an inversion within one run, and its saved schedule replays", async () => {
    const r = await fuzzModel(abba(false), { variant: "v", runs: 200, seed: 3, confirm: false });
    expect(r.counterexample?.property).toBe("lock-order");
    const cx = r.counterexample!;
    const rep = replay(cx.model, cx.shrunk.moves);
    expect(rep.outcomes.map((o) => o.property)).toContain("lock-order");
  });

  it("replay FILE of a saved lock-order counterexample reproduces it over its paths", async () => {
    const r = await cli(
      "replay",
      "counterexamples/philosophers/left-then-right/lock-order.json",
      "--json",
    );
    const out = JSON.parse(r.stdout) as { reproduced: boolean; outcomes: { property: string }[] };
    expect(out.reproduced).toBe(true);
    expect(r.code).toBe(1);
  });
});
