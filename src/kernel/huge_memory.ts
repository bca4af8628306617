// The deferred split queue of mm/huge_memory.c: struct deferred_split, the queue lookup,
// deferred_split_folio(), __folio_unqueue_deferred_split() / folio_unqueue_deferred_split(),
// reparent_deferred_split_queue(), the deferred-split part of __folio_split() and
// split_huge_page(), and deferred_split_scan() in three designs.
//
// Follows mm/huge_memory.c of v6.18 (Qi Zheng's "per-memcg deferred split queue" locking,
// as quoted in seed 004's removed lines: split_queue_lock() walks to the parent while the memcg
// is dying, folio_split_queue_memcg() names the memcg owning the locked queue) and, with
// `lookup: "get_deferred_split_queue"`, v6.12..v6.17 (`ds_queue = get_deferred_split_queue(folio)`
// then `spin_lock_irqsave(&ds_queue->split_queue_lock)`). Both evaluate the queue ONCE into the
// CPU's local `ds_queue` (see kernelLocal()): the lock and the unlock use that local, so a folio
// whose memcg changes in between (migration's mem_cgroup_migrate()) unlocks the queue it locked.
// The queue can also be the one list_lru of list_lru.ts (`queue: { lru }`, seed 004's "[PATCH v3
// 7/7] mm: switch deferred split shrinker to list_lru"): list_lru_lock() of the folio's
// sublist into the local `ds_l`, __list_lru_add() / __list_lru_del().
// The scans: deferred_split_scan_private_list() (v6.12..v6.17: the on-stack list, with or
// without the `prev` folio of commit e66f3185fa04), deferred_split_scan_folio_batch() (seed 002,
// v6.18) and deferred_split_scan_list_lru() (seed 004's list_lru walk and dispose list).
//
// Steps: the lookup+lock is one step (enabled while that queue's lock is free), each
// `memcg_is_dying()` retry one step; under the lock, the flag update is one step, the
// `list_empty()` test one, the list_add_tail one (the list primitive: atomic, its lock is held),
// `split_queue_len++` with set_shrinker_bit one, the unlock one (on a list_lru: list_lru_lock,
// __list_lru_add / __list_lru_del one step each). Unqueue: the unlocked
// `data_race(list_empty())` test, lock, `!list_empty` test, the accounting step
// (split_queue_len--, clear the flag and the statistic), list_del_init, unlock. Split: lock,
// freeze, dequeue as above, clear the flag, unlock, the split and unfreeze one step. Scans: each
// test, list operation, counter update and local update one step; a list operation on the
// scanner's on-stack list without the queue lock is split into its pointer writes (list.ts).
//
// Raises: `warn-partially-mapped` (VM_WARN_ON_FOLIO(folio_test_partially_mapped(folio), folio)
// in deferred_split_folio(folio, false): "partially mapped folios cannot become non-partially
// mapped"), `use-after-free`, `counter-underflow`, `double-unqueue` (opt-in), `bad-unlock`,
// `memcg-use-after-free`, and through list.ts / list_lru.ts `list-corruption`,
// `list-lru-unlocked`, `bad-page-state` (a folio freed while on a list).
//
// Left out: the swapcache early return (folio_test_swapcache), the THP_DEFERRED_SPLIT_PAGE and
// MTHP_STAT_SPLIT_DEFERRED events (only NR_ANON_PARTIALLY_MAPPED is kept), rcu_read_lock (memcg
// lifetime is the ghost `freed` bit instead), unmap_folio()/remap_page() and the page cache
// part of __folio_split (its freeze counts the mapping as one reference), thp_underused() (a
// scan option: every folio that is not partially mapped is, or is not, underused), the scans'
// `split` count and return value, cond_resched(), the shrinker's deferred_split_count() (the
// queue-len property reads the length instead). SplitOpts.mayFail is NOT kernel code: a
// hypothetical exit after the freeze with its back-out, for seed 004's review question.

import {
  boolResult,
  break_,
  either,
  func,
  if_,
  return_,
  step,
  while_,
  type Ctx,
  type Stmt,
  type StepStmt,
} from "../model/dsl.ts";
import { kernelLocal } from "../model/model.ts";
import { Ref, refVia } from "../model/ref.ts";
import {
  array,
  bool,
  enumOf,
  int,
  listHead,
  nodeptr,
  protectedBy,
  ptr,
  record,
  spinlock,
  type ArrayS,
  type BoolS,
  type IntS,
  type ListHeadS,
  type LockS,
  type NodePtrS,
  type PtrS,
  type RecordS,
  type Schema,
} from "../model/schema.ts";
import { ModelError } from "../rt/mem.ts";
import { NULL } from "../model/layout.ts";
import {
  list_add_tail,
  list_del_init,
  list_for_each_entry_safe,
  list_move,
  list_nonempty,
  list_splice_tail,
  list_splice_tail_init,
} from "./list.ts";
import {
  spin_lock,
  spin_lock_irq,
  spin_lock_irqsave,
  spin_lock_nested,
  spin_unlock,
  spin_unlock_irq,
  spin_unlock_irqrestore,
  UNLOCKED,
} from "./spinlock.ts";
import { checkDoubleUnqueue } from "./catalogue.ts";
import {
  addCounter,
  assertLive,
  counter,
  counter_dec,
  folio_lock,
  folio_test_partially_mapped,
  folio_put,
  folio_trylock,
  folio_try_get,
  folio_unlock,
  folioName,
  modMthpStat,
  testPartiallyMapped,
  writePartiallyMapped,
  type FolioRef,
  type StatRef,
} from "./folio.ts";
import {
  checkMemcg,
  folioMemcg,
  memcgIsDying,
  memcgName,
  memcgParentOf,
  setShrinkerBit,
  type MemcgsRef,
} from "./memcg.ts";
import {
  __list_lru_add,
  __list_lru_del,
  list_lru_lock,
  list_lru_shrink_walk_irq,
  list_lru_unlock,
  lruKeyOfFolio,
  lruOneOf,
  subOwner,
  type ListLruOneRef,
  type ListLruRef,
  type LruKey,
  type LruWalkLocalsRef,
  LRU_STATUS,
} from "./list_lru.ts";
import {
  folioBatch,
  folio_batch_add,
  folio_batch_for_each,
  folio_batch_full,
  folio_batch_reinit,
  folios_put,
  PAGEVEC_SIZE,
  type FolioBatchRef,
} from "./pagevec.ts";
import {
  anon_vma_lock_write as avLockWrite,
  anon_vma_unlock_write as avUnlockWrite,
  unmap_folio as unmapFolioPtes,
  type AnonVmaRef,
} from "./rmap.ts";
import { remove_migration_pte as removeMigrationPte } from "./migrate.ts";
import {
  PTE_PRESENT as PRESENT,
  type PageFolios as Pages,
  type PtesRef as Ptes,
} from "./pgtable.ts";
import {
  func as fn,
  goto_ as gotoStmt,
  if_ as ifS,
  label as labelStmt,
  return_ as returnS,
  step as stepS,
} from "../model/dsl.ts";
import {
  folio_put as putFolio,
  folio_ref_freeze as refFreeze,
  folio_ref_unfreeze as refUnfreeze,
  folio_unlock as unlockFolio,
} from "./folio.ts";
import { Violation as SplitViolation } from "../rt/mem.ts";

// ---------------------------------------------------------------------------------------------
// Schema

export type DsQueueFields = {
  split_queue_lock: LockS;
  split_queue: ListHeadS;
  split_queue_len: IntS;
};

/** struct deferred_split: its list is protected by its split_queue_lock. */
export function deferredSplitQueue(opts: { maxLen?: number } = {}): RecordS<DsQueueFields> {
  return record(
    {
      split_queue_lock: spinlock(),
      split_queue: listHead({ lock: "split_queue_lock" }),
      // updated under split_queue_lock; deferred_split_count() reads it with READ_ONCE
      split_queue_len: protectedBy(counter(opts.maxLen ?? 4), "split_queue_lock"),
    },
    "deferred_split",
  );
}

export interface DsQueueRef {
  readonly split_queue_lock: Ref<LockS>;
  readonly split_queue: Ref<ListHeadS>;
  readonly split_queue_len: Ref<IntS>;
}

export type SplitQueuesFields = {
  node: ArrayS<RecordS<DsQueueFields>>;
  memcg: ArrayS<RecordS<DsQueueFields>>;
};

/**
 * Every deferred split queue of a model: one per NUMA node (NODE_DATA(nid)->deferred_split_queue,
 * named `pgdatN.ds_queue`) and one per memcg (memcg->deferred_split_queue, `memcgN.ds_queue`):
 * `queues: splitQueues({ nodes: 1, memcgs: 2 })`.
 */
export function splitQueues(
  opts: { nodes?: number; memcgs?: number; maxLen?: number } = {},
): RecordS<SplitQueuesFields> {
  const q = deferredSplitQueue({ maxLen: opts.maxLen ?? 4 });
  return record(
    {
      node: array(opts.nodes ?? 1, q, { label: (i) => `pgdat${i}.ds_queue` }),
      memcg: array(opts.memcgs ?? 0, deferredSplitQueue({ maxLen: opts.maxLen ?? 4 }), {
        label: (i) => `memcg${i}.ds_queue`,
      }),
    },
    "split_queues",
  );
}

export interface SplitQueuesRef {
  readonly node: { readonly length: number; readonly [nid: number]: DsQueueRef };
  readonly memcg: { readonly length: number; readonly [memcg: number]: DsQueueRef };
}

/**
 * The deferred split queue on a list_lru (seed 004, "[PATCH v3 7/7] mm: switch deferred split
 * shrinker to list_lru"): `queue: { lru: m.s.deferred_split_lru }`, the one list_lru of
 * list_lru.ts. The folio's sublist is picked by folio_nid()/folio_memcg() (lock_list_lru_of_memcg
 * walking to the parent past a dead sublist); its lock is taken with list_lru_lock(), the
 * sublist held in the CPU's local `ds_l`; queueing is __list_lru_add() (which sets the memcg's
 * shrinker bit when `mc` is given) and dequeueing __list_lru_del().
 */
export interface LruQueueRef {
  readonly lru: ListLruRef;
}

/** A list_lru sublist as the queue the catalogue's properties take (lock, list, nr_items). */
export function lruQueue(one: ListLruOneRef): DsQueueRef {
  return { split_queue_lock: one.lock, split_queue: one.list, split_queue_len: one.nr_items };
}

/** Which queue a folio belongs to, and the statistics the queue ops maintain. */
export interface DeferredSplit {
  /**
   * One fixed queue (a model with a single per-node queue), or every queue of the model
   * (splitQueues()), looked up per folio into the CPU's `ds_queue` local, or a list_lru
   * (LruQueueRef).
   */
  readonly queue: DsQueueRef | SplitQueuesRef | LruQueueRef;
  /** The memcg tree: folio_memcg(), the dying walk, shrinker bits (with `queue: SplitQueuesRef`). */
  readonly mc?: MemcgsRef;
  /** The nr_partially_mapped statistic (a counter or a per-order array), if the model keeps it. */
  readonly stat?: StatRef;
  /** Check `double-unqueue` when split_queue_len is decremented (see catalogue.ts). */
  readonly doubleUnqueue?: boolean;
  /**
   * How the queue is found: "folio_split_queue_lock" (v6.18: lock, and while memcg_is_dying()
   * unlock and retry with the parent) or "get_deferred_split_queue" (v6.12..v6.17: the folio's
   * memcg's queue, else its node's, no dying check). Default: folio_split_queue_lock.
   */
  readonly lookup?: "folio_split_queue_lock" | "get_deferred_split_queue";
  /** folio_set/clear_partially_mapped as atomic bitops (default false: the __ forms, a plain RMW). */
  readonly atomicFlag?: boolean;
}

function isSplitQueues(q: DsQueueRef | SplitQueuesRef | LruQueueRef): q is SplitQueuesRef {
  return "node" in q && "memcg" in q;
}

function isLruQueue(q: DsQueueRef | SplitQueuesRef | LruQueueRef): q is LruQueueRef {
  return "lru" in q;
}

// ---------------------------------------------------------------------------------------------
// The queue lookup, evaluated once into a local

/** A locked queue: the refs of the queue the CPU's lookup chose (fixed or through its local). */
interface Locked {
  readonly q: DsQueueRef;
  /** Statements that find and lock the queue. */
  readonly lock: Stmt[];
  /** The unlock of that same queue. */
  readonly unlock: Stmt;
  /** The memcg owning the locked queue (folio_split_queue_memcg), -1 for a node queue. */
  readonly memcgOf: (c: Ctx) => number;
  /** The NUMA node of the folio, for set_shrinker_bit. */
  readonly nidOf: (c: Ctx) => number;
  /** A list_lru queue: the list_lru and the CPU's local holding the locked sublist. */
  readonly lru?: { readonly lru: ListLruRef; readonly l: Ref<IntS>; readonly mc?: MemcgsRef };
}

const nm = (f: FolioRef, c: Ctx): string => folioName(f, c.m.b);

/** Queue index k: 0..nodes-1 the node queues, nodes + memcg the memcg queues. */
function queueAt(qs: SplitQueuesRef, k: number): DsQueueRef {
  const q = k < qs.node.length ? qs.node[k] : qs.memcg[k - qs.node.length];
  if (!q) throw new ModelError("E_QUEUE", `deferred split queue #${k} does not exist`);
  return q;
}

function queueIndex(qs: SplitQueuesRef, nid: number, memcg: number): number {
  if (memcg >= 0) {
    if (memcg >= qs.memcg.length) {
      throw new ModelError(
        "E_QUEUE",
        `memcg${memcg} has no deferred split queue (splitQueues({ memcgs: ${qs.memcg.length} }))`,
        "declare one queue per memcg of the tree",
      );
    }
    return qs.node.length + memcg;
  }
  if (nid < 0 || nid >= qs.node.length) {
    throw new ModelError(
      "E_QUEUE",
      `node ${nid} has no deferred split queue`,
      "declare one per node",
    );
  }
  return nid;
}

/** A ref to `pick(queue)` of the queue whose index is in the local `k`. */
function viaLocal<S extends Schema>(
  qs: SplitQueuesRef,
  k: Ref<IntS>,
  pick: (q: DsQueueRef) => Ref<S>,
  text: string,
): Ref<S> {
  const at = (b: Int32Array): Ref<S> => {
    const i = b[k.$off(b)]!;
    if (i < 0) throw new ModelError("E_QUEUE", `${text}: used before the queue was looked up`);
    return pick(queueAt(qs, i));
  };
  return refVia(pick(qs.node[0]!), at, text);
}

/**
 * The queue of `f` locked and unlocked through the CPU's locals (`ds_queue`, and `ds_memcg` for
 * the dying walk), or the one fixed queue.
 */
function lockedQueue(f: FolioRef, d: DeferredSplit, irq: "irqsave" | "irq" | "plain"): Locked {
  const lockFn = irq === "irqsave" ? spin_lock_irqsave : irq === "irq" ? spin_lock_irq : spin_lock;
  const unlockFn =
    irq === "irqsave" ? spin_unlock_irqrestore : irq === "irq" ? spin_unlock_irq : spin_unlock;
  const nidOf = (c: Ctx): number => c.m.b[f.nid.$off(c.m.b)]!;
  if (isLruQueue(d.queue)) {
    // l = list_lru_lock[_irqsave](&deferred_split_lru, folio_nid(folio), folio_memcg(folio))
    const lru = d.queue.lru;
    const l = kernelLocal("ds_l", int(-1, lru.sub.length - 1, -1));
    const key = lruKeyOfFolio(f, d.mc);
    const opts = d.mc ? { mc: d.mc } : {};
    const lockFn = irq === "irqsave" ? "list_lru_lock_irqsave" : "list_lru_lock";
    const unlockFn = irq === "irqsave" ? "list_lru_unlock_irqrestore" : "list_lru_unlock";
    return {
      q: lruQueue(lruOneOf(lru, l)),
      lock: [list_lru_lock(lru, key, l, { ...opts, fn: lockFn })],
      unlock: list_lru_unlock(lru, l, unlockFn),
      memcgOf: (c) => subOwner(lru, c.m.b[l.$off(c.m.b)]!).memcg,
      nidOf,
      lru: { lru, l, ...opts },
    };
  }
  if (!isSplitQueues(d.queue)) {
    const q = d.queue;
    return {
      q,
      lock: [lockFn(q.split_queue_lock)],
      unlock: unlockFn(q.split_queue_lock),
      memcgOf: () => -1,
      nidOf,
    };
  }
  const qs = d.queue;
  const mc = d.mc;
  const nq = qs.node.length + qs.memcg.length;
  // folio_memcg(): NULL without memcg queues (a model of the per-node queue only)
  const readMemcg = (c: Ctx): number =>
    qs.memcg.length === 0 ? -1 : mc ? folioMemcg(c, mc, f) : c.m.get(f.memcg.$off(c.m.b));
  const peekMemcg = (c: Ctx): number =>
    qs.memcg.length === 0 ? -1 : mc ? memcgNow(c, mc, f) : c.m.b[f.memcg.$off(c.m.b)]!;
  const k = kernelLocal("ds_queue", int(-1, nq - 1, -1));
  const q: DsQueueRef = {
    split_queue_lock: viaLocal(qs, k, (x) => x.split_queue_lock, "ds_queue->split_queue_lock"),
    split_queue: viaLocal(qs, k, (x) => x.split_queue, "ds_queue->split_queue"),
    split_queue_len: viaLocal(qs, k, (x) => x.split_queue_len, "ds_queue->split_queue_len"),
  };
  const memcgOf = (c: Ctx): number => {
    const i = c.m.b[k.$off(c.m.b)]!;
    return i >= qs.node.length ? i - qs.node.length : -1;
  };
  const fname =
    irq === "irqsave" ? "spin_lock_irqsave" : irq === "irq" ? "spin_lock_irq" : "spin_lock";
  const uname =
    irq === "irqsave"
      ? "spin_unlock_irqrestore"
      : irq === "irq"
        ? "spin_unlock_irq"
        : "spin_unlock";
  const qname = (c: Ctx, i: number): string => queueAt(qs, i).split_queue_lock.$name(c.m.b);
  const unlock = step(
    (c) =>
      `${uname}(&${c.m.b[k.$off(c.m.b)]! >= 0 ? qname(c, c.m.b[k.$off(c.m.b)]!) : "ds_queue->split_queue_lock"})`,
    (c) => {
      const i = c.m.b[k.$off(c.m.b)]!;
      const off = queueAt(qs, i).split_queue_lock.$off(c.m.b);
      const h = c.m.getMarked(off);
      // as spin_unlock(): spin_bug() reports and the unlock goes on
      c.m.check(
        h === c.cpu,
        "bad-unlock",
        `${uname}(&${qname(c, i)}) by CPU${c.cpu}, but the lock is ${h === UNLOCKED ? "unlocked" : `held by CPU${h}`}`,
      );
      c.m.setMarked(off, UNLOCKED);
    },
    { raises: ["bad-unlock"] },
  );

  if (d.lookup === "get_deferred_split_queue") {
    // ds_queue = get_deferred_split_queue(folio); spin_lock(&ds_queue->split_queue_lock)
    const pick = step(
      (c) => {
        const i = queueIndex(qs, nidOf(c), peekMemcg(c));
        return `ds_queue = get_deferred_split_queue(${nm(f, c)}) = ${queueAt(qs, i)
          .split_queue.$name(c.m.b)
          .replace(/\.split_queue$/, "")}`;
      },
      (c) => {
        c.m.set(k.$off(c.m.b), queueIndex(qs, nidOf(c), readMemcg(c)));
      },
    );
    return { q, lock: [pick, lockFn(q.split_queue_lock)], unlock, memcgOf, nidOf };
  }

  // v6.18 folio_split_queue_lock(): memcg = folio_memcg(folio); retry: lock memcg_split_queue(nid,
  // memcg); if memcg_is_dying(memcg) { unlock; memcg = parent_mem_cgroup(memcg); goto retry; }
  const mcg = kernelLocal("ds_memcg", int(-1, Math.max(qs.memcg.length - 1, -1), -1));
  const target = (c: Ctx): number => queueIndex(qs, nidOf(c), c.m.b[mcg.$off(c.m.b)]!);
  const lockStep = step(
    (c) =>
      `ds_queue = memcg_split_queue(${nidOf(c)}, ${memcgName(c.m.b[mcg.$off(c.m.b)]!)}); ${fname}(&${qname(c, target(c))})`,
    (c) => {
      const memcg = c.m.get(mcg.$off(c.m.b));
      if (mc && memcg >= 0) checkMemcg(c, mc, memcg, "memcg->deferred_split_queue");
      const i = target(c);
      c.m.set(k.$off(c.m.b), i);
      c.m.setMarked(queueAt(qs, i).split_queue_lock.$off(c.m.b), c.cpu);
    },
    {
      guard: (c) => c.m.b[queueAt(qs, target(c)).split_queue_lock.$off(c.m.b)] === UNLOCKED,
      waitsFor: (c) =>
        `${qname(c, target(c))}, held by CPU${c.m.b[queueAt(qs, target(c)).split_queue_lock.$off(c.m.b)]}`,
      raises: ["memcg-use-after-free"],
    },
  );
  const lock: Stmt[] = [
    step(
      (c) => `memcg = folio_memcg(${nm(f, c)}) = ${memcgName(peekMemcg(c))}`,
      (c) => {
        c.m.set(mcg.$off(c.m.b), readMemcg(c));
      },
    ),
    lockStep,
  ];
  if (mc) {
    lock.push(
      while_(
        step(
          (c, r) => `memcg_is_dying(${memcgName(c.m.b[mcg.$off(c.m.b)]!)}) -> ${boolResult(r)}`,
          (c) => {
            const memcg = c.m.get(mcg.$off(c.m.b));
            return memcg >= 0 && memcgIsDying(c, mc, memcg, "memcg_is_dying(memcg)");
          },
          { raises: ["memcg-use-after-free"] },
        ),
        [
          step(
            (c) =>
              `${uname}(&${qname(c, c.m.b[k.$off(c.m.b)]!)}); memcg = parent_mem_cgroup(${memcgName(c.m.b[mcg.$off(c.m.b)]!)})`,
            (c) => {
              const i = c.m.get(k.$off(c.m.b));
              c.m.setMarked(queueAt(qs, i).split_queue_lock.$off(c.m.b), UNLOCKED);
              const memcg = c.m.get(mcg.$off(c.m.b));
              c.m.set(mcg.$off(c.m.b), memcgParentOf(mc, memcg));
            },
          ),
          lockStep,
        ],
      ),
    );
  }
  return { q, lock, unlock, memcgOf, nidOf };
}

/** folio_memcg(f) read for a label (no access recorded). */
function memcgNow(c: Ctx, mc: MemcgsRef, f: FolioRef): number {
  const b = c.m.b;
  return b[mc.disabled.$off(b)] !== 0 ? -1 : b[f.memcg.$off(b)]!;
}

/**
 * `ds_queue = get_deferred_split_queue(folio)` (with `lookup: "get_deferred_split_queue"`) or
 * `ds_queue = folio_split_queue_lock(folio)`: the statements that find and lock the folio's
 * queue, the unlock of that same queue, and its refs, for models that write their own
 * critical section.
 */
export function folio_split_queue_lock(
  f: FolioRef,
  d: DeferredSplit,
  irq: "irqsave" | "irq" | "plain" = "irqsave",
): { readonly lock: Stmt[]; readonly unlock: Stmt; readonly ds_queue: DsQueueRef } {
  const l = lockedQueue(f, d, irq);
  return { lock: l.lock, unlock: l.unlock, ds_queue: l.q };
}

/**
 * v6.12..v6.17: `ds_queue = get_deferred_split_queue(folio); spin_lock_irqsave(&ds_queue->...)`:
 * the folio's memcg's queue (or its node's when it has none), no dying check, into the local.
 */
export function get_deferred_split_queue(
  f: FolioRef,
  d: DeferredSplit,
): { readonly lock: Stmt[]; readonly unlock: Stmt; readonly ds_queue: DsQueueRef } {
  return folio_split_queue_lock(f, { ...d, lookup: "get_deferred_split_queue" });
}

// ---------------------------------------------------------------------------------------------
// Queue and unqueue

/**
 * The locked body of __folio_unqueue_deferred_split after the `!list_empty` test:
 * `split_queue_len--`, and if partially mapped, clear the flag and decrement the statistic.
 * One step (the caller holds split_queue_lock of `q`).
 */
export function unqueue_accounting(f: FolioRef, d: DeferredSplit, q?: DsQueueRef): StepStmt {
  const queue = q ?? (isSplitQueues(d.queue) || isLruQueue(d.queue) ? undefined : d.queue);
  if (!queue) {
    throw new ModelError(
      "E_ARG",
      "unqueue_accounting: with several queues, pass the locked queue (folio_split_queue_lock().ds_queue)",
    );
  }
  const atomic = d.atomicFlag ?? false;
  return step(
    (c) => {
      const pm = f.partially_mapped.$test(c.m.b);
      return `${queue.split_queue_len.$name(c.m.b)}--${pm ? `; ${atomic ? "" : "__"}folio_clear_partially_mapped(${nm(f, c)})` : ""}`;
    },
    (c) => {
      assertLive(c, f, "__folio_unqueue_deferred_split");
      if (d.doubleUnqueue) checkDoubleUnqueue(c, f, queue);
      addCounter(c, queue.split_queue_len, -1, false);
      if (testPartiallyMapped(c, f)) {
        writePartiallyMapped(c, f, false, atomic);
        if (d.stat) modMthpStat(c, d.stat, f, -1);
      }
    },
    {
      raises: d.doubleUnqueue
        ? ["use-after-free", "double-unqueue", "counter-underflow"]
        : ["use-after-free", "counter-underflow"],
    },
  );
}

/**
 * __folio_unqueue_deferred_split(f): lock the folio's queue; if !list_empty(&f->_deferred_list):
 * len--, clear the flag (and statistic), list_del_init, then `onUnqueued`; unlock.
 */
export function __folio_unqueue_deferred_split(
  f: FolioRef,
  d: DeferredSplit,
  onUnqueued: Stmt[] = [],
): Stmt {
  const l = lockedQueue(f, d, "irqsave");
  if (l.lru) {
    // seed 004: if (__list_lru_del(...)) { if (folio_test_partially_mapped) { clear; stat-- } }
    return func("__folio_unqueue_deferred_split", [
      ...l.lock,
      if_(__list_lru_del(l.lru.lru, l.lru.l, f._deferred_list), [
        clearPartiallyMapped(f, d, d.atomicFlag ?? false),
        ...onUnqueued,
      ]),
      l.unlock,
    ]);
  }
  return func("__folio_unqueue_deferred_split", [
    ...l.lock,
    if_(list_nonempty(f._deferred_list), [
      unqueue_accounting(f, d, l.q),
      list_del_init(f._deferred_list),
      ...onUnqueued,
    ]),
    l.unlock,
  ]);
}

/**
 * folio_unqueue_deferred_split(f): returns early for order <= 1, and when
 * `data_race(list_empty(&f->_deferred_list))` (an unlocked, intentionally racy read: no data-race
 * report); else the locked unqueue.
 */
export function folio_unqueue_deferred_split(
  f: FolioRef,
  d: DeferredSplit,
  onUnqueued: Stmt[] = [],
): Stmt {
  return func("folio_unqueue_deferred_split", [
    if_(
      step(
        (c, r) =>
          `order <= 1 || data_race(list_empty(&${nm(f, c)}._deferred_list)) -> ${r ? "true: nothing to do" : "false"}`,
        (c) => {
          const b = c.m.b;
          if (b[f.order.$off(b)]! <= 1) return true;
          const id = f._deferred_list.$node(b);
          return c.m.getRacy(c.m.layout.nodes[id]!.nextOff) === id;
        },
      ),
      [return_()],
    ),
    __folio_unqueue_deferred_split(f, d, onUnqueued),
  ]);
}

/**
 * deferred_split_folio(f, partially_mapped): return for order <= 1; find and lock the queue
 * (once, into the local); if partially_mapped: set the flag and the statistic unless set; else
 * VM_WARN_ON_FOLIO(folio_test_partially_mapped(folio)) (`warn-partially-mapped`); if
 * list_empty: add at the tail, split_queue_len++ and, for a memcg's queue,
 * set_shrinker_bit(memcg, folio_nid(folio)); unlock.
 */
export function deferred_split_folio(
  f: FolioRef,
  d: DeferredSplit,
  partiallyMapped: boolean,
): Stmt {
  const l = lockedQueue(f, d, "irqsave");
  const atomic = d.atomicFlag ?? false;
  const body: Stmt[] = [
    if_(
      step(
        (c, r) => `folio_order(${nm(f, c)}) <= 1 -> ${boolResult(r)}`,
        (c) => c.m.b[f.order.$off(c.m.b)]! <= 1,
      ),
      [return_()],
    ),
    ...l.lock,
  ];
  body.push(
    partiallyMapped
      ? step(
          (c) => `if (!folio_test_partially_mapped(${nm(f, c)})) set it, mod_mthp_stat(+1)`,
          (c) => {
            if (!testPartiallyMapped(c, f)) {
              writePartiallyMapped(c, f, true, atomic);
              if (d.stat) modMthpStat(c, d.stat, f, 1);
            }
          },
          { raises: ["use-after-free", "counter-underflow"] },
        )
      : step(
          (c) => `VM_WARN_ON_FOLIO(folio_test_partially_mapped(${nm(f, c)}))`,
          (c) => {
            // "partially mapped folios cannot become non-partially mapped"
            // a splat, and deferred_split_folio() goes on to queue the folio
            if (testPartiallyMapped(c, f)) {
              c.m.warn(
                "warn-partially-mapped",
                `VM_WARN_ON_FOLIO: deferred_split_folio(${nm(f, c)}, false) on a folio that is partially mapped (partially mapped folios cannot become non-partially mapped)`,
              );
            }
          },
          { raises: ["use-after-free", { name: "warn-partially-mapped", severity: "warn" }] },
        ),
  );
  body.push(queueIfEmpty(f, d, l, true), l.unlock);
  return func("deferred_split_folio", body);
}

/**
 * Under the lock of `l`: `if (list_empty(&folio->_deferred_list)) { list_add_tail(...);
 * ds_queue->split_queue_len++; [set_shrinker_bit(memcg, folio_nid(folio))] }`, or on a list_lru
 * `__list_lru_add(lru, l, &folio->_deferred_list, nid, memcg)` (one step: the list_empty test,
 * the add, nr_items++, the shrinker bit of the sublist's memcg when it was empty).
 */
function queueIfEmpty(f: FolioRef, d: DeferredSplit, l: Locked, shrinkerBit: boolean): Stmt {
  if (l.lru) {
    const o = l.lru.mc ? { mc: l.lru.mc, key: lruKeyOfFolio(f, l.lru.mc) } : {};
    return if_(__list_lru_add(l.lru.lru, l.lru.l, f._deferred_list, o), []);
  }
  const q = l.q;
  return if_(
    step(
      (c, r) => `list_empty(&${nm(f, c)}._deferred_list) -> ${boolResult(r)}`,
      (c) => {
        assertLive(c, f, "list_empty");
        const id = f._deferred_list.$node(c.m.b);
        return c.m.getMarked(c.m.layout.nodes[id]!.nextOff) === id;
      },
      { raises: ["use-after-free"] },
    ),
    [
      list_add_tail(f._deferred_list, q.split_queue),
      step(
        (c) => {
          const v = c.m.b[q.split_queue_len.$off(c.m.b)]!;
          const memcg = l.memcgOf(c);
          return (
            `${q.split_queue_len.$name(c.m.b)}++ (${v} -> ${v + 1})` +
            (shrinkerBit && memcg >= 0 && d.mc
              ? `; set_shrinker_bit(${memcgName(memcg)}, ${l.nidOf(c)})`
              : "")
          );
        },
        (c) => {
          addCounter(c, q.split_queue_len, 1, false);
          const memcg = l.memcgOf(c);
          if (shrinkerBit && memcg >= 0 && d.mc) setShrinkerBit(c, d.mc, memcg, l.nidOf(c));
        },
        { raises: ["counter-underflow", "memcg-use-after-free"] },
      ),
    ],
  );
}

// ---------------------------------------------------------------------------------------------
// Reparenting

/**
 * reparent_deferred_split_queue(memcg) (v6.18, mem_cgroup_css_offline): spin_lock_irq on the
 * memcg's queue, spin_lock_nested on the parent's; if split_queue_len: list_splice_tail_init
 * onto the parent's queue, add the length, zero it, set_shrinker_bit(parent, nid) for every
 * node; unlock both.
 */
export function reparent_deferred_split_queue(
  qs: SplitQueuesRef,
  mc: MemcgsRef,
  memcg: number,
): Stmt {
  const parent = memcgParentOf(mc, memcg);
  const q = qs.memcg[memcg];
  const pq = parent >= 0 ? qs.memcg[parent] : undefined;
  if (!q || !pq) {
    throw new ModelError(
      "E_QUEUE",
      `reparent_deferred_split_queue(memcg${memcg}): ${!q ? `memcg${memcg}` : `its parent ${memcgName(parent)}`} has no deferred split queue`,
      "declare splitQueues({ memcgs }) with one queue per memcg of the tree",
    );
  }
  const nodes = mc.memcg[parent]!.shrinker_map.length;
  return func("reparent_deferred_split_queue", [
    spin_lock_irq(q.split_queue_lock),
    spin_lock_nested(pq.split_queue_lock, 1), // SINGLE_DEPTH_NESTING
    if_(
      step(
        (c, r) => `!${q.split_queue_len.$name(c.m.b)} -> ${boolResult(r)}`,
        (c) => c.m.get(q.split_queue_len.$off(c.m.b)) === 0,
      ),
      [],
      [
        list_splice_tail_init(q.split_queue, pq.split_queue),
        step(
          (c) =>
            `${pq.split_queue_len.$name(c.m.b)} += ${q.split_queue_len.$name(c.m.b)}; ${q.split_queue_len.$name(c.m.b)} = 0; set_shrinker_bit(${memcgName(parent)}, each node)`,
          (c) => {
            const n = c.m.get(q.split_queue_len.$off(c.m.b));
            addCounter(c, pq.split_queue_len, n, false);
            c.m.set(q.split_queue_len.$off(c.m.b), 0);
            for (let nid = 0; nid < nodes; nid++) setShrinkerBit(c, mc, parent, nid);
          },
          { raises: ["memcg-use-after-free"] },
        ),
      ],
    ),
    spin_unlock(pq.split_queue_lock),
    spin_unlock_irq(q.split_queue_lock),
  ]);
}

// ---------------------------------------------------------------------------------------------
// __folio_split

export interface SplitOpts {
  /** The count folio_ref_freeze() expects (can_split_folio: the caller's pin + mappings). */
  readonly expected: number | ((c: Ctx) => number);
  /**
   * "lock-then-freeze" (the kernel: "Prevent deferred_split_scan() touching ->_refcount") or
   * "freeze-then-lock" (seed 004's review question: may the freeze come first?).
   */
  readonly order?: "lock-then-freeze" | "freeze-then-lock";
  /** After a successful split (the folio is order 0, unfrozen). */
  readonly ok?: Stmt[];
  /** After -EAGAIN (the freeze failed). */
  readonly fail?: Stmt[];
  /**
   * When PG_partially_mapped is cleared: "order>1" (seed 002, with the folio_batch scan: for any
   * large folio, queued or not: the scan may hold it off the queue) or "queued" (before it:
   * only when the folio was on a queue). Default "order>1".
   */
  readonly clearFlag?: "order>1" | "queued";
  /**
   * HYPOTHETICAL (no kernel path does this today: for anon folios __split_unmapped_folio() has
   * no exit after a successful freeze): the split may fail once frozen, as the review of seed
   * 004 asks ("may or may not be safe"). Then it unfreezes and, as a correct back-out would have
   * to, puts back under the queue lock what it took: PG_partially_mapped (and the statistic) if
   * it cleared it, the queue entry if its dequeue removed one. The outcome is a choice
   * (`either`); the locals `dequeued` and `was_pm` record what the dequeue did. Not with
   * `clearFlag: "queued"`.
   */
  readonly mayFail?: boolean;
}

/**
 * The deferred-split part of __folio_split() / __folio_freeze_and_split_unmapped(): lock the
 * queue, folio_ref_freeze(folio, expected), and if frozen: if queued, split_queue_len--, clear
 * the flag (and statistic), list_del_init; unlock; __split_unmapped_folio() (order 0) and
 * unfreeze. If the freeze fails: unlock, -EAGAIN.
 */
export function __folio_split(f: FolioRef, d: DeferredSplit, o: SplitOpts): Stmt {
  const l = lockedQueue(f, d, "plain");
  const expected = (c: Ctx): number =>
    typeof o.expected === "number" ? o.expected : o.expected(c);
  if (o.mayFail && o.clearFlag === "queued")
    throw new ModelError("E_ARG", '__folio_split: mayFail does not go with clearFlag: "queued"');
  const back = o.mayFail
    ? { dequeued: kernelLocal("dequeued", bool()), was_pm: kernelLocal("was_pm", bool()) }
    : undefined;
  const freeze = step(
    (c, r) =>
      `folio_ref_freeze(${nm(f, c)}, ${expected(c)}) -> ${r ? "true" : `false (_refcount ${c.m.b[f._refcount.$off(c.m.b)]})`}`,
    (c) => {
      assertLive(c, f, "folio_ref_freeze");
      const off = f._refcount.$off(c.m.b);
      if (c.m.getMarked(off) !== expected(c)) return false;
      c.m.setMarked(off, 0);
      if (back) {
        c.m.set(back.dequeued.$off(c.m.b), 0);
        c.m.set(back.was_pm.$off(c.m.b), 0);
      }
      return true;
    },
    { raises: ["use-after-free"] },
  );
  const noted: Stmt[] = back
    ? [
        step("dequeued = true", (c) => {
          c.m.set(back.dequeued.$off(c.m.b), 1);
        }),
      ]
    : [];
  const clear = clearPartiallyMapped(f, d, d.atomicFlag ?? false, back?.was_pm);
  const dequeue: Stmt[] = l.lru
    ? [
        // seed 004: __list_lru_del(&deferred_split_lru, l, &folio->_deferred_list, nid);
        // if (folio_test_partially_mapped(folio)) { clear; mod_mthp_stat(-1) }
        if_(__list_lru_del(l.lru.lru, l.lru.l, f._deferred_list), noted),
        clear,
      ]
    : o.clearFlag === "queued"
      ? [
          if_(list_nonempty(f._deferred_list), [
            unqueue_accounting(f, d, l.q),
            list_del_init(f._deferred_list),
          ]),
        ]
      : [
          // seed 002: if (folio_order(folio) > 1) { if (!list_empty) { len--; list_del_init }
          // if (folio_test_partially_mapped(folio)) { clear; mod_mthp_stat(-1) } }
          if_(list_nonempty(f._deferred_list), [
            unqueue_len(l.q, f, d),
            list_del_init(f._deferred_list),
            ...noted,
          ]),
          clear,
        ];
  const split = step(
    (c) => `__split_unmapped_folio(${nm(f, c)}); folio_ref_unfreeze(${nm(f, c)}, ${expected(c)})`,
    (c) => {
      c.m.set(f.order.$off(c.m.b), 0);
      c.m.setMarked(f._refcount.$off(c.m.b), expected(c));
    },
  );
  const splitOrFail: Stmt[] = back
    ? [
        either(
          "__split_unmapped_folio() outcome (hypothetical failure): 1 = splits, 2 = fails",
          [split, ...(o.ok ?? [])],
          [...backOut(f, d, back, expected), ...(o.fail ?? [])],
        ),
      ]
    : [split, ...(o.ok ?? [])];
  if (o.order === "freeze-then-lock") {
    return func("__folio_split", [
      if_(freeze, [...l.lock, ...dequeue, l.unlock, ...splitOrFail], [...(o.fail ?? [])]),
    ]);
  }
  return func("__folio_split", [
    ...l.lock,
    if_(freeze, [...dequeue, l.unlock, ...splitOrFail], [l.unlock, ...(o.fail ?? [])]),
  ]);
}

/**
 * The hypothetical back-out of a split that fails after the freeze (SplitOpts.mayFail):
 * folio_ref_unfreeze(folio, expected), then, if the dequeue took anything, under the queue lock:
 * set PG_partially_mapped (+ statistic) if it was set, requeue if it was dequeued.
 */
function backOut(
  f: FolioRef,
  d: DeferredSplit,
  back: { dequeued: Ref<BoolS>; was_pm: Ref<BoolS> },
  expected: (c: Ctx) => number,
): Stmt[] {
  const l = lockedQueue(f, d, "plain");
  const on = (r: Ref<BoolS>) => (c: Ctx) => c.m.get(r.$off(c.m.b)) !== 0;
  return [
    step(
      (c) =>
        `__split_unmapped_folio(${nm(f, c)}) -> -EAGAIN (fails after the freeze); folio_ref_unfreeze(${nm(f, c)}, ${expected(c)})`,
      (c) => {
        c.m.setMarked(f._refcount.$off(c.m.b), expected(c));
      },
    ),
    if_(
      step(
        (c, r) =>
          `dequeued || was_partially_mapped -> ${r ? "true: restore" : "false: nothing to restore"}`,
        (c) => on(back.dequeued)(c) || on(back.was_pm)(c),
      ),
      [
        ...l.lock,
        if_(
          step(
            (c, r) =>
              r
                ? `folio_set_partially_mapped(${nm(f, c)}), mod_mthp_stat(+1)`
                : "was_partially_mapped -> false",
            (c) => {
              if (!on(back.was_pm)(c)) return false;
              writePartiallyMapped(c, f, true, d.atomicFlag ?? false);
              if (d.stat) modMthpStat(c, d.stat, f, 1);
              return true;
            },
            { raises: ["use-after-free", "counter-underflow"] },
          ),
          [],
        ),
        if_(
          step(
            (c, r) => `dequeued -> ${boolResult(r)}`,
            (c) => on(back.dequeued)(c),
          ),
          [queueIfEmpty(f, d, l, false)],
        ),
        l.unlock,
      ],
    ),
  ];
}

/** The list_head refs of every queue, for the catalogue's properties. */
export function allSplitQueues(qs: SplitQueuesRef): DsQueueRef[] {
  const out: DsQueueRef[] = [];
  for (let i = 0; i < qs.node.length; i++) out.push(qs.node[i]!);
  for (let i = 0; i < qs.memcg.length; i++) out.push(qs.memcg[i]!);
  return out;
}

// ---------------------------------------------------------------------------------------------
// deferred_split_scan()

export interface ScanOpts {
  /** thp_underused() of every folio that is not partially mapped. */
  readonly underused: boolean;
  /** sc->nr_to_scan. */
  readonly nrToScan: number;
  /** FOLIO_BATCH_SIZE (PAGEVEC_SIZE, 31 in the kernel). */
  readonly batch?: number;
  /** The count split_folio() freezes at (default 1 + folio_mapped(): the scan's pin + the mapping's). */
  readonly expected?: (f: FolioRef) => (c: Ctx) => number;
  /** How the scan's split_folio() orders its lock and freeze, and whether it may fail (SplitOpts). */
  readonly split?: Pick<SplitOpts, "order" | "mayFail">;
}

/**
 * The unlocked per-folio logic of deferred_split_scan(), up to `next:`:
 *   did_split = false;
 *   if (!folio_test_partially_mapped(folio)) { underused = thp_underused(folio); if (!underused) goto next; }
 *   if (!folio_trylock(folio)) goto next;
 *   if (!split_folio(folio)) { did_split = true; split++; }
 *   folio_unlock(folio);
 * next:
 * written without labels (a thread may run two scans).
 */
function trySplit(
  f: Ref<PtrS> & FolioRef,
  didSplit: Ref<BoolS>,
  d: DeferredSplit,
  o: ScanOpts,
): Stmt {
  const expected =
    o.expected?.(f) ?? ((c: Ctx): number => 1 + (c.m.b[f.mapped.$off(c.m.b)] !== 0 ? 1 : 0));
  return if_(
    step(
      (c, r) =>
        `did_split = false; folio_test_partially_mapped(${nm(f, c)}) || thp_underused(${nm(f, c)}) -> ${boolResult(r)}`,
      (c) => {
        c.m.set(didSplit.$off(c.m.b), 0);
        return testPartiallyMapped(c, f) || o.underused;
      },
      { raises: ["use-after-free"] },
    ),
    [
      if_(folio_trylock(f), [
        __folio_split(f, d, {
          ...o.split,
          expected,
          ok: [
            step("did_split = true; split++", (c) => {
              c.m.set(didSplit.$off(c.m.b), 1);
            }),
          ],
        }),
        folio_unlock(f),
      ]),
    ],
  );
}

/**
 * The requeue of the scan's second loop: `fqueue = folio_split_queue_lock_irqsave(folio);
 * if (list_empty(&folio->_deferred_list)) { list_add_tail(...); fqueue->split_queue_len++; }
 * split_queue_unlock_irqrestore(fqueue)`.
 */
export function requeue_deferred_split(f: FolioRef, d: DeferredSplit): Stmt {
  const l = lockedQueue(f, d, "irqsave");
  return func("requeue", [...l.lock, queueIfEmpty(f, d, l, false), l.unlock]);
}

/** The scan's `folio`, `next` (list_for_each_entry_safe) and `did_split` CPU locals. */
function scanCursor(Folio: RecordS): {
  f: Ref<PtrS> & FolioRef;
  next: Ref<NodePtrS>;
  didSplit: Ref<BoolS>;
} {
  return {
    f: kernelLocal("folio", ptr(Folio)) as unknown as Ref<PtrS> & FolioRef,
    next: kernelLocal("next", nodeptr()),
    didSplit: kernelLocal("did_split", bool()),
  };
}

/**
 * deferred_split_scan() with a folio_batch (seed 002, Qi Zheng, Sep 2025; v6.18): under the
 * scanned queue's lock, every folio met is list_del_init'ed and split_queue_len-- (a folio whose
 * folio_try_get() fails, "lost race with folio_put()", has its flag cleared); the pinned ones go
 * into the batch. Unlocked: try to split each; one not split and partially mapped is requeued
 * (on its own queue, looked up again). folios_put(); retry while sc->nr_to_scan and the queue
 * is not empty. `queue` is the queue of the shrink_control (its nid and memcg); `Folio` the
 * folio record type (for the CPU's pointer locals).
 */
export function deferred_split_scan_folio_batch(
  queue: DsQueueRef,
  d: DeferredSplit,
  Folio: RecordS,
  o: ScanOpts,
): Stmt {
  const size = Math.min(o.batch ?? PAGEVEC_SIZE, PAGEVEC_SIZE);
  const { f, next, didSplit } = scanCursor(Folio);
  const nrToScan = kernelLocal("nr_to_scan", int(0, o.nrToScan, o.nrToScan));
  const fb = kernelLocal("fbatch", folioBatch(Folio, size)) as unknown as FolioBatchRef;
  return func("deferred_split_scan", [
    step(`sc->nr_to_scan = ${o.nrToScan}; folio_batch_init(&fbatch)`, (c) => {
      c.m.set(nrToScan.$off(c.m.b), o.nrToScan);
      c.m.set(fb.nr.$off(c.m.b), 0);
    }),
    while_(
      step(
        (c, r) =>
          `retry: ${r ? "sc->nr_to_scan && !list_empty(queue)" : "done"} -> ${boolResult(r)}`,
        (c) => {
          const id = queue.split_queue.$node(c.m.b);
          return (
            c.m.get(nrToScan.$off(c.m.b)) > 0 && c.m.getMarked(c.m.layout.nodes[id]!.nextOff) !== id
          );
        },
      ),
      [
        spin_lock_irqsave(queue.split_queue_lock),
        list_for_each_entry_safe(f, next, queue.split_queue, [
          if_(
            folio_try_get(f),
            [folio_batch_add(fb, f)],
            [
              // We lost race with folio_put()
              clearPartiallyMapped(f, d, true),
            ],
          ),
          list_del_init(f._deferred_list),
          // the scan's own decrement, of a folio it found on the queue (no double-unqueue
          // check: it would run after the list_del_init above and see the folio unqueued)
          counter_dec(queue.split_queue_len),
          if_(
            step(
              (c, r) => `!--sc->nr_to_scan || !folio_batch_space(&fbatch) -> ${boolResult(r)}`,
              (c) => {
                const v = c.m.get(nrToScan.$off(c.m.b)) - 1;
                c.m.set(nrToScan.$off(c.m.b), v);
                return v === 0 || folio_batch_full(fb)(c);
              },
            ),
            [break_()],
          ),
        ]),
        spin_unlock_irqrestore(queue.split_queue_lock),
        folio_batch_for_each(fb, (folio) => [
          step(
            (c) => `folio = fbatch.folios[i] (${nm(folio, c)})`,
            (c) => {
              c.m.set(f.$off(c.m.b), c.m.get((folio as Ref<PtrS>).$off(c.m.b)));
            },
          ),
          trySplit(f, didSplit, d, o),
          if_(
            step(
              (c, r) =>
                `!did_split && folio_test_partially_mapped(${nm(f, c)}) -> ${boolResult(r)}`,
              (c) => c.m.get(didSplit.$off(c.m.b)) === 0 && testPartiallyMapped(c, f),
              { raises: ["use-after-free"] },
            ),
            [requeue_deferred_split(f, d)],
          ),
        ]),
        folios_put(fb, (folio) => folio_put(folio, d)),
        folio_batch_reinit(fb),
      ],
    ),
  ]);
}

/** `if (!--sc->nr_to_scan) break;` (`more`: a further break condition, as text and test). */
function nrToScanBreak(
  nrToScan: Ref<IntS>,
  more?: { text: string; test: (c: Ctx) => boolean },
): Stmt {
  return if_(
    step(
      (c, r) => `!--sc->nr_to_scan${more ? ` || ${more.text}` : ""} -> ${boolResult(r)}`,
      (c) => {
        const v = c.m.get(nrToScan.$off(c.m.b)) - 1;
        c.m.set(nrToScan.$off(c.m.b), v);
        return v === 0 || (more !== undefined && more.test(c));
      },
    ),
    [break_()],
  );
}

/** The name of a lock field of the shared state (for listHead({ atomicUnder })). */
function lockPath(lock: Ref<LockS>): string {
  return lock.$name(new Int32Array(0));
}

export interface PrivateListScanOpts extends ScanOpts {
  /**
   * Keep "one safe folio with refcount still raised" (`prev`) before a folio removed from the
   * private list without the lock: commit e66f3185fa04 ("mm/thp: fix deferred split queue not
   * partially_mapped"). false: every kept folio is put at once.
   */
  readonly safePrev: boolean;
}

/**
 * deferred_split_scan() of v6.12..v6.17 (mm/huge_memory.c): under split_queue_lock, each folio
 * of `queue` whose folio_try_get() succeeds is list_move()d to the on-stack LIST_HEAD(list)
 * (still counted in split_queue_len); one whose try_get fails ("We lost race with folio_put()")
 * has its flag cleared, is list_del_init()ed and split_queue_len--. Unlocked, per folio of the
 * private list: try to split it; if not split and not partially mapped, an UNLOCKED
 * list_del_init() from the private list and `removed++`; if partially mapped it stays (with
 * `safePrev`: swap(folio, prev), so the reference of the folio before is held until the next one
 * is done). Then under the lock: list_splice_tail() back, `split_queue_len -= removed`; unlock;
 * folio_put(prev).
 *
 * Steps: the private list is a CPU local (`list`) whose operations are one step under
 * split_queue_lock (split_folio() and the free path remove folios from it under that lock) and
 * are split into their pointer writes without it (the scanner's own unlocked list_del_init).
 * After the splice, the head's stale pointers are forgotten in one step (the on-stack head goes
 * out of scope: the kernel never reads it again).
 */
export function deferred_split_scan_private_list(
  queue: DsQueueRef,
  d: DeferredSplit,
  Folio: RecordS,
  o: PrivateListScanOpts,
): Stmt {
  const { f, next, didSplit } = scanCursor(Folio);
  const nrToScan = kernelLocal("nr_to_scan", int(0, o.nrToScan, o.nrToScan));
  // LIST_HEAD(list): on the stack; split_folio() and the free path take folios off it under
  // split_queue_lock, which makes their operations on it atomic; it protects nothing (the
  // scanner's unlocked phase is the kernel's), so no wrong-lock report
  const list = kernelLocal("list", listHead({ atomicUnder: lockPath(queue.split_queue_lock) }));
  const prev = kernelLocal("prev", ptr(Folio)) as unknown as Ref<PtrS> & FolioRef;
  const removed = kernelLocal("removed", int(0, o.nrToScan));
  const lock = spin_lock_irqsave(queue.split_queue_lock);
  const unlock = spin_unlock_irqrestore(queue.split_queue_lock);
  // the locals start as the kernel's do (sc->nr_to_scan, removed = 0, prev = NULL): one scan
  // per CPU (a second call on the same CPU would reuse them)
  return func("deferred_split_scan", [
    lock,
    // Take pin on all head pages to avoid freeing them under us
    list_for_each_entry_safe(f, next, queue.split_queue, [
      if_(
        folio_try_get(f),
        [list_move(f._deferred_list, list)],
        [
          // We lost race with folio_put()
          clearPartiallyMapped(f, d, d.atomicFlag ?? false),
          list_del_init(f._deferred_list),
          counter_dec(queue.split_queue_len),
        ],
      ),
      nrToScanBreak(nrToScan),
    ]),
    unlock,
    list_for_each_entry_safe(f, next, list, [
      trySplit(f, didSplit, d, o),
      if_(
        step(
          (c, r) => `did_split -> ${boolResult(r)}`,
          (c) => c.m.get(didSplit.$off(c.m.b)) !== 0,
        ),
        [], // split_folio() removed it from the list
        [
          if_(
            folio_test_partially_mapped(f),
            o.safePrev
              ? [
                  // "That unlocked list_del_init() above would be unsafe, unless its folio is
                  // separated from any earlier folios left on the list (which may be
                  // concurrently unqueued) by one safe folio with refcount still raised."
                  step("swap(folio, prev)", (c) => {
                    const a = f.$off(c.m.b);
                    const b = prev.$off(c.m.b);
                    const t = c.m.get(a);
                    c.m.set(a, c.m.get(b));
                    c.m.set(b, t);
                  }),
                ]
              : [],
            [
              list_del_init(f._deferred_list), // UNLOCKED: the list is on our stack
              step("removed++", (c) => {
                c.m.set(removed.$off(c.m.b), c.m.get(removed.$off(c.m.b)) + 1);
              }),
            ],
          ),
        ],
      ),
      if_(
        step(
          (c, r) => `if (folio) -> ${boolResult(r)}`,
          (c) => c.m.get(f.$off(c.m.b)) !== NULL,
        ),
        [folio_put(f, d)],
      ),
    ]),
    lock,
    list_splice_tail(list, queue.split_queue),
    step("LIST_HEAD(list) goes out of scope", (c) => {
      // the on-stack head is dead after the splice (list_splice_tail does not re-initialise
      // it): forget its stale pointers, which nobody reads again
      const id = list.$node(c.m.b);
      const n = c.m.layout.nodes[id]!;
      c.m.b[n.nextOff] = id;
      c.m.b[n.prevOff] = id;
    }),
    step(
      (c) => {
        const v = c.m.b[queue.split_queue_len.$off(c.m.b)]!;
        const r = c.m.b[removed.$off(c.m.b)]!;
        return `${queue.split_queue_len.$name(c.m.b)} -= removed (${v} -> ${v - r})`;
      },
      (c) => addCounter(c, queue.split_queue_len, -c.m.get(removed.$off(c.m.b)), false),
      { raises: ["counter-underflow"] },
    ),
    unlock,
    ...(o.safePrev
      ? [
          if_(
            step(
              (c, r) => `if (prev) -> ${boolResult(r)}`,
              (c) => c.m.get(prev.$off(c.m.b)) !== NULL,
            ),
            [folio_put(prev, d)],
          ),
        ]
      : []),
  ]);
}

export interface ListLruScanOpts extends ScanOpts {
  /**
   * In deferred_split_isolate()'s lost-race branch, clear PG_partially_mapped BEFORE
   * list_lru_isolate(), as deferred_split_scan() did before the conversion (`else if
   * (folio_test_partially_mapped()) { clear } list_del_init()`). Default false: as posted in
   * seed 004, list_lru_isolate() first, then the flag.
   */
  readonly clearBeforeIsolate?: boolean;
}

/**
 * deferred_split_scan() on a list_lru (seed 004, "[PATCH v3 7/7] mm: switch deferred split
 * shrinker to list_lru", Johannes Weiner): list_lru_shrink_walk_irq() over the sublist of `sc`
 * with deferred_split_isolate() (folio_try_get() -> list_lru_isolate_move() onto the on-stack
 * `dispose` list, LRU_REMOVED; else "We lost race with folio_put()": list_lru_isolate() and
 * clear PG_partially_mapped, LRU_REMOVED); then, unlocked, per folio on `dispose`:
 * list_del_init(), try to split it, requeue with __list_lru_add() under the sublist lock when
 * not split and partially mapped, folio_put().
 *
 * Steps: the walk's as in list_lru.ts (the lock and first item one step, each callback
 * statement one step, the status and the next item one step); `dispose` is a CPU local that no
 * lock protects: the scanner's list_del_init from it is split into its pointer writes.
 */
export function deferred_split_scan_list_lru(
  lru: ListLruRef,
  sc: LruKey,
  d: DeferredSplit,
  Folio: RecordS,
  o: ListLruScanOpts,
): Stmt {
  const { f, next, didSplit } = scanCursor(Folio);
  const dispose = kernelLocal("dispose", listHead());
  const locals: LruWalkLocalsRef = {
    lru_l: kernelLocal("lru_l", int(-1, lru.sub.length - 1, -1)),
    lru_item: kernelLocal("lru_item", nodeptr()),
    lru_n: kernelLocal("lru_n", nodeptr()),
    lru_ret: kernelLocal("lru_ret", enumOf(LRU_STATUS)),
    lru_nr: kernelLocal("lru_nr", int(0, o.nrToScan)),
  };
  const clear = clearPartiallyMapped(f, d, d.atomicFlag ?? false);
  return func("deferred_split_scan", [
    list_lru_shrink_walk_irq(
      lru,
      sc,
      (w) => [
        func("deferred_split_isolate", [
          if_(
            folio_try_get(f),
            [w.isolateMove(dispose, "LRU_REMOVED")],
            // We lost race with folio_put()
            o.clearBeforeIsolate
              ? [clear, w.isolate("LRU_REMOVED")]
              : [w.isolate(), clear, w.ret("LRU_REMOVED")],
          ),
        ]),
      ],
      { locals, pos: f, nrToWalk: o.nrToScan, ...(d.mc ? { mc: d.mc } : {}) },
    ),
    list_for_each_entry_safe(f, next, dispose, [
      list_del_init(f._deferred_list), // UNLOCKED: dispose is on our stack
      trySplit(f, didSplit, d, o),
      if_(
        step(
          (c, r) => `!did_split && folio_test_partially_mapped(${nm(f, c)}) -> ${boolResult(r)}`,
          (c) => c.m.get(didSplit.$off(c.m.b)) === 0 && testPartiallyMapped(c, f),
          { raises: ["use-after-free"] },
        ),
        [requeue_deferred_split(f, d)],
      ),
      folio_put(f, d),
    ]),
  ]);
}

/**
 * split_huge_page(f) by a caller that holds a pin on f (its own reference, dropped by the
 * caller afterwards): folio_lock(f); a folio that is no longer large (split meanwhile) has
 * nothing to split; else __folio_split() (freeze at `expected`, default 1 + folio_mapped(): the
 * caller's pin and the mapping's reference); folio_unlock(f).
 */
export function split_huge_page(
  f: FolioRef,
  d: DeferredSplit,
  o: { expected?: number | ((c: Ctx) => number) } = {},
): Stmt {
  const expected =
    o.expected ?? ((c: Ctx): number => 1 + (c.m.b[f.mapped.$off(c.m.b)] !== 0 ? 1 : 0));
  return func("split_huge_page", [
    folio_lock(f),
    if_(
      step(
        (c, r) => `folio_test_large(${nm(f, c)}) -> ${boolResult(r)}`,
        (c) => {
          assertLive(c, f, "folio_test_large");
          return c.m.b[f.order.$off(c.m.b)]! > 0;
        },
        { raises: ["use-after-free"] },
      ),
      [__folio_split(f, d, { expected })],
    ),
    folio_unlock(f),
  ]);
}

/**
 * `if (folio_test_partially_mapped(folio)) { folio_clear_partially_mapped(folio);
 * mod_mthp_stat(order, MTHP_STAT_NR_ANON_PARTIALLY_MAPPED, -1); }` as one step (under the queue
 * lock in both callers); `atomic`: the clear is clear_bit() rather than __clear_bit().
 */
function clearPartiallyMapped(
  f: FolioRef,
  d: DeferredSplit,
  atomic: boolean,
  wasPm?: Ref<BoolS>,
): StepStmt {
  const stat = d.stat;
  return step(
    (c) =>
      f.partially_mapped.$test(c.m.b)
        ? `folio_clear_partially_mapped(${nm(f, c)}); mod_mthp_stat(-1)`
        : `folio_test_partially_mapped(${nm(f, c)}) -> false`,
    (c) => {
      const pm = testPartiallyMapped(c, f);
      if (pm) {
        writePartiallyMapped(c, f, false, atomic);
        if (stat) modMthpStat(c, stat, f, -1);
      }
      if (wasPm) c.m.set(wasPm.$off(c.m.b), pm ? 1 : 0);
    },
    { raises: ["use-after-free", "counter-underflow"] },
  );
}

/** `ds_queue->split_queue_len--` under the lock, with the double-unqueue check when asked. */
function unqueue_len(queue: DsQueueRef, f: FolioRef, d: DeferredSplit): StepStmt {
  return step(
    (c) => {
      const v = c.m.b[queue.split_queue_len.$off(c.m.b)]!;
      return `${queue.split_queue_len.$name(c.m.b)}-- (${v} -> ${v - 1})`;
    },
    (c) => {
      if (d.doubleUnqueue) checkDoubleUnqueue(c, f, queue);
      addCounter(c, queue.split_queue_len, -1, false);
    },
    { raises: d.doubleUnqueue ? ["double-unqueue", "counter-underflow"] : ["counter-underflow"] },
  );
}

// ---------------------------------------------------------------------------------------------
// The split of a PTE-mapped anon folio, page by page (seed 001: "[v1 resend 08/12] mm/thp: add
// split during migration support", Balbir Singh, July 2025, and its v2 20250730092139.3890844-8;
// the entry point the thread converged on, folio_split_unmapped(), Nov 2025
// "mm/huge_memory.c: introduce folio_split_unmapped"). Follows __folio_split() of v6.16 with the
// series' `unmapped` flag (v1: `isolated`), can_split_folio(), __split_unmapped_folio() and
// remap_page(), over the PTE table of pgtable.ts (PTE i maps page i of the folio array).
//
// Without the flag: folio_get_anon_vma() (-EBUSY when the folio is not mapped),
// anon_vma_lock_write(), can_split_folio() (-EAGAIN), unmap_folio(), folio_ref_freeze(1 +
// extra_pins = 1), __split_unmapped_folio(), remap_page(), the unlock and put of the new folios
// (the caller keeps the folio it passed), anon_vma_unlock_write(). With the flag (v2's
// `if (unmapped) return ret;`): no anon_vma, no unmap, no remap, and the new folios stay locked
// with the split's reference. folio_split_unmapped(): VM_WARN_ON_FOLIO(folio_mapped(folio))
// (`vm-warn-folio-mapped`, a warning), can_split_folio(), __folio_freeze_and_split_unmapped().
// __split_unmapped_folio() asserts that no PTE still maps a page of the folio
// (`split-of-mapped-folio`: that mapping would be in none of the new folios' counts); each new
// folio is order 0, locked, with one reference; the folio passed is unfrozen to 1.
//
// Steps: as listed, one step each (the PTE operations of unmap_folio/remap_page one per PTE).
// `ret` is the caller's int local (0, -EAGAIN, -EBUSY); the CPU's `anon_vma` local remembers
// whether the lock was taken.
//
// Left out: the deferred split queue (the folio is not queued: see __folio_split above for that
// part), the page cache and swap cache (extra_pins = 0), split to an order above 0, the PMD
// level, the anon_vma reference count, the LRU.

export const EAGAIN = 11;
export const EBUSY = 16;

const retText = (v: number): string => (v === 0 ? "0" : v === -EAGAIN ? "-EAGAIN" : "-EBUSY");
const setRet = (ret: Ref<IntS>, v: number): StepStmt =>
  stepS(`ret = ${retText(v)}`, (c) => {
    c.m.set(ret.$off(c.m.b), v);
  });
const pageName = (pages: Pages, x: number, b: Int32Array): string =>
  pages[x]!._refcount.$name(b).replace(/(\.|->)_refcount$/, "");
/** The pages of folio x (x itself and its tail pages) in the build-time layout: x .. x + 2^order - 1. */
const tailsOf = (pages: Pages, x: number, b: Int32Array): number[] => {
  const out: number[] = [];
  for (let j = x + 1; j < pages.length && b[pages[j]!.is_tail.$off(b)] !== 0; j++) out.push(j);
  return out;
};

/**
 * can_split_folio(folio x, caller_pins = 1, &extra_pins) as a condition: folio_mapcount(folio)
 * == folio_ref_count(folio) - extra_pins - caller_pins (anon: extra_pins 0).
 */
export function can_split_folio(pages: Pages, x: number, callerPins = 1): StepStmt {
  const f = pages[x]!;
  return stepS(
    (c, r) => {
      const b = c.m.b;
      return `can_split_folio(${pageName(pages, x, b)}, ${callerPins}): mapcount ${b[f.mapcount.$off(b)]} == ${b[f._refcount.$off(b)]} - 0 - ${callerPins} -> ${r ? "true" : "false"}`;
    },
    (c) => {
      assertLive(c, f, "can_split_folio");
      const mc = c.m.getMarked(f.mapcount.$off(c.m.b));
      return mc === c.m.getMarked(f._refcount.$off(c.m.b)) - 0 - callerPins;
    },
    { raises: ["use-after-free"] },
  );
}

/**
 * __split_unmapped_folio(folio x) of a frozen folio: `split-of-mapped-folio` if a PTE still maps
 * one of its pages; each tail page becomes an order-0 folio, locked, with one reference; then
 * folio_ref_unfreeze(x, 1).
 */
export function __split_unmapped_folio(pt: Ptes, pages: Pages, x: number): Stmt[] {
  return [
    stepS(
      (c) => {
        const n = tailsOf(pages, x, c.m.b).map((j) => pageName(pages, j, c.m.b));
        return `__split_unmapped_folio(${pageName(pages, x, c.m.b)}): ${[pageName(pages, x, c.m.b), ...n].join(", ")} order 0; ${n.join(", ")} locked, folio_ref_unfreeze(${n.join(", ")}, 1)`;
      },
      (c) => {
        const b = c.m.b;
        const tails = tailsOf(pages, x, b);
        for (const i of [x, ...tails]) {
          if (c.m.getMarked(pt[i]!.state.$off(b)) === PRESENT)
            throw new SplitViolation(
              "split-of-mapped-folio",
              `__split_unmapped_folio(${pageName(pages, x, b)}) while pte${i} still maps page ${i} (present): the mapping is in none of the new folios' counts`,
            );
        }
        c.m.set(pages[x]!.order.$off(b), 0);
        for (const j of tails) {
          const t = pages[j]!;
          c.m.set(t.order.$off(b), 0);
          c.m.setMarked(t.is_tail.$off(b), 0);
          c.m.setMarked(t.flags.$off(b), c.m.getMarked(t.flags.$off(b)) | t.locked.$mask);
          c.m.setMarked(t._refcount.$off(b), 1);
          c.m.setMarked(t.mapcount.$off(b), 0);
        }
      },
      { raises: ["split-of-mapped-folio"] },
    ),
    refUnfreeze(pages[x]!, 1),
  ];
}

/** remap_page(folio x): remove_migration_ptes() for every folio the split produced (every PTE). */
export function remap_page(pt: Ptes, pages: Pages): Stmt {
  return fn(
    "remap_page",
    Array.from({ length: pt.length }, (_, i) =>
      removeMigrationPte(pt, pages, i, undefined, "remove_migration_ptes"),
    ),
  );
}

/**
 * `ret = __split_huge_page_to_list_to_order(page of folio x, NULL, 0, unmapped)` ->
 * __folio_split(): with `unmapped` (the series' flag) the anon_vma lock, unmap_folio(),
 * remap_page() and the unlock/put of the new folios are skipped; without it, the normal split
 * of a mapped anon folio. The caller holds x locked with one reference.
 */
export function __split_huge_page_to_list_to_order(
  pt: Ptes,
  pages: Pages,
  av: AnonVmaRef,
  x: number,
  ret: Ref<IntS>,
  opts: { unmapped: boolean },
): Stmt {
  const flag = opts.unmapped;
  const f = pages[x]!;
  const tailOps = (op: (t: FolioRef) => Stmt): Stmt[] => {
    // the new folios are the pages that are tail pages at build time
    const out: Stmt[] = [];
    for (let j = x + 1; j < pages.length; j++) out.push(op(pages[j]!));
    return out;
  };
  const name = `__folio_split(${pagesLabel(pages, x)}${flag ? ", unmapped=true" : ""})`;
  return fn(name, [
    ...(flag
      ? []
      : [
          ifS(
            stepS(
              (_c, r) =>
                `anon_vma = folio_get_anon_vma(${pagesLabel(pages, x)}) -> ${r ? "NULL (not mapped)" : "anon_vma"}`,
              (c) => c.m.getMarked(f.mapcount.$off(c.m.b)) === 0,
            ),
            [setRet(ret, -EBUSY), returnS()],
          ),
          avLockWrite(av),
        ]),
    ifS(can_split_folio(pages, x, 1), [], [setRet(ret, -EAGAIN), gotoStmt("out_unlock")]),
    ...(flag ? [] : [unmapFolioPtes(pt, pages, x)]),
    // spin_lock(&ds_queue->split_queue_lock): the folio is on no deferred split queue here
    ifS(
      refFreeze(f, 1),
      [
        ...__split_unmapped_folio(pt, pages, x),
        ...(flag
          ? [setRet(ret, 0)] // v2: `if (unmapped) return ret;`: no remap, new folios stay locked
          : [
              remap_page(pt, pages),
              ...tailOps((t) => unlockFolio(t)),
              ...tailOps((t) => putFolio(t)),
              setRet(ret, 0),
            ]),
      ],
      [...(flag ? [] : [remap_page(pt, pages)]), setRet(ret, -EAGAIN)],
    ),
    labelStmt("out_unlock"),
    // if (anon_vma) { anon_vma_unlock_write(anon_vma); put_anon_vma(anon_vma); }: an anon
    // folio that got here without the flag has its anon_vma (the -EBUSY path returned)
    ...(flag ? [] : [avUnlockWrite(av)]),
  ]);
}

function pagesLabel(pages: Pages, x: number): string {
  const lbl = pages.$schema.label;
  return lbl ? lbl(x) : `folio[${x}]`;
}

/**
 * `ret = folio_split_unmapped(folio x, 0)`: VM_WARN_ON_FOLIO(folio_mapped(folio)) (a warning:
 * the splat is printed and the split goes on), can_split_folio() (-EAGAIN), then
 * __folio_freeze_and_split_unmapped(): freeze, split; the new folios stay locked, not remapped.
 */
export function folio_split_unmapped(pt: Ptes, pages: Pages, x: number, ret: Ref<IntS>): Stmt {
  const f = pages[x]!;
  return fn(`folio_split_unmapped(${pagesLabel(pages, x)}, 0)`, [
    stepS(
      (c) =>
        `VM_WARN_ON_FOLIO(folio_mapped(${pagesLabel(pages, x)})) (mapcount ${c.m.b[f.mapcount.$off(c.m.b)]})`,
      (c) => {
        const mc = c.m.getMarked(f.mapcount.$off(c.m.b));
        if (mc !== 0)
          c.m.warn(
            "vm-warn-folio-mapped",
            `VM_WARN_ON_FOLIO(folio_mapped(${pagesLabel(pages, x)})): ${pagesLabel(pages, x)} is mapped ${mc} time(s)`,
          );
      },
      { raises: [{ name: "vm-warn-folio-mapped", severity: "warn" }] },
    ),
    ifS(can_split_folio(pages, x, 1), [], [setRet(ret, -EAGAIN), returnS()]),
    fn("__folio_freeze_and_split_unmapped", [
      ifS(
        refFreeze(f, 1),
        [...__split_unmapped_folio(pt, pages, x), setRet(ret, 0)],
        [setRet(ret, -EAGAIN)],
      ),
    ]),
  ]);
}
