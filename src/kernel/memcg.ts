// Memory cgroups and NUMA nodes, as far as the deferred-split and list_lru races need them
// (include/linux/memcontrol.h, mm/memcontrol.c): a fixed set of memcgs, each with its parent
// and a dying bit (css_is_dying() after rmdir), the boot-time switch mem_cgroup_disabled()
// (cgroup_disable=memory), folio_memcg() returning NULL then, and memcg ids as ints
// (-1 = NULL). Dereferencing a NULL memcg is the `null-memcg-deref` violation (seed 004's s390
// panic in __memcg_list_lru_alloc). NUMA node ids are plain ints (folio->nid).
//
// Left out: charging/uncharging, objcg, css reference counts (a dying memcg is never freed
// here), kmemcg ids distinct from memcg ids (the memcg index is its kmemcg_id), memcg
// allocation and hierarchy changes (the tree is fixed at build time).

import { boolResult, step, type Ctx, type StepStmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import {
  array,
  bool,
  record,
  SchemaError,
  type ArrayS,
  type BoolS,
  type IntS,
  type RecordS,
} from "../model/schema.ts";
import { Violation, type Mem } from "../rt/mem.ts";
import type { FolioRef } from "./folio.ts";
import { folioName } from "./folio.ts";

export const NULL_MEMCG = -1;

export type MemcgFields = { dying: BoolS };
export type MemcgsFields = { disabled: BoolS; memcg: ArrayS<RecordS<MemcgFields>> };

export interface MemcgsOpts {
  /** Number of memcgs (ids 0..count-1; default 1: the root only). */
  count?: number;
  /** Parent of each memcg (-1 for the root); default: memcg 0 is the root, the others its children. */
  parents?: readonly number[];
  /** Memory cgroups disabled at boot (mem_cgroup_disabled()); default false. */
  disabled?: boolean;
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
  const elem = record({ dying: bool(false) }, "mem_cgroup");
  const tree = record(
    {
      disabled: bool(opts.disabled ?? false),
      memcg: array(n, elem, { label: (i) => `memcg${i}` }),
    },
    "memcgs",
  );
  hierarchy.set(tree, [...parents]);
  return tree;
}

export interface MemcgsRef {
  readonly disabled: Ref<BoolS>;
  readonly memcg: { readonly length: number; readonly [i: number]: { readonly dying: Ref<BoolS> } };
  readonly $schema: RecordS;
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

/** Throws null-memcg-deref when `id` is NULL; `what` names the dereference (e.g. `memcg->kmemcg_id`). */
export function checkMemcg(c: { m: Mem }, mc: MemcgsRef, id: number, what: string): void {
  if (id !== NULL_MEMCG) return;
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
