// Split of a folio that device migration has already unmapped (seed 001,
// /work/shared/seeds/001_ecd7994cf0c63e5f.txt: "[v1 resend 08/12] mm/thp: add split during
// migration support", Balbir Singh / Zi Yan, July 2025).
//
// The patch adds `isolated` (renamed `unmapped` in v2, 20250730092139.3890844-8) to
// __folio_split() so that a folio which migrate_vma_setup() has already unmapped (its PTEs are
// migration entries) and which the caller holds locked with a reference is split without
//   - folio_get_anon_vma() + anon_vma_lock_write(),
//   - unmap_folio() (try_to_migrate: present PTE -> migration entry, drop the mapping's ref),
//   - remap_page() (remove_migration_ptes: migration entry -> present PTE of the new folio),
//   - and (v2: `if (unmapped) return ret;`) without unlocking and putting the new folios.
// Zi Yan's objection: "unmapped folio is a very generic concept ... one can easily misuse the
// folio split code by first unmapping a folio and trying to split it with unmapped = true" and
// "why does isolated/unmapped folios not need to unmap_page(), remap_page(), or unlock?".
// The thread converged (Nov 2025, "mm/huge_memory.c: introduce folio_split_unmapped") on a
// separate entry point folio_split_unmapped() that starts with
// VM_WARN_ON_FOLIO(folio_mapped(folio)) and leaves the new folios locked, not remapped.
//
// Followed line by line: __folio_split() (mm/huge_memory.c, 6.16 with the v1/v2 flag),
// can_split_folio(), unmap_folio()/try_to_migrate_one(), folio_ref_freeze(1 + extra_pins),
// __split_unmapped_folio(), remap_page()/remove_migration_pte(), the unlock/put of the new
// folios; folio_split_unmapped(); migrate_vma_pages() -> migrate_vma_split_pages() and
// migrate_device_finalize() (mm/migrate_device.c); zap_pte_range(); migration_entry_wait().
//
// The state: one anon THP `F` of two pages (order 1); page 1 becomes the folio `F1` when F is
// split. Two PTEs, pte0/pte1, map page 0/page 1 (present, a migration entry, or none). As in the
// kernel, a PTE names a page (pfn), not a folio: after the split, pte1 belongs to F1. Every
// present PTE holds one reference and one mapcount of the folio its page belongs to.
//
// The CPUs: the caller of the split (by variant), and (params) another thread of the process
// unmapping the range (zap_pte_range), a user access of page 1 (which waits on a migration
// entry until the folio is unlocked: migration_entry_wait), and an rmap walker that does not
// take the folio lock of an anon folio (idle page tracking / DAMON: folio_try_get, then
// rmap_walk_anon under anon_vma_lock_read, page_vma_mapped_walk over the PTEs) -- the path the
// anon_vma lock of __folio_split serialises against, and a reference that makes the freeze fail.
//
// What the checker finds:
//   - unmapped-with-flag / folio_split_unmapped (the device-migration caller): holds.
//   - mapped-without-flag (the normal split of a mapped folio): holds.
//   - mapped-with-flag: the folio is NOT split while mapped: each PTE holds a reference, so
//     folio_ref_freeze(F, 1 + extra_pins) fails and the split returns -EAGAIN
//     (split-of-mapped-folio holds in every variant: the refcount freeze, not the flag, is what
//     keeps a mapped folio from being split; skipping the anon_vma lock is harmless for the
//     same reason: an rmap walker holds a reference, so it and the split exclude each other).
//     But when another thread unmaps the range between can_split_folio() and the freeze, the
//     split succeeds, and the flagged path leaves F1
//     locked with the split's reference: the caller, which does what every split caller does
//     (unlock and put the folio it passed), leaks F1 (`leaked-folio`).
//   - unmap-then-split-with-flag (Zi Yan's misuse: the caller unmaps the folio itself, splits
//     with the flag and restores the migration entries of the folio it passed): pte1 keeps its
//     migration entry (`stale-migration-entry`), F1 stays locked (`leaked-folio`), and a user
//     access of page 1 waits for F1's lock forever (`deadlock`).
//   - folio_split_unmapped-mapped: the VM_WARN_ON_FOLIO(folio_mapped()) catches the mapped
//     caller (`vm-warn-folio-mapped`, a warning: reported, and the search goes on past it as the
//     kernel does; the split then fails its freeze, -EAGAIN, and nothing else breaks on that
//     path); the leak is the same as above when the range is zapped before the freeze, whether
//     the warning fired (zapped after it: the shortest trace now goes past it) or not.
//
// The device-migration caller checks the split's result as v2's migrate_vma_split_pages() does
// (`ret = __split_huge_page_to_list_to_order(...); if (ret) return ret;`) and finalizes the
// unsplit folio on failure; v1 (the seed's posting) ignored the return value and rewrote
// migrate->src[] as if the split had succeeded, which the model does not follow.
//
// Left out: the PMD level (the folio is PTE-mapped; split_huge_pmd_address() of
// migrate_vma_split_pages() is not modelled), the copy to device memory (migrate_vma_finalize restores the source pages, as
// for a page whose migration was abandoned), the extra folio_get() of v2's
// migrate_vma_split_pages() (with it, can_split_folio(folio, 1) as posted cannot succeed: the
// model gives the device-migration caller exactly the one pin the split expects), swap cache
// and file folios (extra_pins = 0), the deferred split queue (the folio is not queued), the
// LRU, the TLB batching of zap (the put follows the PTE clear), the anon_vma reference count.
// Each PTE operation is one step (it runs under the page table lock); PTE accesses are marked
// (ptep_get/set_pte_at), refcount and mapcount are atomics.
//
// Written against src/index.ts alone: the PTE table and page_folio() of src/kernel/pgtable.ts
// (ptes, pageFolioFields, zap_pte), try_to_migrate_one/unmap_folio, the anon_vma rwsem and
// rmap_walk_anon of rmap.ts, remove_migration_pte(s) and migration_entry_wait of migrate.ts,
// can_split_folio, __split_unmapped_folio, remap_page, __split_huge_page_to_list_to_order
// (with or without the `unmapped` flag) and folio_split_unmapped of huge_memory.ts.
//
// Properties: split-of-mapped-folio (assertion in __split_unmapped_folio, and invariant: every
// folio's mapcount equals the present PTEs mapping its pages), stale-migration-entry (end
// state), leaked-folio (end state: a live folio left locked, or holding more references than
// mappings), bad-mapcount (Bad page map on zap), vm-warn-folio-mapped, use-after-free (a PTE
// of a freed folio, and the folio module's checks), deadlock.

import {
  __split_huge_page_to_list_to_order,
  anonVma,
  array,
  defineModel,
  EBUSY,
  folio,
  folio_put,
  folio_split_unmapped,
  folio_try_get,
  folio_unlock,
  foliosReleased,
  func,
  if_,
  int,
  mapcountConsistent,
  migration_entry_wait,
  ModelBuilder,
  noMigrationEntries,
  pageFolioFields,
  ptes,
  ptesMapLiveFolios,
  PTE_MIGRATION,
  PTE_PRESENT,
  remove_migration_ptes,
  rmap_walk_anon,
  unmap_folio,
  when,
  zap_pte,
  type Stmt,
} from "../../src/index.ts";

/** Property names of this model (the library's where the property is the library's). */
export const PROPS = {
  splitOfMappedFolio: "split-of-mapped-folio",
  staleMigrationEntry: "stale-migration-entry",
  leakedFolio: "leaked-folio",
  badMapcount: "bad-mapcount",
  vmWarnFolioMapped: "vm-warn-folio-mapped",
  useAfterFree: "use-after-free",
  deadlock: "deadlock",
} as const;

const Folio = folio({ maxRef: 4, ref: 0, order: 1, extra: pageFolioFields(2) });

type Caller = "device-migration" | "mapped" | "unmap-then-split";
type Api = "flag" | "no-flag" | "folio_split_unmapped";

interface Options {
  /** Who calls the split, and in which state the folio is then. */
  readonly caller: Caller;
  /** __folio_split with the flag (v1 isolated / v2 unmapped), without it, or folio_split_unmapped(). */
  readonly api: Api;
}

export default defineModel<{ zap: number; access: number; rmap_walk: number }, Options>({
  name: "device-migration-split",
  doc:
    "Splitting a THP that device migration already unmapped (seed 001): the flag that skips " +
    "anon_vma lock, unmap, remap and unlock; a mapped caller passing it; folio_split_unmapped()",
  params: {
    zap: {
      default: 1,
      min: 0,
      max: 1,
      doc: "another thread of the process unmaps the range (zap_pte_range) concurrently",
    },
    access: {
      default: 1,
      min: 0,
      max: 1,
      doc: "a user access of page 1 (waits on a migration entry until the folio is unlocked)",
    },
    rmap_walk: {
      default: 1,
      min: 0,
      max: 1,
      doc: "an rmap walker without the folio lock (idle page tracking / DAMON): folio_try_get, anon_vma read lock",
    },
  },
  variants: {
    "unmapped-with-flag": {
      doc: "v1/v2: migrate_vma_pages() splits the folio migrate_vma_setup() unmapped, with the flag",
      options: { caller: "device-migration", api: "flag" },
      expect: "holds",
    },
    "mapped-without-flag": {
      doc: "split_huge_page() of a mapped folio: anon_vma lock, unmap_folio, freeze, split, remap_page",
      options: { caller: "mapped", api: "no-flag" },
      expect: "holds",
    },
    "mapped-with-flag": {
      doc: "a caller that still has the folio mapped passes the flag (v1/v2 do not prevent it)",
      options: { caller: "mapped", api: "flag" },
      expect: { violated: [PROPS.leakedFolio] },
    },
    "unmap-then-split-with-flag": {
      doc: "Zi Yan's misuse: unmap the folio first, split with the flag, restore the folio passed",
      options: { caller: "unmap-then-split", api: "flag" },
      // without a concurrent munmap, which would clear the stale entry it leaves
      params: { zap: 0 },
      expect: {
        violated: [PROPS.staleMigrationEntry, PROPS.leakedFolio, PROPS.deadlock],
      },
    },
    folio_split_unmapped: {
      doc: "the entry point the thread converged on, called by device migration",
      options: { caller: "device-migration", api: "folio_split_unmapped" },
      expect: "holds",
    },
    "folio_split_unmapped-mapped": {
      doc: "folio_split_unmapped() called with the folio still mapped: VM_WARN_ON_FOLIO fires",
      options: { caller: "mapped", api: "folio_split_unmapped" },
      expect: { violated: [PROPS.vmWarnFolioMapped, PROPS.leakedFolio] },
    },
  },
  build: ({ params, options: o }) => {
    const m = new ModelBuilder({
      /** Page 0 is the folio F; page 1 its tail page, the folio F1 once F is split. */
      folio: array(2, Folio, { label: (i) => (i === 0 ? "F" : "F1") }),
      /** pte0, pte1 map page 0, page 1. */
      pte: ptes(2),
      anon_vma: anonVma({ maxReaders: 1 }),
    });
    const { folio: pages, pte: pt, anon_vma: av } = m.s;
    const [F, F1] = [pages[0]!, pages[1]!];
    const locals = { ret: int(-EBUSY, 0) };

    const split = (ret: (typeof m.s.folio)[0]["_refcount"]): Stmt =>
      o.api === "folio_split_unmapped"
        ? folio_split_unmapped(pt, pages, 0, ret)
        : __split_huge_page_to_list_to_order(pt, pages, av, 0, ret, { unmapped: o.api === "flag" });
    const splitOk = when<{ l: { ret: number } }>("if (split == 0)", ({ l }) => l.ret === 0);

    // ---- the caller ----
    if (o.caller === "device-migration") {
      m.thread("migrate_vma_pages", locals, ({ l }) => [
        func("migrate_vma_split_pages", [split(l.ret)]),
        func("migrate_device_finalize", [
          if_(
            splitOk,
            [
              // per source page: remove_migration_ptes(src, src); folio_unlock(src); folio_put(src)
              remove_migration_ptes(pt, pages, 0),
              folio_unlock(F),
              folio_put(F),
              remove_migration_ptes(pt, pages, 1),
              folio_unlock(F1),
              folio_put(F1),
            ],
            [remove_migration_ptes(pt, pages, 0), folio_unlock(F), folio_put(F)],
          ),
        ]),
      ]);
    } else if (o.caller === "mapped") {
      m.thread("split_huge_page", locals, ({ l }) => [split(l.ret), folio_unlock(F), folio_put(F)]);
    } else {
      m.thread("unmap_then_split", locals, ({ l }) => [
        unmap_folio(pt, pages, 0),
        split(l.ret),
        remove_migration_ptes(pt, pages, 0),
        folio_unlock(F),
        folio_put(F),
      ]);
    }

    // ---- the concurrent parties ----
    // munmap() by another thread of the process: zap_pte_range() over pte0, pte1
    if (params.zap)
      m.thread("zap_pte_range", {}, () => [zap_pte(pt, pages, 0), zap_pte(pt, pages, 1)]);
    // a user access of page 1: do_swap_page() -> migration_entry_wait() while pte1 is a
    // migration entry (wait for the folio's PG_locked to clear), then retry the fault
    if (params.access) m.thread("access_page1", {}, () => [migration_entry_wait(pt, pages, 1)]);
    // an rmap walker that does not take the folio lock of an anon folio: idle page tracking /
    // DAMON (page_idle_get_folio: folio_try_get; rmap_walk -> rmap_walk_anon under
    // anon_vma_lock_read; page_vma_mapped_walk over the PTEs mapping the folio)
    if (params.rmap_walk)
      m.thread("page_idle_clear_pte_refs", {}, () => [
        if_(folio_try_get(F), [rmap_walk_anon(pt, pages, av, 0), folio_put(F)]),
      ]);

    // ---- initial state ----
    m.init((s) => {
      const [f, t] = [s.folio[0]!, s.folio[1]!];
      t.is_tail = true;
      t.order = 0;
      f.locked = true; // the caller holds the folio lock
      const migrated = o.caller === "device-migration";
      // after migrate_vma_setup(): collected (locked, the migrate reference) and unmapped; else
      // mapped by pte0 and pte1 with the caller's own reference
      f._refcount = migrated ? 1 : 3;
      f.mapcount = migrated ? 0 : 2;
      for (const p of s.pte) p.state = migrated ? PTE_MIGRATION : PTE_PRESENT;
    });

    // ---- properties ----
    ptesMapLiveFolios(m, pt, pages, PROPS.useAfterFree);
    // the counts of every folio agree with the page table: a folio split while a PTE still
    // mapped it leaves that mapping in none of the new folios' mapcounts
    mapcountConsistent(m, pt, pages, PROPS.splitOfMappedFolio);
    noMigrationEntries(m, pt, pages, PROPS.staleMigrationEntry);
    foliosReleased(m, pages, PROPS.leakedFolio);
    return m;
  },
});
