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
// Initially F1 (and F2) are partially mapped and queued on the sublist. Two more parameters make
// the scenario longer: `extra_folios` queues more partially mapped folios between F1 and F2 (the
// walk isolates and splits each before it reaches F2), and `third_parties` adds CPUs taking
// speculative references (an operation list of try_get_put(Fi): folio_try_get(), then folio_put()
// if it got one, which may run the free path).
//
// The split that FAILS after the freeze (param split_can_fail, default 0): HYPOTHETICAL. For
// the folios this dequeue applies to (dequeue_deferred = folio_test_anon() && order > 1) the
// posted __folio_freeze_and_split_unmapped() has no exit between a successful freeze and the
// split proper (the only failing path of __split_unmapped_folio(), xas_try_split() -ENOMEM, is
// for folios with a mapping), so the default is 0 and the variants named after the posted and
// the suggested code use it. With split_can_fail=1 the model asks the review's general
// question (a frozen folio that is unfrozen alive again is what migration does:
// __folio_migrate_mapping freezes, unqueues, unfreezes): the model's split then undoes what it
// did, as a correct back-out would have to (no kernel error path does this today):
// folio_ref_unfreeze(F, 1), then under the lock restore PG_partially_mapped (+ stat) if it
// cleared it, and __list_lru_add() if its __list_lru_del() removed the folio. The folio must
// end up queued again. Variants with that parameter end in `+split-fails`.
//
// The isolate callback's lost-race branch comes in two orders (option `callback`): as posted,
// `list_lru_isolate(lru, item)` FIRST, then folio_test_partially_mapped()/clear/mod_mthp_stat;
// or `flag-first`, clearing the flag while the folio is still on the list, which is the order
// deferred_split_scan() had before the conversion (`else if (folio_test_partially_mapped())
// { clear } list_del_init()`, visible in the removed lines of the patch).
//
// What the checker shows (expected verdicts):
//  - use-after-free, in both split orderings, with the callback as posted (10 steps): a
//    FINDING the mails do not discuss. CPU2's folio_put(F2) takes the count to 0; the walk's
//    folio_try_get(F2) fails and list_lru_isolate() empties F2's _deferred_list; CPU2's free
//    path (folio_unqueue_deferred_split) then sees data_race(list_empty()) true, skips the
//    list_lru lock that the walk still holds, and frees F2; the callback then does
//    folio_test_partially_mapped(F2) (and, if set, folio_clear_partially_mapped() and
//    mod_mthp_stat(folio_order(F2), ...)) on a freed folio. mm/internal.h's "If folio is not
//    in deferred_list, it's safe to check without acquiring the list_lru lock" only holds if
//    whoever empties _deferred_list is done with the folio; the old code was (flag first).
//    In the kernel the struct page is not unmapped memory, but its second page's flags and
//    order are read and written after free_pages_prepare() (which clears PAGE_FLAGS_SECOND,
//    PG_partially_mapped included) and possibly after reallocation: NR_ANON_PARTIALLY_MAPPED
//    can be left one too high (the free path skipped its decrement, the walk saw the flag
//    already cleared), the decrement can go to order 0's counter (folio_order() read after
//    the order byte was cleared), or the bit PG_partially_mapped aliases (PG_reclaim, in
//    later kernels PG_readahead) is cleared in a new owner's page. The window is short (two statements of a callback that runs with the
//    lock held and interrupts off, against the rest of the free path), but nothing closes
//    it; clearing the flag before list_lru_isolate() does (variants `+flag-first`).
//  - lock-then-freeze+flag-first, freeze-then-lock+flag-first: hold. In lock-then-freeze the
//    split holds the sublist lock between the freeze and the dequeue, so the walk never
//    try_gets a frozen folio that is on the list; a folio the walk already pinned makes the
//    freeze fail (-EAGAIN). In freeze-then-lock the walk's lost-race branch may clear the flag
//    and isolate F1 while it is frozen, but the split goes on to split F1, and the state the
//    branch cleared was going to be cleared anyway: the ordering is safe "given the current
//    manifestation", as Johannes said, because nothing between freeze and split can back out.
//  - hypothetical, split_can_fail=1 (`+split-fails`): freeze-then-lock loses F1
//    (lost-membership, 22 steps, 15 with third_party=0): between CPU1's folio_ref_freeze()
//    and its list_lru_lock(), the walk's folio_try_get(F1) fails, the lost-race branch clears
//    F1's PG_partially_mapped and isolates F1, although F1 is live and only frozen for a
//    moment. CPU1's __list_lru_del() then returns false and it finds the flag clear, so when
//    the split fails it has nothing to restore: F1 stays partially mapped, unsplit, on no
//    queue, with its flag cleared: the shrinker will never split it. Lock-then-freeze with
//    the same back-out holds (the dequeue is the split's own, so it knows what to restore).
//    This is Johannes's "both stepping on the deferred split state" made concrete: it only
//    bites if an exit after the freeze is ever added.
//    (queue-len, nr-partially-mapped, double-unqueue all hold: every nr_items/flag/stat
//    update is under the lock and __list_lru_del() tests list_empty() first.)
// lost-membership is the catalogue's end-state property applied to the folio's rmap state
// (ghost field `rmap_partial`: partially mapped in the page tables, which is what the flag is
// supposed to record), because in the failing run it is the flag itself that was lost.
//
// Written only against src/index.ts: the scan is huge_memory.ts's deferred_split_scan_list_lru()
// (clearBeforeIsolate for the flag-first callback), the split its __folio_split() on a
// DeferredSplit backed by the list_lru (`queue: { lru }`; `order` for the two orderings,
// `mayFail` for the hypothetical failing split and its back-out), the free path its
// folio_unqueue_deferred_split(), all on list_lru.ts's one list_lru.
//
// Left out: more than one sublist (node x memcg) and memcg reparenting (the race is inside a
// sublist), nr_to_walk limits, LRU_RETRY / the walk dropping the lock, deferred_split_folio()
// on a concurrent partial unmap, thp_underused() returning true, the mapping/swap-cache parts
// of the split, rcu_read_lock (no reclaim of list_lru structures here), and the invariant form
// of stale-membership (the dispose list keeps a non-empty _deferred_list on a folio that is on
// no queue by design, as the pre-folio_batch private list did; see the deferred-split model).

import {
  __folio_split,
  array,
  bool,
  deferred_split_scan_list_lru,
  defineModel,
  folio,
  folio_put,
  folio_try_get,
  folio_unlock,
  func,
  ghost,
  if_,
  initList,
  int,
  listIntegrity,
  listLru,
  lostMembership,
  lruCountConsistent,
  lruKey,
  lruLists,
  ModelBuilder,
  parseOps,
  partiallyMappedCounter,
  useAfterFree,
  type AnyModelBuilder,
  type DeferredSplit,
  type Op,
  type OpsParamDecl,
  type ViewOf,
} from "../../src/index.ts";

type Order = "lock-then-freeze" | "freeze-then-lock";
/** deferred_split_isolate()'s lost-race branch: as posted (isolate, then the flag) or flag first. */
type Callback = "as-posted" | "flag-first";
interface Options {
  readonly order: Order;
  readonly callback: Callback;
}

/** The folio record type of one build (ptr() needs one shared record type per build). */
const folioType = (maxRef: number) =>
  folio({
    maxRef,
    ref: 1,
    partiallyMapped: true,
    extra: {
      /** Ghost: the rmap state, partially mapped in the page tables (what the flag should say). */
      rmap_partial: ghost(bool(true)),
    },
  });

type P = {
  split_can_fail: number;
  third_party: number;
  extra_folios: number;
  third_parties: string;
};

/** Folios in a scenario: F1 (split), F2 (put by CPU2) if third_party, then the extra ones. */
const nrFolios = (p: Readonly<Record<string, unknown>>): number =>
  1 + Number(p["third_party"] ?? 0) + Number(p["extra_folios"] ?? 0);

/** Extra CPUs taking speculative references (the scenario's free part). */
const thirdParties: OpsParamDecl = {
  kind: "ops",
  default: "",
  ops: {
    try_get_put: {
      arg: { prefix: "F", count: nrFolios },
      doc: "a speculative reference (a PFN walker, a page cache lookup): folio_try_get(), then folio_put() if it got one",
    },
  },
  cpus: { min: 0, max: 2 },
  maxOps: 3,
  doc: "extra CPUs, ';' between CPUs and ',' between one CPU's operations, e.g. 'try_get_put(F1),try_get_put(F2)'",
};
export default defineModel<P, Options>({
  name: "list-lru-split",
  doc: "Seed 004 review: the synchronous split locks the list_lru then freezes (as posted) vs freezes then locks (as suggested), against the list_lru shrink walk's lost-race branch",
  params: {
    split_can_fail: {
      default: 0,
      min: 0,
      max: 1,
      doc: "1 (hypothetical): the split may fail after a successful freeze (unfreeze and requeue); 0: it always succeeds once frozen, as the posted code does for anon folios",
    },
    third_party: {
      default: 1,
      min: 0,
      max: 1,
      doc: "1: a second queued folio F2 whose last reference CPU2 drops (free path vs the walk's lost-race branch)",
    },
    extra_folios: {
      default: 0,
      min: 0,
      max: 2,
      doc: "other queued, partially mapped folios (named after F1 and F2), on the sublist between F1 and F2: the walk isolates and splits each",
    },
    third_parties: thirdParties,
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
      expect: { violated: ["use-after-free"] },
    },
    "lock-then-freeze+flag-first": {
      doc: "as posted, with the lost-race branch clearing PG_partially_mapped before list_lru_isolate()",
      options: { order: "lock-then-freeze", callback: "flag-first" },
      expect: "holds",
    },
    "freeze-then-lock+flag-first": {
      doc: "as suggested, with the lost-race branch clearing PG_partially_mapped before list_lru_isolate()",
      options: { order: "freeze-then-lock", callback: "flag-first" },
      // holds only with a split that cannot fail: split_can_fail=1 is the +split-fails variant below
      params: { split_can_fail: 0 },
      expect: "holds",
    },
    "lock-then-freeze+flag-first+split-fails": {
      doc: "hypothetical: as posted, flag first, with a split that can fail after the freeze and backs out",
      options: { order: "lock-then-freeze", callback: "flag-first" },
      params: { split_can_fail: 1 },
      expect: "holds",
    },
    "freeze-then-lock+flag-first+split-fails": {
      doc: "hypothetical: as suggested, flag first, with a split that can fail after the freeze: the walk took F1's queue state and the back-out cannot restore it",
      options: { order: "freeze-then-lock", callback: "flag-first" },
      params: { split_can_fail: 1 },
      expect: { violated: ["lost-membership"] },
    },
  },
  build: ({ params, options }) => {
    const extra = parseOps(
      "list-lru-split",
      "third_parties",
      thirdParties,
      params.third_parties,
      params,
    );
    return buildModel(params, extra, options);
  },
});

function buildModel(
  p: P,
  extra: readonly (readonly Op[])[],
  { order, callback }: Options,
): AnyModelBuilder {
  const nf = nrFolios(p);
  const mayFail = p.split_can_fail === 1;
  // the split's pin and the walk's reference, plus one per CPU taking speculative references
  const Folio = folioType(3 + extra.length);
  const m = new ModelBuilder({
    /** Not memcg aware here: one sublist, deferred_split_lru.node[0]. */
    deferred_split_lru: listLru({ name: "deferred_split_lru", maxItems: nf }),
    /** MTHP_STAT_NR_ANON_PARTIALLY_MAPPED (a per-CPU counter: marked accesses). */
    nr_anon_partially_mapped: int(0, nf, nf),
    folio: array(nf, Folio, { label: (i) => `F${i + 1}` }),
  });
  const s = m.s;
  const lru = s.deferred_split_lru;
  const stat = s.nr_anon_partially_mapped;
  const d: DeferredSplit = { queue: { lru }, stat, atomicFlag: true };
  const split = { order, mayFail };

  // CPU0: deferred_split_scan() as patched (thp_underused() false: a folio that is not
  // partially mapped is not split)
  m.thread("deferred_split_scan", {}, () => [
    deferred_split_scan_list_lru(lru, lruKey(0), d, Folio, {
      underused: false,
      nrToScan: nf,
      clearBeforeIsolate: callback === "flag-first",
      split,
    }),
  ]);

  // CPU1: split_folio(F1), with F1 locked and pinned by the caller (expected count 1: an anon
  // folio outside the swap cache, folio_cache_ref_count() + 1)
  const f1 = s.folio[0]!;
  m.thread("split_folio", {}, () => [
    __folio_split(f1, d, { expected: 1, ...split }),
    folio_unlock(f1),
  ]);

  // CPU2: the last reference to F2 goes away
  if (p.third_party) {
    const f2 = s.folio[1]!;
    m.thread("folio_put", {}, () => [folio_put(f2, d)]);
  }

  // extra CPUs: speculative references, each a folio_try_get() and, if it got one, a folio_put()
  for (const ops of extra) {
    m.thread(ops.map((o) => o.op).join("+"), {}, () =>
      ops.map((o) => {
        const f = s.folio[o.arg - 1]!;
        return func("try_get_put", [if_(folio_try_get(f), [folio_put(f, d)])]);
      }),
    );
  }

  m.init((sv) => {
    // F1, the extra folios, then F2 (CPU2's): the walk meets the extra ones before F2
    const queued = [0, ...Array.from({ length: p.extra_folios }, (_, i) => 1 + p.third_party + i)];
    if (p.third_party) queued.push(1);
    initList(
      sv.deferred_split_lru.sub[0]!.list,
      queued.map((i) => sv.folio[i]!._deferred_list),
    );
    sv.deferred_split_lru.sub[0]!.nr_items = nf;
    sv.deferred_split_lru.nr_items[0] = nf;
    sv.folio[0]!.locked = true; // F1 is locked by CPU1
  });

  lruCountConsistent(m, lru);
  listIntegrity(m, lruLists(lru));
  useAfterFree(m, s.folio);
  partiallyMappedCounter(m, s.folio, stat, [lru.sub[0]!.lock]);
  // lost-membership on the rmap state: a live, unsplit (still large) folio that is partially
  // mapped in the page tables must be on the sublist (and flagged, checked below)
  lostMembership(m, s.folio, lruLists(lru), {
    filter: (w, i) => (w.s as ViewOf<typeof m.shared>).folio[i]!.order > 1,
    isPartial: (w, i) => (w.s as ViewOf<typeof m.shared>).folio[i]!.rmap_partial,
  });
  m.endState("lost-membership", ({ s: v }) => {
    for (let i = 0; i < nf; i++) {
      const f = v.folio[i]!;
      if (f.freed || f.order <= 1 || !f.rmap_partial) continue;
      if (!f.partially_mapped) {
        return `F${i + 1} is partially mapped, live and unsplit, but PG_partially_mapped is clear at quiescence`;
      }
    }
    return true;
  });
  return m;
}
