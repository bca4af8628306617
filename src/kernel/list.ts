// struct list_head (include/linux/list.h) with the CONFIG_DEBUG_LIST checks of
// lib/list_debug.c.
//
// CONFIG_DEBUG_LIST: a failed check is reported as `list-corruption` with the catalogue's
// severity (warn: the search goes on) and the operation is refused as the kernel refuses it:
// __list_add() writes nothing, __list_del_entry() leaves the neighbours alone (list_del() still
// poisons the entry, list_del_init() still re-initialises it). Dereferencing a NULL or poisoned
// pointer is an oops: `list-corruption` that always ends the path.
//
// Granularity: an operation is one atomic step when the CPU holds the lock that protects every
// list it touches (the `lock` of each list head involved, see listHead()). Otherwise it is split
// into its individual pointer writes, one step each, in the kernel's order, so that a torn
// update can interleave with other CPUs. The decision is taken when the operation starts; the
// split form keeps the pointers it read in the CPU's scratch registers, as compiled code keeps
// them in machine registers.

import { boolResult, if_, loop, step, type Ctx, type Stmt, type StepStmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import type { ListHeadS, NodePtrS, PtrS } from "../model/schema.ts";
import { BOGUS, LIST_POISON1, LIST_POISON2, NULL, type Layout } from "../model/layout.ts";
import { ModelError, Violation, type Mem } from "../rt/mem.ts";
import { raises } from "./properties.ts";
import { assertListLock } from "./lockdep.ts";
import type { ListView } from "../model/view.ts";

export type ListRef = Ref<ListHeadS>;

/** Temporaries of one list operation: machine registers (atomic form) or scratch words (split). */
interface Regs {
  get(i: number): number;
  set(i: number, v: number): void;
}
const machineRegs = new Int32Array(3);
const REGS: Regs = {
  get: (i) => machineRegs[i]!,
  set: (i, v) => {
    machineRegs[i] = v;
  },
};
class ScratchRegs implements Regs {
  m!: Mem;
  base = 0;
  get(i: number): number {
    return this.m.b[this.base + i]!;
  }
  set(i: number, v: number): void {
    this.m.set(this.base + i, v);
  }
}
const SCRATCH = new ScratchRegs();
function scratchOf(c: Ctx): Regs {
  SCRATCH.m = c.m;
  SCRATCH.base = c.m.layout.scratch[c.cpu]!;
  return SCRATCH;
}

type Micro = (c: Ctx, r: Regs) => void;

/** What every list step can raise: the CONFIG_DEBUG_LIST checks and bad pointers. */
const LIST_RAISES = { raises: raises("list-corruption") } as const;

/**
 * Register 2 of an operation whose DEBUG_LIST check failed, until its last write: the writes
 * in between are skipped (the kernel refuses the operation). Otherwise register 2 is NULL (or,
 * after a splice, holds a node id).
 */
const REFUSED = LIST_POISON2;

function nodeText(lay: Layout, id: number): string {
  return lay.nodeName(id);
}

/** Offset of node `id`'s next word; dereferencing a NULL or poisoned pointer is an oops. */
function nextOff(m: Mem, id: number, what: string): number {
  const n = m.layout.nodes[id];
  if (id < 0 || !n)
    m.bug("list-corruption", `list corruption: ${what} dereferences ${m.layout.nodeName(id)}`);
  return n.nextOff;
}

/** The list head reached from `id` by following next pointers, or -1 (not on a list / corrupt). */
export function headOf(m: Mem, id: number): number {
  const lay = m.layout;
  const b = m.b;
  let x = id;
  for (let k = 0; k <= lay.nodes.length; k++) {
    const n = lay.nodes[x];
    if (!n) return -1;
    if (n.role === "head") return x;
    x = b[n.nextOff]!;
    if (x === id) return -1;
  }
  return -1;
}

/** Number of entries on the list headed by `head` (bounded; -1 if the list is corrupt). */
export function listLength(m: Mem, head: number): number {
  const lay = m.layout;
  const b = m.b;
  let x = b[lay.nodes[head]!.nextOff]!;
  for (let k = 0; k <= lay.nodes.length; k++) {
    if (x === head) return k;
    const n = lay.nodes[x];
    if (!n) return -1;
    x = b[n.nextOff]!;
  }
  return -1;
}

/** list_empty() of a node in state m.b, without recording the access. */
export function isEmpty(m: Mem, id: number): boolean {
  return m.b[m.layout.nodes[id]!.nextOff] === id;
}

/** Whether CPU `cpu` holds the declared lock of list head `head`. */
function locked(m: Mem, head: number, cpu: number): boolean {
  const n = m.layout.nodes[head]!;
  if (n.onStack) return n.cpu === cpu; // LIST_HEAD() on this CPU's stack
  const off = n.lockOff;
  return off >= 0 && m.b[off] === cpu;
}

/**
 * One list operation: `micros` are its writes in order. Returns a statement that runs them all
 * in one step when `atomic(c)` holds, else one step each.
 */
function listOp(
  name: (c: Ctx) => string,
  notes: readonly string[],
  micros: readonly Micro[],
  atomic: (c: Ctx) => boolean,
): Stmt {
  const k = micros.length;
  const first: StepStmt = step(
    (c, r) => (r ? name(c) : `${name(c)} [1/${k}: ${notes[0]}]`),
    (c) => {
      if (atomic(c)) {
        machineRegs[2] = NULL;
        for (let i = 0; i < k; i++) micros[i]!(c, REGS);
        return true;
      }
      micros[0]!(c, scratchOf(c));
      return false;
    },
    LIST_RAISES,
  );
  const rest = micros.slice(1).map((mi, i) =>
    step(
      (c) =>
        `${name(c)} [${i + 2}/${k}: ${notes[i + 1]}]` +
        (scratchOf(c).get(2) === REFUSED ? " (skipped: the operation was refused)" : ""),
      (c) => {
        mi(c, scratchOf(c));
      },
      LIST_RAISES,
    ),
  );
  return if_(first, [], rest);
}

// Register use: 0 = prev, 1 = next, 2 = extra (splice).

/** __list_del_entry_valid(): false (reported) when the entry cannot be deleted. */
function delValid(m: Mem, e: number, prev: number, next: number): boolean {
  const lay = m.layout;
  const where = (): string => {
    const h = headOf(m, prev >= 0 ? prev : e);
    return h >= 0 ? ` on ${nodeText(lay, h)}` : "";
  };
  if (next === LIST_POISON1 || prev === LIST_POISON2 || next === NULL || prev === NULL) {
    const bad =
      next === LIST_POISON1
        ? "->next is LIST_POISON1"
        : prev === LIST_POISON2
          ? "->prev is LIST_POISON2"
          : next === NULL
            ? "->next is NULL"
            : "->prev is NULL";
    m.report(
      "list-corruption",
      `list_del corruption: ${nodeText(lay, e)}${bad} (deleting an entry that was already deleted?)`,
    );
    return false;
  }
  const pn = m.get(nextOff(m, prev, `list_del(${nodeText(lay, e)})`));
  if (pn !== e) {
    m.report(
      "list-corruption",
      `list_del corruption${where()}: prev->next should be ${nodeText(lay, e)}, but was ${nodeText(lay, pn)} (prev=${nodeText(lay, prev)})`,
    );
    return false;
  }
  const np = m.get(nextOff(m, next, `list_del(${nodeText(lay, e)})`) + 1);
  if (np !== e) {
    m.report(
      "list-corruption",
      `list_del corruption${where()}: next->prev should be ${nodeText(lay, e)}, but was ${nodeText(lay, np)} (next=${nodeText(lay, next)})`,
    );
    return false;
  }
  return true;
}

/** __list_add_valid(): false (reported) when the entry cannot be added there. */
function addValid(m: Mem, e: number, prev: number, next: number): boolean {
  const lay = m.layout;
  if (next === NULL || prev === NULL || next < 0 || prev < 0) {
    m.report(
      "list-corruption",
      `list_add corruption: adding ${nodeText(lay, e)} between ${nodeText(lay, prev)} and ${nodeText(lay, next)}`,
    );
    return false;
  }
  const np = m.get(lay.nodes[next]!.nextOff + 1);
  if (np !== prev) {
    m.report(
      "list-corruption",
      `list_add corruption: next->prev should be prev (${nodeText(lay, prev)}), but was ${nodeText(lay, np)} (next=${nodeText(lay, next)})`,
    );
    return false;
  }
  const pn = m.get(lay.nodes[prev]!.nextOff);
  if (pn !== next) {
    m.report(
      "list-corruption",
      `list_add corruption: prev->next should be next (${nodeText(lay, next)}), but was ${nodeText(lay, pn)} (prev=${nodeText(lay, prev)})`,
    );
    return false;
  }
  if (e === prev || e === next) {
    m.report(
      "list-corruption",
      `list_add double add: ${nodeText(lay, e)} is already next to itself (new=${nodeText(lay, e)}, prev=${nodeText(lay, prev)}, next=${nodeText(lay, next)})`,
    );
    return false;
  }
  return true;
}

/** Register 2 says the operation was refused: skip this write; the last write clears the mark. */
function refused(r: Regs, last: boolean): boolean {
  if (r.get(2) !== REFUSED) return false;
  if (last) r.set(2, NULL);
  return true;
}

/**
 * Writes of __list_del_entry(e): read and check, then next->prev = prev; WRITE_ONCE(prev->next,
 * next). A failed check skips both writes.
 */
function delMicros(e: (c: Ctx) => number): Micro[] {
  return [
    (c, r) => {
      const id = e(c);
      const o = nextOff(c.m, id, "list_del");
      const prev = c.m.get(o + 1);
      const next = c.m.get(o);
      if (!delValid(c.m, id, prev, next)) {
        r.set(2, REFUSED);
        return;
      }
      r.set(0, prev);
      r.set(1, next);
      c.m.set(nextOff(c.m, next, "list_del") + 1, prev);
    },
    (c, r) => {
      if (refused(r, true)) return;
      c.m.setMarked(nextOff(c.m, r.get(0), "list_del"), r.get(1));
    },
  ];
}

/**
 * Writes of __list_add(e, prev, next) where `where` picks prev and next from the target head.
 * A failed check skips every write.
 */
function addMicros(e: (c: Ctx) => number, h: (c: Ctx) => number, tail: boolean): Micro[] {
  return [
    (c, r) => {
      const head = h(c);
      const ho = nextOff(c.m, head, "list_add");
      const prev = tail ? c.m.get(ho + 1) : head;
      const next = tail ? head : c.m.get(ho);
      const id = e(c);
      if (!addValid(c.m, id, prev, next)) {
        r.set(2, REFUSED);
        return;
      }
      r.set(0, prev);
      r.set(1, next);
      c.m.set(nextOff(c.m, next, "list_add") + 1, id);
    },
    (c, r) => {
      if (refused(r, false)) return;
      c.m.set(nextOff(c.m, e(c), "list_add"), r.get(1));
    },
    (c, r) => {
      if (refused(r, false)) return;
      c.m.set(nextOff(c.m, e(c), "list_add") + 1, r.get(0));
    },
    (c, r) => {
      if (refused(r, true)) return;
      c.m.setMarked(nextOff(c.m, r.get(0), "list_add"), e(c));
    },
  ];
}
const ADD_NOTES = [
  "next->prev = new",
  "new->next = next",
  "new->prev = prev",
  "WRITE_ONCE(prev->next, new)",
];
const DEL_NOTES = ["next->prev = prev", "WRITE_ONCE(prev->next, next)"];

/**
 * Atomic when the CPU holds the lock of the list `e` is on (if any) and of `extra` heads.
 * With lockdep on, a list that declares a lock the CPU does not hold is `wrong-lock` (lockdep.ts).
 */
function protectedOps(
  e: (c: Ctx) => number,
  heads: ((c: Ctx) => number)[],
  what: (c: Ctx) => string,
  /** The operation unlinks `e` from its list (del, move): that list's lock is needed. */
  unlinks: boolean,
): (c: Ctx) => boolean {
  return (c) => {
    const m = c.m;
    const id = e(c);
    const n = m.layout.nodes[id];
    if (!n) return false;
    const on = headOf(m, id);
    if (on >= 0) {
      if (!locked(m, on, c.cpu)) {
        if (m.ld && unlinks) assertListLock(m, on, c.cpu, what(c));
        return false;
      }
    } else if (m.b[n.nextOff] !== id) {
      return false; // linked but no head reachable: corrupt or poisoned; show every write
    }
    for (const h of heads) {
      if (!locked(m, h(c), c.cpu)) {
        if (m.ld) assertListLock(m, h(c), c.cpu, what(c));
        return false;
      }
    }
    return true;
  };
}

const idOf = (r: ListRef) => (c: Ctx) => r.$node(c.m.b);
const nm = (r: ListRef) => (c: Ctx) => `&${r.$name(c.m.b)}`;

export function list_add(e: ListRef, h: ListRef): Stmt {
  const E = idOf(e);
  const H = idOf(h);
  return listOp(
    (c) => `list_add(${nm(e)(c)}, ${nm(h)(c)})`,
    ADD_NOTES,
    addMicros(E, H, false),
    protectedOps(E, [H], (c) => `list_add(${nm(e)(c)}, ${nm(h)(c)})`, false),
  );
}

export function list_add_tail(e: ListRef, h: ListRef): Stmt {
  const E = idOf(e);
  const H = idOf(h);
  return listOp(
    (c) => `list_add_tail(${nm(e)(c)}, ${nm(h)(c)})`,
    ADD_NOTES,
    addMicros(E, H, true),
    protectedOps(E, [H], (c) => `list_add_tail(${nm(e)(c)}, ${nm(h)(c)})`, false),
  );
}

export function list_del(e: ListRef): Stmt {
  const E = idOf(e);
  const micros: Micro[] = [
    ...delMicros(E),
    (c) => c.m.set(nextOff(c.m, E(c), "list_del"), LIST_POISON1),
    (c) => c.m.set(nextOff(c.m, E(c), "list_del") + 1, LIST_POISON2),
  ];
  return listOp(
    (c) => `list_del(${nm(e)(c)})`,
    [...DEL_NOTES, "entry->next = LIST_POISON1", "entry->prev = LIST_POISON2"],
    micros,
    protectedOps(E, [], (c) => `list_del(${nm(e)(c)})`, true),
  );
}

export function list_del_init(e: ListRef): Stmt {
  const E = idOf(e);
  const micros: Micro[] = [
    ...delMicros(E),
    (c) => c.m.setMarked(nextOff(c.m, E(c), "list_del_init"), E(c)),
    (c) => c.m.setMarked(nextOff(c.m, E(c), "list_del_init") + 1, E(c)),
  ];
  return listOp(
    (c) => `list_del_init(${nm(e)(c)})`,
    [...DEL_NOTES, "WRITE_ONCE(entry->next, entry)", "WRITE_ONCE(entry->prev, entry)"],
    micros,
    protectedOps(E, [], (c) => `list_del_init(${nm(e)(c)})`, true),
  );
}

function move(e: ListRef, h: ListRef, tail: boolean): Stmt {
  const E = idOf(e);
  const H = idOf(h);
  const fn = tail ? "list_move_tail" : "list_move";
  return listOp(
    (c) => `${fn}(${nm(e)(c)}, ${nm(h)(c)})`,
    [...DEL_NOTES, ...ADD_NOTES],
    [...delMicros(E), ...addMicros(E, H, tail)],
    protectedOps(E, [H], (c) => `${fn}(${nm(e)(c)}, ${nm(h)(c)})`, true),
  );
}
export const list_move = (e: ListRef, h: ListRef): Stmt => move(e, h, false);
export const list_move_tail = (e: ListRef, h: ListRef): Stmt => move(e, h, true);

/**
 * list_splice_tail(list, head) / list_splice_tail_init: moves every entry of `list` before
 * `head`. One step when both lists' locks are held, else its writes.
 */
function splice(list: ListRef, h: ListRef, init: boolean): Stmt {
  const L = idOf(list);
  const H = idOf(h);
  const fn = init ? "list_splice_tail_init" : "list_splice_tail";
  // registers: 0 = first, 1 = last, 2 = head->prev ("at"); first == list means empty
  const micros: Micro[] = [
    (c, r) => {
      const lo = nextOff(c.m, L(c), fn);
      r.set(0, c.m.get(lo));
      r.set(1, c.m.get(lo + 1));
      r.set(2, c.m.get(nextOff(c.m, H(c), fn) + 1));
      if (r.get(0) !== L(c)) c.m.set(nextOff(c.m, r.get(0), fn) + 1, r.get(2));
    },
    (c, r) => {
      if (r.get(0) !== L(c)) c.m.set(nextOff(c.m, r.get(2), fn), r.get(0));
    },
    (c, r) => {
      if (r.get(0) !== L(c)) c.m.set(nextOff(c.m, r.get(1), fn), H(c));
    },
    (c, r) => {
      if (r.get(0) !== L(c)) c.m.set(nextOff(c.m, H(c), fn) + 1, r.get(1));
    },
  ];
  const notes = ["first->prev = at", "at->next = first", "last->next = head", "head->prev = last"];
  if (init) {
    micros.push(
      (c, r) => {
        if (r.get(0) !== L(c)) c.m.setMarked(nextOff(c.m, L(c), fn), L(c));
      },
      (c, r) => {
        if (r.get(0) !== L(c)) c.m.setMarked(nextOff(c.m, L(c), fn) + 1, L(c));
      },
    );
    notes.push("INIT_LIST_HEAD(list): WRITE_ONCE(next)", "INIT_LIST_HEAD(list): WRITE_ONCE(prev)");
  }
  const atomic = (c: Ctx): boolean => {
    for (const x of [L(c), H(c)]) {
      if (locked(c.m, x, c.cpu)) continue;
      if (c.m.ld) assertListLock(c.m, x, c.cpu, `${fn}(${nm(list)(c)}, ${nm(h)(c)})`);
      return false;
    }
    return true;
  };
  return listOp((c) => `${fn}(${nm(list)(c)}, ${nm(h)(c)})`, notes, micros, atomic);
}
export const list_splice_tail = (list: ListRef, h: ListRef): Stmt => splice(list, h, false);
export const list_splice_tail_init = (list: ListRef, h: ListRef): Stmt => splice(list, h, true);

/** list_empty(h) as a condition (READ_ONCE(h->next) == h: a marked read). */
export function list_empty(h: ListRef): StepStmt {
  return step(
    (c, r) => `list_empty(${nm(h)(c)}) -> ${boolResult(r)}`,
    (c) => {
      const id = h.$node(c.m.b);
      return c.m.getMarked(nextOff(c.m, id, "list_empty")) === id;
    },
    LIST_RAISES,
  );
}

/** !list_empty(h) as a condition. */
export function list_nonempty(h: ListRef): StepStmt {
  return step(
    (c, r) => `!list_empty(${nm(h)(c)}) -> ${boolResult(r)}`,
    (c) => {
      const id = h.$node(c.m.b);
      return c.m.getMarked(nextOff(c.m, id, "list_empty")) !== id;
    },
    LIST_RAISES,
  );
}

/** The index of the object that embeds list node `id` (container_of), or BOGUS for a head. */
export function containerOf(m: Mem, id: number, what: string): number {
  const n = m.layout.nodes[id];
  if (!n)
    throw new Violation(
      "list-corruption",
      `list corruption: ${what} reached ${m.layout.nodeName(id)}`,
    );
  return n.container ? n.container.index : BOGUS;
}

/**
 * `dst = list_first_entry(head, type, member)`. On an empty list the result is
 * container_of(head): a bogus object; using it is reported as `bogus-entry`.
 */
export function list_first_entry(dst: Ref<PtrS>, h: ListRef): StepStmt {
  return step(
    (c) => `${dst.$text.replace(/^l\./, "")} = list_first_entry(${nm(h)(c)})`,
    (c) => {
      const first = c.m.get(nextOff(c.m, h.$node(c.m.b), "list_first_entry"));
      c.m.set(dst.$off(c.m.b), containerOf(c.m, first, "list_first_entry"));
    },
    // the bogus entry is reported where a later step uses it; it exists because of this one
    { raises: ["list-corruption", "bogus-entry"] },
  );
}

/**
 * list_for_each_entry_safe(pos, n, head, member) { body }: `pos` is a ptr to the entry, `n`
 * a list_head pointer to the next node, read before the body runs (so the body may remove pos).
 * The loop's entry test and each advance are one step each; after the loop pos is NULL.
 */
export function list_for_each_entry_safe(
  pos: Ref<PtrS>,
  n: Ref<NodePtrS>,
  h: ListRef,
  body: Stmt[],
): Stmt {
  const posName = pos.$text.replace(/^l\./, "");
  const enter = (c: Ctx, x: number): boolean => {
    const head = h.$node(c.m.b);
    if (x === head) {
      c.m.set(pos.$off(c.m.b), NULL);
      return false;
    }
    const i = containerOf(c.m, x, `list_for_each_entry_safe over ${h.$name(c.m.b)}`);
    if (i === BOGUS) {
      throw new Violation(
        "list-corruption",
        `list corruption: iterating ${h.$name(c.m.b)} reached another list's head ${c.m.layout.nodeName(x)}`,
      );
    }
    c.m.set(pos.$off(c.m.b), i);
    c.m.set(n.$off(c.m.b), c.m.get(nextOff(c.m, x, "list_for_each_entry_safe")));
    return true;
  };
  const lbl = (c: Ctx, r: unknown, x: number): string =>
    r
      ? `list_for_each_entry_safe(${nm(h)(c)}): ${posName} = ${c.m.layout.nodeName(x)}`
      : `list_for_each_entry_safe(${nm(h)(c)}): done`;
  return loop(
    step(
      (c, r) => lbl(c, r, c.m.b[nextOff(c.m, h.$node(c.m.b), "")]!),
      (c) => enter(c, c.m.get(nextOff(c.m, h.$node(c.m.b), "list_for_each_entry_safe"))),
      LIST_RAISES,
    ),
    step(
      (c, r) => lbl(c, r, c.m.b[n.$off(c.m.b)]!),
      (c) => enter(c, c.m.get(n.$off(c.m.b))),
      LIST_RAISES,
    ),
    body,
  );
}

// In-step forms (added for list_lru.ts): the same writes and CONFIG_DEBUG_LIST checks as the
// statements above, done at once inside a larger atomic step, for primitives whose whole
// operation runs under the list's lock (list_lru_add, list_lru_isolate...). `e`/`head` are node ids.
// They make no lockdep check: a primitive that folds its locking into its step asserts it
// itself (list_lru's delLocked checks that the item is on the sublist whose lock it takes).

const run = (c: Ctx, micros: readonly Micro[]): void => {
  machineRegs[2] = NULL;
  for (const mi of micros) mi(c, REGS);
};

/** list_del_init(e) inside a step. */
export function listDelInitNow(c: Ctx, e: number): void {
  const E = (): number => e;
  run(c, [
    ...delMicros(E),
    (cc) => cc.m.setMarked(nextOff(cc.m, e, "list_del_init"), e),
    (cc) => cc.m.setMarked(nextOff(cc.m, e, "list_del_init") + 1, e),
  ]);
}

/** list_add(e, head) / list_add_tail(e, head) inside a step. */
export function listAddNow(c: Ctx, e: number, head: number, tail: boolean): void {
  run(
    c,
    addMicros(
      () => e,
      () => head,
      tail,
    ),
  );
}

/** list_move(e, head) / list_move_tail(e, head) inside a step. */
export function listMoveNow(c: Ctx, e: number, head: number, tail: boolean): void {
  run(c, [
    ...delMicros(() => e),
    ...addMicros(
      () => e,
      () => head,
      tail,
    ),
  ]);
}

/** list_splice_init(list, head) inside a step: list's entries go to the front of head. */
export function listSpliceInitNow(c: Ctx, list: number, head: number): void {
  const m = c.m;
  const lo = nextOff(m, list, "list_splice_init");
  const first = m.get(lo);
  if (first === list) return;
  const last = m.get(lo + 1);
  const ho = nextOff(m, head, "list_splice_init");
  const at = m.get(ho);
  m.set(nextOff(m, first, "list_splice_init") + 1, head);
  m.set(ho, first);
  m.set(nextOff(m, last, "list_splice_init"), at);
  m.set(nextOff(m, at, "list_splice_init") + 1, last);
  // INIT_LIST_HEAD: WRITE_ONCE(list->next, list); WRITE_ONCE(list->prev, list)
  m.setMarked(lo, list);
  m.setMarked(lo + 1, list);
}

// ---------------------------------------------------------------------------------------------
// Initial contents

/**
 * Lays out a list in the initial state (inside `m.init((s) => ...)`): `head` then `entries` in
 * order, linked both ways, as list_add_tail() of each would leave them. Every entry must be
 * off any list (its own next/prev point to itself), each given once.
 */
export function initList(head: ListView, entries: readonly ListView[]): void {
  const seen = new Set<number>([head.id]);
  for (const e of entries) {
    if (seen.has(e.id)) {
      throw new ModelError(
        "E_INIT",
        `initList: list node #${e.id} is given twice (or is the head itself)`,
        "give each entry once",
      );
    }
    seen.add(e.id);
    if (e.next !== e.id || e.prev !== e.id) {
      throw new ModelError(
        "E_INIT",
        `initList: list node #${e.id} is already on a list`,
        "put each object on one list only; call initList once per list",
      );
    }
  }
  if (head.next !== head.id) {
    throw new ModelError(
      "E_INIT",
      `initList: list head #${head.id} is not empty`,
      "call initList once per list",
    );
  }
  const all = [head, ...entries];
  for (let i = 0; i < all.length; i++) {
    all[i]!.next = all[(i + 1) % all.length]!.id;
    all[i]!.prev = all[(i + all.length - 1) % all.length]!.id;
  }
}
