// Memory cgroups disabled at boot (seed 004: "[PATCH v3 7/7] mm: switch deferred split shrinker
// to list_lru - [s390] panic in __memcg_list_lru_alloc", Mikhail Zaslonko's report, Johannes
// Weiner's diagnosis and fix, confirmed by Mikhail and Vasily Gorbik).
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
// list-lru-sublist: a memcg-aware lookup must find the memcg's sublist allocated) hold in
// every configuration that gets that far.
//
// Uses src/kernel/memcg.ts (memcg tree, mem_cgroup_disabled(), folio_memcg(), parent_mem_cgroup()
// with its null-memcg-deref check) and src/kernel/list_lru.ts (the sublists and their locking);
// __list_lru_init and the hierarchy walk of __memcg_list_lru_alloc are written here, line by
// line, because they are the code under test (the shared __list_lru_init has no nokmem switch).
//
// Left out: NUMA (one node), the rcu_read_lock() around the fast path, allocation failure
// (-ENOMEM), memcg offlining and
// reparenting, the shrinker itself, refcounts (the folios stay allocated), kmemcg id allocation.

import {
  array,
  bool,
  defineModel,
  func,
  if_,
  int,
  ModelBuilder,
  record,
  return_,
  spinlock,
  step,
} from "../../src/index.ts";
import type { Ctx, Stmt } from "../../src/index.ts";
import type { Ref } from "../../src/model/ref.ts";
import type { IntS } from "../../src/model/schema.ts";
import { Violation } from "../../src/rt/mem.ts";
import { folio, folioName, type FolioRef } from "../../src/kernel/folio.ts";
import { PROP } from "../../src/kernel/catalogue.ts";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.ts";
import {
  checkMemcg,
  folioMemcg,
  memcgDisabled,
  memcgName,
  memcgTree,
  parentMemcg,
} from "../../src/kernel/memcg.ts";
import {
  __list_lru_add,
  list_lru_lock,
  list_lru_unlock,
  listLru,
  lruCountConsistent,
  lruKeyOfFolio,
  lruSubLocal,
} from "../../src/kernel/list_lru.ts";

/** A CPU's locals: the locked sublist, and memcg, pos, parent of __memcg_list_lru_alloc (-1 = NULL). */
interface CpuLocals {
  readonly l: Ref<IntS>;
  readonly memcg: Ref<IntS>;
  readonly pos: Ref<IntS>;
  readonly parent: Ref<IntS>;
}

interface Options {
  readonly fixed: boolean;
}

/** memcg0 is root_mem_cgroup, memcg1 its child. */
const ROOT = 0;
const MEMCG1 = 1;
const NULL = -1;

const Folio = folio({ memcgs: 2, memcg: NULL, ref: 1 });

export default defineModel<
  { memcg_disabled: number; kmem_disabled: number; fault: number },
  Options
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
      expect: { violated: [PROP.nullMemcgDeref] },
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
    const memcgDisabledAtBoot = params.memcg_disabled === 1;
    const nf = 1 + params.fault;
    const Lru = listLru({ name: "deferred_split_lru", memcgs: 2, maxItems: nf, memcgAware: false });
    const m = new ModelBuilder({
      /** mem_cgroup_disabled() and the memcg tree (memcg0 = root, memcg1 its child). */
      memcgs: memcgTree({ count: 2, disabled: memcgDisabledAtBoot }),
      /** mem_cgroup_kmem_disabled() (cgroup.memory=nokmem): boot time, read only. */
      mem_cgroup_kmem_disabled: bool(params.kmem_disabled === 1),
      /** thp_shrinker_init() has run (khugepaged and faults come after it). */
      thp_initialized: bool(),
      deferred_split_lru: Lru,
      deferred_split_lru_xa: record({
        /** lru->xa lock (xas_lock_irqsave in __memcg_list_lru_alloc). */
        xa_lock: spinlock(),
        /** xa_load(&lru->xa, memcg1's kmemcg id) != NULL: memcg1's list_lru_memcg is installed. */
        memcg1: bool(),
      }),
      folio: array(nf, Folio, { label: (i) => `F${i + 1}` }),
    });
    const s = m.s;
    const mc = s.memcgs;
    const lru = s.deferred_split_lru;
    const xa = s.deferred_split_lru_xa;

    /** parent_mem_cgroup(pos): pos->css.parent (null-memcg-deref on NULL). */
    const parentOf = (c: Ctx, pos: number): number =>
      parentMemcg(c, mc, pos, "__memcg_list_lru_alloc: parent_mem_cgroup(pos), pos->css.parent");
    /** memcg_list_lru_allocated(memcg, lru): memcg->kmemcg_id; the root always has its lists (lru->node[]). */
    const allocated = (
      c: Ctx,
      memcg: number,
      what = "memcg_list_lru_allocated(memcg, lru): memcg->kmemcg_id",
    ): boolean => {
      checkMemcg(c, mc, memcg, what);
      if (memcg === ROOT) return true;
      return c.m.getMarked(xa.memcg1.$off(c.m.b)) !== 0;
    };
    const val = (c: Ctx, r: Ref<IntS>): number => c.m.b[r.$off(c.m.b)]!;

    // CPU0: thp_shrinker_init() -> list_lru_init_memcg_key() -> __list_lru_init(lru, true, ...)
    m.thread("thp_shrinker_init", {}, () => [
      func("__list_lru_init", [
        step(
          (_c, r) =>
            options.fixed
              ? `if (mem_cgroup_disabled() || mem_cgroup_kmem_disabled()) memcg_aware = false -> memcg_aware = ${r ? "true" : "false"}`
              : `if (mem_cgroup_kmem_disabled()) memcg_aware = false -> memcg_aware = ${r ? "true" : "false"}`,
          (c) => {
            const b = c.m.b;
            let aware = true;
            if (b[s.mem_cgroup_kmem_disabled.$off(b)]) aware = false;
            if (options.fixed && memcgDisabled(c, mc)) aware = false;
            c.m.setMarked(lru.memcg_aware.$off(b), aware ? 1 : 0);
            return aware;
          },
        ),
      ]),
      step("shrinker_register(deferred_split_shrinker); later: start_stop_khugepaged()", (c) => {
        c.m.setMarked(s.thp_initialized.$off(c.m.b), 1);
      }),
    ]);

    /** folio_memcg_list_lru_alloc(f, &deferred_split_lru, gfp) with __memcg_list_lru_alloc inlined. */
    const folioMemcgListLruAlloc = (f: FolioRef, l: CpuLocals): Stmt =>
      func("folio_memcg_list_lru_alloc", [
        if_(
          step(
            (_c, r) =>
              `!list_lru_memcg_aware(&deferred_split_lru) -> ${r ? "true: return 0" : "false"}`,
            (c) => c.m.getMarked(lru.memcg_aware.$off(c.m.b)) === 0,
          ),
          [return_()],
        ),
        // Fast path when list_lru heads already exist (under rcu_read_lock())
        if_(
          step(
            (c, r) =>
              `memcg = folio_memcg(${folioName(f, c.m.b)}) -> ${memcgName(folioMemcg(c, mc, f))}; memcg_list_lru_allocated(memcg, lru)` +
              (r === undefined ? "" : r ? " -> true: return 0" : " -> false"),
            (c) =>
              allocated(
                c,
                folioMemcg(c, mc, f),
                "folio_memcg_list_lru_alloc fast path: memcg_list_lru_allocated(folio_memcg(folio), lru): memcg->kmemcg_id",
              ),
          ),
          [return_()],
        ),
        step(
          (c) =>
            `memcg = get_mem_cgroup_from_folio(${folioName(f, c.m.b)}) -> ${memcgName(val(c, l.memcg))}`,
          (c) => {
            // NULL when memory cgroups are disabled; an uncharged folio gets the root
            let memcg = folioMemcg(c, mc, f);
            if (memcg === NULL && !memcgDisabled(c, mc)) memcg = ROOT;
            c.m.set(l.memcg.$off(c.m.b), memcg);
          },
        ),
        func("__memcg_list_lru_alloc", [
          // do {
          step(
            (c) => `pos = ${memcgName(val(c, l.memcg))}; parent = parent_mem_cgroup(pos)`,
            (c) => {
              const pos = c.m.get(l.memcg.$off(c.m.b));
              c.m.set(l.pos.$off(c.m.b), pos);
              c.m.set(l.parent.$off(c.m.b), parentOf(c, pos));
            },
          ),
          // while (!memcg_list_lru_allocated(parent, lru)) { pos = parent; parent = parent_mem_cgroup(pos); }
          step(
            (c) =>
              `while (!memcg_list_lru_allocated(${memcgName(val(c, l.parent))})) walk up: pos = ${memcgName(val(c, l.pos))}`,
            (c) => {
              let pos = c.m.get(l.pos.$off(c.m.b));
              let parent = c.m.get(l.parent.$off(c.m.b));
              while (!allocated(c, parent)) {
                pos = parent;
                parent = parentOf(c, pos);
              }
              c.m.set(l.pos.$off(c.m.b), pos);
              c.m.set(l.parent.$off(c.m.b), parent);
            },
          ),
          // mlru = memcg_init_list_lru_one(gfp); xas_lock; store unless present; xas_unlock
          spin_lock(xa.xa_lock),
          step(
            (c, r) =>
              `if (!memcg_list_lru_allocated(${memcgName(val(c, l.pos))})) xas_store(mlru) -> ${r ? "stored" : "already there: kfree(mlru)"}`,
            (c) => {
              if (allocated(c, c.m.get(l.pos.$off(c.m.b)))) return false;
              c.m.setMarked(xa.memcg1.$off(c.m.b), 1);
              return true;
            },
          ),
          spin_unlock(xa.xa_lock),
          // } while (pos != memcg && !css_is_dying(&pos->css));  (one level here: memcg1 -> root)
        ]),
      ]);

    /** deferred_split_folio(f, false): list_lru_lock(lru, nid, folio_memcg(f)); __list_lru_add; unlock. */
    const deferredSplitFolio = (f: FolioRef, l: CpuLocals): Stmt =>
      func("deferred_split_folio", [
        step(
          (c) =>
            `list_lru_from_memcg_idx(deferred_split_lru, nid, ${memcgName(folioMemcg(c, mc, f))})`,
          (c) => {
            const b = c.m.b;
            const memcg = folioMemcg(c, mc, f);
            if (c.m.getMarked(lru.memcg_aware.$off(b)) === 0 || memcg === NULL || memcg === ROOT)
              return;
            if (c.m.getMarked(xa.memcg1.$off(b)) === 0) {
              throw new Violation(
                "list-lru-sublist",
                `deferred_split_folio(${folioName(f, b)}): ${memcgName(memcg)} has no list_lru_memcg (never allocated), and it is not dying`,
              );
            }
          },
        ),
        list_lru_lock(lru, lruKeyOfFolio(f, mc), l.l),
        __list_lru_add(lru, l.l, f._deferred_list),
        list_lru_unlock(lru, l.l),
      ]);

    /** The allocation side: mem_cgroup_charge, folio_memcg_list_lru_alloc, then queueing. */
    const allocAndQueue = (f: FolioRef, caller: string, l: CpuLocals): Stmt[] => [
      step(`wait until thp_shrinker_init() has run (initcall before ${caller})`, () => undefined, {
        guard: (c: Ctx) => c.m.b[s.thp_initialized.$off(c.m.b)] !== 0,
        waitsFor: () => "thp_shrinker_init()",
      }),
      func(caller, [
        step(
          (c) =>
            memcgDisabled(c, mc)
              ? `mem_cgroup_charge(${folioName(f, c.m.b)}) -> 0 (memory cgroups disabled: not charged)`
              : `mem_cgroup_charge(${folioName(f, c.m.b)}) -> 0 (charged to memcg1)`,
          (c) => {
            if (!memcgDisabled(c, mc)) c.m.set(f.memcg.$off(c.m.b), MEMCG1);
          },
        ),
        folioMemcgListLruAlloc(f, l),
      ]),
      deferredSplitFolio(f, l),
    ];

    const locals = {
      l: lruSubLocal(Lru),
      memcg: int(-1, 1, -1),
      pos: int(-1, 1, -1),
      parent: int(-1, 1, -1),
    };
    m.thread("khugepaged", locals, ({ l }) => allocAndQueue(s.folio[0]!, "alloc_charge_folio", l));
    if (nf > 1) {
      m.thread("do_huge_pmd_anonymous_page", locals, ({ l }) =>
        allocAndQueue(s.folio[1]!, "vma_alloc_anon_folio_pmd", l),
      );
    }

    lruCountConsistent(m, lru);
    // every folio ends up queued (deferred_split_folio ran to the end)
    m.endState("list-lru-sublist", (w) => {
      const b = w.m.b;
      for (let i = 0; i < nf; i++) {
        const id = s.folio[i]!._deferred_list.$node(b);
        if (b[w.m.layout.nodes[id]!.nextOff] === id) return `F${i + 1} was never queued`;
      }
      return true;
    });
    // raised by the model's own steps (parentOf / allocated above, through checkMemcg)
    m.property("null-memcg-deref", "a NULL memcg dereferenced (memory cgroups disabled)");
    return m;
  },
});
