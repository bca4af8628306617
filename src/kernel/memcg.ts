// Memory cgroups and NUMA nodes, as far as the deferred-split and list_lru races need them
// (include/linux/memcontrol.h, mm/memcontrol.c): a fixed set of memcgs, each with its parent
// and a dying bit (css_is_dying() after rmdir), the boot-time switch mem_cgroup_disabled()
// (cgroup_disable=memory), folio_memcg() returning NULL then, and memcg ids as ints
// (-1 = NULL). Dereferencing a NULL memcg is the `null-memcg-deref` violation (seed 004's s390
// panic in __memcg_list_lru_alloc). NUMA node ids are plain ints (folio->nid).
//
// Lifecycle (mm/memcontrol.c, v6.18): online -> offline (rmdir: kill_css() makes css_is_dying()
// true; mem_cgroup_css_offline() then reparents the memcg's list_lru sublists and its deferred
// split queue, each under both locks) -> freed (mem_cgroup_css_free(): the last css reference
// is gone). `freed` is a ghost bit: a dereference of a freed memcg (css_is_dying(), its parent,
// its queue's lock) is `memcg-use-after-free`.
//
// Shrinker bits (mm/shrinker.c): each memcg has one bit per NUMA node for THE memcg-aware
// shrinker of the model (shrinker_info->map, one shrinker id); set_shrinker_bit() is an atomic
// set_bit (a marked access). shrink_slab_memcg() runs the shrinker for a memcg only when its bit
// for the node is set; the root memcg is reclaimed through shrink_slab() without bits
// (mem_cgroup_is_root), so set_shrinker_bit() on it does nothing and the walk always visits it.
//
// css references and events: get_mem_cgroup_from_folio() takes a css reference (css_tryget,
// assumed to succeed) and mem_cgroup_put() drops it (the root's css is not counted:
// CSS_NO_REF); count_memcg_events() adds to a per-memcg vm event count (memcgTree({ events })).
// cssRefsBalanced() is the end-state check that every reference taken was put (memcg-css-leak).
// mem_cgroup_charge() sets the folio's memcg (nothing when memory cgroups are disabled).
//
// Left out: uncharging, the page counters, objcg, css_tryget() failing on an offline memcg
// (freeing is a step the model writes; nothing waits for references), kmemcg ids distinct from
// memcg ids (the memcg index is its kmemcg_id), memcg allocation and hierarchy changes (the tree
// is fixed at build time), several shrinkers (one shrinker id), and shrink_slab_memcg() clearing
// a bit whose shrinker reports SHRINK_EMPTY (a bit, once set, stays set until the model clears
// it), the rstat propagation of events to the parents (counted on the memcg itself).

import { boolResult, func, if_, step, type Ctx, type Stmt, type StepStmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import {
  array,
  bool,
  ghost,
  int,
  record,
  SchemaError,
  type ArrayS,
  type BoolS,
  type IntS,
  type RecordS,
} from "../model/schema.ts";
import { Violation, type Mem } from "../rt/mem.ts";
import type { FolioRef } from "./folio.ts";
import { assertLive, folioName } from "./folio.ts";
import type { Fields } from "../model/schema.ts";
import type { ModelBuilder } from "../model/model.ts";

export const NULL_MEMCG = -1;

export type MemcgFields = {
  dying: BoolS;
  /** Ghost: mem_cgroup_css_free() ran; any later dereference is memcg-use-after-free. */
  freed: BoolS;
  /** shrinker_info->map of the model's memcg-aware shrinker: one bit per NUMA node. */
  shrinker_map: ArrayS<BoolS>;
  /** memcg->css's reference count (1: the cgroup's own); the root's is never counted (CSS_NO_REF). */
  css_refcnt: IntS;
  /** memcg->vmstats_percpu->events[], summed over CPUs, for the events named in memcgTree({ events }). */
  events: RecordS<Record<string, IntS>>;
};
export type MemcgsFields = {
  disabled: BoolS;
  /** mem_cgroup_kmem_disabled() (cgroup.memory=nokmem): boot time, read only. */
  kmem_disabled: BoolS;
  memcg: ArrayS<RecordS<MemcgFields>>;
};

export interface MemcgsOpts {
  /** Number of memcgs (ids 0..count-1; default 1: the root only). */
  count?: number;
  /** Parent of each memcg (-1 for the root); default: memcg 0 is the root, the others its children. */
  parents?: readonly number[];
  /** Memory cgroups disabled at boot (mem_cgroup_disabled()); default false. */
  disabled?: boolean;
  /** Kernel memory accounting disabled at boot (cgroup.memory=nokmem); default false. */
  kmemDisabled?: boolean;
  /** NUMA nodes, for the shrinker bits (default 1). */
  nodes?: number;
  /** vm events counted per memcg by count_memcg_events() (e.g. ["NUMA_PAGE_MIGRATE"]). */
  events?: readonly string[];
  /** Largest value of a per-memcg event count (default 4). */
  maxEvents?: number;
  /** Largest css reference count (default 4). */
  maxCssRef?: number;
}

/** The hierarchy (fixed at build time, so not part of the state), per memcgTree() schema. */
const hierarchy = new WeakMap<RecordS, readonly number[]>();

/**
 * The memcg hierarchy: `memcgs: memcgTree({ count: 2 })` in the shared state. Set a memcg
 * dying from the start with `m.init((s) => { s.memcgs.memcg[1].dying = true; })`.
 */
export function memcgTree(opts: MemcgsOpts = {}): RecordS<MemcgsFields> {
  const n = opts.count ?? 1;
  if (!Number.isInteger(n) || n < 1)
    throw new SchemaError(`memcgTree({ count: ${n} }): count must be at least 1`);
  const parents = opts.parents ?? Array.from({ length: n }, (_, i) => (i === 0 ? -1 : 0));
  if (parents.length !== n) {
    throw new SchemaError(`memcgTree: ${parents.length} parents given for ${n} memcgs`);
  }
  parents.forEach((p, i) => {
    if (!Number.isInteger(p) || p < -1 || p >= n || p === i) {
      throw new SchemaError(
        `memcgTree: parent ${p} of memcg${i} is not -1 or another memcg's id (0..${n - 1})`,
      );
    }
  });
  const nodes = opts.nodes ?? 1;
  if (!Number.isInteger(nodes) || nodes < 1)
    throw new SchemaError(`memcgTree({ nodes: ${nodes} }): nodes must be at least 1`);
  const elem = record(
    {
      dying: bool(false),
      freed: ghost(bool(false)),
      shrinker_map: array(nodes, bool(false), { label: (nid) => `shrinker_map[${nid}]` }),
      css_refcnt: int(0, opts.maxCssRef ?? 4, 1),
      events: record(
        Object.fromEntries((opts.events ?? []).map((e) => [e, int(0, opts.maxEvents ?? 4)])),
        "memcg_vmstats_events",
      ),
    },
    "mem_cgroup",
  );
  const tree = record(
    {
      disabled: bool(opts.disabled ?? false),
      kmem_disabled: bool(opts.kmemDisabled ?? false),
      memcg: array(n, elem, { label: (i) => `memcg${i}` }),
    },
    "memcgs",
  );
  hierarchy.set(tree, [...parents]);
  return tree;
}

export interface MemcgRef {
  readonly dying: Ref<BoolS>;
  readonly freed: Ref<BoolS>;
  readonly shrinker_map: { readonly length: number; readonly [nid: number]: Ref<BoolS> };
  readonly css_refcnt: Ref<IntS>;
  readonly events: { readonly [event: string]: Ref<IntS> };
}

export interface MemcgsRef {
  readonly disabled: Ref<BoolS>;
  readonly kmem_disabled: Ref<BoolS>;
  readonly memcg: { readonly length: number; readonly [i: number]: MemcgRef };
  readonly $schema: RecordS;
}

/** parent_mem_cgroup(memcg) as fixed at build time (-1 for the root). */
export function memcgParentOf(mc: MemcgsRef, id: number): number {
  const p = parentsOf(mc)[id];
  if (p === undefined) throw new SchemaError(`memcg${id} is not in the memcg tree`);
  return p;
}

/** mem_cgroup_is_root(): the memcg with no parent. */
export function memcgIsRoot(mc: MemcgsRef, id: number): boolean {
  return parentsOf(mc)[id] === -1;
}

function parentsOf(mc: MemcgsRef): readonly number[] {
  const p = hierarchy.get(mc.$schema);
  if (!p) throw new Error("memcg: the ref given is not a memcgTree() of the model");
  return p;
}

// ---------------------------------------------------------------------------------------------
// Run-time helpers

/** mem_cgroup_disabled(): a boot-time static key (never part of a race). */
export function memcgDisabled(c: { m: Mem }, mc: MemcgsRef): boolean {
  const b = c.m.b;
  return b[mc.disabled.$off(b)] !== 0;
}

/** mem_cgroup_kmem_disabled(): cgroup.memory=nokmem, a boot-time switch (never part of a race). */
export function memcgKmemDisabled(c: { m: Mem }, mc: MemcgsRef): boolean {
  const b = c.m.b;
  return b[mc.kmem_disabled.$off(b)] !== 0;
}

/**
 * Throws null-memcg-deref when `id` is NULL, memcg-use-after-free when it was freed; `what` names
 * the dereference (e.g. `memcg->kmemcg_id`).
 */
export function checkMemcg(c: { m: Mem }, mc: MemcgsRef, id: number, what: string): void {
  if (id !== NULL_MEMCG) {
    const r = mc.memcg[id];
    if (r && c.m.getGhost(r.freed.$off(c.m.b)) !== 0) {
      throw new Violation(
        "memcg-use-after-free",
        `use-after-free: ${what} on memcg${id}, which mem_cgroup_css_free() already freed`,
      );
    }
    return;
  }
  throw new Violation(
    "null-memcg-deref",
    `NULL memcg dereference: ${what}` +
      (memcgDisabled(c, mc) ? " (memory cgroups are disabled at boot)" : ""),
  );
}

/** folio_memcg(f): NULL when memory cgroups are disabled, else the folio's memcg (a plain read). */
export function folioMemcg(c: { m: Mem }, mc: MemcgsRef, f: FolioRef): number {
  if (memcgDisabled(c, mc)) return NULL_MEMCG;
  return c.m.get(f.memcg.$off(c.m.b));
}

/** parent_mem_cgroup(memcg): dereferences memcg. */
export function parentMemcg(
  c: { m: Mem },
  mc: MemcgsRef,
  id: number,
  what = "parent_mem_cgroup(memcg)",
): number {
  checkMemcg(c, mc, id, what);
  return parentsOf(mc)[id]!;
}

/** css_is_dying(&memcg->css): dereferences memcg; a marked read of the css flags. */
export function memcgIsDying(
  c: { m: Mem },
  mc: MemcgsRef,
  id: number,
  what = "css_is_dying(&memcg->css)",
): boolean {
  checkMemcg(c, mc, id, what);
  return c.m.getMarked(mc.memcg[id]!.dying.$off(c.m.b)) !== 0;
}

export function memcgName(id: number): string {
  return id === NULL_MEMCG ? "NULL" : `memcg${id}`;
}

// ---------------------------------------------------------------------------------------------
// Steps

/** mem_cgroup_disabled() as a condition. */
export function mem_cgroup_disabled(mc: MemcgsRef): StepStmt {
  return step(
    (_c, r) => `mem_cgroup_disabled() -> ${boolResult(r)}`,
    (c) => memcgDisabled(c, mc),
  );
}

/** `dst = folio_memcg(f)` into an int local (int(-1, memcgs-1)). */
export function folio_memcg(dst: Ref<IntS>, mc: MemcgsRef, f: FolioRef): StepStmt {
  return step(
    (c: Ctx) => {
      const b = c.m.b;
      const v = memcgDisabled(c, mc) ? NULL_MEMCG : b[f.memcg.$off(b)]!;
      return `${dst.$text.replace(/^l\./, "")} = folio_memcg(${folioName(f, b)}) = ${memcgName(v)}`;
    },
    (c) => {
      c.m.set(dst.$off(c.m.b), folioMemcg(c, mc, f));
    },
  );
}

/**
 * mem_cgroup_charge(f, mm, gfp) -> 0: charges f to `memcg` (the faulting task's memcg); with
 * memory cgroups disabled it does nothing and f stays without memcg (folio_memcg() is NULL).
 */
export function mem_cgroup_charge(f: FolioRef, mc: MemcgsRef, memcg: number): StepStmt {
  return step(
    (c) =>
      memcgDisabled(c, mc)
        ? `mem_cgroup_charge(${folioName(f, c.m.b)}) -> 0 (memory cgroups disabled: not charged)`
        : `mem_cgroup_charge(${folioName(f, c.m.b)}) -> 0 (charged to ${memcgName(memcg)})`,
    (c) => {
      if (!memcgDisabled(c, mc)) c.m.set(f.memcg.$off(c.m.b), memcg);
    },
  );
}

/**
 * `dst = get_mem_cgroup_from_folio(f)`: NULL when memory cgroups are disabled (the folio is not
 * read), else folio_memcg(f) (a plain read of the folio: use-after-free on a freed one,
 * bogus-entry on container_of() of a list head) with css_tryget() (assumed to succeed: the
 * memcg is online), or the root for a folio not charged (its css is not counted).
 */
export function get_mem_cgroup_from_folio(dst: Ref<IntS>, mc: MemcgsRef, f: FolioRef): StepStmt {
  return step(
    (c) => {
      const fname = folioLabel(f, c.m.b);
      const call = `${dst.$text.replace(/^l\./, "")} = get_mem_cgroup_from_folio(${fname})`;
      if (memcgDisabled(c, mc)) return `${call} -> NULL (mem_cgroup_disabled)`;
      if (fname === BOGUS_NAME) return `${call}: folio_memcg(folio)`;
      const id = memcgFromFolio(c, mc, f, false);
      return `${call} -> ${memcgName(id)}${memcgIsRoot(mc, id) ? "" : " (css_tryget)"}`;
    },
    (c) => {
      const id = memcgFromFolio(c, mc, f, true);
      c.m.set(dst.$off(c.m.b), id);
      if (id !== NULL_MEMCG) cssGet(c, mc, id);
    },
    { raises: ["use-after-free", "bogus-entry", "memcg-use-after-free"] },
  );
}

const BOGUS_NAME = "container_of(list head)";
/** The folio's name for a label; a pointer holding container_of() of a list head has none. */
function folioLabel(f: FolioRef, b: Int32Array): string {
  const n = folioName(f, b);
  return n.startsWith("undefined") ? BOGUS_NAME : n;
}

/** get_mem_cgroup_from_folio()'s value; `access`: read f->memcg_data as a plain load. */
function memcgFromFolio(c: { m: Mem }, mc: MemcgsRef, f: FolioRef, access: boolean): number {
  if (memcgDisabled(c, mc)) return NULL_MEMCG;
  const id = access ? c.m.get(f.memcg.$off(c.m.b)) : c.m.b[f.memcg.$off(c.m.b)]!;
  if (access) assertLive(c, f, "get_mem_cgroup_from_folio: folio_memcg(folio)");
  return id === NULL_MEMCG ? rootMemcg(mc) : id;
}

/** css_get(&memcg->css): the root's css is not counted (CSS_NO_REF). */
function cssGet(c: { m: Mem }, mc: MemcgsRef, id: number): void {
  if (memcgIsRoot(mc, id)) return;
  checkMemcg(c, mc, id, "css_get(&memcg->css)");
  const off = mc.memcg[id]!.css_refcnt.$off(c.m.b);
  c.m.setMarked(off, c.m.getMarked(off) + 1);
}

/** mem_cgroup_put(memcg), memcg held in `id`: css_put() unless NULL (or the root). */
export function mem_cgroup_put(mc: MemcgsRef, id: Ref<IntS>): StepStmt {
  return step(
    (c) => `mem_cgroup_put(${memcgName(c.m.b[id.$off(c.m.b)]!)})`,
    (c) => {
      const memcg = c.m.get(id.$off(c.m.b));
      if (memcg === NULL_MEMCG || memcgIsRoot(mc, memcg)) return;
      checkMemcg(c, mc, memcg, "mem_cgroup_put: css_put(&memcg->css)");
      const off = mc.memcg[memcg]!.css_refcnt.$off(c.m.b);
      const v = c.m.getMarked(off);
      if (v <= 1)
        throw new Violation(
          "css-refcount-underflow",
          `mem_cgroup_put(${memcgName(memcg)}): css_put() of the cgroup's own reference (a put without a get)`,
        );
      c.m.setMarked(off, v - 1);
    },
    { raises: ["memcg-use-after-free", "css-refcount-underflow"] },
  );
}

/**
 * count_memcg_events(memcg, event, nr) (memcg held in `id`, nr a local or a number): nothing
 * when memory cgroups are disabled; else dereferences memcg (null-memcg-deref on NULL) and adds
 * nr to its per-CPU event count (a marked access), `event` one of memcgTree({ events }).
 */
export function count_memcg_events(
  mc: MemcgsRef,
  id: Ref<IntS>,
  event: string,
  nr: Ref<IntS> | number,
): StepStmt {
  const nrOf = (c: Ctx): number => (typeof nr === "number" ? nr : c.m.b[nr.$off(c.m.b)]!);
  return step(
    (c) => `count_memcg_events(${memcgName(c.m.b[id.$off(c.m.b)]!)}, ${event}, ${nrOf(c)})`,
    (c) => {
      if (memcgDisabled(c, mc)) return;
      const memcg = c.m.get(id.$off(c.m.b));
      checkMemcg(c, mc, memcg, `count_memcg_events(memcg, ${event}, nr)`);
      const ctr = mc.memcg[memcg]!.events[event];
      if (!ctr)
        throw new SchemaError(
          `count_memcg_events: ${event} is not one of memcgTree({ events }) of the model`,
        );
      const n = typeof nr === "number" ? nr : c.m.get(nr.$off(c.m.b));
      const off = ctr.$off(c.m.b);
      c.m.setMarked(off, c.m.getMarked(off) + n);
    },
    { raises: ["null-memcg-deref", "memcg-use-after-free"] },
  );
}

/**
 * memcg-css-leak (end state): every memcg's css reference count is back to 1 (the cgroup's own):
 * a get_mem_cgroup_from_folio() without its mem_cgroup_put() leaks the memcg.
 */
export function cssRefsBalanced<F extends Fields>(
  mb: ModelBuilder<F>,
  mc: MemcgsRef,
  name = "memcg-css-leak",
): void {
  mb.endState(name, (w) => {
    const b = w.m.b;
    for (let id = 0; id < mc.memcg.length; id++) {
      const v = b[mc.memcg[id]!.css_refcnt.$off(b)]!;
      if (v !== 1) return `memcg${id}'s css reference count is ${v} at the end, not 1`;
    }
    return true;
  });
}

/** root_mem_cgroup: the memcg with no parent. */
export function rootMemcg(mc: MemcgsRef): number {
  const i = parentsOf(mc).indexOf(-1);
  if (i < 0) throw new SchemaError("memcg: the memcg tree has no root");
  return i;
}

/** A dereference of the memcg held in `id` (e.g. `memcg->kmemcg_id`) as its own step. */
export function memcg_deref(mc: MemcgsRef, id: Ref<IntS>, what: string): StepStmt {
  return step(
    (c) => `${what} (memcg = ${memcgName(c.m.b[id.$off(c.m.b)]!)})`,
    (c) => checkMemcg(c, mc, c.m.get(id.$off(c.m.b)), what),
    { raises: ["null-memcg-deref"] },
  );
}

/** css_is_dying(&memcg->css) as a condition, memcg held in `id`. */
export function css_is_dying(mc: MemcgsRef, id: Ref<IntS>): StepStmt {
  return step(
    (c, r) => `css_is_dying(${memcgName(c.m.b[id.$off(c.m.b)]!)}) -> ${boolResult(r)}`,
    (c) => memcgIsDying(c, mc, c.m.get(id.$off(c.m.b))),
    { raises: ["null-memcg-deref"] },
  );
}

/** The memcg is removed (rmdir -> kill_css()): css_is_dying() is true from now on. */
export function memcg_offline(mc: MemcgsRef, id: number): StepStmt {
  return step(`rmdir memcg${id}: kill_css() (css_is_dying)`, (c) => {
    c.m.setMarked(mc.memcg[id]!.dying.$off(c.m.b), 1);
  });
}

/** `dst = folio_nid(f)`. */
export function folio_nid(dst: Ref<IntS>, f: FolioRef): StepStmt {
  return step(
    (c) => `${dst.$text.replace(/^l\./, "")} = folio_nid(${folioName(f, c.m.b)})`,
    (c) => {
      c.m.set(dst.$off(c.m.b), c.m.get(f.nid.$off(c.m.b)));
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Shrinker bits

/** set_shrinker_bit(memcg, nid, shrinker_id): an atomic set_bit; nothing for NULL or the root. */
export function setShrinkerBit(c: { m: Mem }, mc: MemcgsRef, id: number, nid: number): void {
  if (id === NULL_MEMCG || memcgIsRoot(mc, id)) return;
  checkMemcg(c, mc, id, "set_shrinker_bit(memcg)");
  const bit = mc.memcg[id]!.shrinker_map[nid];
  if (!bit) throw new SchemaError(`set_shrinker_bit: node ${nid} is outside memcgTree({ nodes })`);
  c.m.setMarked(bit.$off(c.m.b), 1);
}

/** test_bit(shrinker_id, info->map) of memcg for node nid (a marked read). */
export function testShrinkerBit(c: { m: Mem }, mc: MemcgsRef, id: number, nid: number): boolean {
  const bit = mc.memcg[id]?.shrinker_map[nid];
  if (!bit) return false;
  return c.m.getMarked(bit.$off(c.m.b)) !== 0;
}

/** set_shrinker_bit(memcg, nid, shrinker_id) as one step, memcg fixed. */
export function set_shrinker_bit(mc: MemcgsRef, id: number, nid: number): StepStmt {
  return step(`set_shrinker_bit(${memcgName(id)}, ${nid})`, (c) => setShrinkerBit(c, mc, id, nid), {
    raises: ["memcg-use-after-free"],
  });
}

/**
 * shrink_slab(nid, memcg) over the hierarchy for the model's memcg-aware shrinker, as reclaim's
 * mem_cgroup_iter() loop does: the root always (shrink_slab() without bits), every other memcg
 * only when test_shrinker_bit(memcg, nid) holds (shrink_slab_memcg()), in id order. `scan(memcg)`
 * is the shrinker's scan for that memcg (sc->memcg). Each test is one step.
 */
export function shrink_slab(mc: MemcgsRef, nid: number, scan: (memcg: number) => Stmt[]): Stmt {
  const body: Stmt[] = [];
  for (let id = 0; id < mc.memcg.length; id++) {
    if (memcgIsRoot(mc, id)) {
      body.push(func(`shrink_slab(${memcgName(id)})`, scan(id)));
      continue;
    }
    body.push(
      if_(
        step(
          (c, r) => `test_shrinker_bit(${memcgName(id)}, ${nid}) -> ${boolResult(r)}`,
          (c) => testShrinkerBit(c, mc, id, nid),
        ),
        [func(`shrink_slab_memcg(${memcgName(id)})`, scan(id))],
      ),
    );
  }
  return func("shrink_slab", body);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

/**
 * mem_cgroup_css_offline(memcg) after rmdir: kill_css() (css_is_dying() from now on), then the
 * reparenting steps the model gives (memcg_reparent_list_lrus(), reparent_deferred_split_queue()),
 * in the kernel's order.
 */
export function mem_cgroup_css_offline(mc: MemcgsRef, id: number, reparent: Stmt[]): Stmt {
  if (memcgIsRoot(mc, id)) throw new SchemaError(`mem_cgroup_css_offline: memcg${id} is the root`);
  return func("mem_cgroup_css_offline", [memcg_offline(mc, id), ...reparent]);
}

/** mem_cgroup_css_free(memcg): the memcg is freed; later dereferences are memcg-use-after-free. */
export function mem_cgroup_css_free(mc: MemcgsRef, id: number): StepStmt {
  return step(
    `mem_cgroup_css_free(memcg${id})`,
    (c) => {
      checkMemcg(c, mc, id, "mem_cgroup_css_free (double free)");
      c.m.setGhost(mc.memcg[id]!.freed.$off(c.m.b), 1);
    },
    { raises: ["memcg-use-after-free"] },
  );
}
