// list_lru split ordering (seed 004: "[PATCH v3 7/7] mm: switch deferred split shrinker to
// list_lru", Johannes Weiner, and the review by Lorenzo Stoakes with Johannes's answer).
//
// The synchronous split, __folio_freeze_and_split_unmapped() (mm/huge_memory.c as patched),
// must take the folio off the deferred split list_lru and clear PG_partially_mapped while the
// refcount is frozen. The patch as posted takes the list_lru sublist lock FIRST and freezes
// under it ("/* Prevent deferred_split_scan() touching ->_refcount */"): variant
// `lock-then-freeze`. The review suggested freezing first and taking the lock only when the
// freeze succeeded (`frozen = folio_ref_freeze(...); if (dequeue_deferred && frozen) { lock;
// __list_lru_del; clear flag; unlock }`): variant `freeze-then-lock`. Johannes answered that
// the shrinker's isolate callback, if its folio_try_get() fails while it holds the lock,
// "thinks it beat the free path" and cleans up the deferred split state itself, so with the
// freeze first "we get them both stepping on the deferred split state", which "may or may not
// be safe given the current manifestation of list_lru_del() and the
// folio_test_partially_mapped() tests".
//
// CPUs:
//  CPU0 deferred_split_scan() as patched: list_lru_shrink_walk_irq() over the sublist with
//       deferred_split_isolate(): folio_try_get() -> list_lru_isolate_move() onto the on-stack
//       `dispose` list; else ("We lost race with folio_put()") list_lru_isolate() and clear
//       PG_partially_mapped (+ NR_ANON_PARTIALLY_MAPPED). Then, unlocked, per folio on
//       dispose: list_del_init(); if not partially mapped, thp_underused() (always false
//       here: goto next); else folio_trylock() + split_folio() (the same
//       __folio_freeze_and_split_unmapped() as CPU1, same ordering) + folio_unlock(); then
//       requeue with __list_lru_add() under the lock if not split and partially mapped;
//       folio_put() (with the free path).
//  CPU1 split_folio(F1): the caller holds F1's lock and one reference (expected freeze count
//       folio_cache_ref_count() + 1 = 1 for an anon folio outside the swap cache).
//  CPU2 (param third_party) folio_put(F2) of F2's last reference: the free path runs
//       folio_unqueue_deferred_split() (unlocked data_race(list_empty()) test, then
//       list_lru_lock + __list_lru_del + clear the flag), then frees F2. This is the case the
//       callback's lost-race branch is written for.
// Initially F1 (and F2) are partially mapped and queued on the sublist.
//
// The split that FAILS after the freeze (param split_can_fail): the posted code has no exit
// between a successful freeze and the split proper, but the review's question is whether the
// ordering is safe in general, and a frozen folio that is unfrozen alive again is what
// migration does (__folio_migrate_mapping: freeze, unqueue, unfreeze). On failure the model's
// split undoes what it did, as the kernel's error paths do: folio_ref_unfreeze(F, 1), then
// under the lock restore PG_partially_mapped (+ stat) if it cleared it, and __list_lru_add()
// if its __list_lru_del() removed the folio. The folio must end up queued again.
//
// What the checker shows (expected verdicts):
//  - lock-then-freeze: holds. Between the freeze and the dequeue the split holds the sublist
//    lock, so the walk can never try_get a frozen folio that is on the list; a folio the
//    walk already pinned makes the freeze fail (-EAGAIN); the requeue after a failed split
//    happens after the unfreeze.
//  - freeze-then-lock: lost-membership. Between CPU1's folio_ref_freeze() and its
//    list_lru_lock(), the walk's folio_try_get(F1) fails, the lost-race branch isolates F1 and
//    clears its PG_partially_mapped: F1 is live, frozen only for a moment. CPU1's
//    __list_lru_del() then returns false and it finds the flag clear, so when the split fails
//    it has nothing to restore: F1 stays partially mapped, unsplit, on no queue, with its
//    flag cleared: the shrinker will never split it. (queue-len, nr-partially-mapped,
//    double-unqueue all hold: every nr_items/flag/stat update is under the lock and
//    __list_lru_del() tests list_empty(); the folio is not freed while queued.)
//  - freeze-then-lock-no-fail: holds. If nothing can fail after the freeze, the split goes on
//    to split F1 and the state the lost-race branch cleared was going to be cleared anyway:
//    the ordering is safe "given the current manifestation", as Johannes said, but only
//    because nothing between freeze and split can back out.
// lost-membership is the catalogue's end-state property applied to the folio's rmap state
// (ghost field `rmap_partial`: partially mapped in the page tables, which is what the flag is
// supposed to record), because in the failing run it is the flag itself that was lost.
//
// Left out: more than one sublist (node x memcg) and memcg reparenting (the race is inside a
// sublist), nr_to_walk limits, LRU_RETRY / the walk dropping the lock, deferred_split_folio()
// on a concurrent partial unmap, thp_underused() returning true, the mapping/swap-cache parts
// of the split, rcu_read_lock (no reclaim of list_lru structures here), and the invariant form
// of stale-membership (the dispose list keeps a non-empty _deferred_list on a folio that is on
// no queue by design, as the pre-folio_batch private list did; see the deferred-split model).

import { array, bool, defineModel, int, either, func, if_, listHead, ModelBuilder, nodeptr, ptr, return_, step } from "../../src/index.ts";
import type { Stmt, StepStmt } from "../../src/index.ts";
import type { Ref } from "../../src/model/ref.ts";
import type { AnyModelBuilder } from "../../src/model/model.ts";
import type { BoolS } from "../../src/model/schema.ts";
import {
  folio,
  folio_put,
  folio_ref_freeze,
  folio_ref_unfreeze,
  folio_trylock,
  folio_try_get,
  folio_unlock,
  folioName,
  free_folio,
  modMthpStat,
  testPartiallyMapped,
  writePartiallyMapped,
  type FolioRef,
} from "../../src/kernel/folio.ts";
import { list_del_init, list_for_each_entry_safe } from "../../src/kernel/list.ts";
import {
  listIntegrity,
  lostMembership,
  partiallyMappedCounter,
  queueLenConsistent,
  useAfterFree,
} from "../../src/kernel/catalogue.ts";
import {
  __list_lru_add,
  __list_lru_del,
  list_lru_isolate,
  list_lru_isolate_move,
  list_lru_lock,
  list_lru_unlock,
  list_lru_walk_lock,
  list_lru_walk_unlock,
  listLruOne,
  type ListLruOneRef,
} from "./lib.ts";

type Order = "lock-then-freeze" | "freeze-then-lock";
/** deferred_split_isolate()'s lost-race branch: as posted (isolate, then the flag) or flag first. */
type Callback = "as-posted" | "flag-first";
interface Options {
  readonly order: Order;
  readonly callback: Callback;
}

/** The CPU-local variables of a split: what __list_lru_del() returned, whether the flag was set. */
interface SplitLocals {
  readonly dequeued: Ref<BoolS>;
  readonly was_pm: Ref<BoolS>;
  readonly did_split: Ref<BoolS>;
}

const Folio = folio({
  maxRef: 3,
  ref: 1,
  partiallyMapped: true,
  extra: {
    /** Ghost: the folio has been split into order-0 folios (it needs no queue any more). */
    split: bool(false),
    /** Ghost: the rmap state, partially mapped in the page tables (what the flag should say). */
    rmap_partial: bool(true),
  },
});

const setGhost = (c: { m: { b: Int32Array } }, r: Ref<BoolS>, v: boolean): void => {
  c.m.b[r.$off(c.m.b)] = v ? 1 : 0;
};
const local = (c: { m: { b: Int32Array } }, r: Ref<BoolS>): boolean => c.m.b[r.$off(c.m.b)] !== 0;

export default defineModel<{ split_can_fail: number; third_party: number }, Options>({
  name: "list-lru-split",
  doc: "Seed 004 review: the synchronous split locks the list_lru then freezes (as posted) vs freezes then locks (as suggested), against the list_lru shrink walk's lost-race branch",
  params: {
    split_can_fail: {
      default: 1,
      min: 0,
      max: 1,
      doc: "1: the split may fail after a successful freeze (unfreeze and requeue); 0: it always succeeds once frozen",
    },
    third_party: {
      default: 1,
      min: 0,
      max: 1,
      doc: "1: a second queued folio F2 whose last reference CPU2 drops (free path vs the walk's lost-race branch)",
    },
  },
  variants: {
    "lock-then-freeze": {
      doc: "as posted: list_lru_lock(), then folio_ref_freeze() under it; the callback as posted",
      options: { order: "lock-then-freeze", callback: "as-posted" },
      expect: { violated: ["use-after-free"] },
    },
    "freeze-then-lock": {
      doc: "as suggested in review: folio_ref_freeze(), then list_lru_lock() only if frozen; the callback as posted",
      options: { order: "freeze-then-lock", callback: "as-posted" },
      expect: { violated: ["use-after-free", "lost-membership"] },
    },
    "lock-then-freeze+flag-first": {
      doc: "as posted, with the lost-race branch clearing PG_partially_mapped before list_lru_isolate()",
      options: { order: "lock-then-freeze", callback: "flag-first" },
      expect: "holds",
    },
    "freeze-then-lock+flag-first": {
      doc: "as suggested, with the lost-race branch clearing PG_partially_mapped before list_lru_isolate()",
      options: { order: "freeze-then-lock", callback: "flag-first" },
      expect: { violated: ["lost-membership"] },
    },
    "freeze-then-lock-no-fail+flag-first": {
      doc: "as suggested, flag first, with a split that cannot fail once the folio is frozen",
      options: { order: "freeze-then-lock", callback: "flag-first" },
      params: { split_can_fail: 0 },
      expect: "holds",
    },
  },
  build: ({ params, options }) => {
    return buildModel(1 + params.third_party, params.split_can_fail === 1, options);
  },
});

function buildModel(nf: number, canFail: boolean, { order, callback }: Options): AnyModelBuilder {
  const m = new ModelBuilder({
    deferred_split_lru: listLruOne(nf),
    /** MTHP_STAT_NR_ANON_PARTIALLY_MAPPED (a per-CPU counter: marked accesses). */
    nr_anon_partially_mapped: int(0, nf, nf),
    folio: array(nf, Folio, { label: (i) => `F${i + 1}` }),
  });
  const s = m.s;
  const lru: ListLruOneRef = s.deferred_split_lru;
  const stat = s.nr_anon_partially_mapped;

  /** `if (folio_test_partially_mapped(f)) { folio_clear_partially_mapped(f); mod_mthp_stat(-1); }` */
  const clearPartiallyMapped = (f: FolioRef, wasPm?: Ref<BoolS>): StepStmt =>
    step(
      (c, r) =>
        r
          ? `folio_test_partially_mapped(${folioName(f, c.m.b)}) -> true: folio_clear_partially_mapped(), mod_mthp_stat(-1)`
          : `folio_test_partially_mapped(${folioName(f, c.m.b)}) -> false`,
      (c) => {
        const pm = testPartiallyMapped(c, f);
        if (pm) {
          writePartiallyMapped(c, f, false, true);
          modMthpStat(c, stat, f, -1);
        }
        if (wasPm) c.m.set(wasPm.$off(c.m.b), pm ? 1 : 0);
        return pm;
      },
    );

  /** folio_unqueue_deferred_split(f) + free: the free path of folio_put()'s last reference. */
  const freePath = (f: FolioRef): Stmt[] => [
    func("__folio_put", [
      func("folio_unqueue_deferred_split", [
        if_(
          step(
            (c, r) => `data_race(list_empty(&${folioName(f, c.m.b)}->_deferred_list)) -> ${r ? "true: return" : "false"}`,
            (c) => {
              const id = f._deferred_list.$node(c.m.b);
              return c.m.getMarked(c.m.layout.nodes[id]!.nextOff) === id;
            },
          ),
          [return_()],
        ),
        func("__folio_unqueue_deferred_split", [
          list_lru_lock(lru),
          if_(__list_lru_del(lru, f._deferred_list), [clearPartiallyMapped(f)]),
          list_lru_unlock(lru),
        ]),
      ]),
      free_folio(f),
    ]),
  ];

  /** __folio_freeze_and_split_unmapped(f) with the variant's ordering; expected count 1. */
  const freezeAndSplit = (f: FolioRef & { readonly split: Ref<BoolS> }, L: SplitLocals): Stmt => {
    const dequeue: Stmt[] = [
      __list_lru_del(lru, f._deferred_list, L.dequeued),
      clearPartiallyMapped(f, L.was_pm),
    ];
    const success: Stmt[] = [
      step(
        (c) => `__split_unmapped_folio(${folioName(f, c.m.b)}) -> 0 (split into order-0 folios)`,
        (c) => {
          setGhost(c, f.split, true);
          setGhost(c, L.did_split, true);
        },
      ),
      folio_ref_unfreeze(f, 1),
    ];
    const failure: Stmt[] = [
      step((c) => `__split_unmapped_folio(${folioName(f, c.m.b)}) -> -EAGAIN (fails after the freeze)`, () => undefined),
      folio_ref_unfreeze(f, 1),
      // undo: put back what this split took away, under the lock, after the unfreeze
      if_(
        step(
          (c, r) => `dequeued || was_partially_mapped -> ${r ? "true: restore" : "false: nothing to restore"}`,
          (c) => local(c, L.dequeued) || local(c, L.was_pm),
        ),
        [
          list_lru_lock(lru),
          if_(
            step(
              (c, r) => (r ? `folio_set_partially_mapped(${folioName(f, c.m.b)}), mod_mthp_stat(+1)` : "was_partially_mapped -> false"),
              (c) => {
                if (!local(c, L.was_pm)) return false;
                writePartiallyMapped(c, f, true, true);
                modMthpStat(c, stat, f, 1);
                return true;
              },
            ),
            [],
          ),
          if_(
            step(
              (c, r) => `dequeued -> ${r ? "true" : "false"}`,
              (c) => local(c, L.dequeued),
            ),
            [__list_lru_add(lru, f._deferred_list)],
          ),
          list_lru_unlock(lru),
        ],
      ),
    ];
    const afterFreeze: Stmt[] = canFail
      ? [either(`__split_unmapped_folio`, success, failure)]
      : success;
    const eagain = step("return -EAGAIN", () => undefined);
    if (order === "lock-then-freeze") {
      return func("__folio_freeze_and_split_unmapped", [
        // "Prevent deferred_split_scan() touching ->_refcount"
        list_lru_lock(lru),
        if_(
          folio_ref_freeze(f, 1),
          [...dequeue, list_lru_unlock(lru), ...afterFreeze],
          [list_lru_unlock(lru), eagain],
        ),
      ]);
    }
    return func("__folio_freeze_and_split_unmapped", [
      if_(
        folio_ref_freeze(f, 1),
        [list_lru_lock(lru), ...dequeue, list_lru_unlock(lru), ...afterFreeze],
        [eagain],
      ),
    ]);
  };

  // CPU0: deferred_split_scan()
  m.thread(
    "deferred_split_scan",
    {
      dispose: listHead({ lock: "deferred_split_lru.lock" }),
      folio: ptr(Folio),
      next: nodeptr(),
      did_split: bool(),
      dequeued: bool(),
      was_pm: bool(),
    },
    ({ l, when }) => [
      func("list_lru_shrink_walk_irq", [
        list_lru_walk_lock(lru),
        list_for_each_entry_safe(l.folio, l.next, lru.list, [
          func("deferred_split_isolate", [
            if_(
              folio_try_get(l.folio),
              [list_lru_isolate_move(lru, l.folio._deferred_list, l.dispose)],
              // "We lost race with folio_put()"
              callback === "as-posted"
                ? [list_lru_isolate(lru, l.folio._deferred_list), clearPartiallyMapped(l.folio)]
                : [clearPartiallyMapped(l.folio), list_lru_isolate(lru, l.folio._deferred_list)],
            ),
          ]),
        ]),
        list_lru_walk_unlock(lru),
      ]),
      list_for_each_entry_safe(l.folio, l.next, l.dispose, [
        list_del_init(l.folio._deferred_list),
        if_(
          step(
            (c, r) =>
              `!folio_test_partially_mapped(${folioName(l.folio, c.m.b)}) -> ${r ? "true: thp_underused() -> false, goto next" : "false"}`,
            (c) => !testPartiallyMapped(c, l.folio),
          ),
          [],
          [
            if_(folio_trylock(l.folio), [
              func("split_folio", [freezeAndSplit(l.folio, l)]),
              folio_unlock(l.folio),
            ]),
          ],
        ),
        // next: (did_split is reset here for the next folio: it is the loop's local)
        if_(
          when("!did_split && folio_test_partially_mapped(folio)", (c) => {
            const did = local(c, l.did_split);
            setGhost(c, l.did_split, false);
            return !did && testPartiallyMapped(c, l.folio);
          }),
          [list_lru_lock(lru), __list_lru_add(lru, l.folio._deferred_list), list_lru_unlock(lru)],
        ),
        folio_put(l.folio, freePath),
      ]),
    ],
  );

  // CPU1: split_folio(F1), with F1 locked and pinned by the caller
  const f1 = s.folio[0]!;
  m.thread("split_folio", { dequeued: bool(), was_pm: bool(), did_split: bool() }, ({ l }) => [
    freezeAndSplit(f1, l),
    folio_unlock(f1),
  ]);

  // CPU2: the last reference to F2 goes away
  if (nf > 1) {
    const f2 = s.folio[1]!;
    m.thread("folio_put", {}, () => [folio_put(f2, freePath)]);
  }

  m.init((sv) => {
    // queue every folio on the sublist, in order; F1 is locked by CPU1
    const head = sv.deferred_split_lru.list;
    let prev = head.id;
    const ids: number[] = [];
    for (let i = 0; i < nf; i++) ids.push(sv.folio[i]!._deferred_list.id);
    for (const id of ids) {
      const node = sv.folio[ids.indexOf(id)]!._deferred_list;
      node.prev = prev;
      if (prev === head.id) head.next = id;
      else sv.folio[ids.indexOf(prev)]!._deferred_list.next = id;
      prev = id;
    }
    const last = ids[ids.length - 1]!;
    sv.folio[nf - 1]!._deferred_list.next = head.id;
    head.prev = last;
    sv.deferred_split_lru.nr_items = nf;
    sv.folio[0]!.locked = true;
  });

  queueLenConsistent(m, {
    split_queue_lock: lru.lock,
    split_queue: lru.list,
    split_queue_len: lru.nr_items,
  });
  listIntegrity(m, [lru.list]);
  useAfterFree(m, s.folio);
  partiallyMappedCounter(m, s.folio, stat, [lru.lock]);
  // lost-membership on the rmap state: a live, unsplit folio that is partially mapped in the
  // page tables must be on the sublist (and flagged, checked below)
  const byRmap = Array.from({ length: nf }, (_, i) => ({ ...pick(s.folio[i]!), partially_mapped: s.folio[i]!.rmap_partial }));
  lostMembership(m, byRmap, [lru.list], {
    filter: (w, i) => w.m.b[s.folio[i]!.split.$off(w.m.b)] === 0,
  });
  m.endState("lost-membership", (w) => {
    const b = w.m.b;
    for (let i = 0; i < nf; i++) {
      const f = s.folio[i]!;
      if (b[f.freed.$off(b)] || b[f.split.$off(b)] || !b[f.rmap_partial.$off(b)]) continue;
      if (!b[f.partially_mapped.$off(b)]) {
        return `F${i + 1} is partially mapped, live and unsplit, but PG_partially_mapped is clear at quiescence`;
      }
    }
    return true;
  });
  return m;
}

/** The FolioRef fields of a folio record ref (so one of them can be swapped). */
function pick(f: FolioRef): FolioRef {
  return {
    _refcount: f._refcount,
    _deferred_list: f._deferred_list,
    partially_mapped: f.partially_mapped,
    locked: f.locked,
    mapped: f.mapped,
    memcg: f.memcg,
    nid: f.nid,
    order: f.order,
    freed: f.freed,
  };
}
