// Page-table locks and migration entries (include/linux/mm.h pte_offset_map_lock /
// pte_unmap_unlock, the split PTE lock ptlock_ptr(); mm/migrate.c migration_entry_wait()), v6.18.
//
// A page table's lock is a spinlock of the model (`ptl: ptlock()` in the record of the mapping);
// pte_offset_map_lock()/pte_unmap_unlock() are spin_lock/spin_unlock under the kernel's names.
// While migration or split has replaced a folio's PTEs with migration entries (its refcount is
// frozen at 0), a zap or a fault of those PTEs waits: notMigrating(f) is the guard for such a
// step (migration_entry_wait() sleeps until the entry is removed).
//
// Two levels of detail. The folio level above: a mapping is a `mapped` bit and the rmap ghost
// bits of rmap.ts. The page level (the last section, seed 001's model, v6.16): a table of PTEs
// (`ptes(n)`), PTE i mapping page i of a folio array whose records carry pageFolioFields
// (`mapcount`, and `is_tail`: page_folio() of a tail page is the folio before it, until a split
// makes the page a folio of its own); a PTE is none, present (a reference and a mapcount of its
// page's folio) or a migration entry (neither). PTE accesses are marked (ptep_get() is a
// READ_ONCE, set_pte_at() a WRITE_ONCE); each PTE operation is one step, as under the page table
// lock. zap_pte() is zap_pte_range() for one PTE; ptesMapLiveFolios() and noMigrationEntries()
// are the use-after-free invariant and the stale-migration-entry end state.
//
// Left out: PMD-level locks (pmd_lock) and PMD mappings, pte_offset_map() failing (a freed
// table), several page tables or VMAs (PTE i always maps page i), the TLB batching of zap.

import type { Ctx, StepStmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import { spinlock, type LockS } from "../model/schema.ts";
import { folioName, type FolioRef } from "./folio.ts";
import { spin_lock, spin_unlock } from "./spinlock.ts";
import { array, bool, enumOf, int, ptr, record } from "../model/schema.ts";
import type { ArrayS, BoolS, EnumS, IntS, PtrS, RecordS } from "../model/schema.ts";
import { kernelLocal } from "../model/model.ts";
import { func as funcStmt, if_ as ifStmt, step as stepStmt, type Stmt } from "../model/dsl.ts";
import { assertLive as assertLiveF, folio_put as folioPut } from "./folio.ts";
import type { Fields } from "../model/schema.ts";
import type { ModelBuilder } from "../model/model.ts";
import { Violation } from "../rt/mem.ts";
import type { Mem } from "../rt/mem.ts";

/** The split PTE lock of one page table (ptlock_ptr()). */
export function ptlock(): LockS {
  return spinlock();
}

/** pte_offset_map_lock(mm, pmd, addr, &ptl): takes the page table's lock. */
export function pte_offset_map_lock(ptl: Ref<LockS>): StepStmt {
  return spin_lock(ptl);
}

/** pte_unmap_unlock(pte, ptl). */
export function pte_unmap_unlock(ptl: Ref<LockS>): StepStmt {
  return spin_unlock(ptl);
}

/**
 * The guard of a step that touches f's PTEs: enabled unless f is frozen by a migration or a
 * split (its PTEs are migration entries: migration_entry_wait() sleeps), or already freed.
 */
export function notMigrating(f: FolioRef): {
  guard: (c: Ctx) => boolean;
  waitsFor: (c: Ctx) => string;
} {
  return {
    guard: (c) => c.m.b[f._refcount.$off(c.m.b)] !== 0 || c.m.b[f.freed.$off(c.m.b)] !== 0,
    waitsFor: (c) => `${folioName(f, c.m.b)} to be unfrozen (its PTEs are migration entries)`,
  };
}

// ---------------------------------------------------------------------------------------------
// Page table entries of the pages of a large folio (seed 001's model of device migration)
//
// A page table of n PTEs where PTE i maps page i of a folio array (`pte_none`, a present PTE, or
// a migration entry). As in the kernel, a PTE names a page (pfn), not a folio: page i belongs to
// the folio page_folio(i), the nearest page j <= i that is not a tail page (pageFolioFields'
// `is_tail`: PageTail, cleared for the pages a split turns into folios). Every present PTE holds
// one reference and one mapcount of the folio its page belongs to; a migration entry holds none.
// PTE reads and writes are marked (ptep_get() is a READ_ONCE, set_pte_at() a WRITE_ONCE), and
// each PTE operation is one step (it runs under the page table lock, which no other step of
// these models takes); mapcounts are atomics (marked).
//
// zap_pte() is zap_pte_range() (mm/memory.c, v6.16) for one PTE: a present PTE is cleared, its
// folio's mapcount dropped (folio_remove_rmap_pte(): "Bad page map" below 0, `bad-mapcount`),
// and the mapping's reference put (the TLB batching of the put is left out); a migration entry
// is cleared without a reference (zap_nonpresent_ptes()).
//
// Properties: ptesMapLiveFolios (use-after-free: a PTE of a freed folio), noMigrationEntries
// (stale-migration-entry, end state: a migration entry nobody will restore).

export const PTE_NONE = 0;
export const PTE_PRESENT = 1;
export const PTE_MIGRATION = 2;
export const PTE_STATES = ["none", "present", "migration entry"] as const;

/** Extra folio fields for page-level mappings: `folio({ extra: pageFolioFields(2) })`. */
export function pageFolioFields(maxMap: number) {
  return {
    /** folio_mapcount(): the PTEs mapping a page of this folio (an atomic). */
    mapcount: int(0, maxMap),
    /** PageTail: this page is a tail page of the folio before it (not a folio of its own). */
    is_tail: bool(false),
  };
}

export type PageFolioRef = FolioRef & {
  readonly mapcount: Ref<IntS>;
  readonly is_tail: Ref<BoolS>;
};
/** The folio array whose entry i is page i (a folio's head page, or a tail page). */
export interface PageFolios {
  readonly length: number;
  readonly [i: number]: PageFolioRef;
  readonly $schema: ArrayS;
}

/** A page table of n PTEs, PTE i mapping page i: `pte: ptes(2)` (named pte0, pte1...). */
export function ptes(n: number) {
  return array(n, record({ state: enumOf(PTE_STATES) }, "pte"), { label: (i) => `pte${i}` });
}
export interface PtesRef {
  readonly length: number;
  readonly [i: number]: { readonly state: Ref<EnumS> };
}

/** page_folio(page i): the folio page i belongs to (a marked read of the PageTail bits). */
export function pageFolio(c: { m: Mem }, pages: PageFolios, i: number): number {
  let j = i;
  while (j > 0 && c.m.getMarked(pages[j]!.is_tail.$off(c.m.b)) !== 0) j--;
  return j;
}
/** page_folio() in state b without recording an access (labels, properties). */
export function pageFolioNow(b: Int32Array, pages: PageFolios, i: number): number {
  let j = i;
  while (j > 0 && b[pages[j]!.is_tail.$off(b)] !== 0) j--;
  return j;
}
export const pteState = (c: { m: Mem }, pt: PtesRef, i: number): number =>
  c.m.getMarked(pt[i]!.state.$off(c.m.b));
export const setPteState = (c: { m: Mem }, pt: PtesRef, i: number, v: number): void =>
  c.m.setMarked(pt[i]!.state.$off(c.m.b), v);

/** Adds `d` to folio x's mapcount (atomic); below 0 is `bad-mapcount` (Bad page map). */
export function modMapcount(
  c: { m: Mem },
  pages: PageFolios,
  x: number,
  d: number,
  what: string,
): void {
  const f = pages[x]!;
  const off = f.mapcount.$off(c.m.b);
  const v = c.m.getMarked(off);
  if (v + d < 0)
    throw new Violation(
      "bad-mapcount",
      `Bad page map: ${folioName(f, c.m.b)} mapcount goes below 0 (${what})`,
    );
  c.m.setMarked(off, v + d);
}

/**
 * zap_pte_range() for PTE i: a present PTE is cleared, folio_remove_rmap_pte() drops its
 * folio's mapcount and the mapping's reference is put; a migration entry is just cleared.
 */
export function zap_pte(pt: PtesRef, pages: PageFolios, i: number): Stmt {
  const folio = kernelLocalPtr(pages);
  return ifStmt(
    stepStmt(
      (c, r) => {
        const st = c.m.b[pt[i]!.state.$off(c.m.b)]!;
        const x = pageFolioNow(c.m.b, pages, i);
        const mc = c.m.b[pages[x]!.mapcount.$off(c.m.b)]!;
        return r
          ? `zap pte${i} (present): folio_remove_rmap_pte(${folioName(pages[x]!, c.m.b)}) (mapcount ${mc} -> ${mc - 1})`
          : `zap pte${i} (${PTE_STATES[st]})`;
      },
      (c) => {
        const st = pteState(c, pt, i);
        if (st === PTE_NONE) return false;
        setPteState(c, pt, i, PTE_NONE);
        if (st === PTE_MIGRATION) return false; // zap_nonpresent_ptes: no folio reference
        const x = pageFolio(c, pages, i);
        assertLiveF(c, pages[x]!, "zap_pte_range");
        modMapcount(c, pages, x, -1, `zap of pte${i}`);
        c.m.set(folio.$off(c.m.b), x);
        return true;
      },
      { raises: ["bad-mapcount", "use-after-free"] },
    ),
    [funcStmt("tlb_finish_mmu", [folioPut(folio as unknown as FolioRef)])],
  );
}

/** The CPU's `folio` pointer into the page array (the folio a PTE's page belongs to). */
function kernelLocalPtr(pages: PageFolios): Ref<PtrS> {
  return kernelLocal("folio", ptr(pages.$schema.elem as RecordS));
}

/** use-after-free (invariant): no PTE (present or migration entry) maps a page of a freed folio. */
export function ptesMapLiveFolios<F extends Fields>(
  mb: ModelBuilder<F>,
  pt: PtesRef,
  pages: PageFolios,
  name = "use-after-free",
): void {
  mb.invariant(name, (w) => {
    const b = w.m.b;
    for (let i = 0; i < pt.length; i++) {
      const st = b[pt[i]!.state.$off(b)]!;
      const x = pageFolioNow(b, pages, i);
      if (st !== PTE_NONE && b[pages[x]!.freed.$off(b)] !== 0)
        return `pte${i} (${PTE_STATES[st]}) maps page ${i} of ${folioName(pages[x]!, b)}, which was freed`;
    }
    return true;
  });
}

/** stale-migration-entry (end state): no PTE is left a migration entry when every CPU is done. */
export function noMigrationEntries<F extends Fields>(
  mb: ModelBuilder<F>,
  pt: PtesRef,
  pages: PageFolios,
  name = "stale-migration-entry",
): void {
  mb.endState(name, (w) => {
    const b = w.m.b;
    for (let i = 0; i < pt.length; i++)
      if (b[pt[i]!.state.$off(b)] === PTE_MIGRATION)
        return `pte${i} is still a migration entry of ${folioName(pages[pageFolioNow(b, pages, i)]!, b)} when every CPU has finished: nobody will restore it`;
    return true;
  });
}
