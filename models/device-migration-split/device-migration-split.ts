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
// Each PTE operation is one step (it runs under the page table lock); refcount and mapcount are
// atomics: the data-race check is off for this model.
//
// Properties: split-of-mapped-folio (assertion in __split_unmapped_folio, and invariant: every
// folio's mapcount equals the present PTEs mapping its pages), stale-migration-entry (end
// state), leaked-folio (end state: a live folio left locked, or holding more references than
// mappings), bad-mapcount (Bad page map on zap), vm-warn-folio-mapped, use-after-free (a PTE
// of a freed folio, and the folio module's checks), deadlock.

import {
  array,
  bool,
  check,
  defineModel,
  enumOf,
  func,
  if_,
  int,
  label,
  goto_,
  ModelBuilder,
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
import type { ViewOf } from "../../src/model/view.ts";
import type { RecordS } from "../../src/model/schema.ts";
import {
  assertLive,
  folio,
  folio_put,
  folio_ref_freeze,
  folio_ref_unfreeze,
  folio_try_get,
  folio_unlock,
  type FolioRef,
} from "../../src/kernel/folio.ts";

const NONE = 0;
const PRESENT = 1;
const MIGRATION = 2;
const PTE_STATES = ["none", "present", "migration entry"] as const;

const EAGAIN = 11;
const EBUSY = 16;

/** Property names of this model (the catalogue's where the property is the catalogue's). */
export const PROPS = {
  splitOfMappedFolio: "split-of-mapped-folio",
  staleMigrationEntry: "stale-migration-entry",
  leakedFolio: "leaked-folio",
  badMapcount: "bad-mapcount",
  vmWarnFolioMapped: "vm-warn-folio-mapped",
  useAfterFree: "use-after-free",
  deadlock: "deadlock",
} as const;

const Folio = folio({
  maxRef: 4,
  ref: 0,
  order: 1,
  extra: {
    /** folio_mapcount(): number of PTEs mapping a page of this folio. */
    mapcount: int(0, 2),
    /** Page 1 is still a tail page of F (F not split yet): F1 is not a folio. */
    is_tail: bool(false),
  },
});

const shared = {
  folio: array(2, Folio, { label: (i) => (i === 0 ? "F" : "F1") }),
  pte: array(2, record({ state: enumOf(PTE_STATES) }, "pte"), { label: (i) => `pte${i}` }),
  /** anon_vma->root->rwsem: the writer (a CPU, or -1) and the number of readers. */
  anon_vma: record({ rwsem: spinlock(), readers: int(0, 1) }, "anon_vma"),
};
type Shared = ViewOf<RecordS<typeof shared>>;

const locals = {
  ret: int(-EBUSY, 0),
  anon_vma: bool(false),
  /** A folio pointer: the folio of the page a PTE maps, read when the PTE is. */
  folio: ptr(Folio),
};
type Locals = ViewOf<RecordS<typeof locals>>;

const S = (c: Ctx): Shared => c.s as unknown as Shared;
const L = (c: Ctx): Locals => c.l as unknown as Locals;

type Caller = "device-migration" | "mapped" | "unmap-then-split";
type Api = "flag" | "no-flag" | "folio_split_unmapped";

interface Options {
  /** Who calls the split, and in which state the folio is then. */
  readonly caller: Caller;
  /** __folio_split with the flag (v1 isolated / v2 unmapped), without it, or folio_split_unmapped(). */
  readonly api: Api;
}

/** Index of the folio page i belongs to: F, or F1 once F has been split. */
function pageFolio(s: Shared, i: number): number {
  return i === 0 || s.folio[1]!.is_tail ? 0 : 1;
}
const FNAME = ["F", "F1"];

export default defineModel({
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
      options: { caller: "device-migration", api: "flag" } as Options,
      expect: "holds",
    },
    "mapped-without-flag": {
      doc: "split_huge_page() of a mapped folio: anon_vma lock, unmap_folio, freeze, split, remap_page",
      options: { caller: "mapped", api: "no-flag" } as Options,
      expect: "holds",
    },
    "mapped-with-flag": {
      doc: "a caller that still has the folio mapped passes the flag (v1/v2 do not prevent it)",
      options: { caller: "mapped", api: "flag" } as Options,
      expect: { violated: [PROPS.leakedFolio] },
    },
    "unmap-then-split-with-flag": {
      doc: "Zi Yan's misuse: unmap the folio first, split with the flag, restore the folio passed",
      options: { caller: "unmap-then-split", api: "flag" } as Options,
      // without a concurrent munmap, which would clear the stale entry it leaves
      params: { zap: 0 },
      expect: {
        violated: [PROPS.staleMigrationEntry, PROPS.leakedFolio, PROPS.deadlock],
      },
    },
    folio_split_unmapped: {
      doc: "the entry point the thread converged on, called by device migration",
      options: { caller: "device-migration", api: "folio_split_unmapped" } as Options,
      expect: "holds",
    },
    "folio_split_unmapped-mapped": {
      doc: "folio_split_unmapped() called with the folio still mapped: VM_WARN_ON_FOLIO fires",
      options: { caller: "mapped", api: "folio_split_unmapped" } as Options,
      expect: { violated: [PROPS.vmWarnFolioMapped, PROPS.leakedFolio] },
    },
  },
  build: ({ params, options }) => {
    const o = options;
    const m = new ModelBuilder(shared, { races: false });
    const F: FolioRef = m.s.folio[0]!;
    const F1: FolioRef = m.s.folio[1]!;
    const fref = [F, F1];

    // ---- page table operations (each under the PTE lock: one step) ----

    /** try_to_migrate_one() on pte i: present -> migration entry, drop the mapping's ref. */
    const tryToMigrateOne = (i: number): StepStmt =>
      step(
        (_c, r) => `try_to_migrate_one(F, pte${i}): ${String(r)}`,
        (c) => {
          const s = S(c);
          const st = s.pte[i]!.state;
          if (st !== PRESENT) return `${PTE_STATES[st]}, nothing to do`;
          const x = pageFolio(s, i);
          assertLive(c, fref[x]!, "try_to_migrate_one");
          const f = s.folio[x]!;
          s.pte[i]!.state = MIGRATION;
          f.mapcount--;
          check(
            f._refcount > 1,
            "refcount-underflow",
            `try_to_migrate_one put the last reference of ${FNAME[x]}`,
          );
          f._refcount--;
          return `present -> migration entry; ${FNAME[x]} mapcount ${f.mapcount + 1} -> ${f.mapcount}, folio_put (_refcount ${f._refcount + 1} -> ${f._refcount})`;
        },
      );

    /** remove_migration_pte() on pte i for the folio `only` (or any): migration -> present. */
    const removeMigrationPte = (i: number, only: number | undefined, fn: string): StepStmt =>
      step(
        (_c, r) => `${fn}: pte${i} ${String(r)}`,
        (c) => {
          const s = S(c);
          const st = s.pte[i]!.state;
          const x = pageFolio(s, i);
          if (st !== MIGRATION) return `is ${PTE_STATES[st]}, nothing to restore`;
          if (only !== undefined && x !== only)
            return `maps page ${i} of ${FNAME[x]}, not of ${FNAME[only]}: left as migration entry`;
          assertLive(c, fref[x]!, "remove_migration_pte");
          const f = s.folio[x]!;
          check(
            f._refcount > 0,
            "bad-get",
            `remove_migration_pte: folio_get(${FNAME[x]}) on a zero refcount`,
          );
          f._refcount++;
          f.mapcount++;
          s.pte[i]!.state = PRESENT;
          return `migration entry -> present (${FNAME[x]}: folio_get, _refcount ${f._refcount - 1} -> ${f._refcount}, mapcount ${f.mapcount - 1} -> ${f.mapcount})`;
        },
      );

    /** remap_page(F, 2): remove_migration_ptes() for every folio the split produced. */
    const remap_page = (): Stmt =>
      func("remap_page", [
        removeMigrationPte(0, undefined, "remove_migration_ptes"),
        removeMigrationPte(1, undefined, "remove_migration_ptes"),
      ]);

    /** remove_migration_ptes(f, f): only the PTEs of pages that belong to folio f. */
    const remove_migration_ptes = (x: number): Stmt =>
      func(`remove_migration_ptes(${FNAME[x]}, ${FNAME[x]})`, [
        removeMigrationPte(0, x, "remove_migration_pte"),
        removeMigrationPte(1, x, "remove_migration_pte"),
      ]);

    const unmap_folio = (): Stmt => func("unmap_folio", [tryToMigrateOne(0), tryToMigrateOne(1)]);

    const setRet = (v: number): StepStmt =>
      step(`ret = ${v === 0 ? "0" : v === -EAGAIN ? "-EAGAIN" : "-EBUSY"}`, (c) => {
        L(c).ret = v;
      });

    /** can_split_folio(F, 1, &extra_pins): folio_mapcount == folio_ref_count - extra_pins - 1. */
    const can_split_folio = (): StepStmt =>
      step(
        (c, r) => {
          const f = S(c).folio[0]!;
          return `can_split_folio(F, 1): mapcount ${f.mapcount} == ${f._refcount} - 0 - 1 -> ${r ? "true" : "false"}`;
        },
        (c) => {
          assertLive(c, F, "can_split_folio");
          const f = S(c).folio[0]!;
          return f.mapcount === f._refcount - 0 - 1;
        },
      );

    /** __split_unmapped_folio(): F and F1 become order-0 folios; F1 locked, _refcount 1. */
    const split_unmapped_folio = (): Stmt[] => [
      step(
        "__split_unmapped_folio(F): F, F1 order 0; F1 locked, folio_ref_unfreeze(F1, 1)",
        (c) => {
          const s = S(c);
          for (let i = 0; i < 2; i++) {
            check(
              s.pte[i]!.state !== PRESENT,
              PROPS.splitOfMappedFolio,
              `__split_unmapped_folio(F) while pte${i} still maps page ${i} (present): the mapping is in none of the new folios' counts`,
            );
          }
          const f = s.folio[0]!;
          const t = s.folio[1]!;
          f.order = 0;
          t.order = 0;
          t.is_tail = false;
          t.locked = true;
          t._refcount = 1;
          t.mapcount = 0;
        },
        { raises: [PROPS.splitOfMappedFolio] },
      ),
      folio_ref_unfreeze(F, 1),
    ];

    const anon_vma_lock_write = step(
      "anon_vma_lock_write(anon_vma)",
      (c) => {
        c.m.setMarked(m.s.anon_vma.rwsem.$off(c.m.b), c.cpu);
        L(c).anon_vma = true;
      },
      {
        guard: (c) => S(c).anon_vma.rwsem === -1 && S(c).anon_vma.readers === 0,
        waitsFor: () => "anon_vma->rwsem (held for read or write)",
      },
    );
    const anon_vma_unlock_write = step(
      "anon_vma_unlock_write(anon_vma); put_anon_vma(anon_vma)",
      (c) => {
        c.m.setMarked(m.s.anon_vma.rwsem.$off(c.m.b), -1);
        L(c).anon_vma = false;
      },
    );

    /** __folio_split(F, 0, ...) of an anon folio, with or without the v1/v2 flag. */
    const folio_split = (flag: boolean): Stmt => {
      const name = flag ? "__folio_split(F, unmapped=true)" : "__folio_split(F)";
      return func(name, [
        ...(flag
          ? []
          : [
              if_(
                step(
                  (_c, r) =>
                    `anon_vma = folio_get_anon_vma(F) -> ${r ? "NULL (not mapped)" : "anon_vma"}`,
                  (c) => S(c).folio[0]!.mapcount === 0,
                ),
                [setRet(-EBUSY), return_()],
              ),
              anon_vma_lock_write,
            ]),
        if_(can_split_folio(), [], [setRet(-EAGAIN), goto_("out_unlock")]),
        ...(flag ? [] : [unmap_folio()]),
        // spin_lock(&ds_queue->split_queue_lock): F is on no deferred split queue here
        if_(
          folio_ref_freeze(F, 1),
          [
            ...split_unmapped_folio(),
            ...(flag
              ? [setRet(0)] // v2: `if (unmapped) return ret;` -- no remap, new folios stay locked
              : [remap_page(), folio_unlock(F1), folio_put(F1), setRet(0)]),
          ],
          [...(flag ? [] : [remap_page()]), setRet(-EAGAIN)],
        ),
        label("out_unlock"),
        ...(flag
          ? []
          : [
              if_(
                when("if (anon_vma)", (c) => L(c).anon_vma),
                [anon_vma_unlock_write],
              ),
            ]),
      ]);
    };

    /** folio_split_unmapped(F, 0) (Nov 2025): VM_WARN_ON_FOLIO(folio_mapped), then freeze and split. */
    const folio_split_unmapped = (): Stmt =>
      func("folio_split_unmapped(F, 0)", [
        step(
          (c) => `VM_WARN_ON_FOLIO(folio_mapped(F)) (mapcount ${S(c).folio[0]!.mapcount})`,
          (c) => {
            const mc = S(c).folio[0]!.mapcount;
            // a warning: the splat is printed and folio_split_unmapped() goes on
            if (mc !== 0)
              c.m.warn(
                PROPS.vmWarnFolioMapped,
                `VM_WARN_ON_FOLIO(folio_mapped(F)): F is mapped ${mc} time(s)`,
              );
          },
          { raises: [{ name: PROPS.vmWarnFolioMapped, severity: "warn" }] },
        ),
        if_(can_split_folio(), [], [setRet(-EAGAIN), return_()]),
        func("__folio_freeze_and_split_unmapped", [
          if_(folio_ref_freeze(F, 1), [...split_unmapped_folio(), setRet(0)], [setRet(-EAGAIN)]),
        ]),
      ]);

    const split = (): Stmt =>
      o.api === "folio_split_unmapped" ? folio_split_unmapped() : folio_split(o.api === "flag");
    const splitOk = (what: string): StepStmt =>
      step(
        (c, r) =>
          `if (${what} == 0) -> ${r ? "true (split)" : `false (${L(c).ret === -EAGAIN ? "-EAGAIN" : "-EBUSY"})`}`,
        (c) => L(c).ret === 0,
      );

    // ---- the caller ----
    if (o.caller === "device-migration") {
      m.thread("migrate_vma_pages", locals, () => [
        func("migrate_vma_split_pages", [split()]),
        func("migrate_device_finalize", [
          if_(
            splitOk("split"),
            [
              // per source page: remove_migration_ptes(src, src); folio_unlock(src); folio_put(src)
              remove_migration_ptes(0),
              folio_unlock(F),
              folio_put(F),
              remove_migration_ptes(1),
              folio_unlock(F1),
              folio_put(F1),
            ],
            [remove_migration_ptes(0), folio_unlock(F), folio_put(F)],
          ),
        ]),
      ]);
    } else if (o.caller === "mapped") {
      m.thread("split_huge_page", locals, () => [split(), folio_unlock(F), folio_put(F)]);
    } else {
      m.thread("unmap_then_split", locals, () => [
        unmap_folio(),
        split(),
        remove_migration_ptes(0),
        folio_unlock(F),
        folio_put(F),
      ]);
    }

    // ---- the concurrent parties ----
    if (params.zap) {
      // munmap() by another thread of the process: zap_pte_range() over pte0, pte1
      m.thread("zap_pte_range", { folio: ptr(Folio) }, (t) => {
        const pf = t.l.folio as unknown as FolioRef;
        return [0, 1].map((i) =>
          if_(
            step(
              (c, r) => {
                const st = S(c).pte[i]!.state;
                const x = pageFolio(S(c), i);
                return r
                  ? `zap pte${i} (present): folio_remove_rmap_pte(${FNAME[x]}) (mapcount ${S(c).folio[x]!.mapcount} -> ${S(c).folio[x]!.mapcount - 1})`
                  : `zap pte${i} (${PTE_STATES[st]})`;
              },
              (c) => {
                const s = S(c);
                const st = s.pte[i]!.state;
                if (st === NONE) return false;
                s.pte[i]!.state = NONE;
                if (st === MIGRATION) return false; // zap_nonpresent_ptes: no folio reference
                const x = pageFolio(s, i);
                assertLive(c, fref[x]!, "zap_pte_range");
                const f = s.folio[x]!;
                check(
                  f.mapcount > 0,
                  PROPS.badMapcount,
                  `Bad page map: ${FNAME[x]} mapcount goes below 0 (pte${i})`,
                );
                f.mapcount--;
                (c.l as unknown as { folio: number }).folio = x;
                return true;
              },
              { raises: [PROPS.badMapcount, PROPS.useAfterFree] },
            ),
            [folio_put(pf)],
          ),
        );
      });
    }
    if (params.access) {
      // a user access of page 1: do_swap_page() -> migration_entry_wait() while pte1 is a
      // migration entry (wait for the folio's PG_locked to clear), then retry the fault
      m.thread("access_page1", { folio: ptr(Folio) }, (t) => {
        const pf = t.l.folio as unknown as FolioRef;
        return [
          while_(
            step(
              (c, r) =>
                r
                  ? `pte1 is a migration entry of ${FNAME[pageFolio(S(c), 1)]}: migration_entry_wait()`
                  : `pte1 is ${PTE_STATES[S(c).pte[1]!.state]}: fault done`,
              (c) => {
                const s = S(c);
                if (s.pte[1]!.state !== MIGRATION) {
                  if (s.pte[1]!.state === PRESENT)
                    assertLive(c, fref[pageFolio(s, 1)]!, "user access of page 1");
                  return false;
                }
                (c.l as unknown as { folio: number }).folio = pageFolio(s, 1);
                return true;
              },
            ),
            [
              step(
                (c) =>
                  `folio_wait_bit(${FNAME[(c.l as unknown as { folio: number }).folio]!}, PG_locked)`,
                () => undefined,
                {
                  guard: (c) => !pf.locked.$test(c.m.b),
                  waitsFor: (c) =>
                    `PG_locked of ${FNAME[(c.l as unknown as { folio: number }).folio]!} to clear`,
                },
              ),
            ],
          ),
        ];
      });
    }
    if (params.rmap_walk) {
      // an rmap walker that does not take the folio lock of an anon folio: idle page tracking /
      // DAMON (page_idle_get_folio: folio_try_get; rmap_walk -> rmap_walk_anon under
      // anon_vma_lock_read; page_vma_mapped_walk over the PTEs mapping the folio)
      m.thread("page_idle_clear_pte_refs", {}, () => [
        if_(folio_try_get(F), [
          func("rmap_walk_anon(F)", [
            if_(
              step(
                (_c, r) => `folio_lock_anon_vma_read(F) -> ${r ? "anon_vma" : "NULL (not mapped)"}`,
                (c) => S(c).folio[0]!.mapcount > 0,
              ),
              [
                step(
                  "anon_vma_lock_read(anon_vma)",
                  (c) => {
                    S(c).anon_vma.readers++;
                  },
                  {
                    guard: (c) => S(c).anon_vma.rwsem === -1,
                    waitsFor: () => "anon_vma->rwsem (held for write)",
                  },
                ),
                ...[0, 1].map((i) =>
                  step(
                    (c) => {
                      const st = S(c).pte[i]!.state;
                      const x = pageFolio(S(c), i);
                      return st === PRESENT && x === 0
                        ? `page_vma_mapped_walk(F, pte${i}): present, ptep_clear_young_notify`
                        : `page_vma_mapped_walk(F, pte${i}): ${st === PRESENT ? `maps ${FNAME[x]}` : PTE_STATES[st]}, skip`;
                    },
                    (c) => {
                      const s = S(c);
                      if (s.pte[i]!.state === PRESENT && pageFolio(s, i) === 0)
                        assertLive(c, F, "page_vma_mapped_walk");
                    },
                  ),
                ),
                step("anon_vma_unlock_read(anon_vma)", (c) => {
                  S(c).anon_vma.readers--;
                }),
              ],
            ),
          ]),
          folio_put(F),
        ]),
      ]);
    }

    // ---- initial state ----
    m.init((s) => {
      const f = s.folio[0]!;
      const t = s.folio[1]!;
      t.is_tail = true;
      t._refcount = 0;
      t.order = 0;
      f.locked = true; // the caller holds the folio lock
      if (o.caller === "device-migration") {
        // after migrate_vma_setup(): collected (locked, the migrate reference) and unmapped
        f._refcount = 1;
        f.mapcount = 0;
        for (const p of s.pte) p.state = MIGRATION;
      } else {
        // mapped by pte0 and pte1; the caller holds one reference of its own
        f._refcount = 3;
        f.mapcount = 2;
        for (const p of s.pte) p.state = PRESENT;
      }
    });

    // ---- properties ----
    m.invariant(PROPS.useAfterFree, ({ s }) => {
      const v = s as unknown as Shared;
      for (let i = 0; i < 2; i++) {
        const x = pageFolio(v, i);
        if (v.pte[i]!.state !== NONE && v.folio[x]!.freed)
          return `pte${i} (${PTE_STATES[v.pte[i]!.state]}) maps page ${i} of ${FNAME[x]}, which was freed`;
      }
      return true;
    });
    // the counts of every folio agree with the page table: a folio split while a PTE still
    // mapped it leaves that mapping in none of the new folios' mapcounts
    m.invariant(PROPS.splitOfMappedFolio, ({ s }) => {
      const v = s as unknown as Shared;
      for (let x = 0; x < 2; x++) {
        const f = v.folio[x]!;
        if (f.freed || (x === 1 && f.is_tail)) continue;
        let mapped = 0;
        for (let i = 0; i < 2; i++)
          if (v.pte[i]!.state === PRESENT && pageFolio(v, i) === x) mapped++;
        if (mapped !== f.mapcount)
          return `${mapped} present PTE(s) map pages of ${FNAME[x]} but its mapcount is ${f.mapcount}`;
      }
      return true;
    });
    m.endState(PROPS.staleMigrationEntry, ({ s }) => {
      const v = s as unknown as Shared;
      for (let i = 0; i < 2; i++) {
        if (v.pte[i]!.state === MIGRATION)
          return `pte${i} is still a migration entry of ${FNAME[pageFolio(v, i)]} when every CPU has finished: nobody will restore it`;
      }
      return true;
    });
    m.endState(PROPS.leakedFolio, ({ s }) => {
      const v = s as unknown as Shared;
      for (let x = 0; x < 2; x++) {
        const f = v.folio[x]!;
        if (f.freed || (x === 1 && f.is_tail)) continue;
        if (f.locked)
          return `${FNAME[x]} is still locked when every CPU has finished: nobody unlocks it`;
        if (f._refcount !== f.mapcount)
          return `${FNAME[x]} holds ${f._refcount} reference(s) for ${f.mapcount} mapping(s): a reference is leaked`;
      }
      return true;
    });
    return m;
  },
});
