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
// goes on: get_mem_cgroup_from_folio() is NULL with memory cgroups disabled, and
// __memcg_list_lru_alloc()'s do-while walk up the hierarchy takes parent_mem_cgroup(NULL). The
// oops fits: GPR 8 (pos) is 0, `lg %r11,184(%r8)` loads pos->css.parent from s390's lowcore
// at address 184 (readable there: no fault on s390, x86 faults at once), giving r11 =
// 0x4000000000000000, and `lt %r3,2368(%r11)` (the parent's kmemcg id, in
// memcg_list_lru_allocated(parent, lru)) faults at "Failing address: 4000000000000000".
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
// Left out: NUMA (one node), the memcg lookup fast path in folio_memcg_list_lru_alloc (the oops
// shows the slow path was taken; the model goes to it whenever the lru is memcg aware and the
// memcg's heads are not known to exist), allocation failure (-ENOMEM), memcg offlining and
// reparenting, the shrinker itself, refcounts (the folios stay allocated), kmemcg id allocation.

import { array, bool, defineModel, func, if_, int, ModelBuilder, record, return_, spinlock, step } from "../../src/index.ts";
import type { Ctx, Stmt } from "../../src/index.ts";
import type { Ref } from "../../src/model/ref.ts";
import type { IntS } from "../../src/model/schema.ts";
import { Violation } from "../../src/rt/mem.ts";
import { folio, folioName, type FolioRef } from "../../src/kernel/folio.ts";
import { PROP, queueLenConsistent } from "../../src/kernel/catalogue.ts";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.ts";
import {
  __list_lru_add,
  list_lru_lock,
  list_lru_unlock,
  listLruOne,
  type ListLruOneRef,
} from "../list-lru-split/lib.ts";

/** A CPU's locals in __memcg_list_lru_alloc: memcg, pos, parent (memcg indexes, -1 = NULL). */
interface CpuLocals {
  readonly memcg: Ref<IntS>;
  readonly pos: Ref<IntS>;
  readonly parent: Ref<IntS>;
}

interface Options {
  readonly fixed: boolean;
}

const ROOT = 0;
const MEMCG1 = 1;
const NULL = -1;
const memcgName = (i: number): string => (i === NULL ? "NULL" : i === ROOT ? "root_mem_cgroup" : `memcg${i}`);

/** struct mem_cgroup as far as the walk needs it: css.parent (index, -1 = NULL). */
const MemCgroup = record({ css_parent: int(-1, 1, -1) }, "mem_cgroup");

const Folio = folio({ memcgs: 2, memcg: NULL, ref: 1 });

export default defineModel<{ memcg_disabled: number; kmem_disabled: number; fault: number }, Options>({
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
    const memcgDisabled = params.memcg_disabled === 1;
    const kmemDisabled = params.kmem_disabled === 1;
    const nf = 1 + params.fault;
    const m = new ModelBuilder({
      /** Boot configuration (read only). */
      mem_cgroup_disabled: bool(memcgDisabled),
      mem_cgroup_kmem_disabled: bool(kmemDisabled),
      memcg: array(2, MemCgroup, { label: memcgName }),
      /** thp_shrinker_init() has run (khugepaged and faults come after it). */
      thp_initialized: bool(),
      deferred_split_lru: record({
        memcg_aware: bool(),
        /** lru->xa lock (xas_lock_irqsave in __memcg_list_lru_alloc). */
        xa_lock: spinlock(),
        /** xa_load(&lru->xa, memcg1's kmemcg id) != NULL: memcg1's list_lru_memcg is installed. */
        xa_memcg1: bool(),
      }),
      /** lru->node[0].lru: the sublist of the root memcg and of a memcg-unaware lru. */
      lru_node0: listLruOne(nf),
      /** memcg1's list_lru_memcg->node[0]. */
      lru_memcg1: listLruOne(nf),
      folio: array(nf, Folio, { label: (i) => `F${i + 1}` }),
    });
    const s = m.s;
    const lru = s.deferred_split_lru;

    /** parent_mem_cgroup(pos): pos->css.parent; a NULL pos is null-memcg-deref. */
    const parentOf = (c: Ctx, pos: number, where: string): number => {
      if (pos === NULL) {
        throw new Violation(
          PROP.nullMemcgDeref,
          `${where}: parent_mem_cgroup(NULL) dereferences a NULL memcg (pos->css.parent)`,
        );
      }
      return c.m.get(s.memcg[pos]!.css_parent.$off(c.m.b));
    };
    /** memcg_list_lru_allocated(memcg, lru): the root always has its lists (lru->node[]). */
    const allocated = (c: Ctx, memcg: number, where: string): boolean => {
      if (memcg === NULL) {
        throw new Violation(
          PROP.nullMemcgDeref,
          `${where}: memcg_list_lru_allocated(NULL, lru) reads NULL->kmemcg_id`,
        );
      }
      if (memcg === ROOT) return true;
      return c.m.getMarked(lru.xa_memcg1.$off(c.m.b)) !== 0;
    };

    // CPU0: thp_shrinker_init() -> list_lru_init_memcg_key() -> __list_lru_init(lru, true, ...)
    m.thread("thp_shrinker_init", {}, () => [
      func("__list_lru_init", [
        step(
          (c, r) =>
            options.fixed
              ? `if (mem_cgroup_disabled() || mem_cgroup_kmem_disabled()) memcg_aware = false -> memcg_aware = ${r ? "true" : "false"}`
              : `if (mem_cgroup_kmem_disabled()) memcg_aware = false -> memcg_aware = ${r ? "true" : "false"}`,
          (c) => {
            const b = c.m.b;
            const off = (x: Ref) => x.$off(b);
            let aware = true;
            if (b[off(s.mem_cgroup_kmem_disabled)]) aware = false;
            if (options.fixed && b[off(s.mem_cgroup_disabled)]) aware = false;
            c.m.set(off(lru.memcg_aware), aware ? 1 : 0);
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
            (c, r) => `!list_lru_memcg_aware(&deferred_split_lru) -> ${r ? "true: return 0" : "false"}`,
            (c) => c.m.get(lru.memcg_aware.$off(c.m.b)) === 0,
          ),
          [return_()],
        ),
        step(
          (c) => {
            const v = c.m.b[l.memcg.$off(c.m.b)]!;
            return `memcg = get_mem_cgroup_from_folio(${folioName(f, c.m.b)}) -> ${memcgName(v)}`;
          },
          (c) => {
            const b = c.m.b;
            const mc = b[s.mem_cgroup_disabled.$off(b)] ? NULL : c.m.get(f.memcg.$off(b));
            c.m.set(l.memcg.$off(b), mc === NULL && !b[s.mem_cgroup_disabled.$off(b)] ? ROOT : mc);
          },
        ),
        func("__memcg_list_lru_alloc", [
          // do {
          step(
            (c) => `pos = ${memcgName(c.m.b[l.memcg.$off(c.m.b)]!)}; parent = parent_mem_cgroup(pos)`,
            (c) => {
              const pos = c.m.get(l.memcg.$off(c.m.b));
              c.m.set(l.pos.$off(c.m.b), pos);
              c.m.set(l.parent.$off(c.m.b), parentOf(c, pos, "__memcg_list_lru_alloc"));
            },
          ),
          // while (!memcg_list_lru_allocated(parent, lru)) { pos = parent; parent = parent_mem_cgroup(pos); }
          step(
            (c) => `while (!memcg_list_lru_allocated(${memcgName(c.m.b[l.parent.$off(c.m.b)]!)})) walk up`,
            (c) => {
              let pos = c.m.get(l.pos.$off(c.m.b));
              let parent = c.m.get(l.parent.$off(c.m.b));
              while (!allocated(c, parent, "__memcg_list_lru_alloc")) {
                pos = parent;
                parent = parentOf(c, pos, "__memcg_list_lru_alloc");
              }
              c.m.set(l.pos.$off(c.m.b), pos);
              c.m.set(l.parent.$off(c.m.b), parent);
            },
          ),
          // mlru = memcg_init_list_lru_one(gfp); xas_lock; store unless present; xas_unlock
          spin_lock(lru.xa_lock),
          step(
            (c, r) =>
              `if (!memcg_list_lru_allocated(${memcgName(c.m.b[l.pos.$off(c.m.b)]!)})) xas_store(mlru) -> ${r ? "stored" : "already there: free mlru"}`,
            (c) => {
              const pos = c.m.get(l.pos.$off(c.m.b));
              if (allocated(c, pos, "__memcg_list_lru_alloc")) return false;
              c.m.setMarked(lru.xa_memcg1.$off(c.m.b), 1);
              return true;
            },
          ),
          spin_unlock(lru.xa_lock),
          // } while (pos != memcg && !css_is_dying(&pos->css));  (one level here: memcg1 -> root)
        ]),
      ]);

    /** deferred_split_folio(f, false): list_lru_lock(lru, nid, folio_memcg(f)); __list_lru_add; unlock. */
    const deferredSplitFolio = (f: FolioRef): Stmt => {
      const add = (sub: ListLruOneRef): Stmt[] => [
        func("deferred_split_folio", [list_lru_lock(sub), __list_lru_add(sub, f._deferred_list), list_lru_unlock(sub)]),
      ];
      return func("list_lru_from_memcg_idx", [
        if_(
          step(
            (c, r) => `memcg_aware && folio_memcg(${folioName(f, c.m.b)}) != NULL -> ${r ? "memcg's sublist" : "lru->node[nid].lru"}`,
            (c) => {
              const b = c.m.b;
              const aware = c.m.get(lru.memcg_aware.$off(b)) !== 0;
              const mc = c.m.get(f.memcg.$off(b));
              if (!aware || mc === NULL || mc === ROOT) return false;
              if (c.m.getMarked(lru.xa_memcg1.$off(b)) === 0) {
                throw new Violation(
                  "list-lru-sublist",
                  `deferred_split_folio(${folioName(f, b)}): ${memcgName(mc)} has no list_lru_memcg (never allocated), and it is not dying`,
                );
              }
              return true;
            },
          ),
          add(s.lru_memcg1),
          add(s.lru_node0),
        ),
      ]);
    };

    /** The allocation side: mem_cgroup_charge, folio_memcg_list_lru_alloc, then queueing. */
    const allocAndQueue = (f: FolioRef, caller: string, l: CpuLocals): Stmt[] => [
      step(`wait until thp_shrinker_init() has run (initcall before ${caller})`, () => undefined, {
        guard: (c: Ctx) => c.m.b[s.thp_initialized.$off(c.m.b)] !== 0,
        waitsFor: () => "thp_shrinker_init()",
      }),
      func(caller, [
        step(
          (c) =>
            c.m.b[s.mem_cgroup_disabled.$off(c.m.b)]
              ? `mem_cgroup_charge(${folioName(f, c.m.b)}) -> 0 (memory cgroups disabled: not charged)`
              : `mem_cgroup_charge(${folioName(f, c.m.b)}) -> 0 (charged to memcg1)`,
          (c) => {
            if (!c.m.b[s.mem_cgroup_disabled.$off(c.m.b)]) c.m.set(f.memcg.$off(c.m.b), MEMCG1);
          },
        ),
        folioMemcgListLruAlloc(f, l),
      ]),
      deferredSplitFolio(f),
    ];

    const locals = { memcg: int(-1, 1, -1), pos: int(-1, 1, -1), parent: int(-1, 1, -1) };
    m.thread("khugepaged", locals, ({ l }) => allocAndQueue(s.folio[0]!, "alloc_charge_folio", l));
    if (nf > 1) {
      m.thread("do_huge_pmd_anonymous_page", locals, ({ l }) =>
        allocAndQueue(s.folio[1]!, "vma_alloc_anon_folio_pmd", l),
      );
    }

    m.init((sv) => {
      sv.memcg[MEMCG1]!.css_parent = ROOT;
    });

    queueLenConsistent(m, [
      { split_queue_lock: s.lru_node0.lock, split_queue: s.lru_node0.list, split_queue_len: s.lru_node0.nr_items },
      { split_queue_lock: s.lru_memcg1.lock, split_queue: s.lru_memcg1.list, split_queue_len: s.lru_memcg1.nr_items },
    ]);
    // every folio ends up queued (deferred_split_folio ran to the end) on the sublist of its memcg
    m.endState("list-lru-sublist", (w) => {
      const b = w.m.b;
      for (let i = 0; i < nf; i++) {
        const f = s.folio[i]!;
        const id = f._deferred_list.$node(b);
        if (b[w.m.layout.nodes[id]!.nextOff] === id) return `F${i + 1} was never queued`;
      }
      return true;
    });
    return m;
  },
});
