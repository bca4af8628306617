// The deferred split queue of mm/huge_memory.c: struct deferred_split, the queue lookup,
// deferred_split_folio(), __folio_unqueue_deferred_split() / folio_unqueue_deferred_split(),
// reparent_deferred_split_queue(), and the deferred-split part of __folio_split().
//
// Follows mm/huge_memory.c of v6.18 (Qi Zheng's "per-memcg deferred split queue" locking,
// as quoted in seed 004's removed lines: split_queue_lock() walks to the parent while the memcg
// is dying, folio_split_queue_memcg() names the memcg owning the locked queue) and, with
// `lookup: "get_deferred_split_queue"`, v6.12..v6.17 (`ds_queue = get_deferred_split_queue(folio)`
// then `spin_lock_irqsave(&ds_queue->split_queue_lock)`). Both evaluate the queue ONCE into the
// CPU's local `ds_queue` (see kernelLocal()): the lock and the unlock use that local, so a folio
// whose memcg changes in between (migration's mem_cgroup_migrate()) unlocks the queue it locked.
//
// Steps: the lookup+lock is one step (enabled while that queue's lock is free), each
// `memcg_is_dying()` retry one step; under the lock, the flag update is one step, the
// `list_empty()` test one, the list_add_tail one (the list primitive: atomic, its lock is held),
// `split_queue_len++` with set_shrinker_bit one, the unlock one. Unqueue: the unlocked
// `data_race(list_empty())` test, lock, `!list_empty` test, the accounting step
// (split_queue_len--, clear the flag and the statistic), list_del_init, unlock.
//
// Raises: `warn-partially-mapped` (VM_WARN_ON_FOLIO(folio_test_partially_mapped(folio), folio)
// in deferred_split_folio(folio, false): "partially mapped folios cannot become non-partially
// mapped"), `use-after-free`, `counter-underflow`, `double-unqueue` (opt-in), `bad-unlock`,
// `memcg-use-after-free`.
//
// Left out: the swapcache early return (folio_test_swapcache), the THP_DEFERRED_SPLIT_PAGE and
// MTHP_STAT_SPLIT_DEFERRED events (only NR_ANON_PARTIALLY_MAPPED is kept), rcu_read_lock (memcg
// lifetime is the ghost `freed` bit instead), unmap_folio()/remap_page() and the page cache
// part of __folio_split (its freeze counts the mapping as one reference).

import {
  boolResult,
  break_,
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
import { Ref } from "../model/ref.ts";
import {
  array,
  bool,
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
  type PtrS,
  type RecordS,
  type Schema,
} from "../model/schema.ts";
import { ModelError } from "../rt/mem.ts";
import {
  list_add_tail,
  list_del_init,
  list_for_each_entry_safe,
  list_nonempty,
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
  counter_inc,
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
  folioBatch,
  folio_batch_add,
  folio_batch_for_each,
  folio_batch_full,
  folio_batch_reinit,
  folios_put,
  PAGEVEC_SIZE,
  type FolioBatchRef,
} from "./pagevec.ts";

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

/** Which queue a folio belongs to, and the statistics the queue ops maintain. */
export interface DeferredSplit {
  /**
   * One fixed queue (a model with a single per-node queue), or every queue of the model
   * (splitQueues()), looked up per folio into the CPU's `ds_queue` local.
   */
  readonly queue: DsQueueRef | SplitQueuesRef;
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

function isSplitQueues(q: DsQueueRef | SplitQueuesRef): q is SplitQueuesRef {
  return "node" in q && "memcg" in q;
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
  const r0 = pick(qs.node[0]!);
  return new Ref<S>(
    r0.$schema,
    r0.$lay,
    (b) => at(b).$off(b),
    (b) => at(b).$name(b),
    -1,
    text,
  );
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
  const queue = q ?? (isSplitQueues(d.queue) ? undefined : d.queue);
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
  const q = l.q;
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
  body.push(
    if_(
      step(
        (c, r) => `list_empty(&${nm(f, c)}._deferred_list) -> ${boolResult(r)}`,
        (c) => {
          assertLive(c, f, "deferred_split_folio");
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
              (memcg >= 0 && d.mc ? `; set_shrinker_bit(${memcgName(memcg)}, ${l.nidOf(c)})` : "")
            );
          },
          (c) => {
            addCounter(c, q.split_queue_len, 1, false);
            const memcg = l.memcgOf(c);
            if (memcg >= 0 && d.mc) setShrinkerBit(c, d.mc, memcg, l.nidOf(c));
          },
          { raises: ["counter-underflow", "memcg-use-after-free"] },
        ),
      ],
    ),
    l.unlock,
  );
  return func("deferred_split_folio", body);
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
  const freeze = step(
    (c, r) =>
      `folio_ref_freeze(${nm(f, c)}, ${expected(c)}) -> ${r ? "true" : `false (_refcount ${c.m.b[f._refcount.$off(c.m.b)]})`}`,
    (c) => {
      assertLive(c, f, "folio_ref_freeze");
      const off = f._refcount.$off(c.m.b);
      if (c.m.getMarked(off) !== expected(c)) return false;
      c.m.setMarked(off, 0);
      return true;
    },
    { raises: ["use-after-free"] },
  );
  const dequeue: Stmt[] =
    o.clearFlag === "queued"
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
          ]),
          clearPartiallyMapped(f, d, d.atomicFlag ?? false),
        ];
  const split = step(
    (c) => `__split_unmapped_folio(${nm(f, c)}); folio_ref_unfreeze(${nm(f, c)}, ${expected(c)})`,
    (c) => {
      c.m.set(f.order.$off(c.m.b), 0);
      c.m.setMarked(f._refcount.$off(c.m.b), expected(c));
    },
  );
  if (o.order === "freeze-then-lock") {
    return func("__folio_split", [
      if_(freeze, [...l.lock, ...dequeue, l.unlock, split, ...(o.ok ?? [])], [...(o.fail ?? [])]),
    ]);
  }
  return func("__folio_split", [
    ...l.lock,
    if_(freeze, [...dequeue, l.unlock, split, ...(o.ok ?? [])], [l.unlock, ...(o.fail ?? [])]),
  ]);
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
  return func("requeue", [
    ...l.lock,
    if_(
      step(
        (c, r) => `list_empty(&${nm(f, c)}._deferred_list) -> ${boolResult(r)}`,
        (c) => {
          const id = f._deferred_list.$node(c.m.b);
          return c.m.getMarked(c.m.layout.nodes[id]!.nextOff) === id;
        },
      ),
      [list_add_tail(f._deferred_list, l.q.split_queue), counter_inc(l.q.split_queue_len)],
    ),
    l.unlock,
  ]);
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
  const f = kernelLocal("folio", ptr(Folio)) as unknown as Ref<PtrS> & FolioRef;
  const next = kernelLocal("next", nodeptr());
  const didSplit = kernelLocal("did_split", bool());
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
          unqueue_len(queue, f, d),
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

/**
 * `if (folio_test_partially_mapped(folio)) { folio_clear_partially_mapped(folio);
 * mod_mthp_stat(order, MTHP_STAT_NR_ANON_PARTIALLY_MAPPED, -1); }` as one step (under the queue
 * lock in both callers); `atomic`: the clear is clear_bit() rather than __clear_bit().
 */
function clearPartiallyMapped(f: FolioRef, d: DeferredSplit, atomic: boolean): StepStmt {
  const stat = d.stat;
  return step(
    (c) =>
      f.partially_mapped.$test(c.m.b)
        ? `folio_clear_partially_mapped(${nm(f, c)}); mod_mthp_stat(-1)`
        : `folio_test_partially_mapped(${nm(f, c)}) -> false`,
    (c) => {
      if (testPartiallyMapped(c, f)) {
        writePartiallyMapped(c, f, false, atomic);
        if (stat) modMthpStat(c, stat, f, -1);
      }
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
