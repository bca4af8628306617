// Memory cgroups disabled at boot (seed 004: "[PATCH v3 7/7] mm: switch deferred split shrinker
// to list_lru - [s390] panic in __memcg_list_lru_alloc", Mikhail Zaslonko's report, Johannes
// Weiner's diagnosis and fix, confirmed by Mikhail and Vasily Gorbik;
// /work/shared/seeds/004_5eed9a86ccf0bd4a.txt). Upstream code followed: the series' base
// 230bbdc110b3 ("mm: list_lru: introduce folio_memcg_list_lru_alloc()", the last good commit of
// the report's bisection) for folio_memcg_list_lru_alloc() / __memcg_list_lru_alloc(), and the
// fix's hunk of __list_lru_init() (mm/list_lru.c @@ -637,7 +637,7 @@).
//
// The dump kernel boots with `cgroup_disable=memory`. The patch creates the deferred split
// list_lru memcg aware (thp_shrinker_init -> list_lru_init_memcg_key -> __list_lru_init(lru,
// memcg_aware = true, ...)); __list_lru_init only turned memcg awareness off for
// `mem_cgroup_kmem_disabled()` ("The existing callsites had their own memcg_kmem_online()
// guards. But the THP one does not"). khugepaged then collapses a THP: alloc_charge_folio ->
// mem_cgroup_charge (nothing to do: the folio stays without memcg) ->
// folio_memcg_list_lru_alloc(folio, &deferred_split_lru, gfp): the lru is memcg aware, so it
// goes on. Its fast path, `memcg = folio_memcg(folio); memcg_list_lru_allocated(memcg, lru)`,
// reads memcg->kmemcg_id through the NULL folio_memcg() first: NULL + 2368, the same offset as
// the faulting `lt %r3,2368(%r11)` below. On s390 that address is in the lowcore, readable
// from the kernel (no fault), so the garbage read there sent it down the slow path:
// get_mem_cgroup_from_folio() is NULL with memory cgroups disabled, and
// __memcg_list_lru_alloc()'s do-while walk up the hierarchy takes parent_mem_cgroup(NULL). The
// oops fits: GPR 8 (pos) is 0, `lg %r11,184(%r8)` loads pos->css.parent from s390's lowcore
// at address 184 (again no fault), giving r11 = 0x4000000000000000, and `lt %r3,2368(%r11)`
// (the parent's kmemcg id, in memcg_list_lru_allocated(parent, lru)) faults at "Failing
// address: 4000000000000000". x86 ("crashes more or less the same way", Vasily Gorbik) faults
// at the first of these NULL reads. The model reports the first one, in the fast path (a NULL
// memcg dereference is the bug whether or not the architecture faults on it); the slow path
// is still modelled line by line for configurations that reach it.
// The fix: `if (mem_cgroup_disabled() || mem_cgroup_kmem_disabled()) memcg_aware = false;`
// in __list_lru_init (mm/list_lru.c).
//
// CPUs:
//  CPU0 thp_shrinker_init(): __list_lru_init(&deferred_split_lru, true, shrinker) as before or
//       after the fix, then the shrinker is registered (thp_initialized).
//  CPU1 khugepaged: runs only after thp_shrinker_init() (start_stop_khugepaged() comes after it:
//       modelled as a wait), alloc_charge_folio(F1) then, once collapsed, the THP is queued
//       for the underused shrinker: deferred_split_folio(F1, false) -> list_lru_lock on the
//       sublist of (nid, folio_memcg) -> __list_lru_add.
//  CPU2 (param fault) a THP page fault, vma_alloc_anon_folio_pmd(F2): the same steps for a
//       second folio in the same memcg: the two allocations race to install memcg1's
//       list_lru_memcg (the xa store is done under the xa lock; the loser frees its copy).
// With memory cgroups enabled the folios are charged to memcg1 (a child of root).
//
// Boot configuration: params `memcg_disabled` (cgroup_disable=memory) and `kmem_disabled`
// (cgroup.memory=nokmem), 0..1 each; all four combinations build. Expected verdicts: before
// the fix, memcg disabled: null-memcg-deref (what the s390 and x86 reports show); with memcg
// enabled, or after the fix: holds. The queue properties (queue-len on each sublist,
// list-lru-sublist: lock_list_lru_of_memcg()'s VM_WARN_ON for a live memcg without lists,
// folio-queued: every folio ends on a sublist) hold in every configuration that gets that far.
//
// Written against src/index.ts alone: the memcg tree and both boot switches (memcgTree), and
// from src/kernel/list_lru.ts list_lru_init_memcg() (__list_lru_init with or without the fix),
// folio_memcg_list_lru_alloc() (the fast path, get_mem_cgroup_from_folio() and
// __memcg_list_lru_alloc()'s walk and xa store, line by line), lock_list_lru_of_memcg() with
// its VM_WARN_ON for a memcg without lists, __list_lru_add() and list_lru_unlock().
//
// Left out: NUMA (one node), the rcu_read_lock() around the fast path, allocation failure
// (-ENOMEM), memcg offlining and reparenting, the shrinker itself, refcounts (the folios stay allocated), kmemcg id allocation.

import {
  array,
  bool,
  defineModel,
  folio,
  folio_memcg_list_lru_alloc,
  func,
  list_lru_init_memcg,
  list_lru_unlock,
  listLru,
  listLruXa,
  lock_list_lru_of_memcg,
  lruCountConsistent,
  lruKeyOfFolio,
  lruSubLocal,
  mem_cgroup_charge,
  memcgTree,
  ModelBuilder,
  WRITE_ONCE,
  __list_lru_add,
  type FolioRef,
  type Stmt,
  type ThreadRefs,
} from "../../src/index.ts";

/** memcg0 is root_mem_cgroup, memcg1 its child, the memcg the folios are charged to. */
const MEMCG1 = 1;

const Folio = folio({ memcgs: 2, memcg: -1, ref: 1 });

export default defineModel<
  { memcg_disabled: number; kmem_disabled: number; fault: number },
  { readonly fixed: boolean }
>({
  name: "memcg-disabled",
  doc: "Seed 004 s390 report: with cgroup_disable=memory the deferred split list_lru was set up memcg aware and __memcg_list_lru_alloc walked up from a NULL memcg; fixed in __list_lru_init",
  params: {
    memcg_disabled: {
      default: 1,
      min: 0,
      max: 1,
      doc: "1: booted with cgroup_disable=memory (mem_cgroup_disabled()), as the s390 dump kernel was",
    },
    kmem_disabled: {
      default: 0,
      min: 0,
      max: 1,
      doc: "1: booted with cgroup.memory=nokmem (mem_cgroup_kmem_disabled())",
    },
    fault: {
      default: 1,
      min: 0,
      max: 1,
      doc: "1: a THP page fault (CPU2) allocates a second folio concurrently with khugepaged",
    },
  },
  variants: {
    "before-fix": {
      doc: "__list_lru_init turns memcg awareness off only for mem_cgroup_kmem_disabled(); booted with cgroup_disable=memory",
      options: { fixed: false },
      expect: { violated: ["null-memcg-deref"] },
    },
    "after-fix": {
      doc: "also for mem_cgroup_disabled(); booted with cgroup_disable=memory",
      options: { fixed: true },
      expect: "holds",
    },
    "before-fix-memcg-on": {
      doc: "the unfixed code on a normal boot (memory cgroups enabled)",
      options: { fixed: false },
      params: { memcg_disabled: 0 },
      expect: "holds",
    },
    "after-fix-memcg-on": {
      doc: "the fixed code on a normal boot (memory cgroups enabled)",
      options: { fixed: true },
      params: { memcg_disabled: 0 },
      expect: "holds",
    },
  },
  build: ({ params, options }) => {
    const nf = 1 + params.fault;
    const Lru = listLru({ name: "deferred_split_lru", memcgs: 2, maxItems: nf, memcgAware: false });
    const shared = {
      memcgs: memcgTree({
        count: 2,
        disabled: params.memcg_disabled === 1,
        kmemDisabled: params.kmem_disabled === 1,
      }),
      /** thp_shrinker_init() has run (khugepaged and faults come after it). */
      thp_initialized: bool(),
      deferred_split_lru: Lru,
      deferred_split_lru_xa: listLruXa({ memcgs: 2 }),
      folio: array(nf, Folio, { label: (i) => `F${i + 1}` }),
    };
    const locals = { l: lruSubLocal(Lru) };
    const m = new ModelBuilder(shared);
    const { memcgs: mc, deferred_split_lru: lru, deferred_split_lru_xa: xa } = m.s;

    // CPU0: thp_shrinker_init() -> list_lru_init_memcg_key() -> __list_lru_init(lru, true, ...)
    m.thread("thp_shrinker_init", {}, ({ step }) => [
      list_lru_init_memcg(lru, mc, options),
      step("shrinker_register(deferred_split_shrinker); later: start_stop_khugepaged()", ({ s }) =>
        WRITE_ONCE(s, "thp_initialized", true),
      ),
    ]);

    /** khugepaged's alloc_charge_folio() or a fault's vma_alloc_anon_folio_pmd(), then queueing. */
    const allocAndQueue = (
      t: ThreadRefs<typeof shared, typeof locals>,
      f: FolioRef,
      caller: string,
    ): Stmt[] => [
      t.wait_until(
        `thp_shrinker_init() has run (initcall before ${caller})`,
        ({ s }) => s.thp_initialized,
      ),
      func(caller, [mem_cgroup_charge(f, mc, MEMCG1), folio_memcg_list_lru_alloc(f, lru, xa, mc)]),
      // deferred_split_folio(f, false) of the list_lru series
      func("deferred_split_folio", [
        lock_list_lru_of_memcg(lru, xa, lruKeyOfFolio(f, mc), t.l.l, { mc }),
        __list_lru_add(lru, t.l.l, f._deferred_list),
        list_lru_unlock(lru, t.l.l),
      ]),
    ];

    m.thread("khugepaged", locals, (t) => allocAndQueue(t, m.s.folio[0]!, "alloc_charge_folio"));
    if (nf > 1) {
      m.thread("do_huge_pmd_anonymous_page", locals, (t) =>
        allocAndQueue(t, m.s.folio[1]!, "vma_alloc_anon_folio_pmd"),
      );
    }

    lruCountConsistent(m, lru);
    m.endState("folio-queued", ({ s }) => {
      for (let i = 0; i < nf; i++) {
        const node = s.folio[i]!._deferred_list;
        if (node.next === node.id) return `F${i + 1} was never queued`;
      }
      return true;
    });
    return m;
  },
});
