// Migration of one folio (mm/migrate.c, v6.18): migrate_folio_unmap() (folio_lock,
// try_to_migrate(): the PTEs become migration entries and the mapping's reference is dropped),
// migrate_folio_move() -> __folio_migrate_mapping() (folio_ref_freeze(src, expected),
// folio_unqueue_deferred_split(src), mem_cgroup_migrate(src, dst): the charge moves to dst and
// src's memcg is cleared, folio_ref_unfreeze), remove_migration_ptes(src, dst) (dst is mapped
// where src's migration entries were, partially if some of src's PTEs had been zapped; nothing
// is remapped if try_to_migrate() found src unmapped; the rmap may mark dst partially mapped and
// queue it: the `afterRemap` hook),
// folio_unlock, and the put of src's isolation pin (its free path through `d`). On a failed
// freeze (-EAGAIN) the migration entries are removed (remove_migration_ptes(src, src)).
//
// Steps: try_to_migrate() is one step (marked accesses: mapcounts and the refcount are atomic),
// the freeze one, the unqueue as in huge_memory.ts, mem_cgroup_migrate one, the unfreeze one,
// remove_migration_ptes one.
//
// Also (sections at the end): the batched migration of a list of isolated folios (seed 003:
// migrate_misplaced_folio_prepare(), migrate_pages() over a list linked through lruFolioFields'
// folio->lru, counting nr_succeeded and the folios left, putback_movable_pages()), and the
// page-level migration entries of pgtable.ts's PTE table (remove_migration_pte(s),
// migration_entry_wait()), v6.16.
//
// Left out: the page cache (anonymous folios only: the expected count is the isolation pin, 1),
// dst's allocation and copy (dst is a folio of the model, order as given), migrate_pages()'s
// ten retry passes for -EAGAIN and large-folio splitting, the LRU itself (isolation is a ghost
// `isolated` bit).

import { func, if_, step, type Ctx, type Stmt } from "../model/dsl.ts";
import { Violation } from "../rt/mem.ts";
import {
  assertLive,
  folioName,
  folio_lock,
  folio_put,
  folio_ref_unfreeze,
  folio_unlock,
} from "./folio.ts";
import { folio_unqueue_deferred_split, type DeferredSplit } from "./huge_memory.ts";
import type { RmapFolioRef } from "./rmap.ts";
import { bool, ghost, listNode, nodeptr, ptr } from "../model/schema.ts";
import type { BoolS, IntS, ListHeadS, NodePtrS, PtrS, RecordS } from "../model/schema.ts";
import type { Ref as RefT } from "../model/ref.ts";
import type { StepStmt } from "../model/dsl.ts";
import { kernelLocal } from "../model/model.ts";
import { either } from "../model/dsl.ts";
import { list_del, list_for_each_entry_safe } from "./list.ts";
import type { FolioRef } from "./folio.ts";
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
import { while_ } from "../model/dsl.ts";

export interface MigrateHooks {
  /** Before move_to_new_folio() (e.g. a patch's `src_deferred_split` read). */
  readonly beforeMove?: Stmt[];
  /** Under the queue lock when folio_unqueue_deferred_split() took src off its queue. */
  readonly onUnqueued?: Stmt[];
  /** Right after a successful freeze, before folio_unqueue_deferred_split(src). */
  readonly frozen?: Stmt[];
  /**
   * Ghost bookkeeping run inside the successful folio_ref_freeze(src) step itself (e.g. what a
   * property compares against: was src queued at the moment it was frozen?).
   */
  readonly onFrozen?: (c: Ctx) => void;
  /** After __folio_migrate_mapping() succeeded. */
  readonly moved?: Stmt[];
  /** After remove_migration_ptes(src, dst) (e.g. the requeue of dst). */
  readonly afterRemap?: Stmt[];
}

const nm = (f: RmapFolioRef, c: Ctx): string => folioName(f, c.m.b);

/**
 * Migration of the isolated folio `src` (the caller's isolation pin is one of its references),
 * to `dst` when given (mapped and charged in src's place), else src's mapping simply moves out
 * of the model.
 */
export function migrate_folio(
  src: RmapFolioRef,
  d: DeferredSplit,
  opts: { dst?: RmapFolioRef; hooks?: MigrateHooks } = {},
): Stmt[] {
  const hooks = opts.hooks ?? {};
  const dst = opts.dst;
  const moveCharge = dst
    ? [
        step(
          (c) => `mem_cgroup_migrate(${nm(src, c)}, ${nm(dst, c)})`,
          (c) => {
            const b = c.m.b;
            c.m.set(dst.memcg.$off(b), c.m.get(src.memcg.$off(b)));
            c.m.set(src.memcg.$off(b), -1);
          },
        ),
      ]
    : [];
  const remap = dst
    ? [
        step(
          (c) => `remove_migration_ptes(${nm(src, c)}, ${nm(dst, c)})`,
          (c) => {
            assertLive(c, dst, "remove_migration_ptes");
            // nothing to remap where try_to_migrate() found src unmapped
            if (c.m.getGhost(src.migration_ptes.$off(c.m.b)) === 0) return;
            c.m.setGhost(src.migration_ptes.$off(c.m.b), 0);
            // dst is mapped at the PTEs src had: partially, if some of src's were zapped
            c.m.setGhost(dst.pte_partial.$off(c.m.b), c.m.getGhost(src.pte_partial.$off(c.m.b)));
            c.m.setMarked(dst.mapped.$off(c.m.b), 1);
            const r = dst._refcount.$off(c.m.b);
            c.m.setMarked(r, c.m.getMarked(r) + 1);
          },
        ),
      ]
    : [];
  return [
    func("migrate_folio_unmap", [
      folio_lock(src),
      step(
        (c) =>
          `try_to_migrate(${nm(src, c)})${c.m.b[src.mapped.$off(c.m.b)] ? ": unmap, drop the mapping's reference" : ""}`,
        (c) => {
          assertLive(c, src, "try_to_migrate");
          const off = src.mapped.$off(c.m.b);
          if (c.m.getMarked(off) === 0) return;
          c.m.setMarked(off, 0);
          c.m.setGhost(src.migration_ptes.$off(c.m.b), 1);
          const r = src._refcount.$off(c.m.b);
          c.m.setMarked(r, c.m.getMarked(r) - 1);
        },
      ),
    ]),
    func("migrate_folio_move", [
      ...(hooks.beforeMove ?? []),
      func("__folio_migrate_mapping", [
        if_(
          step(
            (c, r) =>
              `folio_ref_freeze(${nm(src, c)}, 1) -> ${r ? "true" : `false (_refcount ${c.m.b[src._refcount.$off(c.m.b)]})`}`,
            (c) => {
              assertLive(c, src, "folio_ref_freeze");
              const off = src._refcount.$off(c.m.b);
              if (c.m.getMarked(off) !== 1) return false;
              c.m.setMarked(off, 0);
              hooks.onFrozen?.(c);
              return true;
            },
            { raises: ["use-after-free"] },
          ),
          [
            ...(hooks.frozen ?? []),
            folio_unqueue_deferred_split(src, d, hooks.onUnqueued ?? []),
            ...moveCharge,
            folio_ref_unfreeze(src, 1),
            ...(hooks.moved ?? []),
            ...remap,
            ...(hooks.afterRemap ?? []),
          ],
          [
            step(
              (c) => `-EAGAIN: remove_migration_ptes(${nm(src, c)}, ${nm(src, c)})`,
              (c) => {
                if (c.m.getGhost(src.migration_ptes.$off(c.m.b)) === 0) return;
                c.m.setGhost(src.migration_ptes.$off(c.m.b), 0);
                c.m.setMarked(src.mapped.$off(c.m.b), 1);
                const r = src._refcount.$off(c.m.b);
                c.m.setMarked(r, c.m.getMarked(r) + 1);
              },
            ),
          ],
        ),
      ]),
      folio_unlock(src),
    ]),
    folio_put(src, d),
  ];
}

/**
 * migrate_pages() of f as one operation: folio_isolate_lru() first (only one migration can
 * isolate a folio; a later one drops the pin it held), then migrate_folio().
 */
export function isolate_and_migrate(
  f: RmapFolioRef,
  d: DeferredSplit,
  opts: { dst?: RmapFolioRef; hooks?: MigrateHooks } = {},
): Stmt {
  return if_(
    step(
      (c, r) => `folio_isolate_lru(${nm(f, c)}) -> ${r ? "true" : "false (isolated already)"}`,
      (c) => {
        if (c.m.getGhost(f.isolated.$off(c.m.b)) !== 0) return false;
        c.m.setGhost(f.isolated.$off(c.m.b), 1);
        return true;
      },
    ),
    migrate_folio(f, d, opts),
    [folio_put(f, d)],
  );
}

// ---------------------------------------------------------------------------------------------
// Batched migration of a list of isolated folios
//
// mm/migrate.c of v6.18 and seed 003's RFC v6 (/work/shared/seeds/003_98c3fd41cfaa64ce.txt):
// migrate_misplaced_folio_prepare() (folio_isolate_lru() takes the folio off the LRU with a
// reference; a folio being freed is not on the LRU), migrate_pages() over a list (linked through
// folio->lru: lruFolioFields), counting each folio it migrated in *nr_succeeded and each it
// left on the list in its return value, and putback_movable_pages() (folio_putback_lru: back on
// the LRU, the isolation reference dropped).
//
// Steps: prepare is one step with two choices (it refuses for reasons the model leaves out:
// the target node's watermarks, a folio mapped by several processes...; or it tries
// folio_isolate_lru(), a marked refcount read and increment); migrate_pages() per folio:
// list_for_each_entry_safe's steps, migrate_folio_unmap()'s `folio_ref_count(src) == 1` test
// ("Folio was freed from under us. So we are done.": list_del, counted as succeeded, put), else
// a choice between the move (list_del; the folio, now the copy, is on the target node and keeps
// its memcg as mem_cgroup_migrate() moves the charge; nr_succeeded++; the isolation reference
// put) and -EAGAIN (it stays on the list: counted in the return value). The list operations are
// the list primitives (split into their writes: the lists are on the caller's stack and no
// lock makes them atomic).
//
// Left out: the unmap/move of the folio's mappings (the copy is the same object), the
// allocation of the destination, migrate_pages()'s ten retry passes for -EAGAIN, large folios
// (nr_succeeded counts folios), the PG_active/PG_unevictable flags.

/** Extra folio fields for migration off a list: `folio({ extra: lruFolioFields })`. */
export const lruFolioFields = {
  /** folio->lru: on the LRU (not modelled) or on a migration list. */
  lru: listNode(),
  /** Ghost: isolated from the LRU (folio_isolate_lru() succeeded, not yet put back). */
  isolated: ghost(bool(false)),
  /** Ghost: migrate_pages() counted this folio in nr_succeeded. */
  migrated: ghost(bool(false)),
};

export type LruFolioRef = FolioRef & {
  readonly lru: RefT<ListHeadS>;
  readonly isolated: RefT<BoolS>;
  readonly migrated: RefT<BoolS>;
};

/**
 * migrate_misplaced_folio_prepare(folio, vma, node) == 0 as a condition: true when it isolated
 * the folio (folio_isolate_lru(): a folio being freed, refcount 0, or freed, or isolated already
 * is not on the LRU; else folio_get); false also when it refuses for a reason the model leaves
 * out (a choice).
 */
export function migrate_misplaced_folio_prepare(f: LruFolioRef, node: number): StepStmt {
  const call = (c: Ctx): string =>
    `migrate_misplaced_folio_prepare(${folioName(f, c.m.b)}, NULL, ${node})`;
  return step(
    (c, r, choice) =>
      choice === 1
        ? `${call(c)} -> -EAGAIN (refused: not modelled why)`
        : r
          ? `${call(c)} -> 0: folio_isolate_lru() (folio_get)`
          : `${call(c)} -> -EAGAIN: folio_isolate_lru() fails (being freed: not on the LRU)`,
    (c, choice) => {
      if (choice === 1) return false;
      const b = c.m.b;
      const off = f._refcount.$off(b);
      if (b[f.freed.$off(b)] !== 0 || c.m.getGhost(f.isolated.$off(b)) !== 0) return false;
      const ref = c.m.getMarked(off);
      if (ref === 0) return false;
      c.m.setGhost(f.isolated.$off(b), 1);
      c.m.setMarked(off, ref + 1);
      return true;
    },
    { choices: 2 },
  );
}

/**
 * `nr_remaining = migrate_pages(from, ..., node, &nr_succeeded)` over the isolated folios on
 * `from` (records of `Folio`, with lruFolioFields): each is migrated to `node`, or found freed
 * from under us (also a success), or fails with -EAGAIN and stays on `from`.
 */
export function migrate_pages(
  from: RefT<ListHeadS>,
  Folio: RecordS,
  opts: { node: number; nr_succeeded: RefT<IntS>; nr_remaining: RefT<IntS> },
): Stmt {
  const pos = kernelLocal("folio", ptr(Folio)) as unknown as RefT<PtrS> & LruFolioRef;
  const n = kernelLocal("next", nodeptr()) as RefT<NodePtrS>;
  const { nr_succeeded: ok, nr_remaining: left } = opts;
  const fname = (c: Ctx): string => folioName(pos, c.m.b);
  const val = (c: Ctx, r: RefT<IntS>): number => c.m.b[r.$off(c.m.b)]!;
  const succeeded = (c: Ctx): void => {
    c.m.setGhost(pos.isolated.$off(c.m.b), 0);
    c.m.setGhost(pos.migrated.$off(c.m.b), 1);
    c.m.set(ok.$off(c.m.b), c.m.get(ok.$off(c.m.b)) + 1);
  };
  return func("migrate_pages", [
    step("nr_succeeded = 0; nr_remaining = 0", (c) => {
      c.m.set(ok.$off(c.m.b), 0);
      c.m.set(left.$off(c.m.b), 0);
    }),
    list_for_each_entry_safe(pos, n, from, [
      if_(
        step(
          (c, r) =>
            `migrate_folio_unmap(${fname(c)}): folio_ref_count == 1 -> ${r ? "true: freed from under us" : "false"}`,
          (c) => {
            assertLive(c, pos, "migrate_folio_unmap");
            return c.m.getMarked(pos._refcount.$off(c.m.b)) === 1;
          },
          { raises: ["use-after-free"] },
        ),
        [
          list_del(pos.lru),
          step(
            (c) =>
              `migrate_folio_done(${fname(c)}): nr_succeeded++ (${val(c, ok)} -> ${val(c, ok) + 1})`,
            succeeded,
          ),
          folio_put(pos),
        ],
        [
          either(
            "migrate_pages_batch: move the folio",
            [
              list_del(pos.lru),
              step(
                (c) =>
                  `${fname(c)} migrated to node ${opts.node} (mem_cgroup_migrate() keeps its memcg): nr_succeeded++ (${val(c, ok)} -> ${val(c, ok) + 1})`,
                (c) => {
                  c.m.set(pos.nid.$off(c.m.b), opts.node);
                  succeeded(c);
                },
              ),
              folio_put(pos), // the isolation reference (the mapping now maps the copy)
            ],
            [
              step(
                (c) => `${fname(c)}: -EAGAIN, stays on the list: nr_remaining++`,
                (c) => {
                  c.m.set(left.$off(c.m.b), c.m.get(left.$off(c.m.b)) + 1);
                },
              ),
            ],
          ),
        ],
      ),
    ]),
  ]);
}

/** putback_movable_pages(from): per folio, list_del and folio_putback_lru() (the isolation reference put). */
export function putback_movable_pages(from: RefT<ListHeadS>, Folio: RecordS): Stmt {
  const pos = kernelLocal("folio", ptr(Folio)) as unknown as RefT<PtrS> & LruFolioRef;
  const n = kernelLocal("next", nodeptr()) as RefT<NodePtrS>;
  return func("putback_movable_pages", [
    list_for_each_entry_safe(pos, n, from, [
      list_del(pos.lru),
      step(
        (c) => `folio_putback_lru(${folioName(pos, c.m.b)})`,
        (c) => {
          c.m.setGhost(pos.isolated.$off(c.m.b), 0);
        },
      ),
      folio_put(pos),
    ]),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Migration entries of a page table (pgtable.ts's PTE table; seed 001, mm/migrate.c of v6.16)
//
// remove_migration_pte() turns a migration entry back into a present PTE of the folio its page
// belongs to NOW (after a split, page 1's entry belongs to the new folio), taking a reference and
// a mapcount (one step: under the page table lock; folio_get on a zero count is `bad-get`).
// remove_migration_ptes(src, src) restores only the entries of src's own pages.
// migration_entry_wait(): a fault on a migration entry sleeps until the folio the entry belongs
// to is unlocked (migration_entry_wait_on_locked), then retries the fault.
//
// Left out: the PMD level (remove_migration_pmd), device-private entries, the dst != src case
// of remove_migration_ptes (the entries are restored to the folio they name).

/**
 * remove_migration_pte() on PTE i: a migration entry becomes present again (the folio of its
 * page: folio_get, mapcount++); `only`: leave it unless its page belongs to that folio.
 */
export function remove_migration_pte(
  pt: PtesRef,
  pages: PageFolios,
  i: number,
  only?: number,
  fn = "remove_migration_pte",
): StepStmt {
  const nmx = (x: number, b: Int32Array): string => folioName(pages[x]!, b);
  return step(
    (c, r) => `${fn}: pte${i} ${String(r)}`,
    (c) => {
      const st = pteState(c, pt, i);
      const x = pageFolio(c, pages, i);
      if (st !== PTE_MIGRATION) return `is ${PTE_STATES[st]}, nothing to restore`;
      if (only !== undefined && x !== only)
        return `maps page ${i} of ${nmx(x, c.m.b)}, not of ${nmx(only, c.m.b)}: left as migration entry`;
      const f = pages[x]!;
      assertLive(c, f, "remove_migration_pte");
      const off = f._refcount.$off(c.m.b);
      const ref = c.m.getMarked(off);
      if (ref <= 0)
        throw new Violation(
          "bad-get",
          `remove_migration_pte: folio_get(${nmx(x, c.m.b)}) on a zero refcount`,
        );
      c.m.setMarked(off, ref + 1);
      modMapcount(c, pages, x, 1, `remove_migration_pte(pte${i})`);
      setPteState(c, pt, i, PTE_PRESENT);
      const mc = c.m.b[f.mapcount.$off(c.m.b)]!;
      return `migration entry -> present (${nmx(x, c.m.b)}: folio_get, _refcount ${ref} -> ${ref + 1}, mapcount ${mc - 1} -> ${mc})`;
    },
    { raises: ["use-after-free", "bad-get", "bad-mapcount"] },
  );
}

/** remove_migration_ptes(folio x, folio x): the entries of x's own pages, one step per PTE. */
export function remove_migration_ptes(pt: PtesRef, pages: PageFolios, x: number): Stmt {
  const name = pages[x]!._refcount.$text.replace(/(\.|->)_refcount$/, "");
  return func(
    `remove_migration_ptes(${name}, ${name})`,
    Array.from({ length: pt.length }, (_, i) => remove_migration_pte(pt, pages, i, x)),
  );
}

/**
 * A fault on the page of PTE i (do_swap_page): while the PTE is a migration entry,
 * migration_entry_wait() sleeps until the folio it belongs to is unlocked, then the fault is
 * retried; a present PTE is used (use-after-free if its folio was freed).
 */
export function migration_entry_wait(pt: PtesRef, pages: PageFolios, i: number): Stmt {
  const folio = kernelLocal("folio", ptr(pages.$schema.elem as RecordS)) as unknown as RefT<PtrS> &
    FolioRef;
  return while_(
    step(
      (c, r) =>
        r
          ? `pte${i} is a migration entry of ${folioName(pages[pageFolioNow(c.m.b, pages, i)]!, c.m.b)}: migration_entry_wait()`
          : `pte${i} is ${PTE_STATES[c.m.b[pt[i]!.state.$off(c.m.b)]!]}: fault done`,
      (c) => {
        const st = pteState(c, pt, i);
        const x = pageFolio(c, pages, i);
        if (st !== PTE_MIGRATION) {
          if (st === PTE_PRESENT) assertLive(c, pages[x]!, `user access of page ${i}`);
          return false;
        }
        c.m.set(folio.$off(c.m.b), x);
        return true;
      },
      { raises: ["use-after-free"] },
    ),
    [
      step(
        (c) => `folio_wait_bit(${folioName(folio, c.m.b)}, PG_locked)`,
        () => undefined,
        {
          guard: (c) => !folio.locked.$test(c.m.b),
          waitsFor: (c) => `PG_locked of ${folioName(folio, c.m.b)} to clear`,
        },
      ),
    ],
  );
}
