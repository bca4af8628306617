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
// uncharged folios (they go to root_mem_cgroup).
//
// Written against src/index.ts alone: from src/kernel/migrate.ts migrate_misplaced_folio_prepare(),
// migrate_pages() and putback_movable_pages() over lists linked through lruFolioFields' folio->lru;
// from src/kernel/memcg.ts the memcg tree with its NUMA_PAGE_MIGRATE event counts and css
// references, get_mem_cgroup_from_folio(), count_memcg_events(), mem_cgroup_put() and the
// memcg-css-leak end state. The two lists are LIST_HEADs on kmigrated's stack
// (listHead({ onStack: true })): kmigrated's operations on them are one step each (no other CPU
// reaches them or their folios' lru while they are on them; the data-race check is on and would
// report one that did). memcg0 is root_mem_cgroup: its css is not counted (CSS_NO_REF).

import {
  array,
  count_memcg_events,
  cssRefsBalanced,
  defineModel,
  either,
  folio,
  folio_put,
  func,
  get_mem_cgroup_from_folio,
  int,
  list_add,
  list_empty,
  list_first_entry,
  list_for_each_entry_safe,
  list_move_tail,
  list_nonempty,
  listHead,
  lruFolioFields,
  mem_cgroup_put,
  memcgTree,
  migrate_misplaced_folio_prepare,
  migrate_pages,
  ModelBuilder,
  nodeptr,
  ptr,
  putback_movable_pages,
  return_,
  memcgName,
  type LruFolioRef,
  type Stmt,
} from "../../src/index.ts";

export const PROPS = {
  memcgStat: "memcg-numa-migrate-stat",
  bogusEntry: "bogus-entry",
  nullMemcgDeref: "null-memcg-deref",
  cssLeak: "memcg-css-leak",
  listNotEmpty: "folio-list-not-empty",
} as const;

type Version = "v2" | "v6" | "v6-unguarded" | "per-memcg-batches";

const MAX_FOLIOS = 3;
/** The node kmigrated promotes to (folios start on node 1). */
const TARGET_NODE = 0;

type P = { nr_folios: number; nr_memcgs: number; memcg_disabled: number; unmap: number };

export default defineModel<P, { readonly version: Version }>({
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
      max: 3,
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
      options: { version: "v2" },
      expect: { violated: [PROPS.memcgStat] },
    },
    v6: {
      doc: "RFC v6 as posted: memcg of the first folio, guarded by !list_empty()",
      options: { version: "v6" },
      expect: { violated: [PROPS.memcgStat] },
    },
    "v6-unguarded": {
      doc: "v6 without its list_empty() guard (not posted): list_first_entry() of an empty list",
      options: { version: "v6-unguarded" },
      expect: { violated: [PROPS.bogusEntry, PROPS.memcgStat] },
    },
    "per-memcg-batches": {
      doc: "the fix the thread converges on: return early when empty; one migrate_pages() per memcg",
      options: { version: "per-memcg-batches" },
      expect: "holds",
    },
  },
  build: ({ params, options: { version: v } }) => {
    const n = params.nr_folios;
    const nm = params.nr_memcgs;
    const disabled = params.memcg_disabled === 1;

    const Folio = folio({
      maxRef: 3,
      memcgs: nm,
      nodes: 2,
      nid: 1,
      order: 0,
      extra: lruFolioFields,
    });
    const m = new ModelBuilder({
      folio: array(Math.max(n, 1), Folio, { label: (i) => `F${i}` }),
      memcgs: memcgTree({
        count: nm,
        disabled,
        events: ["NUMA_PAGE_MIGRATE"],
        maxEvents: MAX_FOLIOS,
      }),
      /** Global vm event NUMA_PAGE_MIGRATE. */
      numa_page_migrate: int(0, MAX_FOLIOS),
    });
    const mc = m.s.memcgs;
    const F = (i: number): LruFolioRef => m.s.folio[i]!;

    const locals = {
      migrate_list: listHead({ onStack: true }),
      memcg_list: listHead({ onStack: true }),
      first: ptr(Folio),
      folio: ptr(Folio),
      n: nodeptr(),
      memcg: int(-1, nm - 1, -1),
      nr_succeeded: int(0, MAX_FOLIOS),
      nr_remaining: int(0, MAX_FOLIOS),
    };

    m.thread("kmigrated", locals, ({ l, step, when, if_, while_, assert_ }) => {
      const pfolio = l.folio as unknown as LruFolioRef;
      const pfirst = l.first as unknown as LruFolioRef;
      const counts = {
        node: TARGET_NODE,
        nr_succeeded: l.nr_succeeded,
        nr_remaining: l.nr_remaining,
      };

      /** The end of migrate_misplaced_folios_batch(): putback, the events, the css put. */
      const migrateAndAccount = (list: typeof l.migrate_list): Stmt[] => [
        migrate_pages(list, Folio, counts),
        if_(
          when("if (nr_remaining)", ({ l }) => l.nr_remaining > 0),
          [putback_movable_pages(list, Folio)],
        ),
        if_(
          when("if (nr_succeeded)", ({ l }) => l.nr_succeeded > 0),
          [
            step(
              ({ l }) => `count_vm_numa_events(NUMA_PAGE_MIGRATE, ${l.nr_succeeded})`,
              ({ s, l }) => {
                s.numa_page_migrate += l.nr_succeeded;
              },
            ),
            ...(v === "v2"
              ? []
              : [count_memcg_events(mc, l.memcg, "NUMA_PAGE_MIGRATE", l.nr_succeeded)]),
          ],
        ),
        ...(v === "v2" ? [] : [mem_cgroup_put(mc, l.memcg)]),
      ];

      const batch: Stmt[] =
        v === "per-memcg-batches"
          ? [
              if_(list_empty(l.migrate_list), [return_()]),
              // one memcg's folios at a time
              while_(list_nonempty(l.migrate_list), [
                list_first_entry(l.first, l.migrate_list),
                get_mem_cgroup_from_folio(l.memcg, mc, pfirst),
                list_for_each_entry_safe(l.folio, l.n, l.migrate_list, [
                  if_(
                    step(
                      ({ s, l }, r) =>
                        `folio_memcg(F${l.folio}) == ${memcgName(l.memcg)} -> ${r ? "true" : "false"}` +
                        (r ? "" : ` (${memcgName(s.folio[l.folio]!.memcg)})`),
                      ({ s, l }) => s.folio[l.folio]!.memcg === l.memcg,
                    ),
                    [list_move_tail(pfolio.lru, l.memcg_list)],
                  ),
                ]),
                ...migrateAndAccount(l.memcg_list),
              ]),
            ]
          : [
              step("memcg = NULL", ({ l }) => {
                l.memcg = -1;
              }),
              ...(v === "v6"
                ? [
                    if_(list_nonempty(l.migrate_list), [
                      list_first_entry(l.first, l.migrate_list),
                      get_mem_cgroup_from_folio(l.memcg, mc, pfirst),
                    ]),
                  ]
                : v === "v6-unguarded"
                  ? [
                      list_first_entry(l.first, l.migrate_list),
                      get_mem_cgroup_from_folio(l.memcg, mc, pfirst),
                    ]
                  : []),
              ...migrateAndAccount(l.migrate_list),
            ];

      return [
        func(
          "kmigrated_walk_zone",
          [...Array(n).keys()].flatMap((i): Stmt[] => [
            // every memcg a candidate may be charged to (a scenario choice)
            ...(disabled || nm === 1
              ? []
              : [
                  either(
                    `F${i} is charged to`,
                    ...[...Array(nm).keys()].map((k) => [
                      step(`F${i}->memcg = memcg${k}`, ({ s }) => {
                        s.folio[i]!.memcg = k;
                      }),
                    ]),
                  ),
                ]),
            if_(migrate_misplaced_folio_prepare(F(i), TARGET_NODE), [
              list_add(F(i).lru, l.migrate_list),
            ]),
          ]),
        ),
        func(`migrate_misplaced_folios_batch(&migrate_list, ${TARGET_NODE})`, batch),
        assert_(
          PROPS.listNotEmpty,
          "!list_empty(folio_list)",
          ({ l }) => l.migrate_list.next === l.migrate_list.id,
          { severity: "warn" },
        ),
      ];
    });

    if (params.unmap && n > 0) {
      // the process unmaps F0 (zap_pte_range -> folio_put of the mapping's reference)
      m.thread("munmap", {}, () => [folio_put(F(0))]);
    }

    m.init((s) => {
      s.folio.forEach((f, i) => {
        f._refcount = i < n ? 1 : 0; // mapped once, not yet isolated
        f.memcg = disabled ? -1 : 0;
        f.freed = i >= n; // the padding folio of an empty scenario does not exist
      });
    });

    // each memcg's NUMA_PAGE_MIGRATE events equal the number of its folios migrate_pages() counted
    m.endState(PROPS.memcgStat, ({ s }) => {
      if (disabled) return true;
      for (let k = 0; k < nm; k++) {
        const events = s.memcgs.memcg[k]!.events.NUMA_PAGE_MIGRATE!;
        const migrated = s.folio.filter((f, i) => i < n && f.migrated && f.memcg === k).length;
        if (events !== migrated)
          return `memcg${k}'s NUMA_PAGE_MIGRATE events are ${events}, but ${migrated} of its folios were migrated`;
      }
      return true;
    });
    cssRefsBalanced(m, mc, PROPS.cssLeak);
    return m;
  },
});
