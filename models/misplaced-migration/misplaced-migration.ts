// Batched misplaced (promotion) migration and its memcg statistics (seed 003,
// /work/shared/seeds/003_98c3fd41cfaa64ce.txt: "[RFC PATCH v6 2/5] mm: migrate: Add
// migrate_misplaced_folios_batch()", Gregory Price / Bharata B Rao, review by Donet Tom,
// April 2026).
//
// migrate_misplaced_folios_batch(folio_list, node) (mm/migrate.c, v6 as posted):
//   memcg = NULL;
//   if (!list_empty(folio_list)) {
//           first = list_first_entry(folio_list, struct folio, lru);
//           memcg = get_mem_cgroup_from_folio(first);
//   }
//   nr_remaining = migrate_pages(folio_list, ..., &nr_succeeded);
//   if (nr_remaining) putback_movable_pages(folio_list);
//   if (nr_succeeded) { count_vm_numa_events(...); count_memcg_events(memcg, NUMA_PAGE_MIGRATE,
//                       nr_succeeded); mod_node_page_state(...); }
//   mem_cgroup_put(memcg);
// Donet Tom: "We seem to proceed even when the list is empty. Should we instead return early?"
// and "are we ensuring that a single list contains folios from the same memcg?"; Gregory Price:
// "I have since learned that this almost certainly is not the case. That means a bulk migration
// may have to first process the folios into lists by memcg before migrating them."
//
// Variants: `v2` (RFC v2, Sep 2025: no memcg accounting at all), `v6` (as posted: the memcg of
// the first folio), `v6-unguarded` (v6 without its `if (!list_empty())`: what the guard is for;
// not a posted version), `per-memcg-batches` (the fix the thread converges on: return early on
// an empty list, then migrate the folios one memcg at a time).
//
// The CPUs: kmigrated (kmigrated_walk_zone(): migrate_misplaced_folio_prepare() isolates each
// candidate folio or skips it, list_add() onto its on-stack migrate_list, then the batch call,
// made even when nothing was isolated: the first kmigrated posting (RFC v1, mm/kmigrated.c,
// kmigrated_walk_zone) flushed the batch on a node change before adding anything, with an
// empty list), and, with `unmap`, the process unmapping the first candidate folio
// concurrently (folio_put of the mapping's reference). migrate_pages() then finds the folio with only the isolation reference
// ("Folio was freed from under us. So we are done.") and counts it as succeeded, as
// migrate_folio_unmap() does.
//
// Honest note: the misattribution and the empty list are SEQUENTIAL bugs. The concurrent unmap
// only changes which folios count as succeeded (the race between migrate_pages' refcount
// test and the put); the verdicts do not depend on it. Every scenario is still explored
// exhaustively: which folios are isolated (either), the memcg each one is charged to
// (either, over nr_memcgs), whether each migration succeeds or fails with -EAGAIN (either).
//
// Properties: `memcg-numa-migrate-stat` (end state: each memcg's NUMA_PAGE_MIGRATE event count
// equals the number of its own folios migrate_pages() counted as succeeded), `bogus-entry`
// (list_first_entry() of an empty list used as a folio: raised by the list/ref module),
// `null-memcg-deref` (count_memcg_events() on a NULL memcg with memory cgroups enabled),
// `memcg-css-leak` (end state: a css reference taken and never put), `folio-list-not-empty`
// (the WARN_ON(!list_empty(folio_list)) at the end), and the folio module's use-after-free etc.
//
// Left out: folio sizes (every folio is one page: nr_succeeded counts folios), the copy itself
// (a migrated folio is the same object, now on the target node, holding the mapping's reference;
// mem_cgroup_migrate() keeps its memcg), PGPROMOTE_SUCCESS (node stat, per node: always right),
// memcg offlining/reparenting (the css reference taken by get_mem_cgroup_from_folio() keeps the
// memcg; a folio reparented between the memcg lookup and the migration is not explored),
// uncharged folios (they go to root_mem_cgroup). The memcg hierarchy and mem_cgroup_disabled()
// come from src/kernel/memcg.ts; the statistics and css counts are this model's.
// The two on-stack lists are private to kmigrated: their operations are one step each (see
// `on_stack`); the data-race check is on.

import {
  array,
  bool,
  defineModel,
  either,
  func,
  if_,
  int,
  listHead,
  ModelBuilder,
  nodeptr,
  ptr,
  record,
  return_,
  spinlock,
  step,
  when,
  while_,
  type Ctx,
  type Stmt,
  type StepStmt,
} from "../../src/index.ts";
import { listNode } from "../../src/model/schema.ts";
import type { ViewOf } from "../../src/model/view.ts";
import type { RecordS } from "../../src/model/schema.ts";
import type { Ref } from "../../src/model/ref.ts";
import type { ListHeadS, PtrS } from "../../src/model/schema.ts";
import { BOGUS, NULL } from "../../src/model/layout.ts";
import {
  list_add,
  list_del,
  list_empty,
  list_first_entry,
  list_for_each_entry_safe,
  list_move_tail,
  list_nonempty,
} from "../../src/kernel/list.ts";
import { assertLive, folio, folio_put, type FolioRef } from "../../src/kernel/folio.ts";
import {
  checkMemcg,
  folioMemcg,
  memcgDisabled,
  memcgName,
  memcgTree,
  NULL_MEMCG,
  type MemcgsRef,
} from "../../src/kernel/memcg.ts";

export const PROPS = {
  memcgStat: "memcg-numa-migrate-stat",
  bogusEntry: "bogus-entry",
  nullMemcgDeref: "null-memcg-deref",
  cssLeak: "memcg-css-leak",
  listNotEmpty: "folio-list-not-empty",
} as const;

type Version = "v2" | "v6" | "v6-unguarded" | "per-memcg-batches";
interface Options {
  readonly version: Version;
}

const MAX_FOLIOS = 3;
const MAX_MEMCGS = 3;
/** The node kmigrated promotes to (folios start on node 1). */
const TARGET_NODE = 0;

type P = { nr_folios: number; nr_memcgs: number; memcg_disabled: number; unmap: number };

export default defineModel<P, Options>({
  name: "misplaced-migration",
  doc:
    "migrate_misplaced_folios_batch() (seed 003): the memcg of the first folio gets the " +
    "NUMA_PAGE_MIGRATE events of the whole batch; list_first_entry() on an empty list",
  params: {
    nr_folios: {
      default: 2,
      min: 0,
      max: MAX_FOLIOS,
      doc: "candidate folios kmigrated finds (each may or may not be isolated)",
    },
    nr_memcgs: {
      default: 2,
      min: 1,
      max: MAX_MEMCGS,
      doc: "memory cgroups a folio may be charged to (every assignment is explored)",
    },
    memcg_disabled: {
      default: 0,
      min: 0,
      max: 1,
      doc: "cgroup_disable=memory: folio_memcg() is NULL, get_mem_cgroup_from_folio() returns NULL",
    },
    unmap: {
      default: 1,
      min: 0,
      max: 1,
      doc: "the process unmaps the first candidate folio concurrently (folio_put of its mapping)",
    },
  },
  variants: {
    v2: {
      doc: "RFC v2 (Sep 2025): no memcg accounting in the batch at all",
      options: { version: "v2" } as Options,
      expect: { violated: [PROPS.memcgStat] },
    },
    v6: {
      doc: "RFC v6 as posted: memcg of the first folio, guarded by !list_empty()",
      options: { version: "v6" } as Options,
      expect: { violated: [PROPS.memcgStat] },
    },
    "v6-unguarded": {
      doc: "v6 without its list_empty() guard (not posted): list_first_entry() of an empty list",
      options: { version: "v6-unguarded" } as Options,
      expect: { violated: [PROPS.bogusEntry, PROPS.memcgStat] },
    },
    "per-memcg-batches": {
      doc: "the fix the thread converges on: return early when empty; one migrate_pages() per memcg",
      options: { version: "per-memcg-batches" } as Options,
      expect: "holds",
    },
  },
  build: ({ params, options }) => {
    const v = (options as Options).version;
    const n = params.nr_folios;
    const nm = params.nr_memcgs;
    const disabled = params.memcg_disabled === 1;

    const Folio = folio({
      maxRef: 3,
      ref: 2, // one mapping + ... set in init
      memcgs: nm,
      nodes: 2,
      nid: 1,
      order: 0,
      extra: { lru: listNode(), isolated: bool(false) },
    });
    const Memcg = record(
      {
        /** memcg->vmstats_percpu->events[NUMA_PAGE_MIGRATE] (summed over CPUs). */
        numa_page_migrate: int(0, MAX_FOLIOS),
        /** css reference count (1: the cgroup's own). */
        css_refcnt: int(0, MAX_FOLIOS + 2, 1),
        /** Ghost: this memcg's folios that migrate_pages() counted as succeeded. */
        migrated: int(0, MAX_FOLIOS),
      },
      "mem_cgroup",
    );
    const m = new ModelBuilder({
      folio: array(Math.max(n, 1), Folio, { label: (i) => `F${i}` }),
      /** The memcg hierarchy and mem_cgroup_disabled() (src/kernel/memcg.ts). */
      memcgs: memcgTree({ count: nm, disabled }),
      /** Per-memcg statistics and css reference counts of this model. */
      memcg: array(nm, Memcg, { label: (i) => `memcg${i}` }),
      /** Global vm event NUMA_PAGE_MIGRATE. */
      numa_page_migrate: int(0, MAX_FOLIOS),
    });
    type Shared = ViewOf<typeof m.shared>;
    const S = (c: Ctx): Shared => c.s as unknown as Shared;

    const locals = {
      /**
       * Not a kernel lock: marks migrate_list and memcg_list as private to kmigrated (they are
       * on its stack and no other CPU can reach them), so that their list operations are one
       * step each instead of their individual pointer writes. Held from the first step on.
       */
      on_stack: spinlock(),
      migrate_list: listHead({ atomicUnder: "on_stack" }),
      memcg_list: listHead({ atomicUnder: "on_stack" }),
      first: ptr(Folio),
      folio: ptr(Folio),
      n: nodeptr(),
      memcg: int(-1, nm - 1, -1),
      nr_succeeded: int(0, MAX_FOLIOS),
      nr_remaining: int(0, MAX_FOLIOS),
      total_remaining: int(0, MAX_FOLIOS),
    };
    type Locals = ViewOf<RecordS<typeof locals>>;
    const L = (c: Ctx): Locals => c.l as unknown as Locals;
    const mc: MemcgsRef = m.s.memcgs;
    const mname = memcgName;

    m.thread("kmigrated", locals, (t) => {
      const l = t.l;
      const pfolio = l.folio as unknown as FolioRef & { lru: Ref<ListHeadS> };
      const pfirst = l.first as unknown as FolioRef & { lru: Ref<ListHeadS> };
      const fname = (c: Ctx, p: Ref<PtrS>): string => {
        const i = c.m.b[p.$off(c.m.b)]!;
        return i === NULL ? "NULL" : i === BOGUS ? "container_of(&migrate_list)" : `F${i}`;
      };

      /** get_mem_cgroup_from_folio(first) (mm/memcontrol.c, 2026): NULL when disabled, css_tryget. */
      const get_mem_cgroup_from_folio = (p: typeof pfirst, pref: Ref<PtrS>): StepStmt =>
        step(
          (c) => {
            if (memcgDisabled(c, mc))
              return `memcg = get_mem_cgroup_from_folio(${fname(c, pref)}) -> NULL (mem_cgroup_disabled)`;
            const i = c.m.b[pref.$off(c.m.b)]!;
            const id = i >= 0 ? S(c).folio[i]!.memcg : -1;
            return i >= 0
              ? `memcg = get_mem_cgroup_from_folio(${fname(c, pref)}) -> ${mname(id)} (css_tryget)`
              : `memcg = get_mem_cgroup_from_folio(${fname(c, pref)}): folio_memcg_charged(first)`;
          },
          (c) => {
            if (memcgDisabled(c, mc)) {
              L(c).memcg = NULL_MEMCG;
              return;
            }
            // folio_memcg_charged(folio) / folio_memcg(folio): reads the folio
            const id = c.m.get(p.memcg.$off(c.m.b));
            assertLive(c, p, "get_mem_cgroup_from_folio");
            L(c).memcg = id;
            S(c).memcg[id]!.css_refcnt++;
          },
        );

      const mem_cgroup_put = step(
        (c) => `mem_cgroup_put(${mname(L(c).memcg)})`,
        (c) => {
          const id = L(c).memcg;
          if (id >= 0) S(c).memcg[id]!.css_refcnt--;
        },
      );

      /** count_memcg_events(memcg, NUMA_PAGE_MIGRATE, nr_succeeded). */
      const count_memcg_events = step(
        (c) => `count_memcg_events(${mname(L(c).memcg)}, NUMA_PAGE_MIGRATE, ${L(c).nr_succeeded})`,
        (c) => {
          if (memcgDisabled(c, mc)) return;
          const id = L(c).memcg;
          checkMemcg(c, mc, id, "count_memcg_events(memcg, NUMA_PAGE_MIGRATE, nr_succeeded)");
          S(c).memcg[id]!.numa_page_migrate += L(c).nr_succeeded;
        },
        { raises: ["null-memcg-deref"] },
      );

      const count_vm_numa_events = step(
        (c) => `count_vm_numa_events(NUMA_PAGE_MIGRATE, ${L(c).nr_succeeded})`,
        (c) => {
          S(c).numa_page_migrate += L(c).nr_succeeded;
        },
      );

      /** Ghost bookkeeping when migrate_pages counts `folio` as succeeded. */
      const succeeded = (c: Ctx): void => {
        const i = L(c).folio;
        const id = S(c).folio[i]!.memcg;
        if (id >= 0) S(c).memcg[id]!.migrated++;
        L(c).nr_succeeded++;
      };

      /** migrate_pages(from, alloc_misplaced_dst_folio, NULL, node, MIGRATE_ASYNC, MR_NUMA_MISPLACED, &nr_succeeded). */
      const migrate_pages = (from: Ref<ListHeadS>): Stmt =>
        func("migrate_pages", [
          step("nr_succeeded = 0; nr_remaining = 0", (c) => {
            L(c).nr_succeeded = 0;
            L(c).nr_remaining = 0;
          }),
          list_for_each_entry_safe(l.folio, l.n, from, [
            if_(
              step(
                (c, r) =>
                  `migrate_folio_unmap(${fname(c, l.folio)}): folio_ref_count == 1 -> ${r ? "true: freed from under us" : "false"}`,
                (c) => {
                  assertLive(c, pfolio, "migrate_folio_unmap");
                  return c.m.getMarked(pfolio._refcount.$off(c.m.b)) === 1;
                },
              ),
              [
                list_del(pfolio.lru),
                step(
                  (c) =>
                    `migrate_folio_done(${fname(c, l.folio)}): nr_succeeded++ (${L(c).nr_succeeded} -> ${L(c).nr_succeeded + 1})`,
                  (c) => {
                    succeeded(c);
                    S(c).folio[L(c).folio]!.isolated = false;
                  },
                ),
                folio_put(pfolio),
              ],
              [
                either(
                  "migrate_pages_batch: move the folio",
                  [
                    list_del(pfolio.lru),
                    step(
                      (c) =>
                        `${fname(c, l.folio)} migrated to node ${TARGET_NODE} (mem_cgroup_migrate keeps ${mname(S(c).folio[L(c).folio]!.memcg)}): nr_succeeded++ (${L(c).nr_succeeded} -> ${L(c).nr_succeeded + 1})`,
                      (c) => {
                        const f = S(c).folio[L(c).folio]!;
                        f.nid = TARGET_NODE;
                        f.isolated = false;
                        succeeded(c);
                      },
                    ),
                    folio_put(pfolio), // the isolation reference (the mapping now maps the copy)
                  ],
                  [
                    step(
                      (c) => `${fname(c, l.folio)}: -EAGAIN, stays on the list: nr_remaining++`,
                      (c) => {
                        L(c).nr_remaining++;
                      },
                    ),
                  ],
                ),
              ],
            ),
          ]),
        ]);

      /** putback_movable_pages(l): list_del + folio_putback_lru (drops the isolation reference). */
      const putback_movable_pages = (from: Ref<ListHeadS>): Stmt =>
        func("putback_movable_pages", [
          list_for_each_entry_safe(l.folio, l.n, from, [
            list_del(pfolio.lru),
            step(
              (c) => `folio_putback_lru(${fname(c, l.folio)})`,
              (c) => {
                S(c).folio[L(c).folio]!.isolated = false;
              },
            ),
            folio_put(pfolio),
          ]),
        ]);

      const accountAndPut = (): Stmt[] => [
        if_(
          when("if (nr_succeeded)", (c) => L(c).nr_succeeded > 0),
          [count_vm_numa_events, ...(v === "v2" ? [] : [count_memcg_events])],
        ),
        ...(v === "v2" ? [] : [mem_cgroup_put]),
      ];

      let batch: Stmt[];
      if (v === "per-memcg-batches") {
        batch = [
          if_(list_empty(l.migrate_list), [return_()]),
          while_(list_nonempty(l.migrate_list), [
            list_first_entry(l.first, l.migrate_list),
            get_mem_cgroup_from_folio(pfirst, l.first),
            // move this memcg's folios to memcg_list
            list_for_each_entry_safe(l.folio, l.n, l.migrate_list, [
              if_(
                step(
                  (c, r) =>
                    `folio_memcg(${fname(c, l.folio)}) == ${mname(L(c).memcg)} -> ${r ? "true" : "false"}`,
                  (c) => {
                    assertLive(c, pfolio, "folio_memcg");
                    return folioMemcg(c, mc, pfolio) === L(c).memcg;
                  },
                ),
                [list_move_tail(pfolio.lru, l.memcg_list)],
              ),
            ]),
            migrate_pages(l.memcg_list),
            if_(
              when("if (nr_remaining)", (c) => L(c).nr_remaining > 0),
              [putback_movable_pages(l.memcg_list)],
            ),
            ...accountAndPut(),
          ]),
        ];
      } else {
        batch = [
          step("memcg = NULL", (c) => {
            L(c).memcg = -1;
          }),
          ...(v === "v6"
            ? [
                if_(list_nonempty(l.migrate_list), [
                  list_first_entry(l.first, l.migrate_list),
                  get_mem_cgroup_from_folio(pfirst, l.first),
                ]),
              ]
            : v === "v6-unguarded"
              ? [
                  list_first_entry(l.first, l.migrate_list),
                  get_mem_cgroup_from_folio(pfirst, l.first),
                ]
              : []),
          migrate_pages(l.migrate_list),
          if_(
            when("if (nr_remaining)", (c) => L(c).nr_remaining > 0),
            [putback_movable_pages(l.migrate_list)],
          ),
          ...accountAndPut(),
        ];
      }

      return [
        step("LIST_HEAD(migrate_list) (on kmigrated's stack)", (c) => {
          c.m.setMarked(l.on_stack.$off(c.m.b), c.cpu);
        }),
        func(
          "kmigrated_walk_zone",
          [...Array(n).keys()].flatMap((i): Stmt[] => [
            ...(disabled || nm === 1
              ? []
              : [
                  either(
                    `F${i} is charged to`,
                    ...[...Array(nm).keys()].map((k) => [
                      step(`F${i}->memcg = memcg${k}`, (c) => {
                        S(c).folio[i]!.memcg = k;
                      }),
                    ]),
                  ),
                ]),
            either(
              `migrate_misplaced_folio_prepare(F${i}, NULL, ${TARGET_NODE})`,
              [
                // folio_test_lru() + folio_isolate_lru(): a folio freed meanwhile is off the LRU
                if_(
                  step(
                    (_c, r) =>
                      `folio_isolate_lru(F${i}) -> ${r ? "true: isolated, folio_get" : "false (being freed: not on the LRU)"}`,
                    (c) => {
                      const f = S(c).folio[i]!;
                      const off = m.s.folio[i]!._refcount.$off(c.m.b);
                      const ref = c.m.getMarked(off);
                      // being freed (refcount 0: __folio_put took it off the LRU) or freed
                      if (f.freed || ref === 0) return false;
                      f.isolated = true;
                      c.m.setMarked(off, ref + 1);
                      return true;
                    },
                  ),
                  [list_add(m.s.folio[i]!.lru, l.migrate_list)],
                ),
              ],
              [step(`F${i} not isolated: goto out_next`, () => undefined)],
            ),
          ]),
        ),
        func(`migrate_misplaced_folios_batch(&migrate_list, ${TARGET_NODE})`, batch),
        step(
          "WARN_ON(!list_empty(folio_list))",
          (c) => {
            const id = l.migrate_list.$node(c.m.b);
            if (c.m.b[c.m.layout.nodes[id]!.nextOff] !== id)
              c.m.warn(PROPS.listNotEmpty, "migrate_list is not empty on return");
          },
          { raises: [{ name: PROPS.listNotEmpty, severity: "warn" }] },
        ),
      ];
    });

    if (params.unmap && n > 0) {
      // the process unmaps F0 (zap_pte_range -> folio_put of the mapping's reference)
      m.thread("munmap", {}, () => [folio_put(m.s.folio[0]! as unknown as FolioRef)]);
    }

    m.init((s) => {
      for (let i = 0; i < s.folio.length; i++) {
        const f = s.folio[i]!;
        f._refcount = i < n ? 1 : 0; // mapped once, not yet isolated
        f.memcg = disabled ? -1 : 0;
        f.freed = i >= n; // the padding folio of an empty scenario does not exist
      }
    });

    m.endState(PROPS.memcgStat, ({ s }) => {
      const v6 = s as unknown as Shared;
      if (disabled) return true;
      for (let k = 0; k < nm; k++) {
        const mc = v6.memcg[k]!;
        if (mc.numa_page_migrate !== mc.migrated)
          return `memcg${k}'s NUMA_PAGE_MIGRATE events are ${mc.numa_page_migrate}, but ${mc.migrated} of its folios were migrated`;
      }
      return true;
    });
    m.endState(PROPS.cssLeak, ({ s }) => {
      const v6 = s as unknown as Shared;
      for (let k = 0; k < nm; k++) {
        if (v6.memcg[k]!.css_refcnt !== 1)
          return `memcg${k}'s css reference count is ${v6.memcg[k]!.css_refcnt} at the end, not 1`;
      }
      return true;
    });
    return m;
  },
});
