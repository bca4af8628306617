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
// Left out: the page cache (anonymous folios only: the expected count is the isolation pin, 1),
// dst's allocation and copy (dst is a folio of the model, order as given), migrate_pages()'s
// retry loop and batching, the LRU (isolation is the ghost `isolated` bit of rmap.ts).

import { func, if_, step, type Ctx, type Stmt } from "../model/dsl.ts";
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
