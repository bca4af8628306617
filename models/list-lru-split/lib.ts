// A local list_lru sublist (struct list_lru_one, mm/list_lru.c) for the list-lru-split model,
// written while src/kernel/list_lru.ts did not exist yet. One sublist only (one NUMA node, one
// memcg): the race the model is about lives inside a sublist.
//
// Every operation here is done by a CPU that holds the sublist's lock (list_lru_lock(), or the
// walk in list_lru_shrink_walk_irq()), so each is one atomic step: the pointer writes of the
// unlink/link plus the nr_items update, with the CONFIG_DEBUG_LIST checks. A CPU that does not
// hold the lock is a model bug, reported as `bad-unlock`-style `list-lru-unlocked`.
//
// Follows (mm/list_lru.c, v6.15+): __list_lru_add / __list_lru_del (add only when
// list_empty(item), del only when !list_empty(item), nr_items ±1), list_lru_isolate
// (list_del_init + nr_items--), list_lru_isolate_move (list_move + nr_items--).

import { step, type Ctx, type StepStmt } from "../../src/model/dsl.ts";
import type { Ref } from "../../src/model/ref.ts";
import { int, listHead, record, spinlock, type IntS, type ListHeadS, type LockS, type RecordS } from "../../src/model/schema.ts";
import { Violation, type Mem } from "../../src/rt/mem.ts";
import { headOf } from "../../src/kernel/list.ts";
import { PROP } from "../../src/kernel/catalogue.ts";
import { spin_lock_irq, spin_lock_irqsave, spin_unlock_irq, spin_unlock_irqrestore } from "../../src/kernel/spinlock.ts";

export type ListLruOneFields = { lock: LockS; list: ListHeadS; nr_items: IntS };

/** struct list_lru_one: `list` is protected by `lock`; `nr_items` counts its entries. */
export function listLruOne(maxItems: number): RecordS<ListLruOneFields> {
  return record({ lock: spinlock(), list: listHead({ lock: "lock" }), nr_items: int(0, maxItems) }, "list_lru_one");
}

export interface ListLruOneRef {
  readonly lock: Ref<LockS>;
  readonly list: Ref<ListHeadS>;
  readonly nr_items: Ref<IntS>;
}

type ItemRef = Ref<ListHeadS>;

function mustHold(c: Ctx, l: ListLruOneRef, fn: string): void {
  const b = c.m.b;
  if (b[l.lock.$off(b)] !== c.cpu) {
    throw new Violation("list-lru-unlocked", `${fn}: CPU${c.cpu} does not hold ${l.lock.$name(b)}`);
  }
}

function name(m: Mem, id: number): string {
  return m.layout.nodeName(id);
}

function nodeOf(m: Mem, id: number, what: string): { nextOff: number; prevOff: number } {
  const n = m.layout.nodes[id];
  if (!n) throw new Violation(PROP.listCorruption, `list corruption: ${what} reaches ${name(m, id)}`);
  return n;
}

/** __list_del_entry_valid() + unlink + INIT_LIST_HEAD (list_del_init) of node `e`. */
function delInit(m: Mem, e: number, fn: string): void {
  const en = nodeOf(m, e, fn);
  const next = m.get(en.nextOff);
  const prev = m.get(en.prevOff);
  const nn = nodeOf(m, next, `${fn}(${name(m, e)}): ->next`);
  const pn = nodeOf(m, prev, `${fn}(${name(m, e)}): ->prev`);
  if (m.get(pn.nextOff) !== e || m.get(nn.prevOff) !== e) {
    throw new Violation(
      PROP.listCorruption,
      `list_del corruption in ${fn}: ${name(m, e)} has prev ${name(m, prev)} (->next ${name(m, m.b[pn.nextOff]!)}) ` +
        `and next ${name(m, next)} (->prev ${name(m, m.b[nn.prevOff]!)})`,
    );
  }
  m.set(nn.prevOff, prev);
  m.setMarked(pn.nextOff, next);
  m.setMarked(en.nextOff, e);
  m.setMarked(en.prevOff, e);
}

/** __list_add_valid() + list_add_tail(e, head). */
function addTail(m: Mem, e: number, head: number, fn: string): void {
  const hn = nodeOf(m, head, fn);
  const prev = m.get(hn.prevOff);
  const pn = nodeOf(m, prev, `${fn}: head->prev`);
  const en = nodeOf(m, e, fn);
  if (m.get(pn.nextOff) !== head || e === prev || e === head) {
    throw new Violation(
      PROP.listCorruption,
      `list_add corruption in ${fn}: adding ${name(m, e)} before ${name(m, head)} (prev ${name(m, prev)})`,
    );
  }
  m.set(hn.prevOff, e);
  m.set(en.nextOff, head);
  m.set(en.prevOff, prev);
  m.setMarked(pn.nextOff, e);
}

function isEmpty(m: Mem, e: number): boolean {
  return m.getMarked(m.layout.nodes[e]!.nextOff) === e;
}

function nrItems(c: Ctx, l: ListLruOneRef, delta: number): string {
  const off = l.nr_items.$off(c.m.b);
  const v = c.m.get(off);
  if (v + delta < 0) {
    throw new Violation(PROP.counterUnderflow, `${l.nr_items.$name(c.m.b)}-- takes it below 0`);
  }
  c.m.set(off, v + delta);
  return `nr_items ${v} -> ${v + delta}`;
}

/** double-unqueue: nr_items is about to be decremented for `item`, which must be on this sublist. */
function onThisList(c: Ctx, l: ListLruOneRef, item: ItemRef): void {
  const m = c.m;
  const e = item.$node(m.b);
  const h = headOf(m, e);
  const head = l.list.$node(m.b);
  if (h === head) return;
  throw new Violation(
    PROP.doubleUnqueue,
    `double unqueue: ${l.nr_items.$name(m.b)} is decremented for ${name(m, e)}, which is not on ${name(m, head)} ` +
      (h >= 0 ? `(it is on ${name(m, h)})` : "(it is on no list)"),
  );
}

const nr = (c: Ctx, l: ListLruOneRef): number => c.m.b[l.nr_items.$off(c.m.b)]!;

/** list_lru_lock(lru, nid, memcg): the sublist's spinlock (irqsave form in the scan's requeue). */
export const list_lru_lock = (l: ListLruOneRef): StepStmt => spin_lock_irqsave(l.lock);
export const list_lru_unlock = (l: ListLruOneRef): StepStmt => spin_unlock_irqrestore(l.lock);
/** The walk's lock (list_lru_shrink_walk_irq). */
export const list_lru_walk_lock = (l: ListLruOneRef): StepStmt => spin_lock_irq(l.lock);
export const list_lru_walk_unlock = (l: ListLruOneRef): StepStmt => spin_unlock_irq(l.lock);

/**
 * __list_lru_add(lru, l, item): if list_empty(item), add at the tail and nr_items++, true;
 * else false (the item is already on a list: this sublist, or a walker's dispose list).
 * `result` (a local bool) receives the return value when given.
 */
export function __list_lru_add(l: ListLruOneRef, item: ItemRef, result?: Ref): StepStmt {
  return step(
    (c, r) => `__list_lru_add(&${item.$name(c.m.b)}) -> ${r ? `true (nr_items ${nr(c, l) - 1} -> ${nr(c, l)})` : "false"}`,
    (c) => {
      mustHold(c, l, "__list_lru_add");
      const e = item.$node(c.m.b);
      let added = false;
      if (isEmpty(c.m, e)) {
        addTail(c.m, e, l.list.$node(c.m.b), "__list_lru_add");
        nrItems(c, l, +1);
        added = true;
      }
      if (result) c.m.set(result.$off(c.m.b), added ? 1 : 0);
      return added;
    },
  );
}

/**
 * __list_lru_del(lru, l, item): if !list_empty(item), list_del_init and nr_items--, true;
 * else false. The item must then be on this sublist: decrementing nr_items for an item on
 * another list (a walker's dispose list) is `double-unqueue`.
 */
export function __list_lru_del(l: ListLruOneRef, item: ItemRef, result?: Ref): StepStmt {
  return step(
    (c, r) => `__list_lru_del(&${item.$name(c.m.b)}) -> ${r ? `true (nr_items ${nr(c, l) + 1} -> ${nr(c, l)})` : "false"}`,
    (c) => {
      mustHold(c, l, "__list_lru_del");
      const e = item.$node(c.m.b);
      let deleted = false;
      if (!isEmpty(c.m, e)) {
        onThisList(c, l, item);
        delInit(c.m, e, "__list_lru_del");
        nrItems(c, l, -1);
        deleted = true;
      }
      if (result) c.m.set(result.$off(c.m.b), deleted ? 1 : 0);
      return deleted;
    },
  );
}

/** list_lru_isolate(l, item): list_del_init(item); l->nr_items-- (called by a walk's isolate callback). */
export function list_lru_isolate(l: ListLruOneRef, item: ItemRef): StepStmt {
  return step(
    (c) => `list_lru_isolate(&${item.$name(c.m.b)}) (nr_items ${nr(c, l)} -> ${nr(c, l) - 1})`,
    (c) => {
      mustHold(c, l, "list_lru_isolate");
      onThisList(c, l, item);
      delInit(c.m, item.$node(c.m.b), "list_lru_isolate");
      nrItems(c, l, -1);
    },
  );
}

/** list_lru_isolate_move(l, item, head): list_move(item, head); l->nr_items--. */
export function list_lru_isolate_move(l: ListLruOneRef, item: ItemRef, head: ItemRef): StepStmt {
  return step(
    (c) =>
      `list_lru_isolate_move(&${item.$name(c.m.b)}, &${head.$name(c.m.b)}) (nr_items ${nr(c, l)} -> ${nr(c, l) - 1})`,
    (c) => {
      mustHold(c, l, "list_lru_isolate_move");
      onThisList(c, l, item);
      const e = item.$node(c.m.b);
      delInit(c.m, e, "list_lru_isolate_move");
      // list_move adds at the head of the dispose list
      const h = head.$node(c.m.b);
      const hn = nodeOf(c.m, h, "list_lru_isolate_move");
      const first = c.m.get(hn.nextOff);
      const fn = nodeOf(c.m, first, "list_lru_isolate_move: head->next");
      const en = c.m.layout.nodes[e]!;
      c.m.set(fn.prevOff, e);
      c.m.set(en.nextOff, first);
      c.m.set(en.prevOff, h);
      c.m.setMarked(hn.nextOff, e);
      nrItems(c, l, -1);
    },
  );
}

/** Whether node `e` is on the list headed by `head` in the current state (no access recorded). */
export function onList(m: Mem, e: number, head: number): boolean {
  return m.b[m.layout.nodes[e]!.nextOff] !== e && headOf(m, e) === head;
}
