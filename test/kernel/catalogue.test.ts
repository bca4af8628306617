import { describe, it, expect } from "vitest";
import { ModelBuilder } from "../../src/model/model.ts";
import { array, bool, listHead, spinlock } from "../../src/model/schema.ts";
import { list_add_tail, list_del_init, list_move } from "../../src/kernel/list.ts";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.ts";
import {
  counter_inc,
  folio,
  folio_put,
  folio_set_partially_mapped,
  free_folio,
  mthpStat,
} from "../../src/kernel/folio.ts";
import {
  collect,
  deferredSplitProperties,
  listIntegrity,
  lostMembership,
  partiallyMappedCounter,
  PROP,
  queueLenConsistent,
  staleMembership,
  useAfterFree,
} from "../../src/kernel/catalogue.ts";
import {
  deferredSplitQueue,
  deferred_split_folio,
  unqueue_accounting,
  type DeferredSplit,
} from "../../src/kernel/huge_memory.ts";
import { messageOf, run, violated } from "./helpers.ts";

const label = { label: (i: number) => `F${i}` };

describe("property catalogue", () => {
  it("queue-len: a folio added without split_queue_len++ is caught once the lock is free", async () => {
    for (const withInc of [false, true]) {
      const r = await run(() => {
        const m = new ModelBuilder({ folio: array(1, folio(), label), ds: deferredSplitQueue() });
        m.thread("t", {}, ({ s }) => [
          spin_lock(s.ds.split_queue_lock),
          list_add_tail(s.folio[0]!._deferred_list, s.ds.split_queue),
          ...(withInc ? [counter_inc(s.ds.split_queue_len)] : []),
          spin_unlock(s.ds.split_queue_lock),
        ]);
        queueLenConsistent(m, m.s.ds);
        return m;
      });
      if (withInc) expect(r.verdict).toBe("holds");
      else {
        expect(violated(r)).toEqual([PROP.queueLen]);
        expect(messageOf(r, "queue-len")).toMatch(
          /ds\.split_queue_len is 0 but ds\.split_queue holds 1 entry/,
        );
        expect(r.violations[0]!.length).toBe(3);
      }
    }
  });

  it("stale-membership: a folio moved to a private list is non-empty but on no queue", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(2, folio(), label), ds: deferredSplitQueue() });
      m.thread("scan", { list: listHead() }, ({ s, l }) => [
        spin_lock(s.ds.split_queue_lock),
        list_add_tail(s.folio[1]!._deferred_list, s.ds.split_queue),
        list_move(s.folio[1]!._deferred_list, l.list),
        spin_unlock(s.ds.split_queue_lock),
      ]);
      staleMembership(m, m.s.folio, [m.s.ds]);
      return m;
    });
    expect(violated(r)).toEqual([PROP.staleMembership]);
    expect(messageOf(r, "stale-membership")).toMatch(
      /!list_empty\(&F1->_deferred_list\) but F1 is on no queue \(it is on CPU0\.list\)/,
    );
  });

  it("list-integrity: inconsistent pointers on a locked list, and a private list at quiescence", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label), ds: deferredSplitQueue() });
      m.init((s) => {
        // head->next = F0, F0->next = head, F0->prev = head, but head->prev = head
        const h = s.ds.split_queue;
        const n = s.folio[0]!._deferred_list;
        h.next = n.id;
        n.next = h.id;
        n.prev = h.id;
      });
      m.thread("t", {}, () => []);
      listIntegrity(m, [m.s.ds]);
      return m;
    });
    expect(messageOf(r, "list-integrity")).toMatch(
      /ds\.split_queue: F0\._deferred_list->next is ds\.split_queue but ds\.split_queue->prev is ds\.split_queue/,
    );

    const priv = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, folio(), label),
        lock: spinlock(),
        list: listHead(),
      });
      m.init((s) => {
        s.list.next = s.folio[0]!._deferred_list.id; // torn: only one pointer written
      });
      m.thread("t", {}, () => []);
      listIntegrity(m, [m.s.list]);
      return m;
    });
    expect(violated(priv)).toEqual(["list-integrity"]);
    expect(priv.violations[0]!.kind).toBe("end-state");
  });

  it("use-after-free invariant: a folio freed while linked leaves the list pointing at freed memory", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label), ds: deferredSplitQueue() });
      m.thread("t", {}, ({ s }) => [
        spin_lock(s.ds.split_queue_lock),
        list_add_tail(s.folio[0]!._deferred_list, s.ds.split_queue),
        spin_unlock(s.ds.split_queue_lock),
        folio_put(s.folio[0]!, [free_folio(s.folio[0]!, { checkDeferredList: false })]),
      ]);
      useAfterFree(m, m.s.folio);
      return m;
    });
    expect(violated(r)).toEqual(["use-after-free"]);
    expect(messageOf(r, "use-after-free")).toMatch(
      /F0 was freed while still linked on ds\.split_queue/,
    );
  });

  it("lost-membership: a partially mapped live folio on no queue at quiescence; not when queued", async () => {
    for (const queue of [false, true]) {
      const r = await run(() => {
        const m = new ModelBuilder({
          folio: array(1, folio({ ref: 2 }), label),
          ds: deferredSplitQueue(),
          stat: mthpStat(9, 1),
        });
        const ds: DeferredSplit = { queue: m.s.ds, stat: m.s.stat };
        m.thread("t", {}, ({ s }) => [
          deferred_split_folio(s.folio[0]!, ds, true),
          ...(queue
            ? []
            : [
                spin_lock(s.ds.split_queue_lock),
                list_del_init(s.folio[0]!._deferred_list),
                spin_unlock(s.ds.split_queue_lock),
              ]),
        ]);
        lostMembership(m, m.s.folio, [m.s.ds]);
        return m;
      });
      if (queue) expect(r.verdict).toBe("holds");
      else
        expect(messageOf(r, "lost-membership")).toMatch(
          /F0 is partially mapped and live but on no deferred split queue/,
        );
    }
  });

  it("nr-partially-mapped: the flag set without the statistic", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(2, folio(), label),
        ds: deferredSplitQueue(),
        stat: mthpStat(9, 2),
      });
      m.thread("t", {}, ({ s }) => [folio_set_partially_mapped(s.folio[1]!)]);
      partiallyMappedCounter(m, m.s.folio, m.s.stat[9]!, [m.s.ds.split_queue_lock]);
      return m;
    });
    expect(messageOf(r, "nr-partially-mapped")).toMatch(
      /stat\[9\] is 0 but 1 folio has PG_partially_mapped set/,
    );
  });

  it("double-unqueue: split_queue_len-- for a folio already unqueued; not for one on the scanner's private list", async () => {
    for (const where of ["unqueued", "private"] as const) {
      const r = await run(() => {
        const m = new ModelBuilder({ folio: array(1, folio(), label), ds: deferredSplitQueue() });
        const ds: DeferredSplit = { queue: m.s.ds, doubleUnqueue: true };
        m.thread("t", { list: listHead() }, ({ s, l }) => [
          deferred_split_folio(s.folio[0]!, ds, false),
          spin_lock(s.ds.split_queue_lock),
          where === "private"
            ? list_move(s.folio[0]!._deferred_list, l.list)
            : list_del_init(s.folio[0]!._deferred_list),
          unqueue_accounting(s.folio[0]!, ds),
          spin_unlock(s.ds.split_queue_lock),
        ]);
        return m;
      });
      if (where === "private") expect(r.verdict).toBe("holds");
      else {
        expect(violated(r)).toEqual(["double-unqueue"]);
        expect(messageOf(r, "double-unqueue")).toMatch(
          /length of ds\.split_queue is decremented for F0, which it does not count \(its _deferred_list is empty/,
        );
      }
    }
  });

  it("deferredSplitProperties: a queue/put race under the lock keeps every property", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, folio({ ref: 2 }), label),
        ds: deferredSplitQueue(),
        stat: mthpStat(9, 1),
      });
      const ds: DeferredSplit = { queue: m.s.ds, stat: m.s.stat, doubleUnqueue: true };
      m.thread("unmap", {}, ({ s }) => [
        deferred_split_folio(s.folio[0]!, ds, true),
        folio_put(s.folio[0]!, ds),
      ]);
      m.thread("put", {}, ({ s }) => [folio_put(s.folio[0]!, ds)]);
      deferredSplitProperties(m, { folios: m.s.folio, queues: [m.s.ds], stat: m.s.stat[9]! });
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(r.states).toBeGreaterThan(10);
  });

  it("lost-membership with the model's own notion of partially mapped (isPartial)", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(2, folio({ extra: { pte_partial: bool() } }), label),
        ds: deferredSplitQueue(),
      });
      m.init((s) => {
        s.folio[1]!.pte_partial = true;
      });
      m.thread("t", {}, () => []);
      lostMembership(m, m.s.folio, [m.s.ds], {
        isPartial: (w, i) =>
          (w.s as unknown as { folio: { pte_partial: boolean }[] }).folio[i]!.pte_partial,
      });
      return m;
    });
    expect(messageOf(r, "lost-membership")).toMatch(/^F1 is partially mapped/);
  });

  it("collect() hands out the predicates instead of registering them", () => {
    const mb = new ModelBuilder({ folio: array(1, folio(), label), ds: deferredSplitQueue() });
    const { invariants, endStates } = collect((m) => {
      queueLenConsistent(m, mb.s.ds);
      listIntegrity(m, [mb.s.ds]);
    });
    expect([...invariants.keys()]).toEqual(["queue-len", "list-integrity"]);
    expect([...endStates.keys()]).toEqual(["list-integrity"]);
    expect(mb.invariants.length).toBe(0);
  });

  it("nr-partially-mapped: freeing a partially mapped folio that is not queued leaks the statistic (free clears the flag)", async () => {
    for (const clearFlags of [false, true]) {
      const r = await run(() => {
        const m = new ModelBuilder({
          folio: array(1, folio({ partiallyMapped: true }), label),
          ds: deferredSplitQueue(),
          stat: mthpStat(9, 1),
        });
        m.init((s) => {
          s.stat[9] = 1;
        });
        m.thread("t", {}, ({ s }) => [
          folio_put(s.folio[0]!, [free_folio(s.folio[0]!, { clearFlags })]),
        ]);
        partiallyMappedCounter(m, m.s.folio, m.s.stat[9]!);
        return m;
      });
      if (clearFlags)
        expect(messageOf(r, "nr-partially-mapped")).toMatch(
          /stat\[9\] is 1 but 0 folios have PG_partially_mapped set/,
        );
      else expect(r.verdict).toBe("holds");
    }
  });
});
