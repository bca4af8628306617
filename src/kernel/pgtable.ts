// Page-table locks and migration entries (include/linux/mm.h pte_offset_map_lock /
// pte_unmap_unlock, the split PTE lock ptlock_ptr(); mm/migrate.c migration_entry_wait()), v6.18.
//
// A page table's lock is a spinlock of the model (`ptl: ptlock()` in the record of the mapping);
// pte_offset_map_lock()/pte_unmap_unlock() are spin_lock/spin_unlock under the kernel's names.
// While migration or split has replaced a folio's PTEs with migration entries (its refcount is
// frozen at 0), a zap or a fault of those PTEs waits: notMigrating(f) is the guard for such a
// step (migration_entry_wait() sleeps until the entry is removed).
//
// Left out: PMD-level locks (pmd_lock) and PMD mappings, the page table itself (a mapping is a
// `mapped` bit and the rmap ghost bits of rmap.ts), pte_offset_map() failing (a freed table).

import type { Ctx, StepStmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import { spinlock, type LockS } from "../model/schema.ts";
import { folioName, type FolioRef } from "./folio.ts";
import { spin_lock, spin_unlock } from "./spinlock.ts";

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
