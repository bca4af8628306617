// The property catalogue: the properties the deferred-split reviews argue about, reusable by
// name. Each function registers an invariant or end-state property on a ModelBuilder, given
// the refs it needs; assertions used inside steps are exported as check functions. The step
// factories of list.ts, folio.ts, spinlock.ts, list_lru.ts and memcg.ts declare the assertions
// below that they raise (`raises` in their step options, with the severity of properties.ts); a
// model step that calls a run-time helper (assertLive, addCounter, checkDoubleUnqueue,
// checkMemcg...) declares them itself (`raises: raises(PROP.x)`).
//
// Severity: warn = reported, the search goes on past it (the kernel goes on); bug = the path
// ends (the kernel stops the CPU). See SEVERITY in properties.ts for the kernel behaviour behind
// each; test/kernel/catalogue.test.ts has, for each property, a scenario that raises it and a
// look-alike that must not.
//
// | property             | kind        | severity | raised by                                   | meaning |
// |----------------------|-------------|----------|---------------------------------------------|---------|
// | list-corruption      | assertion   | warn     | list.ts (CONFIG_DEBUG_LIST checks)          | __list_add_valid / __list_del_entry_valid failed: reported, the operation refused (following a NULL/poisoned pointer: an oops, bug) |
// | list-integrity       | invariant   | warn     | listIntegrity()                             | a list's next/prev pointers disagree while its lock is free (lockless lists: at quiescence) |
// | use-after-free       | assert+inv  | bug      | folio.ts ops, assertLive(), useAfterFree()  | an op on a freed folio; a freed folio still reachable on a list |
// | bad-page-state       | assertion   | warn     | folio.ts free_folio                         | a folio freed while its _deferred_list is not empty ("on deferred list"): reported, the page leaked (not freed) |
// | refcount-underflow   | assertion   | bug      | folio_put                                   | put of a zero refcount (VM_BUG_ON_PAGE) |
// | bad-get              | assertion   | bug      | folio_get                                   | folio_get on a zero refcount (VM_BUG_ON_FOLIO) |
// | bad-unfreeze         | assertion   | bug      | folio_ref_unfreeze                          | unfreeze of a count that is not frozen (VM_BUG_ON) |
// | bad-folio-unlock     | assertion   | bug      | folio_unlock                                | unlock of a folio that is not locked (VM_BUG_ON_FOLIO) |
// | bad-unlock           | assertion   | warn     | spinlock.ts                                 | spin_unlock of a lock the CPU does not hold (spin_bug prints; the unlock happens) |
// | counter-underflow    | assertion   | bug      | folio.ts counters                           | a counter (split_queue_len, a stat) decremented below its range |
// | double-unqueue       | assertion   | warn     | checkDoubleUnqueue() in the unqueue step    | split_queue_len decremented for a folio the queue does not count |
// | stale-membership     | invariant   | warn     | staleMembership()                           | !list_empty(&f->_deferred_list) while f is on no queue |
// | queue-len            | invariant   | warn     | queueLenConsistent()                        | split_queue_len != the queue's real length while its lock is free |
// | lost-membership      | end state   | -        | lostMembership()                            | at quiescence, a live partially mapped folio is on no queue |
// | nr-partially-mapped  | invariant   | warn     | partiallyMappedCounter()                    | the statistic != the number of folios with PG_partially_mapped (locks free) |
// | null-memcg-deref     | assertion   | bug      | memcg.ts (checkMemcg / memcg ops)           | a NULL memcg (memory cgroups disabled) dereferenced |
// | list-lru-unlocked    | assertion   | bug      | list_lru.ts                                 | a list_lru op that needs the sublist lock without it (or a walk status after dropping it) |
// | bogus-entry          | assertion   | bug      | ref.ts (list_first_entry on an empty list)  | container_of() of a list head used as an object |
// | null-deref           | assertion   | bug      | ref.ts                                      | a NULL pointer local dereferenced |
// | deadlock             | explorer    | -        | built in                                    | no CPU can move and some have not finished |
// | data-race            | explorer    | warn     | built in                                    | two enabled steps of different CPUs access a word, one writes, at least one is plain, neither in data_race() |

import type { ModelBuilder, World } from "../model/model.ts";
import { step } from "../model/dsl.ts";
import { Violation } from "../rt/mem.ts";
import type { Ref } from "../model/ref.ts";
import type { Fields, IntS, ListHeadS, LockS } from "../model/schema.ts";
import type { Mem } from "../rt/mem.ts";
import { headOf, listLength } from "./list.ts";
import { PROP, SEVERITY, type PropertyName } from "./properties.ts";
import type { FolioList, FolioRef } from "./folio.ts";
import type { DsQueueRef } from "./huge_memory.ts";

export { PROP, SEVERITY, raise, raises, type PropertyName } from "./properties.ts";

type ListRef = Ref<ListHeadS>;
/** A queue given as a deferred split queue, or as the list head of a queue (e.g. a list_lru sublist). */
export type QueueLike = DsQueueRef | ListRef;

function headRef(q: QueueLike): ListRef {
  return "split_queue" in q ? (q as DsQueueRef).split_queue : (q as ListRef);
}

function nodeName(m: Mem, id: number): string {
  return m.layout.nodeName(id);
}

function folioRefs(folios: FolioList): FolioRef[] {
  const out: FolioRef[] = [];
  for (let i = 0; i < folios.length; i++) out.push(folios[i]!);
  return out;
}

function fname(f: FolioRef, b: Int32Array): string {
  return f._refcount.$name(b).replace(/(\.|->)_refcount$/, "");
}

// ---------------------------------------------------------------------------------------------
// Assertions used inside steps

/**
 * double-unqueue: called where split_queue_len is decremented for folio f (before its
 * list_del_init): the queue q must count f in its length. It does when f is on q's list, and
 * also when f is on a private list (a head declared without a lock: the scanner's on-stack
 * LIST_HEAD(list)): before folio_batch (v6.7..v6.17), deferred_split_scan() list_move()s the
 * folios it took to its private list WITHOUT `split_queue_len--`, so a folio there still counts
 * in its queue's length, and the free path's unqueue of such a folio (the scanner's own
 * folio_put dropping the last reference) rightly decrements it. It does not when f's
 * _deferred_list is empty (unqueued twice) or when f is on another queue's list (a list with a
 * lock: the wrong queue). Reported with the declared severity (warn: the decrement goes on). The
 * step calling it declares `raises: raises(PROP.doubleUnqueue)` (folio.ts's unqueue_accounting
 * does), so that the property is listed, and shown holding, wherever that step is compiled.
 */
export function checkDoubleUnqueue(c: { m: Mem }, f: FolioRef, q: QueueLike): void {
  const m = c.m;
  const b = m.b;
  const id = f._deferred_list.$node(b);
  const qh = headRef(q).$node(b);
  const h = headOf(m, id);
  if (h === qh) return;
  const empty = b[m.layout.nodes[id]!.nextOff] === id;
  // a private list: its entries still count in the length of the queue they were taken from
  if (!empty && h >= 0 && m.layout.nodes[h]!.lockOff < 0) return;
  const where = empty
    ? "its _deferred_list is empty: it was already unqueued"
    : h >= 0
      ? `it is on ${nodeName(m, h)}, another queue`
      : "its _deferred_list reaches no list head";
  m.report(
    PROP.doubleUnqueue,
    `double unqueue: the length of ${nodeName(m, qh)} is decremented for ${fname(f, b)}, which it does not count (${where})`,
  );
}

// ---------------------------------------------------------------------------------------------
// Invariants and end-state properties

/**
 * queue-len: whenever a queue's split_queue_lock is free, split_queue_len equals the number of
 * entries on split_queue. (A corrupt list is left to list-integrity / list-corruption.)
 */
export function queueLenConsistent<F extends Fields>(
  mb: ModelBuilder<F>,
  queues: DsQueueRef | readonly DsQueueRef[],
  name: string = PROP.queueLen,
): void {
  const qs = Array.isArray(queues) ? (queues as readonly DsQueueRef[]) : [queues as DsQueueRef];
  mb.invariant(name, (w: World) => {
    const m = w.m;
    const b = m.b;
    for (const q of qs) {
      if (b[q.split_queue_lock.$off(b)] !== -1) continue;
      const head = q.split_queue.$node(b);
      const real = listLength(m, head);
      if (real < 0) continue;
      const len = b[q.split_queue_len.$off(b)]!;
      if (len !== real) {
        return (
          `${q.split_queue_len.$name(b)} is ${len} but ${nodeName(m, head)} holds ${real} ` +
          `entr${real === 1 ? "y" : "ies"} (${q.split_queue_lock.$name(b)} is free)`
        );
      }
    }
    return true;
  });
}

/**
 * stale-membership: a folio whose _deferred_list is not empty must be on one of `queues`
 * ("!list_empty(&folio->_deferred_list) means queued").
 */
export function staleMembership<F extends Fields>(
  mb: ModelBuilder<F>,
  folios: FolioList,
  queues: readonly QueueLike[],
  name: string = PROP.staleMembership,
): void {
  const fs = folioRefs(folios);
  const heads = queues.map(headRef);
  mb.invariant(name, (w: World) => {
    const m = w.m;
    const b = m.b;
    for (const f of fs) {
      const id = f._deferred_list.$node(b);
      if (b[m.layout.nodes[id]!.nextOff] === id) continue;
      const h = headOf(m, id);
      if (h >= 0 && heads.some((r) => r.$node(b) === h)) continue;
      return (
        `!list_empty(&${fname(f, b)}->_deferred_list) but ${fname(f, b)} is on no queue ` +
        (h >= 0 ? `(it is on ${nodeName(m, h)})` : "(its list reaches no head: torn or corrupt)")
      );
    }
    return true;
  });
}

function checkList(m: Mem, head: number): string | undefined {
  const lay = m.layout;
  const b = m.b;
  let x = head;
  for (let k = 0; k <= lay.nodes.length + 1; k++) {
    const nx = b[lay.nodes[x]!.nextOff]!;
    const n = lay.nodes[nx];
    if (!n) return `${nodeName(m, head)}: ${nodeName(m, x)}->next is ${nodeName(m, nx)}`;
    const back = b[n.prevOff]!;
    if (back !== x) {
      return `${nodeName(m, head)}: ${nodeName(m, x)}->next is ${nodeName(m, nx)} but ${nodeName(m, nx)}->prev is ${nodeName(m, back)}`;
    }
    if (nx === head) return undefined;
    if (n.role === "head")
      return `${nodeName(m, head)}: following next from ${nodeName(m, x)} reaches another list's head ${nodeName(m, nx)}`;
    x = nx;
  }
  return `${nodeName(m, head)}: following next pointers never returns to the head`;
}

/**
 * list-integrity: every list's next/prev pointers agree (x->next->prev == x, around to the head).
 * Checked whenever the list's declared lock is free; a list without a lock (private) is
 * checked at quiescence only.
 */
export function listIntegrity<F extends Fields>(
  mb: ModelBuilder<F>,
  heads: readonly QueueLike[],
  name: string = PROP.listIntegrity,
): void {
  const hs = heads.map(headRef);
  const run = (w: World, locked: boolean): true | string => {
    const m = w.m;
    const b = m.b;
    for (const h of hs) {
      const id = h.$node(b);
      const lockOff = m.layout.nodes[id]!.lockOff;
      if (locked !== lockOff >= 0) continue;
      if (lockOff >= 0 && b[lockOff] !== -1) continue;
      const bad = checkList(m, id);
      if (bad !== undefined) return `list integrity: ${bad}`;
    }
    return true;
  };
  mb.invariant(name, (w: World) => run(w, true));
  mb.endState(name, (w: World) => run(w, false));
}

/**
 * use-after-free (as an invariant, severity bug): a freed folio must not be reachable on a list:
 * no list head, and no node reachable from a head by following next pointers, may point to its
 * _deferred_list (by next or prev). What the freed folio's own node holds does not matter:
 * LIST_POISON after list_del(), or the stale pointers of a torn deletion, are not followed by
 * anyone. Nor does a node that is itself off every list (in the middle of its own deletion:
 * unlinked from its neighbours, its own ->next not yet rewritten): nobody follows its pointers.
 */
export function useAfterFree<F extends Fields>(
  mb: ModelBuilder<F>,
  folios: FolioList,
  name: string = PROP.useAfterFree,
): void {
  const fs = folioRefs(folios);
  mb.invariant(
    name,
    (w: World) => {
      const m = w.m;
      const b = m.b;
      const nodes = m.layout.nodes;
      let freed = false;
      for (const f of fs) if (b[f.freed.$off(b)] !== 0) freed = true;
      if (!freed) return true;
      // pass 0: a freed folio reachable from a head; pass 1: a reachable node pointing to one
      for (let pass = 0; pass < 2; pass++) {
        for (const head of nodes) {
          if (head.role !== "head") continue;
          // walk the list from its head (bounded: a corrupt list may not come back)
          let x = head.id;
          for (let k = 0; k <= nodes.length; k++) {
            const n = nodes[x]!;
            for (const f of fs) {
              if (b[f.freed.$off(b)] === 0) continue;
              const id = f._deferred_list.$node(b);
              if (pass === 0 && x === id)
                return `use-after-free: ${fname(f, b)} was freed while still linked on ${nodeName(m, head.id)}`;
              if (pass === 1 && (b[n.nextOff] === id || b[n.prevOff] === id))
                return `use-after-free: ${nodeName(m, x)} (on ${nodeName(m, head.id)}) points to ${fname(f, b)}._deferred_list, but ${fname(f, b)} was freed`;
            }
            const nx = b[n.nextOff]!;
            if (nx === head.id || !nodes[nx]) break;
            x = nx;
          }
        }
      }
      return true;
    },
    { severity: SEVERITY[PROP.useAfterFree] },
  );
}

/**
 * lost-membership (end state): a live (not freed) partially mapped folio must be on a queue.
 * `filter(w, i)` excludes folios the model no longer tracks (e.g. split ones).
 */
export function lostMembership<F extends Fields>(
  mb: ModelBuilder<F>,
  folios: FolioList,
  queues: readonly QueueLike[],
  opts: {
    /** Excludes folios the model no longer tracks (e.g. split ones). */
    filter?: (w: World, i: number) => boolean;
    /** What "partially mapped" means (default: PG_partially_mapped set), e.g. a model's own mapcount field. */
    isPartial?: (w: World, i: number) => boolean;
    name?: string;
  } = {},
): void {
  const fs = folioRefs(folios);
  const heads = queues.map(headRef);
  mb.endState(opts.name ?? PROP.lostMembership, (w: World) => {
    const m = w.m;
    const b = m.b;
    for (let i = 0; i < fs.length; i++) {
      const f = fs[i]!;
      if (b[f.freed.$off(b)] !== 0) continue;
      if (opts.isPartial ? !opts.isPartial(w, i) : !f.partially_mapped.$test(b)) continue;
      if (opts.filter && !opts.filter(w, i)) continue;
      const id = f._deferred_list.$node(b);
      const h = b[m.layout.nodes[id]!.nextOff] === id ? -1 : headOf(m, id);
      if (h >= 0 && heads.some((r) => r.$node(b) === h)) continue;
      return (
        `${fname(f, b)} is partially mapped and live but on no deferred split queue at quiescence ` +
        (h >= 0 ? `(it is on ${nodeName(m, h)})` : "(its _deferred_list is empty)")
      );
    }
    return true;
  });
}

/**
 * nr-partially-mapped: whenever every lock in `locks` is free, the statistic equals the number
 * of `folios` with PG_partially_mapped set.
 */
export function partiallyMappedCounter<F extends Fields>(
  mb: ModelBuilder<F>,
  folios: FolioList,
  stat: Ref<IntS>,
  locks: readonly Ref<LockS>[] = [],
  name: string = PROP.nrPartiallyMapped,
): void {
  const fs = folioRefs(folios);
  mb.invariant(name, (w: World) => {
    const b = w.m.b;
    for (const l of locks) if (b[l.$off(b)] !== -1) return true;
    let n = 0;
    for (const f of fs) if (f.partially_mapped.$test(b)) n++;
    const v = b[stat.$off(b)]!;
    return (
      v === n ||
      `${stat.$name(b)} is ${v} but ${n} folio${n === 1 ? " has" : "s have"} PG_partially_mapped set`
    );
  });
}

/** Registers the usual deferred-split properties at once (each can be left out). */
export function deferredSplitProperties<F extends Fields>(
  mb: ModelBuilder<F>,
  opts: {
    folios: FolioList;
    queues: readonly DsQueueRef[];
    /** Other list heads to check for integrity (private lists...). */
    lists?: readonly ListRef[];
    stat?: Ref<IntS>;
    skip?: readonly PropertyName[];
  },
): void {
  const skip = new Set<string>(opts.skip ?? []);
  if (!skip.has(PROP.queueLen)) queueLenConsistent(mb, opts.queues);
  if (!skip.has(PROP.staleMembership)) staleMembership(mb, opts.folios, opts.queues);
  if (!skip.has(PROP.listIntegrity)) listIntegrity(mb, [...opts.queues, ...(opts.lists ?? [])]);
  if (!skip.has(PROP.useAfterFree)) useAfterFree(mb, opts.folios);
  if (!skip.has(PROP.lostMembership)) lostMembership(mb, opts.folios, opts.queues);
  if (opts.stat && !skip.has(PROP.nrPartiallyMapped)) {
    partiallyMappedCounter(
      mb,
      opts.folios,
      opts.stat,
      opts.queues.map((q) => q.split_queue_lock),
    );
  }
}

/** A property as a predicate: true when it holds, else false or a message. */
export type PropertyPredicate = (w: World) => boolean | string;

/**
 * The predicates that registration functions of this catalogue would add, collected instead of
 * registered (e.g. to check them from an observer step rather than as invariants, since the
 * explorer does not expand a state that breaks an invariant):
 * `collect((mb) => queueLenConsistent(mb, q))` gives `{ invariants: Map { "queue-len" => fn }, endStates }`.
 */
export function collect(register: (mb: ModelBuilder<Fields>) => void): {
  invariants: Map<string, PropertyPredicate>;
  endStates: Map<string, PropertyPredicate>;
} {
  const invariants = new Map<string, PropertyPredicate>();
  const endStates = new Map<string, PropertyPredicate>();
  const fake = {
    invariant(name: string, fn: PropertyPredicate) {
      invariants.set(name, fn);
      return fake;
    },
    endState(name: string, fn: PropertyPredicate) {
      endStates.set(name, fn);
      return fake;
    },
  };
  register(fake as unknown as ModelBuilder<Fields>);
  return { invariants, endStates };
}

/**
 * Checks `preds` from an observer CPU rather than as invariants: one step with one choice per
 * property, which the scheduler may take in any state; it evaluates the property's predicate and
 * fails that property if it does not hold. Only the observer's transition is cut: every other
 * interleaving goes on, so a property is still found in every reachable state where it fails
 * (the observer can still run in each of them), and what comes later on the same paths is
 * reached too, even past a bug-severity invariant such as use-after-free, which would end the
 * path where it first fails. The trace of a property found this way ends with the observer's
 * step (`observe [name]: what[name]`). Costs about twice the states of the invariants.
 */
export function observer<F extends Fields>(
  mb: ModelBuilder<F>,
  preds: ReadonlyMap<string, PropertyPredicate>,
  what: Readonly<Record<string, string>> = {},
): void {
  const names = [...preds.keys()];
  if (names.length === 0) return;
  let world: World | undefined;
  mb.thread("observer", {}, () => [
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
  mb.init((_s, w) => {
    world = w as unknown as World;
  });
}
