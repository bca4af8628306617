// The deferred_split_scan() designs of src/kernel/huge_memory.ts (private list, list_lru walk,
// folio_batch), split_huge_page, the hypothetical failing split, the deferred split queue on a
// list_lru, migrate_folio's remap, the observer and lost-membership on the rmap: each against the
// kernel behaviour it claims, with a look-alike that must differ.
import { describe, expect, it } from "vitest";
import {
  __folio_split,
  array,
  counter,
  deferredSplitQueue,
  deferred_split_folio,
  deferred_split_scan_folio_batch,
  deferred_split_scan_list_lru,
  deferred_split_scan_private_list,
  folio,
  folio_put,
  headOf,
  initList,
  int,
  listLru,
  lostMembershipRmap,
  lruKey,
  memcgTree,
  migrate_folio,
  ModelBuilder,
  observer,
  queueLenConsistent,
  rmapFolioFields,
  split_huge_page,
  step,
  useAfterFree,
  type DeferredSplit,
  type World,
} from "../../src/index.ts";
import { messageOf, run, violated } from "./helpers.ts";

const label = { label: (i: number) => `F${i + 1}` };

/** The name of the list head a folio's _deferred_list is on ("" for none). */
function onList(w: World, f: { _deferred_list: { id: number } }): string {
  const h = headOf(w.m, f._deferred_list.id);
  return h < 0 ? "" : w.m.layout.nodeName(h);
}

/** Two mapped folios on one per-node queue: F1 fully mapped, F2 partially mapped. */
function twoQueued(extraRefF2 = 0) {
  const Folio = folio({ maxRef: 4, mapped: true, extra: rmapFolioFields });
  const m = new ModelBuilder({
    ds_queue: deferredSplitQueue({ maxLen: 3 }),
    folio: array(2, Folio, label),
    stat: counter(2),
  });
  const d: DeferredSplit = { queue: m.s.ds_queue, stat: m.s.stat, atomicFlag: true };
  m.init((s) => {
    initList(s.ds_queue.split_queue, [s.folio[0]!._deferred_list, s.folio[1]!._deferred_list]);
    s.ds_queue.split_queue_len = 2;
    s.folio[1]!.partially_mapped = true;
    s.folio[1]!._refcount = 1 + extraRefF2;
    s.stat = 1;
  });
  return { m, d, Folio };
}

describe("deferred_split_scan_private_list (v6.12..v6.17)", () => {
  it("drops a used folio from the queue (removed, split_queue_len -= removed), keeps a partially mapped one it cannot split", async () => {
    const r = await run(() => {
      // F2 has a pin of someone else: split_folio()'s freeze (at 1 + mapped) fails
      const { m, d, Folio } = twoQueued(1);
      m.thread("deferred_split_scan", {}, () => [
        deferred_split_scan_private_list(m.s.ds_queue, d, Folio, {
          safePrev: true,
          underused: false,
          nrToScan: 2,
        }),
      ]);
      // (queue-len is broken while the scan holds folios on its private list: by design)
      m.endState("kept", ({ s, m: mem }) => {
        const w = { m: mem } as World;
        if (onList(w, s.folio[0]!) !== "")
          return "F1 (fully mapped, not underused) is still queued";
        if (onList(w, s.folio[1]!) !== "ds_queue.split_queue") return "F2 left the queue";
        if (s.ds_queue.split_queue_len !== 1)
          return `split_queue_len ${s.ds_queue.split_queue_len}`;
        // the scan's pins are all dropped (F2's prev reference included)
        if (s.folio[0]!._refcount !== 1 || s.folio[1]!._refcount !== 2) return "a pin is left";
        return true;
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(r.complete).toBe(true);
  });

  it("a partially mapped folio it can split is split and dequeued, its flag and statistic cleared", async () => {
    const r = await run(() => {
      const { m, d, Folio } = twoQueued(0);
      m.thread("deferred_split_scan", {}, () => [
        deferred_split_scan_private_list(m.s.ds_queue, d, Folio, {
          safePrev: true,
          underused: false,
          nrToScan: 2,
        }),
      ]);
      m.endState("split", ({ s }) =>
        s.folio[1]!.order === 0 &&
        !s.folio[1]!.partially_mapped &&
        s.stat === 0 &&
        s.ds_queue.split_queue_len === 0
          ? true
          : "F2 not split and dequeued",
      );
      return m;
    });
    expect(r.verdict).toBe("holds");
  });
});

/** One partially mapped folio on a one-sublist list_lru, its last reference dropped by a CPU. */
function lruLostRace(clearBeforeIsolate: boolean) {
  return run(() => {
    const Folio = folio({ maxRef: 3, partiallyMapped: true });
    const m = new ModelBuilder({
      lru: listLru({ maxItems: 2 }),
      folio: array(1, Folio, label),
      stat: counter(1, 1),
    });
    const d: DeferredSplit = { queue: { lru: m.s.lru }, stat: m.s.stat, atomicFlag: true };
    m.init((s) => {
      initList(s.lru.sub[0]!.list, [s.folio[0]!._deferred_list]);
      s.lru.sub[0]!.nr_items = 1;
      s.lru.nr_items[0] = 1;
    });
    m.thread("deferred_split_scan", {}, () => [
      deferred_split_scan_list_lru(m.s.lru, lruKey(0), d, Folio, {
        underused: false,
        nrToScan: 1,
        clearBeforeIsolate,
      }),
    ]);
    m.thread("folio_put", {}, () => [folio_put(m.s.folio[0]!, d)]);
    useAfterFree(m, m.s.folio);
    return m;
  });
}

describe("deferred_split_scan_list_lru (seed 004)", () => {
  it("as posted, the lost-race branch tests the flag after list_lru_isolate(): the free path may free the folio in between", async () => {
    const r = await lruLostRace(false);
    expect(violated(r)).toEqual(["use-after-free"]);
    expect(messageOf(r, "use-after-free")).toContain("folio_test_partially_mapped on F1");
  });

  it("look-alike: the flag cleared before list_lru_isolate() (clearBeforeIsolate) holds", async () => {
    const r = await lruLostRace(true);
    expect(r.verdict).toBe("holds");
    expect(r.complete).toBe(true);
  });
});

describe("the deferred split queue on a list_lru", () => {
  /** memcg0 (root) <- memcg1 <- memcg2; a memcg-aware list_lru; F1 charged to memcg2. */
  function onMemcg(dead: boolean) {
    return run(() => {
      const m = new ModelBuilder({
        memcgs: memcgTree({ count: 3, parents: [-1, 0, 1] }),
        lru: listLru({ memcgs: 3, maxItems: 2 }),
        folio: array(1, folio({ memcgs: 3, memcg: 2, ref: 2 }), label),
        stat: counter(1),
      });
      const d: DeferredSplit = {
        queue: { lru: m.s.lru },
        mc: m.s.memcgs,
        stat: m.s.stat,
        atomicFlag: true,
      };
      m.init((s) => {
        // memcg2's sublist reparented already: lock_list_lru_of_memcg() walks to memcg1's
        if (dead) s.lru.sub[3]!.dead = true;
      });
      const f = m.s.folio[0]!;
      m.thread("zap_pte_range", {}, () => [deferred_split_folio(f, d, true)]);
      m.endState("queued", ({ s, m: mem }) => {
        const want = dead ? "lru.memcg1.node[0].list" : "lru.memcg2.node[0].list";
        const on = onList({ m: mem } as World, s.folio[0]!);
        if (on !== want) return `F1 is on ${on || "no list"}, not ${want}`;
        const bits = s.memcgs.memcg.map((x) => Number(x.shrinker_map[0]));
        return `on ${on}; shrinker bits ${bits.join(",")}; flag ${s.folio[0]!.partially_mapped}; stat ${s.stat}`;
      });
      return m;
    });
  }

  it("deferred_split_folio() queues on the folio's memcg sublist (__list_lru_add) and sets that memcg's shrinker bit", async () => {
    const r = await onMemcg(false);
    expect(messageOf(r, "queued")).toBe(
      "on lru.memcg2.node[0].list; shrinker bits 0,0,1; flag true; stat 1",
    );
  });

  it("look-alike: the memcg's sublist is dead (reparented): the folio goes to the parent's, whose bit is set (the root's never is)", async () => {
    const r = await onMemcg(true);
    expect(messageOf(r, "queued")).toBe(
      "on lru.memcg1.node[0].list; shrinker bits 0,1,0; flag true; stat 1",
    );
  });

  it("the free path's unqueue takes the folio off with __list_lru_del() and clears the flag; a folio on no sublist is left alone", async () => {
    for (const queued of [true, false]) {
      const r = await run(() => {
        const m = new ModelBuilder({
          lru: listLru({ maxItems: 2 }),
          folio: array(1, folio({ partiallyMapped: queued }), label),
          stat: counter(1),
        });
        const d: DeferredSplit = { queue: { lru: m.s.lru }, stat: m.s.stat, atomicFlag: true };
        m.init((s) => {
          if (!queued) return;
          initList(s.lru.sub[0]!.list, [s.folio[0]!._deferred_list]);
          s.lru.sub[0]!.nr_items = 1;
          s.lru.nr_items[0] = 1;
          s.stat = 1;
        });
        m.thread("folio_put", {}, () => [folio_put(m.s.folio[0]!, d)]);
        m.endState("freed", ({ s }) =>
          s.folio[0]!.freed &&
          s.lru.sub[0]!.nr_items === 0 &&
          s.lru.nr_items[0] === 0 &&
          s.stat === 0
            ? true
            : "not unqueued and freed",
        );
        return m;
      });
      expect(r.verdict, `queued ${queued}`).toBe("holds");
    }
  });
});

describe("deferred_split_scan_folio_batch with the double-unqueue check", () => {
  it("the scan's own split_queue_len-- of a folio it found on the queue is no double unqueue", async () => {
    const r = await run(() => {
      const { m, Folio } = twoQueued(1);
      const d: DeferredSplit = {
        queue: m.s.ds_queue,
        stat: m.s.stat,
        atomicFlag: true,
        doubleUnqueue: true,
      };
      m.thread("deferred_split_scan", {}, () => [
        deferred_split_scan_folio_batch(m.s.ds_queue, d, Folio, { underused: false, nrToScan: 2 }),
      ]);
      m.thread("folio_put", {}, () => [folio_put(m.s.folio[0]!, d)]);
      queueLenConsistent(m, m.s.ds_queue);
      return m;
    });
    expect(violated(r)).not.toContain("double-unqueue");
    expect(r.verdict).toBe("holds");
  });
});

describe("split_huge_page and __folio_split", () => {
  it("split_huge_page() splits a large folio and has nothing to do on one already split", async () => {
    const r = await run(() => {
      const { m, d } = twoQueued(0);
      const f2 = m.s.folio[1]!;
      // a caller holding a pin (taken at init below) splits F2 twice
      m.thread("split_huge_page", {}, () => [
        split_huge_page(f2, d),
        split_huge_page(f2, d),
        folio_put(f2, d),
      ]);
      m.init((s) => {
        s.folio[1]!._refcount = 2;
      });
      m.endState("split once", ({ s }) =>
        s.folio[1]!.order === 0 && s.stat === 0 && s.ds_queue.split_queue_len === 1
          ? true
          : "F2 not split",
      );
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  it("mayFail (hypothetical): a split failing after the freeze puts back the flag, the statistic and the queue entry", async () => {
    for (const order of ["lock-then-freeze", "freeze-then-lock"] as const) {
      const r = await run(() => {
        const { m, d } = twoQueued(0);
        const f2 = m.s.folio[1]!;
        m.thread("split", {}, () => [__folio_split(f2, d, { expected: 2, order, mayFail: true })]);
        m.init((s) => {
          s.folio[1]!._refcount = 2;
        });
        // one end state per outcome, each reporting what it finds
        for (const split of [true, false]) {
          m.endState(split ? "split" : "backed out", ({ s, m: mem }) => {
            const f = s.folio[1]!;
            if ((f.order === 0) !== split) return true;
            const queued = onList({ m: mem } as World, f) === "ds_queue.split_queue";
            return `order ${f.order} flag ${f.partially_mapped} stat ${s.stat} queued ${queued} ref ${f._refcount} len ${s.ds_queue.split_queue_len}`;
          });
        }
        return m;
      });
      // both outcomes are reached: split (dequeued, flag cleared) or backed out (all restored)
      const outcomes = r.violations.map((v) => v.message).sort();
      expect(outcomes, order).toEqual([
        "order 0 flag false stat 0 queued false ref 2 len 1",
        "order 9 flag true stat 1 queued true ref 2 len 2",
      ]);
    }
  });
});

describe("migrate_folio's remove_migration_ptes(src, dst)", () => {
  function migrateOf(mappedAtStart: boolean) {
    return run(() => {
      const Folio = folio({ maxRef: 3, mapped: true, extra: rmapFolioFields });
      const m = new ModelBuilder({
        ds_queue: deferredSplitQueue({ maxLen: 2 }),
        folio: array(2, Folio, label),
        stat: counter(2),
      });
      const d: DeferredSplit = { queue: m.s.ds_queue, stat: m.s.stat, atomicFlag: true };
      m.init((s) => {
        s.folio[0]!._refcount = mappedAtStart ? 2 : 1; // the mapping's reference + the isolation pin
        s.folio[0]!.mapped = mappedAtStart;
        s.folio[0]!.pte_partial = mappedAtStart;
        s.folio[1]!.mapped = false;
      });
      m.thread("migrate_pages", {}, () => [
        ...migrate_folio(m.s.folio[0]!, d, { dst: m.s.folio[1]! }),
      ]);
      m.endState(
        "dst",
        ({ s }) =>
          `dst mapped ${s.folio[1]!.mapped} partial ${s.folio[1]!.pte_partial} ref ${s.folio[1]!._refcount}`,
      );
      return m;
    });
  }

  it("maps dst where src's migration entries were, partially if src was partially mapped", async () => {
    expect(messageOf(await migrateOf(true), "dst")).toBe("dst mapped true partial true ref 2");
  });

  it("look-alike: src unmapped before the migration (no migration entries): dst stays unmapped", async () => {
    expect(messageOf(await migrateOf(false), "dst")).toBe("dst mapped false partial false ref 1");
  });
});

describe("observer and lostMembershipRmap", () => {
  function observed(fails: boolean) {
    return run(() => {
      const m = new ModelBuilder({ x: int(0, 2) }, { races: false });
      m.thread("writer", {}, ({ step }) => [
        step("x = 1", ({ s }) => {
          s.x = 1;
        }),
        step("x = 2", ({ s }) => {
          s.x = 2;
        }),
      ]);
      observer(
        m,
        new Map([["x-not-1", (w: World) => !fails || (w.s as { x: number }).x !== 1 || "x is 1"]]),
      );
      return m;
    });
  }

  it("the observer fails a predicate in a state where it does not hold, its trace ending with its step", async () => {
    const r = await observed(true);
    expect(violated(r)).toEqual(["x-not-1"]);
    expect(messageOf(r, "x-not-1")).toBe("x is 1");
  });

  it("look-alike: a predicate that always holds is never reported", async () => {
    expect((await observed(false)).verdict).toBe("holds");
  });

  function lost(queued: boolean) {
    return run(() => {
      const Folio = folio({ mapped: true, extra: rmapFolioFields });
      const m = new ModelBuilder({
        ds_queue: deferredSplitQueue({ maxLen: 1 }),
        folio: array(1, Folio, label),
      });
      m.init((s) => {
        s.folio[0]!.pte_partial = true;
        if (queued) {
          initList(s.ds_queue.split_queue, [s.folio[0]!._deferred_list]);
          s.ds_queue.split_queue_len = 1;
        }
      });
      m.thread("idle", {}, () => [step("nothing", () => undefined)]);
      lostMembershipRmap(m, m.s.folio, [m.s.ds_queue]);
      return m;
    });
  }

  it("lostMembershipRmap: a live, mapped folio with zapped PTEs on no queue at quiescence", async () => {
    expect(violated(await lost(false))).toEqual(["lost-membership"]);
  });

  it("look-alike: the same folio on the queue holds", async () => {
    expect((await lost(true)).verdict).toBe("holds");
  });
});
