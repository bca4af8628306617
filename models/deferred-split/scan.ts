// Thread bodies shared by the deferred-split models (models/deferred-split, models/migration-requeue):
// deferred_split_scan() in its three designs, the synchronous split, the free path (through
// src/kernel/folio.ts), deferred_split_folio() on a partial unmap, the last unmap + put of a
// third party, and the unmap/freeze/unqueue/unfreeze part of migration.
//
// Kernel code followed (mm/huge_memory.c unless said otherwise):
// - design "private-list": deferred_split_scan() of v6.12..v6.17 (on-stack LIST_HEAD(list),
//   list_move under split_queue_lock, an UNLOCKED list_del_init of a folio that is not partially
//   mapped, list_splice_tail back, `split_queue_len -= removed`), with or without the `prev`
//   folio of commit e66f3185fa04 ("mm/thp: fix deferred split queue not partially_mapped"):
//   "one safe folio with refcount still raised" before the one being removed.
// - design "folio-batch": seed 002 (Qi Zheng / Muchun Song, "[PATCH 3/4] mm: thp: use
//   folio_batch to handle THP splitting in deferred_split_scan()", Sep 2025): every scanned
//   folio is list_del_init'ed and split_queue_len-- under the lock; requeue under the lock.
// - design "list-lru": seed 004 (deferred split queue on a list_lru): the walk's isolate
//   callback deferred_split_isolate() (try_get -> list_lru_isolate_move to `dispose`, else
//   list_lru_isolate + clear the flag), then per folio an unlocked list_del_init from `dispose`,
//   the split logic, a requeue with __list_lru_add under the sublist lock, folio_put.
//   The list_lru is our simplified per-node list_lru: ONE sublist (no memcg, one node) with its
//   lock and nr_items, written here (mm/list_lru.c semantics of list_lru_isolate(_move) and
//   __list_lru_add/__list_lru_del). It was written before src/kernel/list_lru.ts existed and
//   keeps to one sublist: the races modelled here (the lost-race branch, the unlocked
//   list_del_init from `dispose`) do not depend on memcg sublists.
// - __folio_split() / __folio_freeze_and_split_unmapped(): lock the queue first ("Prevent
//   deferred_split_scan() touching ->_refcount"), folio_ref_freeze(folio, 1 + mapcount) (the
//   can_split_folio() count: the caller's pin plus the mapping's reference), dequeue if queued,
//   clear the flag, unlock, split; on a failed freeze unlock and -EAGAIN.
// - migration (mm/migrate.c): try_to_migrate() unmaps the source (its mapping reference is
//   dropped), __folio_migrate_mapping() freezes the source at 1 (the isolation pin), calls
//   folio_unqueue_deferred_split() and unfreezes; on a failed freeze the source is remapped.
//
// Left out: unmap_folio()/remap_page() around the split (the freeze counts the mapping as one
// reference), the memcg queues (one per-node queue), swapcache, sc->nr_to_scan beyond the folios
// modelled, thp_underused() (a parameter: every not-partially-mapped folio is, or is not,
// underused), the statistics other than the partially-mapped counter, the shrinker bit.

import {
  array,
  bool,
  func,
  goto_,
  if_,
  int,
  label,
  listHead,
  nodeptr,
  ptr,
  record,
  spinlock,
  protectedBy,
  return_,
  step,
  break_,
  while_,
  type Ctx,
  type Stmt,
  type StepStmt,
  ModelBuilder,
  type World,
  type Op,
  type OpArgDecl,
  type OpsParamDecl,
  Violation,
} from "../../src/index.ts";
import type { Fields, RecordS } from "../../src/model/schema.ts";
import type { Ref, RecordRef } from "../../src/model/ref.ts";
import type { IntS, ListHeadS, LockS, NodePtrS, PtrS } from "../../src/model/schema.ts";
import {
  folio,
  folio_put,
  folio_ref_unfreeze,
  folio_try_get,
  folio_trylock,
  folio_unlock,
  folio_lock,
  folioName,
  assertLive,
  testPartiallyMapped,
  writePartiallyMapped,
  modMthpStat,
  addCounter,
  free_folio,
  counter,
  type FolioRef,
  type FolioFields,
} from "../../src/kernel/folio.ts";
import {
  deferredSplitQueue,
  type DeferredSplit,
  type DsQueueRef,
} from "../../src/kernel/huge_memory.ts";
import {
  listIntegrity,
  partiallyMappedCounter,
  queueLenConsistent,
  staleMembership,
  useAfterFree,
  checkDoubleUnqueue,
  PROP,
} from "../../src/kernel/catalogue.ts";
import {
  headOf,
  list_add_tail,
  list_del_init,
  list_for_each_entry_safe,
  list_move,
  list_nonempty,
  list_splice_tail,
} from "../../src/kernel/list.ts";
import {
  spin_lock_irq,
  spin_lock_irqsave,
  spin_unlock_irq,
  spin_unlock_irqrestore,
} from "../../src/kernel/spinlock.ts";

export type Design = "private-list" | "folio-batch" | "list-lru";

/** Extra folio fields of these models. */
export const folioExtra = {
  /** Ghost: some of the folio's PTEs have been zapped (it really is partially mapped). */
  pte_partial: bool(false),
  /** Ghost: try_to_migrate() replaced the folio's PTEs with migration entries. */
  migration_ptes: bool(false),
  /** Ghost: a migration isolated the folio (folio_isolate_lru() succeeded); no second one can. */
  isolated: bool(false),
};
export type DsFolioFields = FolioFields & typeof folioExtra;
export type DsFolioS = RecordS<DsFolioFields>;
export type DsFolioRef = FolioRef & {
  readonly pte_partial: Ref;
  readonly migration_ptes: Ref;
  readonly isolated: Ref;
};

/** The Folio record type (one per model build: ptr() needs one shared array per record type). */
export function folioType(maxRef: number): DsFolioS {
  return folio({ maxRef, ref: 1, mapped: true, extra: folioExtra });
}

/** struct list_lru_one, simplified: one sublist with its lock and nr_items. */
export function listLruOne(maxLen: number): RecordS {
  return record(
    {
      lock: spinlock(),
      list: listHead({ lock: "lock" }),
      nr_items: protectedBy(counter(maxLen), "lock"),
    },
    "list_lru_one",
  );
}

/** The queue of a design: the per-node deferred split queue, or the list_lru sublist. */
export interface Queue {
  readonly design: Design;
  /** As the catalogue wants it (for list-lru: lock, list, nr_items under these names). */
  readonly ds: DsQueueRef;
  readonly split: DeferredSplit;
  /** Name of the length counter in labels (`ds_queue->split_queue_len` or `l->nr_items`). */
  readonly lenName: string;
}

/**
 * Shared state fields for `design`: the queue, the folios, the partially-mapped statistic.
 * `slack` widens the length and the statistic's ranges for scenarios whose extra operations can
 * queue or count a folio again while a scanner holds it off the queue.
 */
export function sharedFields(
  design: Design,
  Folio: DsFolioS,
  nFolios: number,
  extra: Fields = {},
  slack = 0,
) {
  const maxLen = nFolios + 1 + slack;
  return {
    ...extra,
    ...(design === "list-lru"
      ? { lru: listLruOne(maxLen) }
      : { ds_queue: deferredSplitQueue({ maxLen }) as RecordS }),
    folio: array(nFolios, Folio, { label: (i) => `F${i + 1}` }),
    nr_anon_partially_mapped: counter(nFolios + slack),
  };
}

type Sh = ReturnType<typeof sharedFields>;

export function queueOf(m: ModelBuilder<Sh>, design: Design): Queue {
  const s = m.s as unknown as Record<string, Record<string, Ref>>;
  const stat = (m.s as unknown as { nr_anon_partially_mapped: Ref<IntS> }).nr_anon_partially_mapped;
  if (design === "list-lru") {
    const l = s["lru"]!;
    const ds: DsQueueRef = {
      split_queue_lock: l["lock"] as Ref<LockS>,
      split_queue: l["list"] as Ref<ListHeadS>,
      split_queue_len: l["nr_items"] as Ref<IntS>,
    };
    return { design, ds, split: { queue: ds, stat }, lenName: "l->nr_items" };
  }
  const q = s["ds_queue"]!;
  const ds: DsQueueRef = {
    split_queue_lock: q["split_queue_lock"] as Ref<LockS>,
    split_queue: q["split_queue"] as Ref<ListHeadS>,
    split_queue_len: q["split_queue_len"] as Ref<IntS>,
  };
  return {
    design,
    ds,
    split: { queue: ds, stat, doubleUnqueue: design === "folio-batch" },
    lenName: "ds_queue->split_queue_len",
  };
}

export function foliosOf(
  m: ModelBuilder<Sh>,
): RecordRef<DsFolioS> & { [i: number]: DsFolioRef; length: number } {
  return (
    m.s as unknown as { folio: RecordRef<DsFolioS> & { [i: number]: DsFolioRef; length: number } }
  ).folio;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const nm = (f: FolioRef, c: Ctx): string => folioName(f, c.m.b);
const ghost = (c: Ctx, r: Ref): number => c.m.b[r.$off(c.m.b)]!;
const setGhost = (c: Ctx, r: Ref, v: number): void => {
  c.m.b[r.$off(c.m.b)] = v;
};
const isLarge = (c: Ctx, f: FolioRef): boolean => c.m.b[f.order.$off(c.m.b)]! > 1;

/** A condition step with a computed label: `text -> true/false`. */
function cond(text: (c: Ctx) => string, pred: (c: Ctx) => boolean): StepStmt {
  return step((c, r) => `${text(c)} -> ${r ? "true" : "false"}`, pred);
}

/** The length counter: `len += delta` (under the queue lock: a plain access). */
function lenAdd(q: Queue, delta: number, f?: FolioRef): StepStmt {
  const op = delta === 1 ? "++" : delta === -1 ? "--" : ` -= ${-delta}`;
  return step(
    (c) => {
      const v = c.m.b[q.ds.split_queue_len.$off(c.m.b)]!;
      return `${q.lenName}${op} (${v} -> ${v + delta})`;
    },
    (c) => {
      if (f && delta < 0 && q.split.doubleUnqueue) checkDoubleUnqueue(c, f, q.ds);
      addCounter(c, q.ds.split_queue_len, delta, false);
    },
    {
      raises:
        f && delta < 0 && q.split.doubleUnqueue
          ? ["double-unqueue", "counter-underflow"]
          : ["counter-underflow"],
    },
  );
}

/** `len -= removed` with `removed` a CPU local. */
function lenSubLocal(q: Queue, removed: Ref): StepStmt {
  return step(
    (c) => {
      const v = c.m.b[q.ds.split_queue_len.$off(c.m.b)]!;
      const r = c.m.b[removed.$off(c.m.b)]!;
      return `${q.lenName} -= removed (${v} -> ${v - r})`;
    },
    (c) => addCounter(c, q.ds.split_queue_len, -c.m.get(removed.$off(c.m.b)), false),
    { raises: ["counter-underflow"] },
  );
}

/** `if (folio_test_partially_mapped(f)) { folio_clear_partially_mapped(f); mod_mthp_stat(-1); }` */
function clearPartiallyMapped(q: Queue, f: FolioRef): StepStmt {
  return step(
    (c) =>
      f.partially_mapped.$test(c.m.b)
        ? `folio_clear_partially_mapped(${nm(f, c)}); mod_mthp_stat(-1)`
        : `folio_test_partially_mapped(${nm(f, c)}) -> false`,
    (c) => {
      if (testPartiallyMapped(c, f)) {
        writePartiallyMapped(c, f, false, true);
        if (q.split.stat) modMthpStat(c, q.split.stat, f, -1);
      }
    },
    { raises: ["use-after-free", "counter-underflow"] },
  );
}

/** `list_empty(&f->_deferred_list)` read under the queue lock (READ_ONCE: marked). */
function listEmptyLocked(f: FolioRef): StepStmt {
  return cond(
    (c) => `list_empty(&${nm(f, c)}->_deferred_list)`,
    (c) => {
      assertLive(c, f, "list_empty");
      const id = f._deferred_list.$node(c.m.b);
      return c.m.getMarked(c.m.layout.nodes[id]!.nextOff) === id;
    },
  );
}

/** Queue f at the tail if it is not queued: the `if (list_empty) { add; len++ }` of each design. */
function addIfEmpty(q: Queue, f: FolioRef): Stmt {
  const body = [list_add_tail(f._deferred_list, q.ds.split_queue), lenAdd(q, 1)];
  return q.design === "list-lru"
    ? func("__list_lru_add", [if_(listEmptyLocked(f), body)])
    : if_(listEmptyLocked(f), body);
}

/** Dequeue f if it is queued (the lock is held): `if (!list_empty) { len--; list_del_init }`. */
function delIfQueued(q: Queue, f: FolioRef): Stmt {
  if (q.design === "list-lru") {
    return func("__list_lru_del", [
      if_(list_nonempty(f._deferred_list), [list_del_init(f._deferred_list), lenAdd(q, -1)]),
    ]);
  }
  return if_(list_nonempty(f._deferred_list), [lenAdd(q, -1, f), list_del_init(f._deferred_list)]);
}

const lockQ = (q: Queue): StepStmt => spin_lock_irqsave(q.ds.split_queue_lock);
const unlockQ = (q: Queue): StepStmt => spin_unlock_irqrestore(q.ds.split_queue_lock);

// ---------------------------------------------------------------------------------------------
// The queue operations every thread uses

/**
 * __folio_unqueue_deferred_split(f) (free path, migration): `data_race(list_empty())` test,
 * then under the lock: if queued, len--, clear the flag, list_del_init. `onUnqueued` runs (under
 * the lock) when the folio was taken off a list.
 */
export function folio_unqueue_deferred_split(q: Queue, f: FolioRef, onUnqueued: Stmt[] = []): Stmt {
  const locked: Stmt[] =
    q.design === "list-lru"
      ? [
          func("__list_lru_del", [
            if_(list_nonempty(f._deferred_list), [
              list_del_init(f._deferred_list),
              lenAdd(q, -1),
              clearPartiallyMapped(q, f),
              ...onUnqueued,
            ]),
          ]),
        ]
      : [
          if_(list_nonempty(f._deferred_list), [
            lenAdd(q, -1, f),
            clearPartiallyMapped(q, f),
            list_del_init(f._deferred_list),
            ...onUnqueued,
          ]),
        ];
  return func("folio_unqueue_deferred_split", [
    if_(
      cond(
        (c) =>
          `folio_order(${nm(f, c)}) <= 1 || data_race(list_empty(&${nm(f, c)}->_deferred_list))`,
        (c) => {
          if (!isLarge(c, f)) return true;
          const id = f._deferred_list.$node(c.m.b);
          return c.m.getRacy(c.m.layout.nodes[id]!.nextOff) === id;
        },
      ),
      [return_()],
    ),
    func("__folio_unqueue_deferred_split", [lockQ(q), ...locked, unlockQ(q)]),
  ]);
}

/** folio_put(f) with the free path __folio_put: folio_unqueue_deferred_split, then free. */
export function put(q: Queue, f: FolioRef): Stmt {
  return folio_put(f, (g) => [
    func("__folio_put", [folio_unqueue_deferred_split(q, g), free_folio(g)]),
  ]);
}

/** deferred_split_folio(f, partially_mapped) (since v6.12; the list_lru form for list-lru). */
export function deferred_split_folio(q: Queue, f: FolioRef, partiallyMapped: boolean): Stmt {
  return func("deferred_split_folio", [
    if_(
      cond(
        (c) => `folio_order(${nm(f, c)}) <= 1`,
        (c) => !isLarge(c, f),
      ),
      [return_()],
    ),
    lockQ(q),
    ...(partiallyMapped
      ? [
          step(
            (c) =>
              f.partially_mapped.$test(c.m.b)
                ? `folio_test_partially_mapped(${nm(f, c)}) -> true`
                : `folio_set_partially_mapped(${nm(f, c)}); mod_mthp_stat(+1)`,
            (c) => {
              if (!testPartiallyMapped(c, f)) {
                writePartiallyMapped(c, f, true, true);
                if (q.split.stat) modMthpStat(c, q.split.stat, f, 1);
              }
            },
          ),
        ]
      : []),
    addIfEmpty(q, f),
    unlockQ(q),
  ]);
}

/**
 * The deferred-split part of __folio_split() for a caller holding one pin: lock the queue,
 * freeze at 1 + mapcount, dequeue, clear the flag, unlock, split (order 0, unfreeze);
 * `ok` runs after a split, `fail` after -EAGAIN.
 */
export function split_folio(q: Queue, f: FolioRef, ok: Stmt[], fail: Stmt[]): Stmt {
  const expected = (c: Ctx): number => 1 + ghost(c, f.mapped);
  return func("__folio_split", [
    // "Prevent deferred_split_scan() touching ->_refcount"
    lockQ(q),
    if_(
      step(
        (c, r) =>
          `folio_ref_freeze(${nm(f, c)}, ${expected(c)}) -> ${r ? "true" : `false (_refcount ${ghost(c, f._refcount)})`}`,
        (c) => {
          assertLive(c, f, "folio_ref_freeze");
          const off = f._refcount.$off(c.m.b);
          if (c.m.getMarked(off) !== expected(c)) return false;
          c.m.setMarked(off, 0);
          return true;
        },
      ),
      [
        delIfQueued(q, f),
        clearPartiallyMapped(q, f),
        unlockQ(q),
        step(
          (c) =>
            `__split_unmapped_folio(${nm(f, c)}); folio_ref_unfreeze(${nm(f, c)}, ${expected(c)})`,
          (c) => {
            c.m.set(f.order.$off(c.m.b), 0);
            c.m.setMarked(f._refcount.$off(c.m.b), expected(c));
          },
        ),
        ...ok,
      ],
      [unlockQ(q), ...fail],
    ),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Third parties

/**
 * A zap waits while the folio is frozen: split and migration have replaced its PTEs with
 * migration entries by then (unmap_folio / try_to_migrate, left out here), so a zap cannot drop
 * the mapping's reference of a frozen folio.
 */
function notFrozen(f: FolioRef): { guard: (c: Ctx) => boolean; waitsFor: (c: Ctx) => string } {
  return {
    guard: (c) => c.m.b[f._refcount.$off(c.m.b)] !== 0 || c.m.b[f.freed.$off(c.m.b)] !== 0,
    waitsFor: (c) => `${nm(f, c)} to be unfrozen (its PTEs are migration entries)`,
  };
}

/** zap_pte_range() over all of f: clear the PTEs (if still mapped) and drop the mapping's reference. */
export function unmapAndPut(q: Queue, f: DsFolioRef): Stmt {
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
        notFrozen(f),
      ),
      [put(q, f)],
    ),
  ]);
}

/**
 * zap_pte_range() over part of f: __folio_remove_rmap() -> deferred_split_folio(f, true), then
 * the zapped PTEs' reference is dropped (tlb_finish_mmu). The caller's model gives f that extra
 * reference at init: it keeps the folio alive while deferred_split_folio() runs.
 */
export function partialUnmap(q: Queue, f: DsFolioRef): Stmt {
  return func("zap_pte_range", [
    if_(
      step(
        (c, r) =>
          `unmap part of ${nm(f, c)} -> ${r ? "now partially mapped" : "not mapped / already partial"}`,
        (c) => {
          const off = f.mapped.$off(c.m.b);
          if (c.m.getMarked(off) === 0 || ghost(c, f.pte_partial) !== 0) return false;
          setGhost(c, f.pte_partial, 1);
          return true;
        },
        notFrozen(f),
      ),
      [func("__folio_remove_rmap", [deferred_split_folio(q, f, true)])],
    ),
    // tlb_finish_mmu(): the zapped PTEs' reference (taken at init) is dropped after the rmap
    put(q, f),
  ]);
}

/** split_huge_page(f) by a caller holding one pin (taken at init): lock, __folio_split, unlock, put. */
export function syncSplit(q: Queue, f: FolioRef): Stmt[] {
  return [
    func("split_huge_page", [folio_lock(f), split_folio(q, f, [], []), folio_unlock(f)]),
    put(q, f),
  ];
}

/**
 * split_huge_page(f) as one operation in a CPU's list (the caller's pin is taken at init): a
 * folio that another CPU has split meanwhile is order 0 under the folio lock, and
 * split_huge_page() of it has nothing to do.
 */
export function splitOp(q: Queue, f: FolioRef): Stmt[] {
  return [
    func("split_huge_page", [
      folio_lock(f),
      if_(
        cond(
          (c) => `folio_test_large(${nm(f, c)})`,
          (c) => isLarge(c, f),
        ),
        [split_folio(q, f, [], [])],
      ),
      folio_unlock(f),
    ]),
    put(q, f),
  ];
}

/**
 * migrate_pages() of f as one operation in a CPU's list (the pin of the caller that found f is
 * taken at init): folio_isolate_lru() first; only one migration can isolate a folio, a later one
 * drops its pin.
 */
export function migrateOp(q: Queue, f: DsFolioRef): Stmt[] {
  return [
    if_(
      step(
        (c, r) => `folio_isolate_lru(${nm(f, c)}) -> ${r ? "true" : "false (isolated already)"}`,
        (c) => {
          if (ghost(c, f.isolated) !== 0) return false;
          setGhost(c, f.isolated, 1);
          return true;
        },
      ),
      migrate(q, f),
      [put(q, f)],
    ),
  ];
}

/**
 * The operations an extra CPU can run on a folio (the `third_parties` operation list of the
 * models built on this file), each on a folio `arg` allows.
 */
export function folioOps(arg: OpArgDecl): OpsParamDecl["ops"] {
  return {
    folio_put: {
      arg,
      oncePerObject: "a folio has one mapping here, and its reference is dropped once",
      doc: "zap the whole mapping and drop its reference (the free path runs on the last one)",
    },
    partial_unmap: {
      arg,
      doc: "zap part of the mapping: deferred_split_folio(folio, true), then drop the zapped PTEs' reference",
    },
    split: {
      arg,
      doc: "split_huge_page() by a caller holding a pin (nothing to do once the folio is order 0)",
    },
    migrate: {
      arg,
      doc: "isolate and migrate (one migration can isolate a folio; a later one drops its pin)",
    },
  };
}

/** The references each folio's operations hold from the start (folio_put drops the mapping's). */
export function opPins(ops: readonly (readonly Op[])[], nFolios: number): number[] {
  const pins = Array.from({ length: nFolios }, () => 0);
  for (const o of ops.flat()) if (o.op !== "folio_put") pins[o.arg - 1]!++;
  return pins;
}

/** One CPU per operation list, named after its operations, running them in order. */
export function folioOpThreads(
  m: ModelBuilder<Sh>,
  q: Queue,
  F: { readonly [i: number]: DsFolioRef },
  lists: readonly (readonly Op[])[],
): void {
  for (const ops of lists) {
    m.thread(ops.map((o) => o.op).join("+"), {}, () =>
      ops.flatMap((o): Stmt[] => {
        const f = F[o.arg - 1]!;
        if (o.op === "folio_put") return [unmapAndPut(q, f)];
        if (o.op === "partial_unmap") return [partialUnmap(q, f)];
        if (o.op === "split") return splitOp(q, f);
        return migrateOp(q, f);
      }),
    );
  }
}

export interface MigrateHooks {
  /** Before move_to_new_folio() (e.g. the v2 `src_deferred_split` read). */
  readonly beforeMove?: Stmt[];
  /** Under the queue lock when __folio_unqueue_deferred_split() took src off a list. */
  readonly onUnqueued?: Stmt[];
  /** Right after a successful freeze, before folio_unqueue_deferred_split(src). */
  readonly frozen?: Stmt[];
  /** Ghost bookkeeping run inside the successful folio_ref_freeze(src, 1) step. */
  readonly onFrozen?: (c: Ctx) => void;
  /** After a successful __folio_migrate_mapping() (src frozen-unqueued-unfrozen). */
  readonly moved?: Stmt[];
  /** After remove_migration_ptes(src, dst) (e.g. the requeue of dst). */
  readonly afterRemap?: Stmt[];
}

/**
 * migrate_pages() of one isolated folio (the caller's pin is taken at init): folio_lock,
 * try_to_migrate() (unmap: the mapping reference is dropped), __folio_migrate_mapping()
 * (freeze at 1, folio_unqueue_deferred_split, unfreeze); on success the mapping moves to the
 * destination and the source's pin is dropped (it is freed); on -EAGAIN the source is remapped.
 */
export function migrate(q: Queue, src: DsFolioRef, hooks: MigrateHooks = {}): Stmt[] {
  return [
    func("migrate_folio_unmap", [
      folio_lock(src),
      step(
        (c) =>
          `try_to_migrate(${nm(src, c)})${ghost(c, src.mapped) ? ": unmap, drop the mapping's reference" : ""}`,
        (c) => {
          assertLive(c, src, "try_to_migrate");
          const off = src.mapped.$off(c.m.b);
          if (c.m.getMarked(off) === 0) return;
          c.m.setMarked(off, 0);
          setGhost(c, src.migration_ptes, 1);
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
              `folio_ref_freeze(${nm(src, c)}, 1) -> ${r ? "true" : `false (_refcount ${ghost(c, src._refcount)})`}`,
            (c) => {
              assertLive(c, src, "folio_ref_freeze");
              const off = src._refcount.$off(c.m.b);
              if (c.m.getMarked(off) !== 1) return false;
              c.m.setMarked(off, 0);
              hooks.onFrozen?.(c);
              return true;
            },
          ),
          [
            ...(hooks.frozen ?? []),
            folio_unqueue_deferred_split(q, src, hooks.onUnqueued ?? []),
            folio_ref_unfreeze(src, 1),
            ...(hooks.moved ?? []),
            ...(hooks.afterRemap ?? []),
          ],
          [
            // -EAGAIN: remove_migration_ptes(src, src)
            step(
              (c) => `-EAGAIN: remove_migration_ptes(${nm(src, c)}, ${nm(src, c)})`,
              (c) => {
                if (ghost(c, src.migration_ptes) === 0) return;
                setGhost(c, src.migration_ptes, 0);
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
    put(q, src),
  ];
}

// ---------------------------------------------------------------------------------------------
// deferred_split_scan()

export interface ScanOpts {
  /** private-list: keep the `prev` folio's reference (commit e66f3185fa04). */
  readonly safePrev: boolean;
  /** thp_underused() of every folio that is not partially mapped. */
  readonly underused: boolean;
  /** sc->nr_to_scan. */
  readonly nrToScan: number;
  /** FOLIO_BATCH_SIZE (31 in the kernel). */
  readonly batch: number;
  /**
   * list-lru: in deferred_split_isolate()'s lost-race branch, clear PG_partially_mapped BEFORE
   * list_lru_isolate(), as the old code did before its list_del_init (our fix of seed 004's order).
   */
  readonly clearBeforeIsolate?: boolean;
}

/** Locals of a scanner CPU for `design`. */
export function scanLocals(
  design: Design,
  q: Queue,
  Folio: DsFolioS,
  nFolios: number,
  o: ScanOpts,
): Fields {
  const common = {
    folio: ptr(Folio),
    next: nodeptr(),
    did_split: bool(),
    nr_to_scan: int(0, o.nrToScan, o.nrToScan),
  };
  const lockPath = design === "list-lru" ? "lru.lock" : "ds_queue.split_queue_lock";
  if (design === "private-list") {
    return {
      ...common,
      // LIST_HEAD(list): on stack; split_folio() and the free path remove folios from it under
      // split_queue_lock, so that lock is the one that makes an operation on it atomic; it does
      // not protect it (the scanner's unlocked phase is the kernel's), so no wrong-lock.
      list: listHead({ atomicUnder: lockPath }),
      prev: ptr(Folio),
      removed: int(0, nFolios),
    };
  }
  if (design === "list-lru") return { ...common, dispose: listHead({ atomicUnder: lockPath }) };
  return {
    ...common,
    fbatch: array(o.batch, ptr(Folio)),
    nr: int(0, o.batch),
    i: int(0, o.batch),
  };
}

interface ScanLocals {
  folio: Ref<PtrS> & DsFolioRef;
  next: Ref<NodePtrS>;
  did_split: Ref;
  nr_to_scan: Ref;
  list: Ref<ListHeadS>;
  prev: Ref<PtrS> & DsFolioRef;
  removed: Ref;
  dispose: Ref<ListHeadS>;
  fbatch: { at(i: Ref): Ref & DsFolioRef; [i: number]: Ref };
  nr: Ref;
  i: Ref;
}

const localSet = (r: Ref, text: string, v: (c: Ctx) => number): StepStmt =>
  step(text, (c) => {
    c.m.set(r.$off(c.m.b), v(c));
  });

/** `if (!--sc->nr_to_scan) break;` */
function nrToScanBreak(l: ScanLocals, extra?: (c: Ctx) => boolean, extraText = ""): Stmt {
  return if_(
    cond(
      () => `!--sc->nr_to_scan${extraText}`,
      (c) => {
        const off = l.nr_to_scan.$off(c.m.b);
        const v = c.m.get(off) - 1;
        c.m.set(off, v);
        return v === 0 || (extra !== undefined && extra(c));
      },
    ),
    [break_()],
  );
}

/**
 * The unlocked per-folio logic shared by the three designs, up to `next:`:
 *   if (!folio_test_partially_mapped(folio)) { underused = thp_underused(folio); if (!underused) goto next; }
 *   if (!folio_trylock(folio)) goto next;
 *   if (!split_folio(folio)) { did_split = true; split++; }
 *   folio_unlock(folio);
 * next:
 */
function trySplit(q: Queue, l: ScanLocals, o: ScanOpts, nextLabel: string): Stmt[] {
  const f = l.folio;
  return [
    if_(
      cond(
        (c) =>
          `did_split = false; !folio_test_partially_mapped(${nm(f, c)}) && !thp_underused(${nm(f, c)})`,
        (c) => {
          c.m.set(l.did_split.$off(c.m.b), 0);
          return !testPartiallyMapped(c, f) && !o.underused;
        },
      ),
      [goto_(nextLabel)],
    ),
    if_(folio_trylock(f), [
      split_folio(q, f, [localSet(l.did_split, "did_split = true; split++", () => 1)], []),
      folio_unlock(f),
    ]),
    label(nextLabel),
  ];
}

/** deferred_split_scan() of `design` on a scanner CPU. */
export function deferred_split_scan(design: Design, q: Queue, lx: unknown, o: ScanOpts): Stmt[] {
  const l = lx as ScanLocals;
  const f = l.folio;
  const head = q.ds.split_queue;
  if (design === "private-list") {
    return [
      func("deferred_split_scan", [
        spin_lock_irqsave(q.ds.split_queue_lock),
        // Take pin on all head pages to avoid freeing them under us
        list_for_each_entry_safe(l.folio, l.next, head, [
          if_(
            folio_try_get(f),
            [list_move(f._deferred_list, l.list)],
            [
              // We lost race with folio_put()
              clearPartiallyMapped(q, f),
              list_del_init(f._deferred_list),
              lenAdd(q, -1),
            ],
          ),
          nrToScanBreak(l),
        ]),
        spin_unlock_irqrestore(q.ds.split_queue_lock),
        list_for_each_entry_safe(l.folio, l.next, l.list, [
          ...trySplit(q, l, o, "next"),
          if_(
            cond(
              () => "did_split",
              (c) => c.m.get(l.did_split.$off(c.m.b)) !== 0,
            ),
            [], // split_folio() removed it from the list
            [
              if_(
                step(
                  (c, r) => `folio_test_partially_mapped(${nm(f, c)}) -> ${r ? "true" : "false"}`,
                  (c) => testPartiallyMapped(c, f),
                ),
                o.safePrev
                  ? [
                      // "That unlocked list_del_init() above would be unsafe, unless its folio is
                      // separated from any earlier folios left on the list (which may be
                      // concurrently unqueued) by one safe folio with refcount still raised."
                      step("swap(folio, prev)", (c) => {
                        const a = f.$off(c.m.b);
                        const b = l.prev.$off(c.m.b);
                        const t = c.m.get(a);
                        c.m.set(a, c.m.get(b));
                        c.m.set(b, t);
                      }),
                    ]
                  : [],
                [
                  list_del_init(f._deferred_list), // UNLOCKED: the list is on our stack
                  localSet(l.removed, "removed++", (c) => c.m.get(l.removed.$off(c.m.b)) + 1),
                ],
              ),
            ],
          ),
          if_(
            cond(
              () => "if (folio)",
              (c) => c.m.get(f.$off(c.m.b)) >= 0,
            ),
            [put(q, f)],
          ),
        ]),
        spin_lock_irqsave(q.ds.split_queue_lock),
        list_splice_tail(l.list, head),
        step("LIST_HEAD(list) goes out of scope", (c) => {
          // the on-stack head is dead after the splice: forget its stale pointers
          const id = l.list.$node(c.m.b);
          const n = c.m.layout.nodes[id]!;
          c.m.b[n.nextOff] = id;
          c.m.b[n.prevOff] = id;
        }),
        lenSubLocal(q, l.removed),
        spin_unlock_irqrestore(q.ds.split_queue_lock),
        ...(o.safePrev
          ? [
              if_(
                cond(
                  () => "if (prev)",
                  (c) => c.m.get(l.prev.$off(c.m.b)) >= 0,
                ),
                [put(q, l.prev)],
              ),
            ]
          : []),
      ]),
    ];
  }
  if (design === "list-lru") {
    return [
      func("deferred_split_scan", [
        func("list_lru_shrink_walk_irq", [
          spin_lock_irq(q.ds.split_queue_lock),
          list_for_each_entry_safe(l.folio, l.next, head, [
            func("deferred_split_isolate", [
              if_(
                folio_try_get(f),
                [
                  func("list_lru_isolate_move", [
                    list_move(f._deferred_list, l.dispose),
                    lenAdd(q, -1),
                  ]),
                ],
                [
                  // We lost race with folio_put()
                  ...(o.clearBeforeIsolate
                    ? [
                        clearPartiallyMapped(q, f),
                        func("list_lru_isolate", [list_del_init(f._deferred_list), lenAdd(q, -1)]),
                      ]
                    : [
                        func("list_lru_isolate", [list_del_init(f._deferred_list), lenAdd(q, -1)]),
                        // the free path's unlocked list_empty() now lets the folio be freed
                        clearPartiallyMapped(q, f),
                      ]),
                ],
              ),
            ]),
            nrToScanBreak(l),
          ]),
          spin_unlock_irq(q.ds.split_queue_lock),
        ]),
        list_for_each_entry_safe(l.folio, l.next, l.dispose, [
          list_del_init(f._deferred_list), // UNLOCKED: dispose is on our stack
          ...trySplit(q, l, o, "next"),
          if_(
            cond(
              (c) => `!did_split && folio_test_partially_mapped(${nm(f, c)})`,
              (c) => c.m.get(l.did_split.$off(c.m.b)) === 0 && testPartiallyMapped(c, f),
            ),
            [lockQ(q), addIfEmpty(q, f), unlockQ(q)],
          ),
          put(q, f),
        ]),
      ]),
    ];
  }
  // folio-batch (seed 002)
  const batchFolio = l.fbatch.at(l.i);
  return [
    func("deferred_split_scan", [
      label("retry"),
      spin_lock_irqsave(q.ds.split_queue_lock),
      // Take pin on all head pages to avoid freeing them under us
      list_for_each_entry_safe(l.folio, l.next, head, [
        if_(
          folio_try_get(f),
          [
            step(
              (c) => `folio_batch_add(&fbatch, ${nm(f, c)})`,
              (c) => {
                const n = c.m.get(l.nr.$off(c.m.b));
                c.m.set(l.fbatch[n]!.$off(c.m.b), c.m.get(f.$off(c.m.b)));
                c.m.set(l.nr.$off(c.m.b), n + 1);
              },
            ),
          ],
          [
            // We lost race with folio_put()
            clearPartiallyMapped(q, f),
          ],
        ),
        list_del_init(f._deferred_list),
        lenAdd(q, -1),
        nrToScanBreak(
          l,
          (c) => c.m.get(l.nr.$off(c.m.b)) === o.batch,
          " || !folio_batch_space(&fbatch)",
        ),
      ]),
      spin_unlock_irqrestore(q.ds.split_queue_lock),
      localSet(l.i, "i = 0", () => 0),
      while_(
        cond(
          () => "i < folio_batch_count(&fbatch)",
          (c) => c.m.get(l.i.$off(c.m.b)) < c.m.get(l.nr.$off(c.m.b)),
        ),
        [
          step(
            (c) => `folio = fbatch.folios[i] (${nm(batchFolio, c)})`,
            (c) => {
              const i = c.m.get(l.i.$off(c.m.b));
              c.m.set(f.$off(c.m.b), c.m.get(l.fbatch[i]!.$off(c.m.b)));
            },
          ),
          ...trySplit(q, l, o, "next"),
          if_(
            cond(
              (c) => `did_split || !folio_test_partially_mapped(${nm(f, c)})`,
              (c) => c.m.get(l.did_split.$off(c.m.b)) !== 0 || !testPartiallyMapped(c, f),
            ),
            [],
            [lockQ(q), addIfEmpty(q, f), unlockQ(q)],
          ),
          localSet(l.i, "i++", (c) => c.m.get(l.i.$off(c.m.b)) + 1),
        ],
      ),
      func("folios_put", [
        localSet(l.i, "i = 0", () => 0),
        while_(
          cond(
            () => "i < folio_batch_count(&fbatch)",
            (c) => c.m.get(l.i.$off(c.m.b)) < c.m.get(l.nr.$off(c.m.b)),
          ),
          [put(q, batchFolio), localSet(l.i, "i++", (c) => c.m.get(l.i.$off(c.m.b)) + 1)],
        ),
      ]),
      if_(
        cond(
          (c) =>
            `folio_batch_reinit(&fbatch); sc->nr_to_scan && !list_empty(&${c.m.layout.nodeName(head.$node(c.m.b))})`,
          (c) => {
            c.m.set(l.nr.$off(c.m.b), 0);
            c.m.set(l.i.$off(c.m.b), 0);
            const id = head.$node(c.m.b);
            return (
              c.m.get(l.nr_to_scan.$off(c.m.b)) > 0 &&
              c.m.getMarked(c.m.layout.nodes[id]!.nextOff) !== id
            );
          },
        ),
        [goto_("retry")],
      ),
    ]),
  ];
}

// ---------------------------------------------------------------------------------------------
// Properties

/**
 * The catalogue's properties for these models: queue-len, stale-membership, list-integrity (of
 * the queue, whenever its lock is free), use-after-free and nr-partially-mapped, all checked by
 * the observer CPU below; lost-membership over the folios that really are partially mapped
 * (`pte_partial`, still mapped, still large) and list-integrity at quiescence, as end states.
 *
 * A scanner's on-stack list is left out of list-integrity: it is dead once spliced back
 * (list_splice_tail does not re-initialise it), and its torn states while the scanner works on
 * it unlocked are what DEBUG_LIST (list-corruption) and use-after-free judge.
 */
export function installProperties(
  m: ModelBuilder<Sh>,
  q: Queue,
  opts: {
    skip?: readonly string[];
    /** More invariants for the observer to check (model-specific ghost properties). */
    extra?: ReadonlyMap<string, (w: World) => boolean | string>;
  } = {},
): void {
  const skip = new Set(opts.skip ?? []);
  const folios = foliosOf(m);
  const preds = new Map<string, (w: World) => boolean | string>(opts.extra ?? []);
  const capture = {
    invariant(name: string, fn: (w: World) => boolean | string) {
      preds.set(name, fn);
      return capture;
    },
    endState(name: string, fn: (w: World) => boolean | string) {
      m.endState(name, fn);
      return capture;
    },
  } as unknown as ModelBuilder<Sh>;
  if (!skip.has(PROP.queueLen)) queueLenConsistent(capture, q.ds);
  if (!skip.has(PROP.staleMembership)) staleMembership(capture, folios, [q.ds]);
  if (!skip.has(PROP.listIntegrity)) listIntegrity(capture, [q.ds]);
  if (!skip.has(PROP.useAfterFree)) useAfterFree(capture, folios);
  if (!skip.has(PROP.nrPartiallyMapped) && q.split.stat) {
    partiallyMappedCounter(capture, folios, q.split.stat as Ref<IntS>, [q.ds.split_queue_lock]);
  }
  if (preds.size > 0) observer(m, q, preds);
  if (!skip.has(PROP.lostMembership)) lostMembershipReal(m, q, folios);
}

/**
 * The catalogue's invariants, checked by an observer CPU rather than as invariants.
 *
 * On the private-list designs queue-len and stale-membership are broken by design as soon as a
 * scan has moved folios to its list, on every path, and use-after-free shows one step into the
 * torn unlink; as invariants they would stop the search there (the explorer does not expand a
 * state that violates an invariant), and what comes later on the same paths (the DEBUG_LIST
 * list-corruption report) would never be reached. The observer is one step with one choice per
 * property, which it may take in any state: it evaluates the catalogue's own predicate and fails
 * that property if it does not hold. Only the observer's transition is cut; every other
 * interleaving goes on. A violation is still found in every reachable state where the invariant
 * would fail (the observer can still run in each of them), so the verdicts are the invariants'.
 */
export function observer(
  m: ModelBuilder<Sh>,
  q: Queue,
  preds: ReadonlyMap<string, (w: World) => boolean | string>,
): void {
  const names = [...preds.keys()];
  let world: World | undefined;
  const what: Record<string, string> = {
    [PROP.queueLen]: `deferred_split_count(): READ_ONCE(${q.lenName}) against the queue's length`,
    [PROP.staleMembership]: "!list_empty(&folio->_deferred_list) taken to mean queued",
    [PROP.listIntegrity]: "the queue's next/prev pointers",
    [PROP.useAfterFree]: "no list reaches a freed folio",
    [PROP.nrPartiallyMapped]: "MTHP_STAT_NR_ANON_PARTIALLY_MAPPED against the flags",
  };
  m.thread("observer", {}, () => [
    step(
      (_c, _r, choice) => {
        const name = names[choice]!;
        return what[name] !== undefined ? `observe [${name}]: ${what[name]}` : `observe [${name}]`;
      },
      (c, choice) => {
        const name = names[choice]!;
        const r = preds.get(name)!(world ?? ({ s: c.s, m: c.m, cpus: [] } as unknown as World));
        if (r !== true)
          throw new Violation(name, typeof r === "string" ? r : `${name} does not hold`);
      },
      { choices: names.length, raises: names },
    ),
  ]);
  m.init((_s, w) => {
    world = w as World;
  });
}

/**
 * lost-membership (end state), on the real mapping: a live large folio that is still mapped and
 * has had some of its PTEs zapped must be on the deferred split queue. (The catalogue's version
 * reads PG_partially_mapped, which migration clears on the source and never sets on the
 * destination, so it cannot see a migrated folio drop off.)
 */
export function lostMembershipReal(
  m: ModelBuilder<Sh>,
  q: Queue,
  folios: { [i: number]: DsFolioRef; length: number },
): void {
  m.endState(PROP.lostMembership, (w: World) => {
    const mm = w.m;
    const b = mm.b;
    const qh = q.ds.split_queue.$node(b);
    for (let i = 0; i < folios.length; i++) {
      const f = folios[i]!;
      if (
        b[f.freed.$off(b)] ||
        !b[f.mapped.$off(b)] ||
        !b[f.pte_partial.$off(b)] ||
        b[f.order.$off(b)]! <= 1
      )
        continue;
      const id = f._deferred_list.$node(b);
      if (headOf(mm, id) === qh) continue;
      const name = folioName(f, b);
      return `${name} is live and partially mapped but on no deferred split queue at quiescence (the shrinker will never split it)`;
    }
    return true;
  });
}

/** Puts folios on the queue at init (in array order), setting the length. */
export function initQueue(
  w: World,
  q: Queue,
  folios: { [i: number]: DsFolioRef },
  which: number[],
): void {
  const b = w.m.b;
  const lay = w.m.layout;
  const h = q.ds.split_queue.$node(b);
  const ids = [h, ...which.map((i) => folios[i]!._deferred_list.$node(b)), h];
  for (let k = 1; k < ids.length - 1; k++) {
    b[lay.nodes[ids[k]!]!.nextOff] = ids[k + 1]!;
    b[lay.nodes[ids[k]!]!.prevOff] = ids[k - 1]!;
  }
  b[lay.nodes[h]!.nextOff] = ids[1]!;
  b[lay.nodes[h]!.prevOff] = ids[ids.length - 2]!;
  b[q.ds.split_queue_len.$off(b)] = which.length;
}
