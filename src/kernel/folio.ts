// struct folio as far as the deferred-split races need it: the reference count
// (include/linux/page_ref.h, include/linux/mm.h), the page flags PG_partially_mapped and
// PG_locked (include/linux/page-flags.h, folio_trylock/folio_unlock in include/linux/pagemap.h),
// the _deferred_list member, memcg and NUMA node ids, and the free path
// (__folio_put -> folio_unqueue_deferred_split -> free; mm/swap.c, mm/huge_memory.c).
// Also plain counters (split_queue_len, mod_mthp_stat(order, MTHP_STAT_NR_ANON_PARTIALLY_MAPPED,
// ±1)). The deferred split queue itself is in huge_memory.ts.
//
// Every access goes through Mem with the kernel's marking: `_refcount` is an atomic_t (marked),
// atomic bitops (folio_set_*, folio_test_*, folio_trylock) are marked, the non-atomic
// `__folio_set_*` / `__folio_clear_*` are an UNMARKED read-modify-write (the data-race check
// reports two CPUs doing them unlocked), counters protected by a lock are unmarked.
// `freed` is a ghost bit of the checker (never part of a data race).
//
// Page flags live in two flags words, as in the kernel (include/linux/page-flags.h, bit numbers
// of v6.14-era x86-64 with CONFIG_MMU and CONFIG_MEMORY_FAILURE): `flags` (folio->flags, the head
// page's word: PG_locked, PG_head, PG_swapbacked) and `_flags_1` (the first tail page's word:
// the PF_SECOND flags PG_has_hwpoisoned, PG_large_rmappable, PG_partially_mapped, and that
// page's own PG_anon_exclusive and PG_hwpoison). Their operations are the bitops of bitops.ts,
// so the non-atomic `__folio_set_partially_mapped` (two steps: load, store) loses a concurrent
// update of another bit of `_flags_1`. `partially_mapped` and `locked` are bitOf() aliases of
// PG_partially_mapped and PG_locked (a BitRef, a boolean in views).
//
// Left out: the other flags, mapcounts (`mapped` is one bool),
// memcg uncharge on free (the memcg id is left as it was), refcount overflow (a count above
// `maxRef` is a model error: widen maxRef), page reallocation after free.

import { boolResult, func, if_, step, type Ctx, type Stmt, type StepStmt } from "../model/dsl.ts";
import { Ref } from "../model/ref.ts";
import {
  array,
  bitOf,
  bool,
  flags,
  int,
  listNode,
  record,
  type ArrayS,
  type BitS,
  type BoolS,
  type Fields,
  type FlagsS,
  type IntS,
  type ListHeadS,
  type RecordS,
} from "../model/schema.ts";
import type { BitRef, FlagsRef } from "../model/ref.ts";
import { nonAtomicBitOp, testBit, writeBit } from "./bitops.ts";
import { ModelError, Violation, type Mem } from "../rt/mem.ts";
import { headOf } from "./list.ts";
import { folio_unqueue_deferred_split, type DeferredSplit } from "./huge_memory.ts";

// ---------------------------------------------------------------------------------------------
// Schema

/** The bits of folio->flags declared here (kernel bit numbers). */
export const FOLIO_FLAGS = { PG_locked: 0, PG_head: 6, PG_swapbacked: 17 } as const;
/**
 * The bits of folio->_flags_1 (the first tail page's flags word) declared here: the PF_SECOND
 * folio flags PG_has_hwpoisoned (= PG_active), PG_large_rmappable (= PG_workingset) and
 * PG_partially_mapped (= PG_reclaim), and the tail page's own PG_anon_exclusive
 * (= PG_owner_2) and PG_hwpoison.
 */
export const FOLIO_FLAGS_1 = {
  PG_has_hwpoisoned: 8,
  PG_large_rmappable: 9,
  PG_anon_exclusive: 11,
  PG_partially_mapped: 16,
  PG_hwpoison: 21,
} as const;
export type FolioFlag = keyof typeof FOLIO_FLAGS;
export type FolioFlag1 = keyof typeof FOLIO_FLAGS_1;

export type FolioFlagsS = FlagsS<FolioFlag>;
export type FolioFlags1S = FlagsS<FolioFlag1>;

export type FolioFields = {
  _refcount: IntS;
  _deferred_list: ListHeadS;
  /** folio->_flags_1: the first tail page's flags word (PG_partially_mapped...). */
  _flags_1: FolioFlags1S;
  /** folio->flags: the head page's flags word (PG_locked...). */
  flags: FolioFlagsS;
  /** PG_partially_mapped of _flags_1 (an alias). */
  partially_mapped: BitS;
  /** PG_locked of flags (folio_trylock / folio_unlock; an alias). */
  locked: BitS;
  /** folio_mapped(): mapped into some page table. */
  mapped: BoolS;
  /** Index of the folio's memcg, -1 = NULL (not charged, or memory cgroups disabled). */
  memcg: IntS;
  /** NUMA node id (folio_nid). */
  nid: IntS;
  /** folio_order(). */
  order: IntS;
  /** Ghost: the folio has been freed (any later access through the folio ops is a use-after-free). */
  freed: BoolS;
};

export interface FolioOpts {
  /** Largest refcount the model reaches (default 3). */
  maxRef?: number;
  /** Initial refcount (default 1). */
  ref?: number;
  /** Number of memcgs ids (0..memcgs-1) the folio may be charged to (default 1). */
  memcgs?: number;
  /** Initial memcg id, -1 for NULL (default 0, or -1 when memcgs is 0). */
  memcg?: number;
  /** Number of NUMA nodes (default 1). */
  nodes?: number;
  /** Initial node (default 0). */
  nid?: number;
  /** Initial order (default 9, HPAGE_PMD_ORDER); maxOrder bounds it (default: the order). */
  order?: number;
  maxOrder?: number;
  mapped?: boolean;
  partiallyMapped?: boolean;
}

/**
 * A folio record for a shared array: `folio: array(3, folio({ maxRef: 3 }), { label: (i) => `F${i}` })`.
 * `extra` adds model-specific fields. Each call makes a new record type (ptr() needs one array per type).
 */
export function folio<E extends Fields = Record<never, never>>(
  opts: FolioOpts & { extra?: E } = {},
): RecordS<FolioFields & E> {
  const maxRef = opts.maxRef ?? 3;
  const memcgs = opts.memcgs ?? 1;
  const order = opts.order ?? 9;
  const nodes = opts.nodes ?? 1;
  const large = order > 1;
  const fields: FolioFields = {
    _refcount: int(0, maxRef, opts.ref ?? 1),
    _deferred_list: listNode(),
    _flags_1: flags(FOLIO_FLAGS_1, [
      ...(large ? (["PG_large_rmappable"] as const) : []),
      ...(opts.partiallyMapped ? (["PG_partially_mapped"] as const) : []),
    ]),
    flags: flags(FOLIO_FLAGS, order > 0 ? ["PG_head"] : []),
    partially_mapped: bitOf("_flags_1", "PG_partially_mapped"),
    locked: bitOf("flags", "PG_locked"),
    mapped: bool(opts.mapped ?? false),
    memcg: int(-1, Math.max(memcgs - 1, -1), opts.memcg ?? (memcgs > 0 ? 0 : -1)),
    nid: int(0, Math.max(nodes - 1, 0), opts.nid ?? 0),
    order: int(0, Math.max(opts.maxOrder ?? order, order), order),
    freed: bool(false),
  };
  return record({ ...fields, ...(opts.extra ?? ({} as E)) }, "folio");
}

/** What the folio ops need: a folio record ref (`s.folio[1]`) or a pointer to one (`l.folio`). */
export interface FolioRef {
  readonly _refcount: Ref<IntS>;
  readonly _deferred_list: Ref<ListHeadS>;
  readonly flags: FlagsRef<FolioFlagsS>;
  readonly _flags_1: FlagsRef<FolioFlags1S>;
  /** PG_partially_mapped of _flags_1. */
  readonly partially_mapped: BitRef;
  /** PG_locked of flags. */
  readonly locked: BitRef;
  readonly mapped: Ref<BoolS>;
  readonly memcg: Ref<IntS>;
  readonly nid: Ref<IntS>;
  readonly order: Ref<IntS>;
  readonly freed: Ref<BoolS>;
}

/** A list of folios for the property catalogue: an array of refs, or the ref of a folio array. */
export interface FolioList {
  readonly length: number;
  readonly [i: number]: FolioRef;
}

/** The folio's name in state b: `F1` (through a pointer: the folio it points to). */
export function folioName(f: FolioRef, b: Int32Array): string {
  return f._refcount.$name(b).replace(/(\.|->)_refcount$/, "");
}

// ---------------------------------------------------------------------------------------------
// Run-time helpers (for step code written by a model: several operations in one atomic step)

/** Throws use-after-free when the folio has been freed. `what` names the access. */
export function assertLive(c: { m: Mem }, f: FolioRef, what: string): void {
  const b = c.m.b;
  if (b[f.freed.$off(b)] !== 0) {
    throw new Violation(
      "use-after-free",
      `use-after-free: ${what} on ${folioName(f, b)}, which was already freed`,
    );
  }
}

/** Whether the folio has been freed (ghost read, no access recorded). */
export function isFreed(c: { m: Mem }, f: FolioRef): boolean {
  const b = c.m.b;
  return b[f.freed.$off(b)] !== 0;
}

/** folio_ref_count(): an atomic read. */
export function folio_ref_count_of(c: { m: Mem }, f: FolioRef): number {
  return c.m.getMarked(f._refcount.$off(c.m.b));
}

/** Marks the folio freed (ghost write). */
export function markFreed(c: { m: Mem }, f: FolioRef): void {
  const b = c.m.b;
  b[f.freed.$off(b)] = 1;
}

/** folio_test_partially_mapped(): test_bit(PG_partially_mapped, &folio->_flags_1), a marked read. */
export function testPartiallyMapped(c: { m: Mem }, f: FolioRef): boolean {
  assertLive(c, f, "folio_test_partially_mapped");
  return testBit(c, f.partially_mapped);
}

/**
 * Sets or clears PG_partially_mapped inside the current step: atomic (set_bit/clear_bit, a
 * marked read-modify-write of `_flags_1`) or non-atomic (`__folio_set_*`: a plain load and a
 * plain store of the whole word, here within the one step; the statements
 * `__folio_set_partially_mapped()` split them into two steps).
 */
export function writePartiallyMapped(
  c: { m: Mem },
  f: FolioRef,
  v: boolean,
  atomic: boolean,
): void {
  assertLive(c, f, `${atomic ? "" : "__"}folio_${v ? "set" : "clear"}_partially_mapped`);
  writeBit(c, f.partially_mapped, v, atomic);
}

/** Whether the folio's bit is set in state b (a ghost read for properties and labels). */
export function folioTestNow(b: Int32Array, bit: BitRef): boolean {
  return bit.$test(b);
}

/** A counter (split_queue_len, a statistic) or a per-order array of them. */
export type CounterRef = Ref<IntS>;
export type StatRef = Ref<IntS> | Ref<ArrayS<IntS>>;

/** Adds `delta` to a counter; going below its minimum is `counter-underflow`. */
export function addCounter(c: { m: Mem }, ctr: CounterRef, delta: number, marked: boolean): void {
  const m = c.m;
  const off = ctr.$off(m.b);
  const v = marked ? m.getMarked(off) : m.get(off);
  if (v + delta < m.min[off]!) {
    throw new Violation(
      "counter-underflow",
      `${ctr.$name(m.b)} ${delta < 0 ? "-" : "+"}= ${Math.abs(delta)} takes it from ${v} below ${m.min[off]}`,
    );
  }
  if (marked) m.setMarked(off, v + delta);
  else m.set(off, v + delta);
}

/** The per-order entry of a statistic for this folio (or the single counter). */
function statFor(stat: StatRef, f: FolioRef): CounterRef {
  if (stat.$schema.kind === "array") {
    const arr = stat as unknown as { at(i: Ref<IntS>): CounterRef };
    return arr.at(f.order);
  }
  return stat as CounterRef;
}

/** mod_mthp_stat(folio_order(f), stat, delta): a per-CPU counter, so a marked access. */
export function modMthpStat(c: { m: Mem }, stat: StatRef, f: FolioRef, delta: number): void {
  addCounter(c, statFor(stat, f), delta, true);
}

// ---------------------------------------------------------------------------------------------
// Refcount (include/linux/page_ref.h)

const nm = (f: FolioRef, c: Ctx): string => folioName(f, c.m.b);
const refOf = (f: FolioRef, c: Ctx): number => c.m.b[f._refcount.$off(c.m.b)]!;
const freedNow = (f: FolioRef, c: Ctx): boolean => c.m.b[f.freed.$off(c.m.b)] !== 0;

/**
 * folio_try_get(f) as a condition: false when the count is 0 (frozen or freed), else count++
 * and true. A speculative get on a freed folio is legal (struct page memory stays), so it
 * returns false there rather than reporting use-after-free.
 */
export function folio_try_get(f: FolioRef): StepStmt {
  return step(
    (c, r) =>
      `folio_try_get(${nm(f, c)}) -> ${boolResult(r)}` +
      (r
        ? ` (_refcount ${refOf(f, c)} -> ${refOf(f, c) + 1})`
        : freedNow(f, c)
          ? " (freed)"
          : " (_refcount 0)"),
    (c) => {
      if (freedNow(f, c)) return false;
      const off = f._refcount.$off(c.m.b);
      const v = c.m.getMarked(off);
      if (v === 0) return false;
      c.m.setMarked(off, v + 1);
      return true;
    },
  );
}

/** folio_get(f): count++; the count must be > 0 (`bad-get` otherwise). */
export function folio_get(f: FolioRef): StepStmt {
  return step(
    (c) => `folio_get(${nm(f, c)}) (_refcount ${refOf(f, c)} -> ${refOf(f, c) + 1})`,
    (c) => {
      assertLive(c, f, "folio_get");
      const off = f._refcount.$off(c.m.b);
      const v = c.m.getMarked(off);
      if (v <= 0) {
        throw new Violation(
          "bad-get",
          `folio_get(${nm(f, c)}) on a zero refcount (frozen, or no reference held)`,
        );
      }
      c.m.setMarked(off, v + 1);
    },
    { raises: ["use-after-free", "bad-get"] },
  );
}

/**
 * folio_put_testzero(f) as a condition: count--, true when it reached 0.
 * Put of a zero count is `refcount-underflow`.
 */
export function folio_put_testzero(f: FolioRef): StepStmt {
  return step(
    (c, r) => {
      const v = refOf(f, c);
      return `folio_put(${nm(f, c)}) (_refcount ${v} -> ${v - 1}${r ? ", last reference: free" : ""})`;
    },
    (c) => {
      assertLive(c, f, "folio_put");
      const off = f._refcount.$off(c.m.b);
      const v = c.m.getMarked(off);
      if (v <= 0) {
        throw new Violation(
          "refcount-underflow",
          `folio_put(${nm(f, c)}): _refcount is already 0 (a put without a reference, or of a frozen folio)`,
        );
      }
      c.m.setMarked(off, v - 1);
      return v === 1;
    },
    { raises: ["use-after-free", "refcount-underflow"] },
  );
}

/** The free path folio_put runs on the last reference: statements, or a function of the folio. */
export type FreePath = readonly Stmt[] | ((f: FolioRef) => Stmt[]);

export interface FreeOpts {
  /**
   * Report `bad-page-state` when the folio is freed while its _deferred_list is not empty
   * (free_tail_page_prepare: "on deferred list"). Default true.
   */
  checkDeferredList?: boolean;
  /**
   * Clear PG_partially_mapped as free_pages_prepare() does (`folio->_flags_1 &= ~PAGE_FLAGS_SECOND`),
   * so that a folio freed with the flag set but the statistic not decremented shows as
   * nr-partially-mapped. Default false (the flag is left as it was).
   */
  clearFlags?: boolean;
}

/**
 * The final free (free_unref_folio / free_frozen_pages): marks the folio freed. A folio whose
 * _deferred_list is not empty is `bad-page-state` (warn): reported, and not freed (bad_page()
 * leaks it), as free_tail_page_prepare() / free_pages_prepare() do.
 */
export function free_folio(f: FolioRef, opts: FreeOpts = {}): StepStmt {
  const check = opts.checkDeferredList ?? true;
  return step(
    (c) => `free_unref_folio(${nm(f, c)})`,
    (c) => {
      assertLive(c, f, "free (double free)");
      if (check) {
        const m = c.m;
        const id = f._deferred_list.$node(m.b);
        if (m.b[m.layout.nodes[id]!.nextOff] !== id) {
          const h = headOf(m, id);
          // bad_page(): reported, and the page is not freed (leaked) so as not to spread the damage
          m.report(
            "bad-page-state",
            `Bad page state: ${nm(f, c)} freed while on a deferred list` +
              (h >= 0 ? ` (${m.layout.nodeName(h)})` : " (its _deferred_list is not empty)"),
          );
          return;
        }
      }
      if (opts.clearFlags) {
        // folio->_flags_1 &= ~PAGE_FLAGS_SECOND (free_pages_prepare)
        const off = f._flags_1.$off(c.m.b);
        const second =
          f._flags_1.PG_partially_mapped.$mask |
          f._flags_1.PG_large_rmappable.$mask |
          f._flags_1.PG_has_hwpoisoned.$mask;
        c.m.setMarked(off, c.m.getMarked(off) & ~second);
      }
      markFreed(c, f);
    },
    { raises: check ? ["use-after-free", "bad-page-state"] : ["use-after-free"] },
  );
}

/** __folio_put(f): the default free path: unqueue from the deferred split queue, then free. */
export function __folio_put(f: FolioRef, ds?: DeferredSplit, opts: FreeOpts = {}): Stmt[] {
  return [
    func("__folio_put", [
      ...(ds ? [folio_unqueue_deferred_split(f, ds)] : []),
      free_folio(f, opts),
    ]),
  ];
}

/**
 * folio_put(f): count--; on reaching 0 runs `free` (default: `__folio_put(f, ds)` when a
 * deferred split queue is given as `free`, else just the final free).
 */
export function folio_put(f: FolioRef, free?: FreePath | DeferredSplit): Stmt {
  let path: readonly Stmt[];
  if (free === undefined) path = __folio_put(f);
  else if (typeof free === "function") path = free(f);
  else if (Array.isArray(free)) path = free as readonly Stmt[];
  else if ("queue" in free) path = __folio_put(f, free as DeferredSplit);
  else path = [free as unknown as Stmt];
  return func("folio_put", [if_(folio_put_testzero(f), [...path])]);
}

/** folio_ref_freeze(f, count) as a condition: cmpxchg(count -> 0). */
export function folio_ref_freeze(f: FolioRef, count: number): StepStmt {
  return step(
    (c, r) =>
      `folio_ref_freeze(${nm(f, c)}, ${count}) -> ${r ? "true" : `false (_refcount ${refOf(f, c)})`}`,
    (c) => {
      assertLive(c, f, "folio_ref_freeze");
      const off = f._refcount.$off(c.m.b);
      if (c.m.getMarked(off) !== count) return false;
      c.m.setMarked(off, 0);
      return true;
    },
    { raises: ["use-after-free"] },
  );
}

/** folio_ref_unfreeze(f, count): the count must be 0 (`bad-unfreeze`); set it to count. */
export function folio_ref_unfreeze(f: FolioRef, count: number): StepStmt {
  if (!Number.isInteger(count) || count <= 0) {
    // VM_BUG_ON(count == 0) in page_ref_unfreeze()
    throw new ModelError(
      "E_ARG",
      `folio_ref_unfreeze(${f._refcount.$text.replace(/(\.|->)_refcount$/, "")}, ${count}): the count must be a positive integer`,
    );
  }
  return step(
    (c) => `folio_ref_unfreeze(${nm(f, c)}, ${count})`,
    (c) => {
      assertLive(c, f, "folio_ref_unfreeze");
      const off = f._refcount.$off(c.m.b);
      const v = c.m.getMarked(off);
      if (v !== 0) {
        throw new Violation(
          "bad-unfreeze",
          `folio_ref_unfreeze(${nm(f, c)}, ${count}): _refcount is ${v}, not 0 (the folio is not frozen)`,
        );
      }
      c.m.setMarked(off, count);
    },
    { raises: ["use-after-free", "bad-unfreeze"] },
  );
}

/** folio_ref_count(f) == n as a condition. */
export function folio_ref_count_is(f: FolioRef, n: number): StepStmt {
  return step(
    (c, r) => `folio_ref_count(${nm(f, c)}) == ${n} -> ${boolResult(r)}`,
    (c) => {
      assertLive(c, f, "folio_ref_count");
      return c.m.getMarked(f._refcount.$off(c.m.b)) === n;
    },
    { raises: ["use-after-free"] },
  );
}

// ---------------------------------------------------------------------------------------------
// Page flags

/** folio_test_partially_mapped(f) as a condition (atomic test_bit). */
export function folio_test_partially_mapped(f: FolioRef): StepStmt {
  return step(
    (c, r) => `folio_test_partially_mapped(${nm(f, c)}) -> ${boolResult(r)}`,
    (c) => testPartiallyMapped(c, f),
    { raises: ["use-after-free"] },
  );
}

function flagWrite(f: FolioRef, v: boolean): StepStmt {
  const fn = `folio_${v ? "set" : "clear"}_partially_mapped`;
  return step(
    (c) => `${fn}(${nm(f, c)})`,
    (c) => writePartiallyMapped(c, f, v, true),
    { raises: ["use-after-free"] },
  );
}
/** folio_set_partially_mapped(f): set_bit(PG_partially_mapped, &f->_flags_1), one atomic step. */
export const folio_set_partially_mapped = (f: FolioRef): StepStmt => flagWrite(f, true);
/** folio_clear_partially_mapped(f): clear_bit(PG_partially_mapped, &f->_flags_1), one atomic step. */
export const folio_clear_partially_mapped = (f: FolioRef): StepStmt => flagWrite(f, false);

function nonAtomicFlagWrite(f: FolioRef, v: boolean): Stmt {
  const fn = `__folio_${v ? "set" : "clear"}_partially_mapped`;
  return func(fn, [
    nonAtomicBitOp(f.partially_mapped, v, {
      check: (c) => assertLive(c, f, fn),
      raises: ["use-after-free"],
    }),
  ]);
}
/**
 * __folio_set_partially_mapped(f): __set_bit(PG_partially_mapped, &f->_flags_1): a plain load
 * and a plain store of the whole word, two steps (a concurrent update of another bit of
 * _flags_1, e.g. PG_anon_exclusive or PG_hwpoison of the first tail page, is lost).
 */
export const __folio_set_partially_mapped = (f: FolioRef): Stmt => nonAtomicFlagWrite(f, true);
/** __folio_clear_partially_mapped(f): __clear_bit(...), two steps. */
export const __folio_clear_partially_mapped = (f: FolioRef): Stmt => nonAtomicFlagWrite(f, false);

/** folio_mapped(f) as a condition (a marked read: mapcounts are atomics). */
export function folio_mapped(f: FolioRef): StepStmt {
  return step(
    (c, r) => `folio_mapped(${nm(f, c)}) -> ${boolResult(r)}`,
    (c) => {
      assertLive(c, f, "folio_mapped");
      return c.m.getMarked(f.mapped.$off(c.m.b)) !== 0;
    },
    { raises: ["use-after-free"] },
  );
}

/** folio_trylock(f) as a condition (test_and_set_bit_lock). */
export function folio_trylock(f: FolioRef): StepStmt {
  return step(
    (c, r) => `folio_trylock(${nm(f, c)}) -> ${boolResult(r)}`,
    (c) => {
      assertLive(c, f, "folio_trylock");
      // !test_and_set_bit_lock(PG_locked, &folio->flags)
      return !writeBit(c, f.locked, true, true);
    },
    { raises: ["use-after-free"] },
  );
}

/** folio_lock(f): waits until the folio is unlocked, then takes PG_locked. */
export function folio_lock(f: FolioRef): StepStmt {
  return step(
    (c) => `folio_lock(${nm(f, c)})`,
    (c) => {
      assertLive(c, f, "folio_lock");
      writeBit(c, f.locked, true, true);
    },
    {
      raises: ["use-after-free"],
      guard: (c) => !f.locked.$test(c.m.b),
      waitsFor: (c) => `PG_locked of ${nm(f, c)}`,
    },
  );
}

/** folio_unlock(f): the folio must be locked (`bad-folio-unlock` otherwise). */
export function folio_unlock(f: FolioRef): StepStmt {
  return step(
    (c) => `folio_unlock(${nm(f, c)})`,
    (c) => {
      assertLive(c, f, "folio_unlock");
      // clear_bit_unlock(PG_locked, &folio->flags); unlocking an unlocked folio is a bug
      // (VM_BUG_ON_FOLIO(!folio_test_locked(folio), folio))
      if (!writeBit(c, f.locked, false, true)) {
        throw new Violation(
          "bad-folio-unlock",
          `folio_unlock(${nm(f, c)}): the folio is not locked`,
        );
      }
    },
    { raises: ["use-after-free", "bad-folio-unlock"] },
  );
}

// ---------------------------------------------------------------------------------------------
// Counters

/** A bounded counter such as split_queue_len: `int(0, max, init)`. */
export function counter(max: number, init = 0): IntS {
  return int(0, max, init);
}

/** Per-order statistic (mTHP stats): one counter per order 0..maxOrder. */
export function mthpStat(maxOrder: number, max: number): ArrayS<IntS> {
  return array(maxOrder + 1, counter(max));
}

export interface CounterOpts {
  /** The access is atomic / a per-CPU op (marked); default false: a plain `x++` under a lock. */
  marked?: boolean;
  /** The name shown in traces (default: the counter's field name, e.g. `ds_queue.split_queue_len`). */
  name?: string;
}

function counterStep(ctr: CounterRef, delta: number, opts: CounterOpts): StepStmt {
  const marked = opts.marked ?? false;
  const op =
    delta === 1 ? "++" : delta === -1 ? "--" : delta > 0 ? ` += ${delta}` : ` -= ${-delta}`;
  return step(
    (c) => {
      const v = c.m.b[ctr.$off(c.m.b)]!;
      return `${opts.name ?? ctr.$name(c.m.b)}${op} (${v} -> ${v + delta})`;
    },
    (c) => addCounter(c, ctr, delta, marked),
    { raises: ["counter-underflow"] },
  );
}
/** `ctr++` as one step. */
export const counter_inc = (ctr: CounterRef, opts: CounterOpts = {}): StepStmt =>
  counterStep(ctr, 1, opts);
/** `ctr--` as one step; below 0 is `counter-underflow`. */
export const counter_dec = (ctr: CounterRef, opts: CounterOpts = {}): StepStmt =>
  counterStep(ctr, -1, opts);
/** `ctr += delta` as one step. */
export const counter_add = (ctr: CounterRef, delta: number, opts: CounterOpts = {}): StepStmt =>
  counterStep(ctr, delta, opts);

/** mod_mthp_stat(folio_order(f), stat, delta) as one step. */
export function mod_mthp_stat(stat: StatRef, f: FolioRef, delta: number): StepStmt {
  return step(
    (c) => `mod_mthp_stat(order of ${nm(f, c)}, ${delta > 0 ? "+" : ""}${delta})`,
    (c) => modMthpStat(c, stat, f, delta),
    { raises: ["counter-underflow"] },
  );
}
