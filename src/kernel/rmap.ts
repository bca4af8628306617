// Reverse mapping (mm/rmap.c, v6.18): removing a folio's PTE mappings, and what that does to
// the deferred split queue. __folio_remove_rmap() of part of a large anonymous folio marks it
// partially mapped and calls deferred_split_folio(folio, true); removing the last mapping
// leaves it unmapped (and the caller drops the mapping's reference: zap_pte_range() ->
// tlb_finish_mmu()).
//
// A folio's mapping is its `mapped` bit (folio_mapped(), atomic mapcounts: marked accesses) and
// the ghost bits of rmapFolioFields: `pte_partial` (some PTEs were zapped: it really is
// partially mapped, whatever PG_partially_mapped says), `migration_ptes` (try_to_migrate()
// replaced its PTEs with migration entries) and `isolated` (folio_isolate_lru() succeeded).
//
// Steps: the rmap update is one step (under the page-table lock the caller holds in the kernel;
// here the step is guarded by notMigrating()); deferred_split_folio() as in huge_memory.ts; the
// put of the zapped PTEs' reference as folio_put().
//
// Left out: per-page mapcounts and the entire/large mapcount split (one `mapped` bit), file
// folios, PMD mappings, the mlock and lru side of rmap removal.

import { func, if_, step, type Ctx, type Stmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import { bool, ghost, type BoolS } from "../model/schema.ts";
import { assertLive, folioName, folio_put, type FolioRef } from "./folio.ts";
import { deferred_split_folio, type DeferredSplit } from "./huge_memory.ts";
import { notMigrating } from "./pgtable.ts";
import { lostMembership, PROP, type QueueLike } from "./catalogue.ts";
import type { ModelBuilder } from "../model/model.ts";
import type { Fields } from "../model/schema.ts";

/** Extra folio fields for rmap and migration: `folio({ extra: rmapFolioFields })`. */
export const rmapFolioFields = {
  /** Ghost: some of the folio's PTEs have been zapped (it really is partially mapped). */
  pte_partial: ghost(bool(false)),
  /** Ghost: try_to_migrate() replaced the folio's PTEs with migration entries. */
  migration_ptes: ghost(bool(false)),
  /** Ghost: a migration isolated the folio (folio_isolate_lru() succeeded); no second one can. */
  isolated: ghost(bool(false)),
};

export type RmapFolioRef = FolioRef & {
  readonly pte_partial: Ref<BoolS>;
  readonly migration_ptes: Ref<BoolS>;
  readonly isolated: Ref<BoolS>;
};

const nm = (f: FolioRef, c: Ctx): string => folioName(f, c.m.b);

/**
 * zap_pte_range() over all of f: folio_remove_rmap_ptes() of every PTE (if still mapped) and
 * the mapping's reference dropped (its free path through `d`).
 */
export function zap_folio(f: RmapFolioRef, d: DeferredSplit): Stmt {
  return func("zap_pte_range", [
    if_(
      step(
        (c, r) => `unmap ${nm(f, c)}: folio_mapped -> ${r ? "true, folio_remove_rmap" : "false"}`,
        (c) => {
          const off = f.mapped.$off(c.m.b);
          if (c.m.getMarked(off) === 0) return false;
          assertLive(c, f, "folio_remove_rmap");
          c.m.setMarked(off, 0);
          return true;
        },
        notMigrating(f),
      ),
      [folio_put(f, d)],
    ),
  ]);
}

/**
 * zap_pte_range() over part of f: __folio_remove_rmap() marks it partially mapped and calls
 * deferred_split_folio(f, true); then the zapped PTEs' reference is dropped (tlb_finish_mmu).
 * The model gives f that extra reference at the start: it keeps f alive while
 * deferred_split_folio() runs.
 */
export function zap_folio_partially(f: RmapFolioRef, d: DeferredSplit): Stmt {
  return func("zap_pte_range", [
    if_(
      step(
        (c, r) =>
          `unmap part of ${nm(f, c)} -> ${r ? "now partially mapped" : "not mapped / already partial"}`,
        (c) => {
          const off = f.mapped.$off(c.m.b);
          if (c.m.getMarked(off) === 0 || c.m.getGhost(f.pte_partial.$off(c.m.b)) !== 0)
            return false;
          c.m.setGhost(f.pte_partial.$off(c.m.b), 1);
          return true;
        },
        notMigrating(f),
      ),
      [func("__folio_remove_rmap", [deferred_split_folio(f, d, true)])],
    ),
    folio_put(f, d),
  ]);
}

/**
 * lost-membership (end state) on the real mapping rather than on PG_partially_mapped: a live
 * large folio that is still mapped and has had some of its PTEs zapped (`pte_partial`) must be
 * on one of `queues` at quiescence, or the shrinker will never split it. (The catalogue's
 * default reads PG_partially_mapped, which migration clears on the source and never sets on the
 * destination, so it cannot see a migrated folio drop off.)
 */
export function lostMembershipRmap<F extends Fields>(
  mb: ModelBuilder<F>,
  folios: { readonly length: number; readonly [i: number]: RmapFolioRef },
  queues: readonly QueueLike[],
): void {
  lostMembership(mb, folios, queues, {
    name: PROP.lostMembership,
    isPartial: (w, i) => {
      const b = w.m.b;
      const f = folios[i]!;
      return b[f.mapped.$off(b)] !== 0 && b[f.pte_partial.$off(b)] !== 0 && b[f.order.$off(b)]! > 1;
    },
  });
}
