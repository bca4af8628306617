// struct list_lru (include/linux/list_lru.h, mm/list_lru.c, v6.13+ locking): per NUMA node x
// memcg sublists (struct list_lru_one: lock, list, nr_items), the per-node atomic count
// (nlru->nr_items), and
//  - list_lru_add / list_lru_del: lock_list_lru_of_memcg() (walks up to the parent while the
//    memcg's sublist is dead, i.e. reparented after the memcg started dying), then add at the
//    tail if list_empty(item) / list_del_init if not, nr_items±1; return whether they changed
//    anything. Each is ONE step: its lock is taken and released inside it (the step is enabled
//    only while that lock is free), so nothing can interleave inside the critical section.
//  - list_lru_lock / __list_lru_add / __list_lru_del / list_lru_unlock for callers that hold
//    the sublist lock across several steps.
//  - __list_lru_walk_one (list_lru_walk_one(_irq), list_lru_shrink_walk(_irq)): locks one
//    sublist, list_for_each_safe over it, decrementing nr_to_walk, and calls the model's isolate
//    callback per item; the callback uses list_lru_isolate / list_lru_isolate_move and returns
//    LRU_REMOVED / LRU_REMOVED_RETRY / LRU_ROTATE / LRU_SKIP / LRU_RETRY / LRU_STOP with the
//    kernel's meaning (RETRY, REMOVED_RETRY and STOP: the callback dropped the lock; RETRY and
//    REMOVED_RETRY restart from the lookup, STOP returns).
//  - __list_lru_init (memcg_aware, and the fix from seed 004 that turns it off when
//    mem_cgroup_disabled()), folio_memcg_list_lru_alloc (dereferences the folio's memcg when the
//    list_lru is memcg-aware: NULL when memory cgroups are disabled), memcg_reparent_list_lrus.
//
// Shrinker bits: list_lru_add / __list_lru_add set the bit of a memcg when its sublist goes from
// empty to one item (see ShrinkerBitOwner for whose), memcg_reparent_list_lrus sets the
// parent's bit when it moved items, and list_lru_shrink_walk_memcgs walks only the memcgs whose
// bit is set (shrink_slab()). They need the memcg tree (opts.mc).
//
// Left out: xarray allocation (every sublist exists from the
// start; "dead" marks a reparented one), RCU, list_lru_walk_node's loop over all memcgs, the
// separate unlock/atomic_long_inc steps of list_lru_add (folded into its one step), and the
// kmemcg id of the root memcg (memcg i uses sublist memcg[i]; NULL uses node[nid].lru).

import { boolResult, func, loop, step, type Ctx, type Stmt, type StepStmt } from "../model/dsl.ts";
import { Ref, refVia } from "../model/ref.ts";
import {
  array,
  bool,
  enumOf,
  int,
  listHead,
  listNode,
  nodeptr,
  record,
  spinlock,
  protectedBy,
  SchemaError,
  type ArrayS,
  type BoolS,
  type EnumS,
  type IntS,
  type ListHeadS,
  type LockS,
  type NodePtrS,
  type PtrS,
  type RecordS,
} from "../model/schema.ts";
import { NULL } from "../model/layout.ts";
import { ModelError, Violation, wrongLockMessage } from "../rt/mem.ts";
import {
  containerOf,
  headOf,
  listAddNow,
  listDelInitNow,
  listLength,
  listMoveNow,
  listSpliceInitNow,
  type ListRef,
} from "./list.ts";
import { spin_lock, spin_unlock } from "./spinlock.ts";
import { foldedHold } from "./lockdep.ts";
import type { FolioRef } from "./folio.ts";
import { folioName } from "./folio.ts";
import {
  checkMemcg,
  folioMemcg,
  setShrinkerBit,
  shrink_slab,
  memcgDisabled,
  memcgName,
  parentMemcg,
  type MemcgsRef,
} from "./memcg.ts";
import type { Fields } from "../model/schema.ts";
import type { ModelBuilder, World } from "../model/model.ts";
import { if_ as ifStmt, return_ as returnStmt } from "../model/dsl.ts";
import { kernelLocal } from "../model/model.ts";
import {
  get_mem_cgroup_from_folio,
  memcgIsDying,
  memcgIsRoot,
  memcgKmemDisabled,
  memcgParentOf,
  mem_cgroup_put,
} from "./memcg.ts";

// ---------------------------------------------------------------------------------------------
// Schema

export type ListLruOneFields = { lock: LockS; list: ListHeadS; nr_items: IntS; dead: BoolS };
export type ListLruFields = {
  memcg_aware: BoolS;
  /** nlru->nr_items per node (atomic_long_t). */
  nr_items: ArrayS<IntS>;
  /**
   * Sublists, named as in the kernel: index nid is `lru->node[nid].lru` (not memcg-aware, or a
   * NULL memcg), index (1 + memcg) * nodes + nid is memcg's `lru.memcgM.node[nid]`.
   */
  sub: ArrayS<RecordS<ListLruOneFields>>;
};

export interface ListLruOpts {
  /** NUMA nodes (default 1). */
  nodes?: number;
  /** Memcgs with their own sublists (default 0: a list_lru that is not memcg-aware). */
  memcgs?: number;
  /** Largest nr_items of one sublist (default 4). */
  maxItems?: number;
  /** Initial memcg_aware (default: memcgs > 0); __list_lru_init() can set it at run time. */
  memcgAware?: boolean;
  /** The name of the field the list_lru is stored in, for the sublist names (default "lru"). */
  name?: string;
}

const shapes = new WeakMap<RecordS, { nodes: number; memcgs: number; name: string }>();

/** A list_lru: `deferred_split_lru: listLru({ memcgs: 2, name: "deferred_split_lru" })`. */
export function listLru(opts: ListLruOpts = {}): RecordS<ListLruFields> {
  const nodes = opts.nodes ?? 1;
  const memcgs = opts.memcgs ?? 0;
  const maxItems = opts.maxItems ?? 4;
  const name = opts.name ?? "lru";
  if (!Number.isInteger(nodes) || nodes < 1 || !Number.isInteger(memcgs) || memcgs < 0) {
    throw new SchemaError(
      `listLru({ nodes: ${nodes}, memcgs: ${memcgs} }): needs nodes >= 1 and memcgs >= 0`,
    );
  }
  const one = record(
    {
      lock: spinlock(),
      list: listHead({ lock: "lock" }),
      // l->nr_items is updated under l->lock (list_lru_count_one reads it with READ_ONCE)
      nr_items: protectedBy(int(0, maxItems), "lock"),
      dead: bool(false),
    },
    "list_lru_one",
  );
  const label = (k: number): string => {
    const nid = k % nodes;
    const slot = Math.floor(k / nodes);
    return slot === 0 ? `${name}.node[${nid}].lru` : `${name}.memcg${slot - 1}.node[${nid}]`;
  };
  const r = record(
    {
      memcg_aware: bool(opts.memcgAware ?? memcgs > 0),
      nr_items: array(nodes, int(0, maxItems * (memcgs + 1)), {
        label: (i) => `${name}.node[${i}].nr_items`,
      }),
      sub: array(nodes * (memcgs + 1), one, { label }),
    },
    "list_lru",
  );
  shapes.set(r, { nodes, memcgs, name });
  return r;
}

export interface ListLruOneRef {
  readonly lock: Ref<LockS>;
  readonly list: Ref<ListHeadS>;
  readonly nr_items: Ref<IntS>;
  readonly dead: Ref<BoolS>;
}

export interface ListLruRef {
  readonly memcg_aware: Ref<BoolS>;
  readonly nr_items: { readonly length: number; readonly [i: number]: Ref<IntS> };
  readonly sub: { readonly length: number; readonly [i: number]: ListLruOneRef };
  readonly $schema: RecordS;
}

function shapeOf(lru: ListLruRef): { nodes: number; memcgs: number; name: string } {
  const s = shapes.get(lru.$schema);
  if (!s) throw new Error("list_lru: the ref given is not a listLru() of the model");
  return s;
}

/** All sublists' list heads (for the catalogue: queues, list integrity). */
export function lruLists(lru: ListLruRef): ListRef[] {
  const out: ListRef[] = [];
  for (let k = 0; k < lru.sub.length; k++) out.push(lru.sub[k]!.list);
  return out;
}

/** The sublist of (nid, memcg) in a memcg-aware list_lru, or node[nid].lru for memcg = -1. */
export function lruSub(lru: ListLruRef, nid: number, memcg: number): ListLruOneRef {
  const { nodes } = shapeOf(lru);
  return lru.sub[(memcg + 1) * nodes + nid]!;
}

// ---------------------------------------------------------------------------------------------
// Which sublist: (nid, memcg) of an item

/** Where an item goes: its node and memcg, evaluated in the current state. */
export interface LruKey {
  readonly nid: (c: Ctx) => number;
  readonly memcg: (c: Ctx) => number;
  readonly text: string;
}

const valueOf = (v: number | Ref<IntS>) => (c: Ctx) =>
  typeof v === "number" ? v : c.m.b[v.$off(c.m.b)]!;

/** A key from numbers or int refs (e.g. CPU locals holding nid and memcg; -1 = NULL memcg). */
export function lruKey(nid: number | Ref<IntS>, memcg: number | Ref<IntS> = -1): LruKey {
  const t = (v: number | Ref<IntS>): string =>
    typeof v === "number" ? String(v) : v.$text.replace(/^l\./, "");
  return { nid: valueOf(nid), memcg: valueOf(memcg), text: `nid ${t(nid)}, memcg ${t(memcg)}` };
}

/** folio_nid(f), folio_memcg(f) (NULL when memory cgroups are disabled, if `mc` is given). */
export function lruKeyOfFolio(f: FolioRef, mc?: MemcgsRef): LruKey {
  return {
    nid: (c) => c.m.b[f.nid.$off(c.m.b)]!,
    memcg: (c) => (mc && memcgDisabled(c, mc) ? -1 : c.m.b[f.memcg.$off(c.m.b)]!),
    text: "folio_nid(folio), folio_memcg(folio)",
  };
}

/**
 * lock_list_lru_of_memcg()'s lookup: the sublist index for the key, walking to the parent
 * memcg while the sublist is dead; with skipEmpty, -1 instead of walking.
 */
function resolve(
  c: Ctx,
  lru: ListLruRef,
  key: LruKey,
  mc: MemcgsRef | undefined,
  skipEmpty: boolean,
): number {
  const { nodes, memcgs } = shapeOf(lru);
  const b = c.m.b;
  const nid = key.nid(c);
  if (nid < 0 || nid >= nodes) {
    throw new ModelError(
      "E_LRU_NID",
      `list_lru ${shapeOf(lru).name}: node id ${nid} is outside 0..${nodes - 1}`,
    );
  }
  let memcg = key.memcg(c);
  const aware = b[lru.memcg_aware.$off(b)] !== 0;
  for (let guard = 0; guard <= memcgs + 1; guard++) {
    if (!aware || memcg < 0) return nid;
    if (memcg >= memcgs) {
      throw new ModelError(
        "E_LRU_MEMCG",
        `list_lru ${shapeOf(lru).name}: memcg ${memcg} has no sublist (declared memcgs: ${memcgs})`,
        "raise listLru({ memcgs })",
      );
    }
    const k = (memcg + 1) * nodes + nid;
    if (b[lru.sub[k]!.dead.$off(b)] === 0) return k;
    if (skipEmpty) return -1;
    if (!mc) {
      throw new ModelError(
        "E_LRU_MEMCG",
        `list_lru ${shapeOf(lru).name}: the sublist of memcg${memcg} is dead (reparented) and no memcg tree was given to find its parent`,
        "pass { mc: m.s.memcgs } to the list_lru operation",
      );
    }
    memcg = parentMemcg(c, mc, memcg);
  }
  throw new ModelError(
    "E_LRU_MEMCG",
    `list_lru ${shapeOf(lru).name}: the memcg hierarchy has a cycle`,
  );
}

const subName = (lru: ListLruRef, k: number, b: Int32Array): string =>
  lru.sub[k]!.list.$name(b).replace(/\.list$/, "");

function lockGuard(lru: ListLruRef, key: LruKey, mc: MemcgsRef | undefined, skipEmpty: boolean) {
  return {
    guard: (c: Ctx): boolean => {
      const k = resolve(c, lru, key, mc, skipEmpty);
      return k < 0 || c.m.b[lru.sub[k]!.lock.$off(c.m.b)] === -1;
    },
    waitsFor: (c: Ctx): string => {
      const k = resolve(c, lru, key, mc, skipEmpty);
      const h = c.m.b[lru.sub[k]!.lock.$off(c.m.b)]!;
      return `${subName(lru, k, c.m.b)}.lock, held by CPU${h}${h === c.cpu ? " itself" : ""}`;
    },
  };
}

function holdOrThrow(c: Ctx, l: ListLruOneRef, fn: string): void {
  const b = c.m.b;
  const h = b[l.lock.$off(b)]!;
  if (h !== c.cpu) {
    throw new Violation(
      "list-lru-unlocked",
      `${fn}: CPU${c.cpu} does not hold ${l.lock.$name(b)} (${h < 0 ? "unlocked" : `held by CPU${h}`})`,
    );
  }
}

function emptyNow(c: Ctx, id: number): boolean {
  return c.m.getMarked(c.m.layout.nodes[id]!.nextOff) === id;
}

/**
 * The memcg whose shrinker bit list_lru_add sets when the sublist goes from empty to one item:
 * "locked" (default), the memcg owning the sublist that got the item (after
 * lock_list_lru_of_memcg() walked up past a dying memcg: the list_lru series' v4 `&memcg`);
 * "passed", the memcg the caller passed in (v6.13..v6.18 and the series' v3: the bit lands on
 * the dying child while the item sits on the parent's sublist).
 */
export type ShrinkerBitOwner = "locked" | "passed";

/** The memcg (-1 for none) and node of sublist k. */
export function subOwner(lru: ListLruRef, k: number): { memcg: number; nid: number } {
  const { nodes } = shapeOf(lru);
  return { memcg: Math.floor(k / nodes) - 1, nid: k % nodes };
}

function addLocked(
  c: Ctx,
  lru: ListLruRef,
  k: number,
  item: number,
  bits?: { mc: MemcgsRef | undefined; owner: ShrinkerBitOwner; passed: number },
): boolean {
  if (!emptyNow(c, item)) return false;
  const l = lru.sub[k]!;
  const b = c.m.b;
  listAddNow(c, item, l.list.$node(b), true);
  const off = l.nr_items.$off(b);
  const before = c.m.get(off);
  c.m.set(off, before + 1);
  // "Set shrinker bit if the first element was added"
  if (before === 0 && bits?.mc) {
    const own = subOwner(lru, k);
    const memcg = bits.owner === "locked" ? own.memcg : bits.passed;
    setShrinkerBit(c, bits.mc, memcg, own.nid);
  }
  const { nodes } = shapeOf(lru);
  const n = lru.nr_items[k % nodes]!.$off(b);
  c.m.setMarked(n, c.m.getMarked(n) + 1);
  return true;
}

function delLocked(c: Ctx, lru: ListLruRef, k: number, item: number, fn: string): boolean {
  if (emptyNow(c, item)) return false;
  const l = lru.sub[k]!;
  // lockdep: the item must be on the sublist whose lock this operation holds
  const m = c.m;
  const on = headOf(m, item);
  const sublist = l.list.$node(m.b);
  const n = on >= 0 ? m.layout.nodes[on] : undefined;
  if (m.ld && n && on !== sublist && n.lockOff >= 0 && n.protects) {
    const held = [l.lock.$name(m.b), ...m.heldBy(c.cpu)];
    m.report(
      "wrong-lock",
      wrongLockMessage(
        `${fn}(&${m.layout.nodeName(item)}) on ${n.name}`,
        m.layout.fields[n.lockOff]!.name,
        c.cpu,
        held,
      ),
    );
  }
  listDelInitNow(c, item);
  decNr(c, l.nr_items, fn);
  const { nodes } = shapeOf(lru);
  decNr(c, lru.nr_items[k % nodes]!, fn, true);
  return true;
}

function decNr(c: Ctx, r: Ref<IntS>, fn: string, marked = false): void {
  const off = r.$off(c.m.b);
  const v = marked ? c.m.getMarked(off) : c.m.get(off);
  if (v <= 0) {
    throw new Violation(
      "counter-underflow",
      `${fn}: ${r.$name(c.m.b)} is already 0 (the item was on another list)`,
    );
  }
  if (marked) c.m.setMarked(off, v - 1);
  else c.m.set(off, v - 1);
}

// ---------------------------------------------------------------------------------------------
// list_lru_add / list_lru_del

export interface LruOpOpts {
  /**
   * The memcg tree, needed to walk to a parent from a dead sublist, for folio keys, and for the
   * shrinker bits (list_lru_add sets one only when it is given).
   */
  mc?: MemcgsRef;
  /** Whose shrinker bit list_lru_add sets (see ShrinkerBitOwner; default "locked"). */
  shrinkerBit?: ShrinkerBitOwner;
}

/** One locked list_lru operation on `item` as a condition step, labelled `fn(sublist, &item) -> r`. */
function lruCondition(
  fn: "list_lru_add" | "list_lru_del",
  lru: ListLruRef,
  item: ListRef,
  key: LruKey,
  opts: LruOpOpts,
  run: (c: Ctx, sub: number, node: number) => boolean,
  raises: readonly string[],
): StepStmt {
  return step(
    (c, r) => {
      const k = resolve(c, lru, key, opts.mc, false);
      return `${fn}(${subName(lru, k, c.m.b)}, &${item.$name(c.m.b)}) -> ${boolResult(r)}`;
    },
    (c) => {
      // lock, operate, unlock in one step: the lock word is written both ways, so that the
      // race check sees the accesses made under the sublist lock
      const k = resolve(c, lru, key, opts.mc, false);
      const lockOff = lru.sub[k]!.lock.$off(c.m.b);
      c.m.setMarked(lockOff, c.cpu);
      const r = run(c, k, item.$node(c.m.b));
      c.m.setMarked(lockOff, -1);
      return r;
    },
    { ...lockGuard(lru, key, opts.mc, false), raises },
  );
}

/** list_lru_add(lru, item, nid, memcg) as a condition: true when the item was added. */
export const list_lru_add = (
  lru: ListLruRef,
  item: ListRef,
  key: LruKey,
  opts: LruOpOpts = {},
): StepStmt =>
  lruCondition(
    "list_lru_add",
    lru,
    item,
    key,
    opts,
    (c, k, node) =>
      addLocked(c, lru, k, node, {
        mc: opts.mc,
        owner: opts.shrinkerBit ?? "locked",
        passed: key.memcg(c),
      }),
    ["list-corruption", "memcg-use-after-free"],
  );

/** list_lru_del(lru, item, nid, memcg) as a condition: true when the item was removed. */
export const list_lru_del = (
  lru: ListLruRef,
  item: ListRef,
  key: LruKey,
  opts: LruOpOpts = {},
): StepStmt =>
  lruCondition(
    "list_lru_del",
    lru,
    item,
    key,
    opts,
    (c, k, node) => delLocked(c, lru, k, node, "list_lru_del"),
    ["list-corruption", "counter-underflow"],
  );

/** list_lru_add_obj-style helpers for folios: the folio's node and memcg pick the sublist. */
export const list_lru_add_folio = (lru: ListLruRef, f: FolioRef, opts: LruOpOpts = {}): StepStmt =>
  list_lru_add(lru, f._deferred_list, lruKeyOfFolio(f, opts.mc), opts);
export const list_lru_del_folio = (lru: ListLruRef, f: FolioRef, opts: LruOpOpts = {}): StepStmt =>
  list_lru_del(lru, f._deferred_list, lruKeyOfFolio(f, opts.mc), opts);

/** The sublist a CPU holds locked, kept in an int local `l` (int(-1, lru.sub.length - 1)). */
function heldSub(lru: ListLruRef, l: Ref<IntS>, c: Ctx, fn: string): number {
  const k = c.m.b[l.$off(c.m.b)]!;
  if (k < 0 || k >= lru.sub.length) {
    throw new ModelError(
      "E_LRU_LOCAL",
      `${fn}: ${l.$text} holds no sublist (${k}); call list_lru_lock() first`,
    );
  }
  return k;
}

/** Sublist index local for list_lru_lock (put it in the thread's locals). */
export function lruSubLocal(lru: RecordS<ListLruFields>): IntS {
  return int(-1, lru.fields.sub.length - 1, -1);
}

/** `l = lock_list_lru_of_memcg(lru, nid, memcg)`: blocks until the sublist's lock is free, takes it. */
export function list_lru_lock(
  lru: ListLruRef,
  key: LruKey,
  l: Ref<IntS>,
  opts: LruOpOpts & { fn?: string } = {},
): StepStmt {
  const fn = opts.fn ?? "list_lru_lock";
  return step(
    (c) => `${fn}(${subName(lru, resolve(c, lru, key, opts.mc, false), c.m.b)})`,
    (c) => {
      const k = resolve(c, lru, key, opts.mc, false);
      const lk = lru.sub[k]!.lock.$off(c.m.b);
      c.m.setMarked(lk, c.cpu);
      if (c.m.lo) c.m.acquired(lk, 0); // lockdep lock order (lockorder.ts)
      c.m.set(l.$off(c.m.b), k);
    },
    lockGuard(lru, key, opts.mc, false),
  );
}

/** list_lru_unlock(l): releases the sublist held in `l` (must be held by this CPU). */
export function list_lru_unlock(lru: ListLruRef, l: Ref<IntS>, fn = "list_lru_unlock"): StepStmt {
  return step(
    (c) => `${fn}(${subName(lru, c.m.b[l.$off(c.m.b)]!, c.m.b)})`,
    (c) => {
      const k = heldSub(lru, l, c, fn);
      const off = lru.sub[k]!.lock.$off(c.m.b);
      // spin_bug() prints and the unlock goes on (bad-unlock is a warning, as for spin_unlock)
      c.m.check(
        c.m.getMarked(off) === c.cpu,
        "bad-unlock",
        `${fn}(${subName(lru, k, c.m.b)}) by CPU${c.cpu}, which does not hold it`,
      );
      c.m.setMarked(off, -1);
      c.m.set(l.$off(c.m.b), -1);
    },
    { raises: ["bad-unlock"] },
  );
}

/** list_lru_lock_irqsave(): the same as list_lru_lock (no interrupts in a model). */
export const list_lru_lock_irqsave = (
  lru: ListLruRef,
  key: LruKey,
  l: Ref<IntS>,
  opts: LruOpOpts = {},
): StepStmt => list_lru_lock(lru, key, l, { ...opts, fn: "list_lru_lock_irqsave" });
/** list_lru_unlock_irqrestore(): the same as list_lru_unlock. */
export const list_lru_unlock_irqrestore = (lru: ListLruRef, l: Ref<IntS>): StepStmt =>
  list_lru_unlock(lru, l, "list_lru_unlock_irqrestore");

/**
 * __list_lru_add(lru, l, item, nid, memcg) (lock held) as a condition. With opts.mc it sets the
 * shrinker bit as list_lru_add does (`key` gives the memcg passed in, for shrinkerBit "passed").
 */
export function __list_lru_add(
  lru: ListLruRef,
  l: Ref<IntS>,
  item: ListRef,
  opts: LruOpOpts & { key?: LruKey } = {},
): StepStmt {
  return step(
    (c, r) =>
      `__list_lru_add(${subName(lru, c.m.b[l.$off(c.m.b)]!, c.m.b)}, &${item.$name(c.m.b)}) -> ${boolResult(r)}`,
    (c) => {
      const k = heldSub(lru, l, c, "__list_lru_add");
      holdOrThrow(c, lru.sub[k]!, "__list_lru_add");
      const owner = opts.shrinkerBit ?? "locked";
      if (owner === "passed" && !opts.key)
        throw new ModelError(
          "E_ARG",
          '__list_lru_add: shrinkerBit "passed" needs the key of the memcg passed in',
          "pass { key: lruKey(nid, memcg) }",
        );
      return addLocked(c, lru, k, item.$node(c.m.b), {
        mc: opts.mc,
        owner,
        passed: opts.key ? opts.key.memcg(c) : -1,
      });
    },
    { raises: ["list-lru-unlocked", "list-corruption", "memcg-use-after-free"] },
  );
}

/** __list_lru_del(lru, l, item) (lock held) as a condition. */
export function __list_lru_del(lru: ListLruRef, l: Ref<IntS>, item: ListRef): StepStmt {
  return step(
    (c, r) =>
      `__list_lru_del(${subName(lru, c.m.b[l.$off(c.m.b)]!, c.m.b)}, &${item.$name(c.m.b)}) -> ${boolResult(r)}`,
    (c) => {
      const k = heldSub(lru, l, c, "__list_lru_del");
      holdOrThrow(c, lru.sub[k]!, "__list_lru_del");
      return delLocked(c, lru, k, item.$node(c.m.b), "__list_lru_del");
    },
    { raises: ["list-lru-unlocked", "list-corruption", "counter-underflow"] },
  );
}

/** list_lru_count_one(lru, nid, memcg) == n as a condition (READ_ONCE(l->nr_items)). */
export function list_lru_count_is(
  lru: ListLruRef,
  key: LruKey,
  n: number,
  opts: LruOpOpts = {},
): StepStmt {
  return step(
    (c, r) =>
      `list_lru_count_one(${subName(lru, resolve(c, lru, key, opts.mc, false), c.m.b)}) == ${n} -> ${boolResult(r)}`,
    (c) => c.m.getMarked(lru.sub[resolve(c, lru, key, opts.mc, false)]!.nr_items.$off(c.m.b)) === n,
  );
}

// ---------------------------------------------------------------------------------------------
// The walk

export const LRU_STATUS = [
  "(none)",
  "LRU_REMOVED",
  "LRU_REMOVED_RETRY",
  "LRU_ROTATE",
  "LRU_SKIP",
  "LRU_RETRY",
  "LRU_STOP",
] as const;
export type LruStatus = Exclude<(typeof LRU_STATUS)[number], "(none)">;
const ST = (s: (typeof LRU_STATUS)[number]): number => LRU_STATUS.indexOf(s);

export type LruWalkLocalFields = {
  lru_l: IntS;
  lru_item: NodePtrS;
  lru_n: NodePtrS;
  lru_ret: EnumS<(typeof LRU_STATUS)[number]>;
  lru_nr: IntS;
};

/** The CPU locals a walk needs: spread them into the thread's locals (`{ ...lruWalkLocals(S), ... }`). */
export function lruWalkLocals(lru: RecordS<ListLruFields>, maxWalk = 8): LruWalkLocalFields {
  return {
    lru_l: int(-1, lru.fields.sub.length - 1, -1),
    lru_item: nodeptr(),
    lru_n: nodeptr(),
    lru_ret: enumOf(LRU_STATUS),
    lru_nr: int(0, maxWalk),
  };
}

export interface LruWalkLocalsRef {
  readonly lru_l: Ref<IntS>;
  readonly lru_item: Ref<NodePtrS>;
  readonly lru_n: Ref<NodePtrS>;
  readonly lru_ret: Ref<EnumS>;
  readonly lru_nr: Ref<IntS>;
}

/** What the isolate callback is written with (the kernel's `item`, `lru` (the sublist), return value). */
export interface LruWalk {
  /** The current item (`struct list_head *item`). */
  readonly item: ListRef;
  /** The locked sublist (`struct list_lru_one *list`): lock, list, nr_items. */
  readonly l: ListLruOneRef;
  /** `return status;` as a step. */
  ret(status: LruStatus): StepStmt;
  /** list_lru_isolate(list, item) [then return status]: list_del_init + nr_items--. */
  isolate(status?: LruStatus): StepStmt;
  /** list_lru_isolate_move(list, item, head) [then return status]: list_move + nr_items--. */
  isolateMove(head: ListRef, status?: LruStatus): StepStmt;
  /** spin_unlock(&list->lock) / spin_lock(&list->lock) inside the callback. */
  unlock(): StepStmt;
  lock(): StepStmt;
}

export interface LruWalkOpts extends LruOpOpts {
  /** The walk's CPU locals (from lruWalkLocals()). */
  readonly locals: LruWalkLocalsRef;
  /** A ptr local set to the item's container (container_of), NULL after the walk. */
  readonly pos?: Ref<PtrS>;
  /** nr_to_walk (default: the lru_nr local's maximum). */
  readonly nrToWalk?: number;
  /** Function name in traces (default list_lru_walk_one). */
  readonly fn?: string;
}

function dynRef<S extends LockS | ListHeadS | IntS | BoolS>(
  lru: ListLruRef,
  lOff: Ref<IntS>,
  pick: (one: ListLruOneRef) => Ref<S>,
  text: string,
): Ref<S> {
  const at = (b: Int32Array): Ref<S> => {
    const k = b[lOff.$off(b)]!;
    const one = lru.sub[k];
    if (!one) throw new ModelError("E_LRU_LOCAL", `${text}: used outside a list_lru walk`);
    return pick(one);
  };
  return refVia(pick(lru.sub[0]!), at, text);
}

/**
 * The sublist a CPU holds locked through its int local `l` (from list_lru_lock()), as refs
 * (`l->lock`, `l->list`, `l->nr_items`): for primitives that work on "the locked sublist"
 * whichever it is (huge_memory.ts's deferred split queue on a list_lru).
 */
export function lruOneOf(lru: ListLruRef, l: Ref<IntS>): ListLruOneRef {
  return {
    lock: dynRef(lru, l, (o) => o.lock, "l->lock"),
    list: dynRef(lru, l, (o) => o.list, "l->list"),
    nr_items: dynRef(lru, l, (o) => o.nr_items, "l->nr_items"),
    dead: dynRef(lru, l, (o) => o.dead, "l->dead"),
  };
}

/**
 * __list_lru_walk_one(lru, nid, memcg, isolate, cb_arg, &nr_to_walk): `isolate(w)` gives the
 * callback's statements for the current item; they must end by setting a status (w.ret(),
 * or the status argument of w.isolate() / w.isolateMove()).
 */
export function list_lru_walk_one(
  lru: ListLruRef,
  key: LruKey,
  isolate: (w: LruWalk) => Stmt[],
  opts: LruWalkOpts,
): Stmt {
  const L = opts.locals;
  const fn = opts.fn ?? "list_lru_walk_one";
  const { nodes } = shapeOf(lru);
  const lay = lru.sub[0]!.list.$lay;
  const nrToWalk = opts.nrToWalk ?? lay.fields[L.lru_nr.$static]?.max ?? 8;
  const itemRef = new Ref<ListHeadS>(
    listNode(),
    lay,
    (b) => {
      const id = b[L.lru_item.$off(b)]!;
      const n = lay.nodes[id];
      if (!n)
        throw new ModelError(
          "E_LRU_LOCAL",
          `${fn}: the isolate callback's item is used outside the walk`,
        );
      return n.nextOff;
    },
    (b) => lay.nodeName(b[L.lru_item.$off(b)]!),
    -1,
    "item",
  );
  const one: ListLruOneRef = {
    lock: dynRef(lru, L.lru_l, (o) => o.lock, "list->lock"),
    list: dynRef(lru, L.lru_l, (o) => o.list, "list->list"),
    nr_items: dynRef(lru, L.lru_l, (o) => o.nr_items, "list->nr_items"),
    dead: dynRef(lru, L.lru_l, (o) => o.dead, "list->dead"),
  };
  const setRet = (c: Ctx, s: LruStatus | undefined): void => {
    if (s !== undefined) c.m.set(L.lru_ret.$off(c.m.b), ST(s));
  };
  const curSub = (c: Ctx): ListLruOneRef => lru.sub[c.m.b[L.lru_l.$off(c.m.b)]!]!;
  const itemName = (c: Ctx): string => lay.nodeName(c.m.b[L.lru_item.$off(c.m.b)]!);
  const w: LruWalk = {
    item: itemRef,
    l: one,
    ret: (s) =>
      step(`return ${s}`, (c) => {
        setRet(c, s);
      }),
    isolate: (s) =>
      step(
        (c) =>
          `list_lru_isolate(${subName(lru, c.m.b[L.lru_l.$off(c.m.b)]!, c.m.b)}, &${itemName(c)})${s ? `; return ${s}` : ""}`,
        (c) => {
          const l = curSub(c);
          holdOrThrow(c, l, "list_lru_isolate");
          listDelInitNow(c, c.m.b[L.lru_item.$off(c.m.b)]!);
          decNr(c, l.nr_items, "list_lru_isolate");
          setRet(c, s);
        },
        { raises: ["list-lru-unlocked", "list-corruption", "counter-underflow"] },
      ),
    isolateMove: (head, s) =>
      step(
        (c) =>
          `list_lru_isolate_move(${subName(lru, c.m.b[L.lru_l.$off(c.m.b)]!, c.m.b)}, &${itemName(c)}, &${head.$name(c.m.b)})${s ? `; return ${s}` : ""}`,
        (c) => {
          const l = curSub(c);
          holdOrThrow(c, l, "list_lru_isolate_move");
          listMoveNow(c, c.m.b[L.lru_item.$off(c.m.b)]!, head.$node(c.m.b), false);
          decNr(c, l.nr_items, "list_lru_isolate_move");
          setRet(c, s);
        },
        { raises: ["list-lru-unlocked", "list-corruption", "counter-underflow"] },
      ),
    unlock: () => spin_unlock(one.lock),
    lock: () => spin_lock(one.lock),
  };

  const reset = (c: Ctx): void => {
    const m = c.m;
    const b = m.b;
    m.set(L.lru_l.$off(b), -1);
    m.set(L.lru_item.$off(b), NULL);
    m.set(L.lru_n.$off(b), NULL);
    m.set(L.lru_ret.$off(b), 0);
    m.set(L.lru_nr.$off(b), 0);
    if (opts.pos) m.set(opts.pos.$off(b), NULL);
  };
  /** With the lock of sublist k held: take the entry at x, or end the walk (unlock). */
  const enter = (c: Ctx, k: number, x: number): boolean => {
    const m = c.m;
    const b = m.b;
    const l = lru.sub[k]!;
    const head = l.list.$node(b);
    if (x === head || m.get(L.lru_nr.$off(b)) === 0) {
      m.setMarked(l.lock.$off(b), -1);
      reset(c);
      return false;
    }
    const xn = lay.nodes[x];
    if (!xn || xn.role === "head") {
      throw new Violation(
        "list-corruption",
        `list corruption: walking ${subName(lru, k, b)} reached ${lay.nodeName(x)}` +
          (xn ? " (another list's head)" : ""),
      );
    }
    m.set(L.lru_item.$off(b), x);
    m.set(L.lru_n.$off(b), m.get(xn.nextOff));
    if (opts.pos) m.set(opts.pos.$off(b), containerOf(m, x, `${fn} over ${subName(lru, k, b)}`));
    m.set(L.lru_nr.$off(b), m.get(L.lru_nr.$off(b)) - 1);
    m.set(L.lru_ret.$off(b), 0);
    return true;
  };
  /** lock_list_lru_of_memcg(..., skip_empty = true) and the first entry. */
  const lockAndStart = (c: Ctx): boolean => {
    const k = resolve(c, lru, key, opts.mc, true);
    if (k < 0) {
      reset(c);
      return false;
    }
    const b = c.m.b;
    const lk = lru.sub[k]!.lock.$off(b);
    c.m.setMarked(lk, c.cpu);
    if (c.m.lo) c.m.acquired(lk, 0); // lockdep lock order (lockorder.ts)
    c.m.set(L.lru_l.$off(b), k);
    return enter(c, k, c.m.get(lru.sub[k]!.list.$off(b)));
  };
  const lg = lockGuard(lru, key, opts.mc, true);
  const describeStart = (c: Ctx, r: unknown): string => {
    const k = resolve(c, lru, key, opts.mc, true);
    if (k < 0) return `${fn}: no sublist (dead)`;
    const b = c.m.b;
    const x = b[lru.sub[k]!.list.$off(b)]!;
    return r
      ? `${fn}(${subName(lru, k, b)}): lock; item = ${lay.nodeName(x)}`
      : `${fn}(${subName(lru, k, b)}): lock; nothing to walk; unlock`;
  };

  const init = step(
    (c, r) => describeStart(c, r),
    (c) => {
      c.m.set(L.lru_nr.$off(c.m.b), nrToWalk);
      return lockAndStart(c);
    },
    { ...lg, raises: ["list-corruption"] },
  );

  const advance = step(
    (c, r) => {
      const b = c.m.b;
      const ret = LRU_STATUS[b[L.lru_ret.$off(b)]!] ?? "?";
      if (ret === "LRU_RETRY" || ret === "LRU_REMOVED_RETRY")
        return `${ret}: restart: ${describeStart(c, r)}`;
      if (ret === "LRU_STOP") return `LRU_STOP: ${fn} returns`;
      const k = b[L.lru_l.$off(b)]!;
      const x = b[L.lru_n.$off(b)]!;
      const rot =
        ret === "LRU_ROTATE"
          ? `list_move_tail(&${itemName(c)}, &${subName(lru, k, b)}.list); `
          : "";
      return `${ret}: ${rot}${r ? `item = ${lay.nodeName(x)}` : `end of ${subName(lru, k, b)}; unlock`}`;
    },
    (c) => {
      const m = c.m;
      const b = m.b;
      const ret = b[L.lru_ret.$off(b)]!;
      const k = b[L.lru_l.$off(b)]!;
      const l = lru.sub[k]!;
      const status = LRU_STATUS[ret]!;
      if (status === "(none)") {
        throw new ModelError(
          "E_LRU_STATUS",
          `${fn}: the isolate callback for ${itemName(c)} returned no lru_status`,
          'end the callback with w.ret("LRU_SKIP") (or pass a status to w.isolate()/w.isolateMove())',
        );
      }
      if (status === "LRU_REMOVED" || status === "LRU_REMOVED_RETRY")
        decNr(c, lru.nr_items[k % nodes]!, fn, true);
      if (status === "LRU_RETRY" || status === "LRU_REMOVED_RETRY") return lockAndStart(c);
      if (status === "LRU_STOP") {
        reset(c);
        return false;
      }
      holdOrThrow(c, l, `${fn} after ${status}`);
      if (status === "LRU_ROTATE") listMoveNow(c, b[L.lru_item.$off(b)]!, l.list.$node(b), true);
      return enter(c, k, m.get(L.lru_n.$off(b)));
    },
    {
      raises: ["list-corruption"],
      guard: (c) => {
        const s = LRU_STATUS[c.m.b[L.lru_ret.$off(c.m.b)]!];
        return s === "LRU_RETRY" || s === "LRU_REMOVED_RETRY" ? lg.guard(c) : true;
      },
      waitsFor: lg.waitsFor,
    },
  );
  return func(fn, [loop(init, advance, isolate(w))]);
}

/** list_lru_shrink_walk(lru, sc, isolate, cb_arg): sc gives nid and memcg. */
export const list_lru_shrink_walk = (
  lru: ListLruRef,
  sc: LruKey,
  isolate: (w: LruWalk) => Stmt[],
  opts: LruWalkOpts,
): Stmt => list_lru_walk_one(lru, sc, isolate, { fn: "list_lru_shrink_walk", ...opts });
/** list_lru_shrink_walk_irq(): the same (no interrupts in a model). */
export const list_lru_shrink_walk_irq = (
  lru: ListLruRef,
  sc: LruKey,
  isolate: (w: LruWalk) => Stmt[],
  opts: LruWalkOpts,
): Stmt => list_lru_walk_one(lru, sc, isolate, { fn: "list_lru_shrink_walk_irq", ...opts });

// ---------------------------------------------------------------------------------------------
// Setup and memcg

function dstIndex(lru: ListLruRef, one: ListLruOneRef): number {
  for (let k = 0; k < lru.sub.length; k++) if (lru.sub[k] === one) return k;
  throw new Error("list_lru: sublist not found");
}

/**
 * memcg_reparent_list_lrus(memcg, parent) for one list_lru: for each node, under the child's
 * and the parent's sublist locks, splice the child's items onto the parent's list, add its
 * nr_items, and mark the child's sublist dead. One step, enabled when those locks are free.
 */
export function memcg_reparent_list_lrus(lru: ListLruRef, mc: MemcgsRef, memcg: number): StepStmt {
  const { nodes, memcgs } = shapeOf(lru);
  if (memcg < 0 || memcg >= memcgs)
    throw new SchemaError(`memcg_reparent_list_lrus: memcg ${memcg} has no sublist`);
  const pairs = (c: Ctx): [ListLruOneRef, ListLruOneRef][] => {
    const parent = parentMemcg(c, mc, memcg);
    return Array.from({ length: nodes }, (_, nid) => [
      lruSub(lru, nid, memcg),
      lruSub(lru, nid, parent),
    ]);
  };
  return step(
    (c) =>
      `memcg_reparent_list_lrus(${memcgName(memcg)} -> ${memcgName(parentMemcg(c, mc, memcg))})`,
    (c) => {
      for (const [src, dst] of pairs(c)) {
        const b = c.m.b;
        // spin_lock(&src->lock); spin_lock_nested(&dst->lock, 1) ... folded into the step
        let moved = 0;
        foldedHold(c, [src.lock.$off(b), dst.lock.$off(b)], () => {
          listSpliceInitNow(c, src.list.$node(b), dst.list.$node(b));
          const so = src.nr_items.$off(b);
          const d = dst.nr_items.$off(b);
          moved = c.m.get(so);
          c.m.set(d, c.m.get(d) + moved);
          c.m.set(so, 0);
        });
        c.m.setMarked(src.dead.$off(b), 1);
        // "if (src->nr_items) { dst->nr_items += ...; set_shrinker_bit(dst_memcg, nid, ...); }"
        if (moved > 0) {
          const own = subOwner(lru, dstIndex(lru, dst));
          setShrinkerBit(c, mc, own.memcg, own.nid);
        }
      }
    },
    {
      raises: ["null-memcg-deref", "list-corruption"],
      guard: (c) =>
        pairs(c).every(
          ([s, d]) => c.m.b[s.lock.$off(c.m.b)] === -1 && c.m.b[d.lock.$off(c.m.b)] === -1,
        ),
      waitsFor: () => `the sublist locks of ${memcgName(memcg)} and its parent`,
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Property

/**
 * queue-len for a list_lru: whenever a (live) sublist's lock is free, its nr_items equals the
 * number of items on its list.
 */
export function lruCountConsistent<F extends Fields>(
  mb: ModelBuilder<F>,
  lru: ListLruRef,
  name = "queue-len",
): void {
  mb.invariant(name, (w: World) => {
    const m = w.m;
    const b = m.b;
    for (let k = 0; k < lru.sub.length; k++) {
      const l = lru.sub[k]!;
      if (b[l.lock.$off(b)] !== -1 || b[l.dead.$off(b)] !== 0) continue;
      const real = listLength(m, l.list.$node(b));
      if (real < 0) continue;
      const n = b[l.nr_items.$off(b)]!;
      if (n !== real) {
        return `${l.nr_items.$name(b)} is ${n} but ${l.list.$name(b)} holds ${real} entr${real === 1 ? "y" : "ies"} (its lock is free)`;
      }
    }
    return true;
  });
}

/**
 * Memcg-aware reclaim of one node: shrink_slab() over the memcg tree (the root always, another
 * memcg only with its shrinker bit set for nid), calling list_lru_shrink_walk_irq() on that
 * memcg's sublist. An item on the sublist of a memcg whose bit is clear is not scanned.
 */
export function list_lru_shrink_walk_memcgs(
  lru: ListLruRef,
  mc: MemcgsRef,
  nid: number,
  isolate: (w: LruWalk) => Stmt[],
  opts: LruWalkOpts,
): Stmt {
  return shrink_slab(mc, nid, (memcg) => [
    list_lru_shrink_walk_irq(lru, lruKey(nid, memcg), isolate, {
      ...opts,
      mc,
    }),
  ]);
}

// ---------------------------------------------------------------------------------------------
// The memcg sublists allocated on demand, and __list_lru_init with both boot switches
//
// Follows mm/list_lru.c as seed 004's series has it (its base: 230bbdc110b3 "mm: list_lru:
// introduce folio_memcg_list_lru_alloc()"; the fix: Johannes Weiner's reply to the s390 report,
// `if (mem_cgroup_disabled() || mem_cgroup_kmem_disabled()) memcg_aware = false;`).
// lru->xa maps a memcg's kmemcg_id to its struct list_lru_memcg; memcg_list_lru_alloc() stores
// one (under the xa lock) when a folio of that memcg first needs it, for the memcg and every
// ancestor that lacks one; the root's lists are lru->node[] (kmemcg_id -1: always there).
// listLru() above has every sublist from the start; listLruXa() is the xarray beside it, one
// bit per memcg (xa_load(&lru->xa, memcg->kmemcg_id) != NULL, a marked load), and
// lock_list_lru_of_memcg() consults it before taking a sublist's lock.
//
// Steps: __list_lru_init one step; folio_memcg_list_lru_alloc(): the memcg-aware test one, the
// fast path (folio_memcg() and memcg_list_lru_allocated(): the rcu read side) one,
// get_mem_cgroup_from_folio() one, and in __memcg_list_lru_alloc() the first pos/parent one, the
// ancestor walk one (reads of a hierarchy fixed at build time and marked xa loads), the xa lock,
// the test-and-store, the xa unlock, and the do-while test one each. lock_list_lru_of_memcg()
// is one step (the lookup, its walk past a memcg without lists, and the lock).
//
// Left out: struct list_lru_memcg's allocation and -ENOMEM (the lists exist, only the xa entry
// is stored), xas_nomem() retries, rcu_read_lock(), the
// erasure of a reparented memcg's xa entry (a reparented sublist is `dead`, as above).

// (imports of this section: kept here, below the code above, so that the section is appended)

export type ListLruXaFields = { xa_lock: LockS; memcg: ArrayS<BoolS> };

/**
 * lru->xa of a memcg-aware list_lru: `deferred_split_lru_xa: listLruXa({ memcgs: 2 })` beside
 * the listLru(). memcg[i] is memcg i's struct list_lru_memcg being stored (allocated); the
 * root's entry is never read (its lists are lru->node[]).
 */
export function listLruXa(opts: { memcgs: number }): RecordS<ListLruXaFields> {
  if (!Number.isInteger(opts.memcgs) || opts.memcgs < 1)
    throw new SchemaError(`listLruXa({ memcgs: ${opts.memcgs} }): needs memcgs >= 1`);
  return record(
    {
      xa_lock: spinlock(),
      memcg: array(opts.memcgs, bool(false), { label: (i) => `memcg${i}` }),
    },
    "list_lru_xa",
  );
}

export interface ListLruXaRef {
  readonly xa_lock: Ref<LockS>;
  readonly memcg: { readonly length: number; readonly [i: number]: Ref<BoolS> };
}

/**
 * memcg_list_lru_allocated(memcg, lru): dereferences memcg (memcg->kmemcg_id: null-memcg-deref
 * on NULL); true for the root (kmemcg_id < 0), else whether lru->xa has memcg's entry.
 */
export function memcgListLruAllocated(
  c: { m: Ctx["m"] },
  xa: ListLruXaRef,
  mc: MemcgsRef,
  memcg: number,
  what = "memcg_list_lru_allocated(memcg, lru): memcg->kmemcg_id",
): boolean {
  checkMemcg(c, mc, memcg, what);
  if (memcgIsRoot(mc, memcg)) return true;
  const e = xa.memcg[memcg];
  if (!e)
    throw new SchemaError(
      `memcg_list_lru_allocated: memcg${memcg} is outside listLruXa({ memcgs })`,
    );
  return c.m.getMarked(e.$off(c.m.b)) !== 0;
}

/**
 * list_lru_init_memcg(lru, shrinker) -> __list_lru_init(lru, memcg_aware = true, shrinker): as
 * posted, memcg awareness is turned off only for mem_cgroup_kmem_disabled() (cgroup.memory=nokmem);
 * with `fixed` (seed 004's fix) for mem_cgroup_disabled() (cgroup_disable=memory) too.
 */
export function list_lru_init_memcg(
  lru: ListLruRef,
  mc: MemcgsRef,
  opts: { fixed: boolean },
): StepStmt {
  const aware = (c: Ctx): boolean =>
    !(memcgKmemDisabled(c, mc) || (opts.fixed && memcgDisabled(c, mc)));
  return step(
    (c) =>
      `__list_lru_init(${shapeOf(lru).name}, memcg_aware = true): ` +
      (opts.fixed
        ? "if (mem_cgroup_disabled() || mem_cgroup_kmem_disabled()) memcg_aware = false"
        : "if (mem_cgroup_kmem_disabled()) memcg_aware = false") +
      ` -> memcg_aware = ${aware(c)}`,
    (c) => {
      c.m.setMarked(lru.memcg_aware.$off(c.m.b), aware(c) ? 1 : 0);
    },
  );
}

/**
 * folio_memcg_list_lru_alloc(folio, lru, gfp) with lru->xa: returns at once unless the list_lru
 * is memcg aware; the fast path reads memcg_list_lru_allocated(folio_memcg(folio)) (a NULL
 * memcg, memory cgroups disabled at boot, is null-memcg-deref: seed 004's s390 panic); else
 * get_mem_cgroup_from_folio() and __memcg_list_lru_alloc(): store the entry of the memcg and of
 * each ancestor without one, farthest first, under the xa lock (the loser of a race finds it
 * stored and frees its copy). Its locals are the CPU's `memcg`, `pos` and `parent`.
 */
export function folio_memcg_list_lru_alloc(
  f: FolioRef,
  lru: ListLruRef,
  xa: ListLruXaRef,
  mc: MemcgsRef,
): Stmt {
  const n = mc.memcg.length;
  const memcg = kernelLocal("memcg", int(-1, n - 1, -1));
  const pos = kernelLocal("pos", int(-1, n - 1, -1));
  const parent = kernelLocal("parent", int(-1, n - 1, -1));
  const get = (c: Ctx, r: Ref<IntS>): number => c.m.get(r.$off(c.m.b));
  const set = (c: Ctx, r: Ref<IntS>, v: number): void => c.m.set(r.$off(c.m.b), v);
  const nameOf = (c: Ctx, r: Ref<IntS>): string => memcgName(c.m.b[r.$off(c.m.b)]!);
  const parentOf = (c: Ctx, id: number): number =>
    parentMemcg(c, mc, id, "__memcg_list_lru_alloc: parent_mem_cgroup(pos), pos->css.parent");
  return func("folio_memcg_list_lru_alloc", [
    ifStmt(
      step(
        (c, r) =>
          `!list_lru_memcg_aware(&${shapeOf(lru).name}) -> ${r ? "true: return 0" : "false"}`,
        (c) => c.m.getMarked(lru.memcg_aware.$off(c.m.b)) === 0,
      ),
      [returnStmt()],
    ),
    // Fast path when list_lru heads already exist (under rcu_read_lock())
    ifStmt(
      step(
        (c, r) =>
          `memcg = folio_memcg(${folioName(f, c.m.b)}) -> ${memcgName(folioMemcg(c, mc, f))}; memcg_list_lru_allocated(memcg, lru)` +
          (r === undefined ? "" : r ? " -> true: return 0" : " -> false"),
        (c) =>
          memcgListLruAllocated(
            c,
            xa,
            mc,
            folioMemcg(c, mc, f),
            "folio_memcg_list_lru_alloc fast path: memcg_list_lru_allocated(folio_memcg(folio), lru): memcg->kmemcg_id",
          ),
        { raises: ["null-memcg-deref", "memcg-use-after-free"] },
      ),
      [returnStmt()],
    ),
    get_mem_cgroup_from_folio(memcg, mc, f),
    func("__memcg_list_lru_alloc", [
      loop(
        // do {
        step(
          (c) => `do { pos = ${nameOf(c, memcg)}; parent = parent_mem_cgroup(pos)`,
          (c) => {
            set(c, pos, get(c, memcg));
            set(c, parent, parentOf(c, get(c, pos)));
            return true;
          },
          { raises: ["null-memcg-deref"] },
        ),
        // } while (pos != memcg && !css_is_dying(&pos->css));
        step(
          (c, r) =>
            `} while (pos != memcg && !css_is_dying(&pos->css)) (pos = ${nameOf(c, pos)}) -> ${boolResult(r)}`,
          (c) => {
            const p = get(c, pos);
            if (p === get(c, memcg) || memcgIsDying(c, mc, p)) return false;
            // the next round: pos = memcg; parent = parent_mem_cgroup(pos)
            set(c, pos, get(c, memcg));
            set(c, parent, parentOf(c, get(c, memcg)));
            return true;
          },
          { raises: ["null-memcg-deref"] },
        ),
        [
          // while (!memcg_list_lru_allocated(parent, lru)) { pos = parent; parent = parent_mem_cgroup(pos); }
          step(
            (c) =>
              `while (!memcg_list_lru_allocated(${nameOf(c, parent)})) walk up from pos = ${nameOf(c, pos)}`,
            (c) => {
              let p = get(c, pos);
              let q = get(c, parent);
              while (!memcgListLruAllocated(c, xa, mc, q)) {
                p = q;
                q = parentOf(c, p);
              }
              set(c, pos, p);
              set(c, parent, q);
            },
            { raises: ["null-memcg-deref"] },
          ),
          // mlru = memcg_init_list_lru_one(lru, gfp); xas_lock_irqsave(&xas, flags)
          spin_lock(xa.xa_lock),
          step(
            (c, r) =>
              `if (!xas_load(&xas) && !css_is_dying(&${nameOf(c, pos)}->css)) xas_store(&xas, mlru) -> ${r ? "stored" : "not stored: kfree(mlru)"}`,
            (c) => {
              const p = get(c, pos);
              if (memcgListLruAllocated(c, xa, mc, p, "xas_set(&xas, pos->kmemcg_id)"))
                return false;
              if (memcgIsDying(c, mc, p)) return false;
              c.m.setMarked(xa.memcg[p]!.$off(c.m.b), 1);
              return true;
            },
            { raises: ["null-memcg-deref", "memcg-use-after-free"] },
          ),
          spin_unlock(xa.xa_lock),
        ],
      ),
    ]),
    mem_cgroup_put(mc, memcg),
  ]);
}

/**
 * `l = lock_list_lru_of_memcg(lru, nid, memcg, irq, skip_empty = false)` (list_lru_lock(),
 * list_lru_lock_irqsave()) with lru->xa: a memcg-aware lookup of a memcg with no
 * list_lru_memcg stored raises VM_WARN_ON(!css_is_dying(&memcg->css)) (`list-lru-sublist`, a
 * warning: the CPU goes on) when the memcg is not dying, and walks to its parent, as it does
 * from a reparented (dead) sublist. Blocks until the sublist's lock is free, takes it, and keeps
 * its index in `l` (lruSubLocal()) for __list_lru_add() / list_lru_unlock().
 */
export function lock_list_lru_of_memcg(
  lru: ListLruRef,
  xa: ListLruXaRef,
  key: LruKey,
  l: Ref<IntS>,
  opts: LruOpOpts & { fn?: string } = {},
): StepStmt {
  const fn = opts.fn ?? "list_lru_lock";
  const mc = opts.mc;
  /** The memcg whose sublist the xa lookup finds, and the first memcg it warned about. */
  const lookup = (c: Ctx): { k: number; warned: number } => {
    let memcg = key.memcg(c);
    let warned = -1;
    const aware = c.m.b[lru.memcg_aware.$off(c.m.b)] !== 0;
    if (mc && aware) {
      for (let i = 0; memcg >= 0 && i <= mc.memcg.length; i++) {
        if (memcgIsRoot(mc, memcg)) break;
        if (c.m.b[xa.memcg[memcg]!.$off(c.m.b)] !== 0) break;
        if (warned < 0 && c.m.b[mc.memcg[memcg]!.dying.$off(c.m.b)] === 0) warned = memcg;
        memcg = memcgParentOf(mc, memcg);
      }
    }
    return { k: resolve(c, lru, lruKey(key.nid(c), memcg), mc, false), warned };
  };
  return step(
    (c) => `${fn}(${subName(lru, lookup(c).k, c.m.b)})`,
    (c) => {
      let memcg = key.memcg(c);
      if (mc && c.m.getMarked(lru.memcg_aware.$off(c.m.b)) !== 0) {
        // l = list_lru_from_memcg_idx(lru, nid, memcg_kmem_id(memcg)); if (!l) walk up
        for (let i = 0; memcg >= 0 && i <= mc.memcg.length; i++) {
          if (memcgListLruAllocated(c, xa, mc, memcg, `${fn}: memcg_kmem_id(memcg)`)) break;
          if (!memcgIsDying(c, mc, memcg))
            c.m.warn(
              "list-lru-sublist",
              `${fn}: VM_WARN_ON(!css_is_dying(&memcg->css)): ${memcgName(memcg)} has no list_lru_memcg in ${shapeOf(lru).name} (never allocated), and it is not dying`,
            );
          memcg = parentMemcg(c, mc, memcg);
        }
      }
      const k = resolve(c, lru, lruKey(key.nid(c), memcg), mc, false);
      const lk = lru.sub[k]!.lock.$off(c.m.b);
      c.m.setMarked(lk, c.cpu);
      if (c.m.lo) c.m.acquired(lk, 0);
      c.m.set(l.$off(c.m.b), k);
    },
    {
      raises: [
        { name: "list-lru-sublist", severity: "warn" },
        "null-memcg-deref",
        "memcg-use-after-free",
      ],
      guard: (c) => c.m.b[lru.sub[lookup(c).k]!.lock.$off(c.m.b)] === -1,
      waitsFor: (c) => {
        const k = lookup(c).k;
        const h = c.m.b[lru.sub[k]!.lock.$off(c.m.b)]!;
        return `${subName(lru, k, c.m.b)}.lock, held by CPU${h}${h === c.cpu ? " itself" : ""}`;
      },
    },
  );
}
