// The deferred split queue of src/kernel/huge_memory.ts, shrinker bits and the memcg lifecycle,
// each against the kernel behaviour it claims, with a look-alike that must differ.
import { describe, expect, it } from "vitest";
import { ModelBuilder, type World } from "../../src/model/model.ts";
import { array, bool, ghost } from "../../src/model/schema.ts";
import { Ref } from "../../src/model/ref.ts";
import { headOf } from "../../src/kernel/list.ts";
import { folio, folioName, mthpStat } from "../../src/kernel/folio.ts";
import {
  memcgTree,
  mem_cgroup_css_free,
  mem_cgroup_css_offline,
  shrink_slab,
} from "../../src/kernel/memcg.ts";
import { spin_lock_irqsave, spin_unlock_irqrestore } from "../../src/kernel/spinlock.ts";
import {
  __folio_split,
  deferred_split_folio,
  folio_split_queue_lock,
  folio_unqueue_deferred_split,
  get_deferred_split_queue,
  reparent_deferred_split_queue,
  splitQueues,
  type DeferredSplit,
} from "../../src/kernel/huge_memory.ts";
import {
  list_lru_add,
  listLru,
  list_lru_shrink_walk_memcgs,
  lruKey,
  lruWalkLocals,
  memcg_reparent_list_lrus,
  type ShrinkerBitOwner,
} from "../../src/kernel/list_lru.ts";
import { messageOf, run, violated } from "./helpers.ts";

const label = { label: (i: number) => `F${i + 1}` };

/** The name of the queue head F's _deferred_list is on ("" for none). */
function queueOfFolio(w: World, f: { _deferred_list: Ref }): string {
  const h = headOf(w.m, f._deferred_list.$node(w.m.b));
  return h < 0 ? "" : w.m.layout.nodeName(h);
}

/** root memcg0 <- memcg1 <- memcg2, one node, queues for all three. */
function tree3(extra: Record<string, never> = {}) {
  return {
    memcgs: memcgTree({ count: 3, parents: [-1, 0, 1] }),
    queues: splitQueues({ nodes: 1, memcgs: 3 }),
    folio: array(1, folio({ memcgs: 3, memcg: 2, ref: 2 }), label),
    stat: mthpStat(9, 2),
    ...extra,
  };
}

describe("deferred_split_folio", () => {
  it("VM_WARN_ON_FOLIO: partially_mapped=false on a partially mapped folio warns", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, folio({ partiallyMapped: true }), label),
        queues: splitQueues(),
      });
      const d: DeferredSplit = { queue: m.s.queues };
      m.thread("t", {}, ({ s }) => [deferred_split_folio(s.folio[0]!, d, false)]);
      return m;
    });
    expect(r.error?.message ?? "").toBe("");
    expect(violated(r)).toEqual(["warn-partially-mapped"]);
    expect(messageOf(r, "warn-partially-mapped")).toMatch(
      /deferred_split_folio\(F1, false\) on a folio that is partially mapped/,
    );
  });

  it("no warning for partially_mapped=true, nor for false on a folio that is not partially mapped", async () => {
    for (const [pm, arg] of [
      [true, true],
      [false, false],
    ] as const) {
      const r = await run(() => {
        const m = new ModelBuilder({
          folio: array(1, folio({ partiallyMapped: pm }), label),
          queues: splitQueues(),
        });
        m.thread("t", {}, ({ s }) => [
          deferred_split_folio(s.folio[0]!, { queue: m.s.queues }, arg),
        ]);
        m.endState("queued once", ({ s }) => s.queues.node[0]!.split_queue_len === 1);
        return m;
      });
      expect(r.verdict).toBe("holds");
    }
  });

  it("queues on the folio's memcg queue and sets that memcg's shrinker bit", async () => {
    let where = "";
    const r = await run(() => {
      const m = new ModelBuilder(tree3());
      const d: DeferredSplit = { queue: m.s.queues, mc: m.s.memcgs, stat: m.s.stat };
      m.thread("t", {}, ({ s }) => [deferred_split_folio(s.folio[0]!, d, true)]);
      m.endState("bit and queue", (w) => {
        where = queueOfFolio(w, m.s.folio[0]!);
        const s = w.s as unknown as { memcgs: { memcg: { shrinker_map: boolean[] }[] } };
        return s.memcgs.memcg[2]!.shrinker_map[0] === true || "memcg2's bit is clear";
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(where).toBe("memcg2.ds_queue.split_queue");
  });

  it("a dying memcg: the lookup walks to the parent, whose queue gets the folio and whose bit is set", async () => {
    let where = "";
    const r = await run(() => {
      const m = new ModelBuilder(tree3());
      m.init((s) => {
        s.memcgs.memcg[2]!.dying = true;
      });
      const d: DeferredSplit = { queue: m.s.queues, mc: m.s.memcgs };
      m.thread("t", {}, ({ s }) => [deferred_split_folio(s.folio[0]!, d, true)]);
      m.endState("parent", (w) => {
        where = queueOfFolio(w, m.s.folio[0]!);
        const s = w.s as unknown as { memcgs: { memcg: { shrinker_map: boolean[] }[] } };
        return (
          (s.memcgs.memcg[1]!.shrinker_map[0] === true &&
            s.memcgs.memcg[2]!.shrinker_map[0] === false) ||
          "bits wrong"
        );
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(where).toBe("memcg1.ds_queue.split_queue");
  });

  it("get_deferred_split_queue (v6.12..v6.17) has no dying check: the dying memcg's own queue", async () => {
    let where = "";
    const r = await run(() => {
      const m = new ModelBuilder(tree3());
      m.init((s) => {
        s.memcgs.memcg[2]!.dying = true;
      });
      const d: DeferredSplit = {
        queue: m.s.queues,
        mc: m.s.memcgs,
        lookup: "get_deferred_split_queue",
      };
      m.thread("t", {}, ({ s }) => [deferred_split_folio(s.folio[0]!, d, true)]);
      m.endState("where", (w) => {
        where = queueOfFolio(w, m.s.folio[0]!);
        return true;
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(where).toBe("memcg2.ds_queue.split_queue");
  });
});

describe("the queue evaluated once into a local", () => {
  // CPU0 locks F1's queue, CPU1 moves F1's charge to memcg1 (mem_cgroup_migrate), CPU0 unlocks.
  const recharge = (viaLocal: boolean) => () => {
    // races off: folio_memcg() is a plain read of memcg_data, racing with the recharge
    const m = new ModelBuilder(
      {
        memcgs: memcgTree({ count: 2 }),
        queues: splitQueues({ nodes: 1, memcgs: 2 }),
        folio: array(1, folio({ memcgs: 2, memcg: 0 }), label),
      },
      { races: false },
    );
    const f = m.s.folio[0]!;
    const d: DeferredSplit = {
      queue: m.s.queues,
      mc: m.s.memcgs,
      lookup: "get_deferred_split_queue",
    };
    m.thread("locker", {}, () => {
      if (viaLocal) {
        const q = get_deferred_split_queue(f, d);
        return [...q.lock, q.unlock];
      }
      // the mistake the issue describes: the queue re-evaluated at every use
      const again = new Ref(
        m.s.queues.memcg[0]!.split_queue_lock.$schema,
        m.s.queues.memcg[0]!.split_queue_lock.$lay,
        (b) => m.s.queues.memcg[b[f.memcg.$off(b)]!]!.split_queue_lock.$off(b),
        (b) => m.s.queues.memcg[b[f.memcg.$off(b)]!]!.split_queue_lock.$name(b),
        -1,
        "get_deferred_split_queue(folio)->split_queue_lock",
      );
      return [spin_lock_irqsave(again), spin_unlock_irqrestore(again)];
    });
    m.thread("mem_cgroup_migrate", {}, ({ step }) => [
      step("F1->memcg = memcg1", ({ s }) => {
        s.folio[0]!.memcg = 1;
      }),
    ]);
    return m;
  };
  it("the unlock releases the lock it took, whatever the folio's memcg is by then", async () => {
    expect(violated(await run(recharge(true)))).toEqual([]);
  });
  it("re-evaluating the lookup at the unlock is bad-unlock (look-alike)", async () => {
    const r = await run(recharge(false));
    expect(violated(r)).toContain("bad-unlock");
    expect(messageOf(r, "bad-unlock")).toMatch(/memcg1\.ds_queue\.split_queue_lock/);
  });
});

describe("the queue a folio is found on while its memcg changes", () => {
  // F1 is queued on memcg0's queue; its charge moves to memcg1; the free path's unqueue then
  // locks memcg1's queue and finds F1 "queued" (its list is not empty): the accounting goes to
  // the wrong queue. Migration unqueues BEFORE mem_cgroup_migrate() for this reason.
  const moved = (unqueueFirst: boolean) => () => {
    const m = new ModelBuilder({
      memcgs: memcgTree({ count: 2 }),
      queues: splitQueues({ nodes: 1, memcgs: 2 }),
      folio: array(1, folio({ memcgs: 2, memcg: 0 }), label),
    });
    const f = m.s.folio[0]!;
    const d: DeferredSplit = { queue: m.s.queues, mc: m.s.memcgs };
    const charge = m.thread("t", {}, ({ step }) => {
      const move = step("mem_cgroup_migrate: F1->memcg = memcg1", ({ s }) => {
        s.folio[0]!.memcg = 1;
      });
      return [
        deferred_split_folio(f, d, false),
        ...(unqueueFirst
          ? [folio_unqueue_deferred_split(f, d), move]
          : [move, folio_unqueue_deferred_split(f, d)]),
      ];
    });
    void charge;
    return m;
  };
  it("unqueue after the memcg changed: split_queue_len of the other memcg's queue underflows", async () => {
    const r = await run(moved(false));
    expect(violated(r)).toEqual(["counter-underflow"]);
    expect(messageOf(r, "counter-underflow")).toMatch(/memcg1\.ds_queue\.split_queue_len/);
  });
  it("unqueue before the memcg changes (as migration does): clean", async () => {
    expect(violated(await run(moved(true)))).toEqual([]);
  });
});

describe("reparenting and the memcg lifecycle", () => {
  it("reparent_deferred_split_queue splices onto the parent's queue, moves the count, sets the parent's bit", async () => {
    let where = "";
    const r = await run(() => {
      const m = new ModelBuilder(tree3());
      const d: DeferredSplit = { queue: m.s.queues, mc: m.s.memcgs };
      const f = m.s.folio[0]!;
      m.thread("t", {}, () => [
        deferred_split_folio(f, d, false),
        mem_cgroup_css_offline(m.s.memcgs, 2, [
          reparent_deferred_split_queue(m.s.queues, m.s.memcgs, 2),
        ]),
      ]);
      m.endState("moved", (w) => {
        where = queueOfFolio(w, f);
        const s = w.s as unknown as {
          queues: { memcg: { split_queue_len: number }[] };
          memcgs: { memcg: { shrinker_map: boolean[] }[] };
        };
        return (
          (s.queues.memcg[1]!.split_queue_len === 1 &&
            s.queues.memcg[2]!.split_queue_len === 0 &&
            s.memcgs.memcg[1]!.shrinker_map[0] === true) ||
          "counts or bit wrong"
        );
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(where).toBe("memcg1.ds_queue.split_queue");
  });

  it("racing a queueing: every interleaving leaves F1 on memcg1's queue with consistent counts", async () => {
    const r = await run(() => {
      const m = new ModelBuilder(tree3());
      const d: DeferredSplit = { queue: m.s.queues, mc: m.s.memcgs };
      const f = m.s.folio[0]!;
      m.thread("deferred_split_folio", {}, () => [deferred_split_folio(f, d, true)]);
      m.thread("rmdir", {}, () => [
        mem_cgroup_css_offline(m.s.memcgs, 2, [
          reparent_deferred_split_queue(m.s.queues, m.s.memcgs, 2),
        ]),
      ]);
      m.endState("on memcg1's queue", (w) => {
        const q = queueOfFolio(w, f);
        const s = w.s as unknown as { queues: { memcg: { split_queue_len: number }[] } };
        return (
          (q === "memcg1.ds_queue.split_queue" && s.queues.memcg[1]!.split_queue_len === 1) ||
          `F1 on ${q || "no queue"}, memcg1 len ${s.queues.memcg[1]!.split_queue_len}`
        );
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  it("a freed memcg looked up again is memcg-use-after-free", async () => {
    const r = await run(() => {
      const m = new ModelBuilder(tree3());
      const d: DeferredSplit = { queue: m.s.queues, mc: m.s.memcgs };
      m.thread("t", {}, ({ s }) => [
        mem_cgroup_css_free(m.s.memcgs, 2),
        deferred_split_folio(s.folio[0]!, d, true),
      ]);
      return m;
    });
    expect(violated(r)).toEqual(["memcg-use-after-free"]);
    expect(messageOf(r, "memcg-use-after-free")).toMatch(
      /memcg2, which mem_cgroup_css_free\(\) already freed/,
    );
  });
});

describe("__folio_split", () => {
  it("dequeues a queued folio, clears the flag, splits it to order 0 and unfreezes", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, folio({ ref: 1, partiallyMapped: true }), label),
        queues: splitQueues(),
        stat: mthpStat(9, 1),
        ok: bool(),
      });
      m.init((s) => {
        s.stat[9] = 1;
      });
      const d: DeferredSplit = { queue: m.s.queues, stat: m.s.stat };
      const f = m.s.folio[0]!;
      m.thread("t", {}, ({ step }) => [
        deferred_split_folio(f, d, true),
        __folio_split(f, d, {
          expected: 1,
          ok: [
            step("ok", ({ s }) => {
              s.ok = true;
            }),
          ],
        }),
      ]);
      m.endState("split", ({ s }) => {
        const F = s.folio[0]!;
        return (
          (s.ok &&
            F.order === 0 &&
            F._refcount === 1 &&
            !F.partially_mapped &&
            s.queues.node[0]!.split_queue_len === 0 &&
            s.stat[9] === 0) ||
          "not split as expected"
        );
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  it("a failed freeze (an extra reference) unlocks and leaves the folio queued", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, folio({ ref: 2 }), label),
        queues: splitQueues(),
        failed: bool(),
      });
      const d: DeferredSplit = { queue: m.s.queues };
      const f = m.s.folio[0]!;
      m.thread("t", {}, ({ step }) => [
        deferred_split_folio(f, d, false),
        __folio_split(f, d, {
          expected: 1,
          fail: [
            step("-EAGAIN", ({ s }) => {
              s.failed = true;
            }),
          ],
        }),
        ...folio_split_queue_lock(f, d).lock, // the lock is free again
      ]);
      m.endState(
        "still queued",
        ({ s }) => (s.failed && s.queues.node[0]!.split_queue_len === 1) || "wrong",
      );
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
});

describe("list_lru shrinker bits", () => {
  // memcg2 is dying and its sublist already reparented (dead): list_lru_add(item, memcg2) walks
  // up to memcg1's sublist. The memcg-aware walk must reach the item.
  const reach = (owner: ShrinkerBitOwner) => () => {
    // races off: list_lru_add and memcg_reparent_list_lrus are one step each, their locks taken
    // inside the step, which the race check does not see as held
    const m = new ModelBuilder(
      {
        memcgs: memcgTree({ count: 3, parents: [-1, 0, 1] }),
        lru: listLru({ memcgs: 3 }),
        folio: array(1, folio({ memcgs: 3, memcg: 2 }), label),
        walked: bool(),
        added: ghost(bool()),
        reparented: ghost(bool()),
      },
      { races: false },
    );
    m.init((s) => {
      s.memcgs.memcg[2]!.dying = true;
    });
    const mc = m.s.memcgs;
    m.thread("rmdir", {}, ({ step }) => [
      memcg_reparent_list_lrus(m.s.lru, mc, 2),
      step("reparented", ({ s }) => {
        s.reparented = true;
      }),
    ]);
    m.thread("add", {}, ({ step }) => [
      list_lru_add(m.s.lru, m.s.folio[0]!._deferred_list, lruKey(0, 2), { mc, shrinkerBit: owner }),
      step("added", ({ s }) => {
        s.added = true;
      }),
    ]);
    // a reclaim round after the add and the reparenting, in either order (a round running
    // while the item moves may miss it; the next round must not)
    m.thread("reclaim", lruWalkLocals(listLru({ memcgs: 3 })), ({ l, step, wait_until }) => [
      wait_until("the add and the reparenting are done", ({ s }) => s.added && s.reparented),
      list_lru_shrink_walk_memcgs(
        m.s.lru,
        mc,
        0,
        (w) => [
          step("walked", ({ s }) => {
            s.walked = true;
          }),
          w.ret("LRU_SKIP"),
        ],
        { locals: l },
      ),
    ]);
    m.endState("reachable", (w) => {
      const s = w.s as unknown as { walked: boolean };
      return (
        s.walked ||
        `${folioName(m.s.folio[0]!, w.m.b)} is queued but the memcg-aware walk never reached it`
      );
    });
    return m;
  };
  it("bit on the memcg owning the locked sublist (the series' v4): the walk always reaches the item", async () => {
    const r = await run(reach("locked"));
    expect(r.verdict).toBe("holds");
  });
  it("bit on the memcg passed in (v3): reparent first, then the add: never reached", async () => {
    const r = await run(reach("passed"));
    expect(violated(r)).toEqual(["reachable"]);
  });
  it("shrink_slab visits only memcgs whose bit is set", async () => {
    const visited: string[] = [];
    const r = await run(() => {
      const m = new ModelBuilder({ memcgs: memcgTree({ count: 3 }), seen: array(3, bool()) });
      m.init((s) => {
        s.memcgs.memcg[2]!.shrinker_map[0] = true;
      });
      m.thread("reclaim", {}, ({ step }) => [
        shrink_slab(m.s.memcgs, 0, (memcg) => [
          step(`scan memcg${memcg}`, ({ s }) => {
            s.seen[memcg] = true;
          }),
        ]),
      ]);
      m.endState("seen", ({ s }) => {
        visited.splice(0, visited.length, ...[0, 1, 2].filter((i) => s.seen[i]).map(String));
        return true;
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(visited).toEqual(["0", "2"]); // the root always, memcg2 by its bit, not memcg1
  });
  it("memcg_reparent_list_lrus sets the parent's bit when it moves items", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        memcgs: memcgTree({ count: 3, parents: [-1, 0, 1] }),
        lru: listLru({ memcgs: 3 }),
        folio: array(1, folio({ memcgs: 3, memcg: 2 }), label),
      });
      const mc = m.s.memcgs;
      m.thread("t", {}, () => [
        list_lru_add(m.s.lru, m.s.folio[0]!._deferred_list, lruKey(0, 2), { mc }),
        memcg_reparent_list_lrus(m.s.lru, mc, 2),
      ]);
      m.endState(
        "bits",
        ({ s }) =>
          (s.memcgs.memcg[1]!.shrinker_map[0] === true &&
            s.memcgs.memcg[2]!.shrinker_map[0] === true) ||
          "memcg1's bit not set",
      );
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
});
