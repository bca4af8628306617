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
// The page level (the last section, seed 001, v6.16) uses pgtable.ts's PTE table and a per-folio
// `mapcount`: try_to_migrate_one() / unmap_folio() (a present PTE becomes a migration entry; the
// mapcount and the mapping's reference drop: one step per PTE), the anon_vma and its rw_semaphore
// (rwsem.ts: anon_vma_lock_write/read), rmap_walk_anon() of a walker that takes no folio lock,
// and two properties: mapcountConsistent() (a live folio's mapcount equals the present PTEs of
// its pages) and foliosReleased() (leaked-folio: at the end every live folio is unlocked and holds
// one reference per mapping).
//
// Left out: per-page mapcounts and the entire/large mapcount split (one `mapped` bit, or one
// folio-wide mapcount at the page level), file folios, PMD mappings, the mlock and lru side of
// rmap removal, the anon_vma tree and its refcount (one anon_vma, one VMA).

import { func, if_, step, type Ctx, type Stmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import { bool, ghost, type BoolS } from "../model/schema.ts";
import { assertLive, folioName, folio_put, type FolioRef } from "./folio.ts";
import { deferred_split_folio, type DeferredSplit } from "./huge_memory.ts";
import { notMigrating } from "./pgtable.ts";
import { lostMembership, PROP, type QueueLike } from "./catalogue.ts";
import type { ModelBuilder } from "../model/model.ts";
import type { Fields } from "../model/schema.ts";
import { rwsem, down_read, down_write, up_read, up_write, type RwsemRef } from "./rwsem.ts";
import { record as recordS, type RecordS as RecordSchema } from "../model/schema.ts";
import type { Fields as FieldsS } from "../model/schema.ts";
import type { ModelBuilder as Builder } from "../model/model.ts";
import type { StepStmt as StepS } from "../model/dsl.ts";
import { Violation as ViolationE } from "../rt/mem.ts";
import {
  PTE_MIGRATION,
  PTE_PRESENT,
  PTE_STATES,
  modMapcount,
  pageFolio,
  pageFolioNow,
  pteState,
  setPteState,
  type PageFolios,
  type PtesRef,
} from "./pgtable.ts";

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

// ---------------------------------------------------------------------------------------------
// Page-level rmap: the anon_vma lock, try_to_migrate_one() per PTE, the rmap walk of an anon
// folio, and the mapcount a folio must agree with (seed 001, mm/rmap.c of v6.16)
//
// Uses the PTE table of pgtable.ts (PTE i maps page i of the folio array; pageFolioFields).
// try_to_migrate_one() on a present PTE of the folio's pages replaces it with a migration entry,
// drops the folio's mapcount and the mapping's reference (one step: under the page table lock;
// putting the last reference there is `refcount-underflow`). The anon_vma's rw_semaphore is
// rwsem.ts's. rmap_walk_anon() is folio_lock_anon_vma_read() (NULL when the folio is not
// mapped), anon_vma_lock_read(), page_vma_mapped_walk() per PTE, anon_vma_unlock_read().
//
// Left out: the anon_vma tree (one anon_vma, one VMA), anon_vma refcounts (put_anon_vma is a
// label), the PMD level, TLB flushes, the young bit (ptep_clear_young_notify is a label).

/** struct anon_vma with its rw_semaphore: `anon_vma: anonVma()`. */
export function anonVma(opts: { maxReaders?: number } = {}): RecordSchema<{
  rwsem: ReturnType<typeof rwsem>;
}> {
  return recordS({ rwsem: rwsem(opts) }, "anon_vma");
}
export interface AnonVmaRef {
  readonly rwsem: RwsemRef;
}

/** anon_vma_lock_write(anon_vma): down_write of its rwsem. */
export const anon_vma_lock_write = (av: AnonVmaRef): StepS =>
  down_write(av.rwsem, "anon_vma_lock_write");
/** anon_vma_unlock_write(anon_vma). */
export const anon_vma_unlock_write = (av: AnonVmaRef): StepS => up_write(av.rwsem);
/** anon_vma_lock_read(anon_vma): down_read of its rwsem. */
export const anon_vma_lock_read = (av: AnonVmaRef): StepS =>
  down_read(av.rwsem, "anon_vma_lock_read");
/** anon_vma_unlock_read(anon_vma). */
export const anon_vma_unlock_read = (av: AnonVmaRef): StepS =>
  up_read(av.rwsem, "anon_vma_unlock_read");

const fnm = (pages: PageFolios, x: number, b: Int32Array): string => folioName(pages[x]!, b);

/**
 * try_to_migrate_one(folio x, PTE i): a present PTE of one of x's pages becomes a migration
 * entry; x's mapcount drops and the mapping's reference is put. Anything else: nothing to do.
 */
export function try_to_migrate_one(pt: PtesRef, pages: PageFolios, x: number, i: number): StepS {
  return step(
    (c, r) => `try_to_migrate_one(${fnm(pages, x, c.m.b)}, pte${i}): ${String(r)}`,
    (c) => {
      const st = pteState(c, pt, i);
      const y = pageFolio(c, pages, i);
      if (st !== PTE_PRESENT) return `${PTE_STATES[st]}, nothing to do`;
      if (y !== x) return `maps ${fnm(pages, y, c.m.b)}, not ${fnm(pages, x, c.m.b)}`;
      const f = pages[x]!;
      assertLive(c, f, "try_to_migrate_one");
      setPteState(c, pt, i, PTE_MIGRATION);
      modMapcount(c, pages, x, -1, `try_to_migrate_one(pte${i})`);
      const off = f._refcount.$off(c.m.b);
      const ref = c.m.getMarked(off);
      if (ref <= 1)
        throw new ViolationE(
          "refcount-underflow",
          `try_to_migrate_one put the last reference of ${fnm(pages, x, c.m.b)}`,
        );
      c.m.setMarked(off, ref - 1);
      const mc = c.m.b[f.mapcount.$off(c.m.b)]!;
      return `present -> migration entry; ${fnm(pages, x, c.m.b)} mapcount ${mc + 1} -> ${mc}, folio_put (_refcount ${ref} -> ${ref - 1})`;
    },
    { raises: ["use-after-free", "bad-mapcount", "refcount-underflow"] },
  );
}

/** unmap_folio(folio x) -> try_to_migrate(): try_to_migrate_one() on every PTE, one step each. */
export function unmap_folio(pt: PtesRef, pages: PageFolios, x: number): Stmt {
  return func(
    "unmap_folio",
    Array.from({ length: pt.length }, (_, i) => try_to_migrate_one(pt, pages, x, i)),
  );
}

/**
 * rmap_walk_anon(folio x) of a walker that does not take the folio lock (idle page tracking,
 * DAMON): folio_lock_anon_vma_read() (NULL when not mapped), then page_vma_mapped_walk() over
 * the PTEs (a present PTE of x's pages is visited: ptep_clear_young_notify), unlock.
 */
export function rmap_walk_anon(pt: PtesRef, pages: PageFolios, av: AnonVmaRef, x: number): Stmt {
  return func(
    `rmap_walk_anon(${pages[x]!._refcount.$text.replace(/(\.|->)_refcount$/, "").replace(/^s\./, "")})`,
    [
      if_(
        step(
          (c, r) =>
            `folio_lock_anon_vma_read(${fnm(pages, x, c.m.b)}) -> ${r ? "anon_vma" : "NULL (not mapped)"}`,
          (c) => c.m.getMarked(pages[x]!.mapcount.$off(c.m.b)) > 0,
        ),
        [
          anon_vma_lock_read(av),
          ...Array.from({ length: pt.length }, (_, i) =>
            step(
              (c) => {
                const st = c.m.b[pt[i]!.state.$off(c.m.b)]!;
                const y = pageFolioNow(c.m.b, pages, i);
                return st === PTE_PRESENT && y === x
                  ? `page_vma_mapped_walk(${fnm(pages, x, c.m.b)}, pte${i}): present, ptep_clear_young_notify`
                  : `page_vma_mapped_walk(${fnm(pages, x, c.m.b)}, pte${i}): ${st === PTE_PRESENT ? `maps ${fnm(pages, y, c.m.b)}` : PTE_STATES[st]}, skip`;
              },
              (c) => {
                if (pteState(c, pt, i) === PTE_PRESENT && pageFolio(c, pages, i) === x)
                  assertLive(c, pages[x]!, "page_vma_mapped_walk");
              },
              { raises: ["use-after-free"] },
            ),
          ),
          anon_vma_unlock_read(av),
        ],
      ),
    ],
  );
}

/**
 * The mapcount invariant: every live folio's mapcount equals the present PTEs mapping its
 * pages (a folio split while a PTE still mapped it leaves that mapping in no folio's count).
 */
export function mapcountConsistent<F extends FieldsS>(
  mb: Builder<F>,
  pt: PtesRef,
  pages: PageFolios,
  name = "mapcount",
): void {
  mb.invariant(name, (w) => {
    const b = w.m.b;
    for (let x = 0; x < pages.length; x++) {
      const f = pages[x]!;
      if (b[f.freed.$off(b)] !== 0 || b[f.is_tail.$off(b)] !== 0) continue;
      let mapped = 0;
      for (let i = 0; i < pt.length; i++)
        if (b[pt[i]!.state.$off(b)] === PTE_PRESENT && pageFolioNow(b, pages, i) === x) mapped++;
      const mc = b[f.mapcount.$off(b)]!;
      if (mapped !== mc)
        return `${mapped} present PTE(s) map pages of ${fnm(pages, x, b)} but its mapcount is ${mc}`;
    }
    return true;
  });
}

/**
 * leaked-folio (end state): every live folio is unlocked and holds exactly one reference per
 * mapping (a reference or a lock nobody will drop is leaked).
 */
export function foliosReleased<F extends FieldsS>(
  mb: Builder<F>,
  pages: PageFolios,
  name = "leaked-folio",
): void {
  mb.endState(name, (w) => {
    const b = w.m.b;
    for (let x = 0; x < pages.length; x++) {
      const f = pages[x]!;
      if (b[f.freed.$off(b)] !== 0 || b[f.is_tail.$off(b)] !== 0) continue;
      if (f.locked.$test(b))
        return `${fnm(pages, x, b)} is still locked when every CPU has finished: nobody unlocks it`;
      const ref = b[f._refcount.$off(b)]!;
      const mc = b[f.mapcount.$off(b)]!;
      if (ref !== mc)
        return `${fnm(pages, x, b)} holds ${ref} reference(s) for ${mc} mapping(s): a reference is leaked`;
    }
    return true;
  });
}
