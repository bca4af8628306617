import { describe, it, expect } from "vitest";
import { ModelBuilder } from "../../src/model/model.ts";
import { array, bool, int, ptr } from "../../src/model/schema.ts";
import { if_, step } from "../../src/model/dsl.ts";
import { list_add_tail } from "../../src/kernel/list.ts";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.ts";
import {
  __folio_clear_partially_mapped,
  __folio_set_partially_mapped,
  assertLive,
  counter,
  counter_dec,
  folio,
  folio_clear_partially_mapped,
  folio_get,
  folio_lock,
  folio_put,
  folio_ref_freeze,
  folio_ref_unfreeze,
  folio_set_partially_mapped,
  folio_test_partially_mapped,
  folio_trylock,
  folio_try_get,
  folio_unlock,
  mthpStat,
} from "../../src/kernel/folio.ts";
import {
  deferredSplitQueue,
  deferred_split_folio,
  type DeferredSplit,
} from "../../src/kernel/huge_memory.ts";
import { messageOf, run, violated } from "./helpers.ts";

const label = { label: (i: number) => `F${i}` };

describe("folio refcount", () => {
  it("folio_put of a zero refcount is refcount-underflow naming the folio", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio({ ref: 0 }), label) });
      m.thread("put", {}, ({ s }) => [folio_put(s.folio[0]!)]);
      return m;
    });
    expect(violated(r)).toEqual(["refcount-underflow"]);
    expect(messageOf(r, "refcount-underflow")).toMatch(/folio_put\(F0\)/);
    expect(r.violations[0]!.length).toBe(1);
  });

  it("two CPUs each dropping one of two references: exactly one frees, through a pointer local", async () => {
    const FolioS = folio({ ref: 2 });
    let frees = 0;
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, FolioS, label), frees: int(0, 2) });
      for (let i = 0; i < 2; i++) {
        m.thread(`put${i}`, { folio: ptr(FolioS) }, ({ l, step }) => [
          step("folio = F0", ({ l }) => {
            l.folio = 0;
          }),
          folio_put(l.folio, [
            step("count the free", ({ s }) => {
              s.frees++;
            }),
          ]),
        ]);
      }
      m.endState("freed-once", ({ s }) => {
        frees = Math.max(frees, s.frees);
        return s.frees === 1 || `${s.frees} frees`;
      });
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(frees).toBe(1);
  });

  it("the default free path marks the folio freed; a later folio_get is use-after-free", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(2, folio(), label) });
      m.thread("t", {}, ({ s }) => [folio_put(s.folio[1]!), folio_get(s.folio[1]!)]);
      return m;
    });
    expect(violated(r)).toEqual(["use-after-free"]);
    expect(messageOf(r, "use-after-free")).toMatch(/folio_get on F1, which was already freed/);
  });

  it("folio_try_get fails on a frozen and on a freed folio, succeeds otherwise", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(3, folio({ ref: 2 }), label),
        got: array(3, int(0, 2)),
      });
      m.init((s) => {
        s.folio[1]!._refcount = 0; // frozen
        s.folio[2]!._refcount = 0;
        s.folio[2]!.freed = true;
      });
      m.thread("t", {}, ({ s, step, if_ }) =>
        [0, 1, 2].map((i) =>
          if_(
            folio_try_get(s.folio[i]!),
            [step("got", ({ s }) => void (s.got[i] = 1))],
            [step("failed", ({ s }) => void (s.got[i] = 2))],
          ),
        ),
      );
      m.endState("results", ({ s }) => {
        const got = [s.got[0], s.got[1], s.got[2]].join(",");
        return got === "1,2,2" || got;
      });
      m.endState(
        "count",
        ({ s }) => s.folio[0]!._refcount === 3 || `F0 count ${s.folio[0]!._refcount}`,
      );
      return m;
    });
    expect(r.verdict).toBe("holds");
    expect(r.states).toBe(7);
  });

  it("folio_ref_freeze succeeds only at the expected count; unfreeze restores it", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio({ ref: 2 }), label), res: int(0, 3) });
      const f = () => m.s.folio[0]!;
      m.thread("t", {}, ({ step, if_ }) => [
        if_(folio_ref_freeze(f(), 1), [step("froze at 1", ({ s }) => void (s.res = 1))]),
        if_(folio_ref_freeze(f(), 2), [step("froze at 2", ({ s }) => void (s.res = s.res + 2))]),
        folio_ref_unfreeze(f(), 2),
      ]);
      m.endState(
        "res",
        ({ s }) =>
          (s.res === 2 && s.folio[0]!._refcount === 2) ||
          `res ${s.res}, count ${s.folio[0]!._refcount}`,
      );
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  it("folio_ref_unfreeze of a count that is not frozen is bad-unfreeze", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label) });
      m.thread("t", {}, ({ s }) => [folio_ref_unfreeze(s.folio[0]!, 2)]);
      return m;
    });
    expect(violated(r)).toEqual(["bad-unfreeze"]);
    expect(messageOf(r, "bad-unfreeze")).toMatch(/folio_ref_unfreeze\(F0, 2\): _refcount is 1/);
  });

  it("a put racing with a freeze: the put underflows a frozen count, or the freeze finds the folio freed", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio({ ref: 1 }), label) });
      m.thread("split", {}, ({ s }) => [
        if_(folio_ref_freeze(s.folio[0]!, 1), [folio_ref_unfreeze(s.folio[0]!, 1)]),
      ]);
      m.thread("put", {}, ({ s }) => [folio_put(s.folio[0]!)]);
      return m;
    });
    expect(violated(r)).toEqual(["refcount-underflow", "use-after-free"]);
    expect(messageOf(r, "use-after-free")).toMatch(/folio_ref_freeze on F0/);
    // refcounting is atomic: no data race is reported
    expect(violated(r)).not.toContain("data-race");
  });

  it("folio_get on zero is bad-get", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio({ ref: 0 }), label) });
      m.thread("t", {}, ({ s }) => [folio_get(s.folio[0]!)]);
      return m;
    });
    expect(violated(r)).toEqual(["bad-get"]);
  });
});

describe("page flags", () => {
  it("two CPUs doing unlocked non-atomic flag RMW is a data race naming the field", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label) });
      m.thread("set", {}, ({ s }) => [__folio_set_partially_mapped(s.folio[0]!)]);
      m.thread("clear", {}, ({ s }) => [__folio_clear_partially_mapped(s.folio[0]!)]);
      return m;
    });
    expect(violated(r)).toEqual(["data-race"]);
    expect(messageOf(r, "data-race")).toMatch(/F0\._flags_1/);
  });

  it("the atomic forms do not race; the non-atomic forms under a common lock do not either", async () => {
    const atomic = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label) });
      m.thread("set", {}, ({ s }) => [folio_set_partially_mapped(s.folio[0]!)]);
      m.thread("clear", {}, ({ s }) => [folio_clear_partially_mapped(s.folio[0]!)]);
      return m;
    });
    expect(atomic.verdict).toBe("holds");
    const locked = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label), ds: deferredSplitQueue() });
      m.thread("set", {}, ({ s }) => [
        spin_lock(s.ds.split_queue_lock),
        __folio_set_partially_mapped(s.folio[0]!),
        spin_unlock(s.ds.split_queue_lock),
      ]);
      m.thread("clear", {}, ({ s }) => [
        spin_lock(s.ds.split_queue_lock),
        __folio_clear_partially_mapped(s.folio[0]!),
        spin_unlock(s.ds.split_queue_lock),
      ]);
      return m;
    });
    expect(locked.verdict).toBe("holds");
  });

  it("folio_test_partially_mapped sees the flag; folio_trylock excludes a second CPU", async () => {
    const r = await run(
      () => {
        const m = new ModelBuilder({
          folio: array(1, folio({ partiallyMapped: true }), label),
          seen: bool(),
          inside: int(0, 2),
        });
        m.thread("test", {}, ({ s, step, if_ }) => [
          if_(folio_test_partially_mapped(s.folio[0]!), [
            step("seen", ({ s }) => void (s.seen = true)),
          ]),
        ]);
        for (let i = 0; i < 2; i++) {
          m.thread(`lock${i}`, {}, ({ s, step, if_ }) => [
            if_(folio_trylock(s.folio[0]!), [
              step("enter", ({ s }) => void s.inside++),
              step("leave", ({ s }) => void s.inside--),
              folio_unlock(s.folio[0]!),
            ]),
          ]);
        }
        m.invariant("exclusion", ({ s }) => s.inside <= 1);
        m.endState("seen", ({ s }) => s.seen);
        return m;
      },
      { races: false },
    );
    expect(r.verdict).toBe("holds");
  });

  it("folio_unlock of an unlocked folio is bad-folio-unlock; folio_lock waits (deadlock when never released)", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label) });
      m.thread("t", {}, ({ s }) => [folio_unlock(s.folio[0]!)]);
      return m;
    });
    expect(violated(r)).toEqual(["bad-folio-unlock"]);
    const d = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label) });
      m.thread("t", {}, ({ s }) => [folio_lock(s.folio[0]!), folio_lock(s.folio[0]!)]);
      return m;
    });
    expect(violated(d)).toEqual(["deadlock"]);
    expect(messageOf(d, "deadlock")).toMatch(/PG_locked of F0/);
  });
});

describe("counters and the deferred split queue", () => {
  it("counter_dec below zero is counter-underflow naming the counter", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ ds: deferredSplitQueue(), other: counter(2) });
      m.thread("t", {}, ({ s }) => [
        spin_lock(s.ds.split_queue_lock),
        counter_dec(s.ds.split_queue_len),
        spin_unlock(s.ds.split_queue_lock),
      ]);
      return m;
    });
    expect(violated(r)).toEqual(["counter-underflow"]);
    expect(messageOf(r, "counter-underflow")).toMatch(/ds\.split_queue_len/);
  });

  it("deferred_split_folio queues once and counts; the last put unqueues, clears the flag and frees", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({
        folio: array(1, folio(), label),
        ds: deferredSplitQueue(),
        stat: mthpStat(9, 2),
      });
      const ds: DeferredSplit = { queue: m.s.ds, stat: m.s.stat, doubleUnqueue: true };
      m.thread("queue", {}, ({ s }) => [
        deferred_split_folio(s.folio[0]!, ds, true),
        deferred_split_folio(s.folio[0]!, ds, true),
        folio_put(s.folio[0]!, ds),
      ]);
      m.endState("end", ({ s }) => {
        const f = s.folio[0]!;
        const ok =
          f.freed &&
          !f.partially_mapped &&
          s.ds.split_queue_len === 0 &&
          s.stat[9] === 0 &&
          f._deferred_list.next === f._deferred_list.id;
        return (
          ok ||
          `freed ${f.freed} pm ${f.partially_mapped} len ${s.ds.split_queue_len} stat ${s.stat[9]}`
        );
      });
      m.invariant("len<=1", ({ s }) => s.ds.split_queue_len <= 1);
      return m;
    });
    expect(r.verdict).toBe("holds");
  });

  it("a folio freed while still on the queue (free path without unqueue) is bad-page-state", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label), ds: deferredSplitQueue() });
      m.thread("t", {}, ({ s }) => [
        spin_lock(s.ds.split_queue_lock),
        list_add_tail(s.folio[0]!._deferred_list, s.ds.split_queue),
        spin_unlock(s.ds.split_queue_lock),
        folio_put(s.folio[0]!),
      ]);
      return m;
    });
    expect(violated(r)).toEqual(["bad-page-state"]);
    expect(messageOf(r, "bad-page-state")).toMatch(
      /F0 freed while on a deferred list \(ds\.split_queue\)/,
    );
  });

  it("assertLive lets model steps report use-after-free", async () => {
    const r = await run(() => {
      const m = new ModelBuilder({ folio: array(1, folio(), label) });
      m.thread("t", {}, ({ s }) => [
        folio_put(s.folio[0]!),
        step("folio->mapping", (c) => assertLive(c, m.s.folio[0]!, "reading folio->mapping")),
      ]);
      return m;
    });
    expect(messageOf(r, "use-after-free")).toMatch(/reading folio->mapping on F0/);
  });
});
