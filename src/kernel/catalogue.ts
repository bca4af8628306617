// The property catalogue: the properties the deferred-split reviews argue about, reusable by
// name. Each function registers an invariant or end-state property on a ModelBuilder, given
// the refs it needs; assertions used inside steps are exported as check functions. The step
// factories of list.ts, folio.ts, spinlock.ts, list_lru.ts and memcg.ts declare the assertions
// below that they raise (`raises` in their step options); a model step that calls a run-time
// helper (assertLive, addCounter, checkDoubleUnqueue, checkMemcg...) declares them itself.
//
// | property             | kind        | raised by                                   | meaning |
// |----------------------|-------------|---------------------------------------------|---------|
// | list-corruption      | assertion   | list.ts (CONFIG_DEBUG_LIST checks)          | __list_add_valid / __list_del_entry_valid failed |
// | list-integrity       | invariant   | listIntegrity()                              | a list's next/prev pointers disagree while its lock is free (lockless lists: at quiescence) |
// | use-after-free       | assert+inv  | folio.ts ops, assertLive(), useAfterFree()  | an op on a freed folio; a freed folio still linked into a list |
// | bad-page-state       | assertion   | folio.ts free_folio                          | a folio freed while its _deferred_list is not empty ("on deferred list") |
// | refcount-underflow   | assertion   | folio_put                                    | put of a zero refcount |
// | bad-get              | assertion   | folio_get                                    | folio_get on a zero refcount |
// | bad-unfreeze         | assertion   | folio_ref_unfreeze                           | unfreeze of a count that is not frozen (not 0) |
// | bad-folio-unlock     | assertion   | folio_unlock                                 | unlock of a folio that is not locked |
// | bad-unlock           | assertion   | spinlock.ts                                  | spin_unlock of a lock the CPU does not hold |
// | counter-underflow    | assertion   | folio.ts counters                            | a counter (split_queue_len, a stat) decremented below 0 |
// | double-unqueue       | assertion   | checkDoubleUnqueue() in the unqueue step     | split_queue_len decremented for a folio not on that queue |
// | stale-membership     | invariant   | staleMembership()                            | !list_empty(&f->_deferred_list) while f is on no queue |
// | queue-len            | invariant   | queueLenConsistent()                         | split_queue_len != the queue's real length while its lock is free |
// | lost-membership      | end state   | lostMembership()                             | at quiescence, a live partially mapped folio is on no queue |
// | nr-partially-mapped  | invariant   | partiallyMappedCounter()                     | the statistic != the number of folios with PG_partially_mapped (locks free) |
// | null-memcg-deref     | assertion   | memcg.ts (checkMemcg / memcg ops)            | a NULL memcg (memory cgroups disabled) dereferenced |
// | list-lru-unlocked    | assertion   | list_lru.ts                                  | a list_lru op that needs the sublist lock without it (or a walk status after dropping it) |
// | bogus-entry          | assertion   | ref.ts (list_first_entry on an empty list)   | container_of() of a list head used as an object |
// | null-deref           | assertion   | ref.ts                                       | a NULL pointer local dereferenced |
// | deadlock             | explorer    | built in                                     | no CPU can move and some have not finished |
// | data-race            | explorer    | built in                                     | two enabled steps access a word, one writes, neither marked |

import type { ModelBuilder, World } from "../model/model.ts";
import type { Ref } from "../model/ref.ts";
import type { Fields, IntS, ListHeadS, LockS } from "../model/schema.ts";
import { Violation, type Mem } from "../rt/mem.ts";
import { headOf, listLength } from "./list.ts";
import type { DsQueueRef, FolioList, FolioRef } from "./folio.ts";

/** The catalogue's property names (stable: tests, expected verdicts and counterexample paths use them). */
export const PROP = {
  listCorruption: "list-corruption",
  listIntegrity: "list-integrity",
  useAfterFree: "use-after-free",
  badPageState: "bad-page-state",
  refcountUnderflow: "refcount-underflow",
  badGet: "bad-get",
  badUnfreeze: "bad-unfreeze",
  badFolioUnlock: "bad-folio-unlock",
  badUnlock: "bad-unlock",
  counterUnderflow: "counter-underflow",
  doubleUnqueue: "double-unqueue",
  staleMembership: "stale-membership",
  queueLen: "queue-len",
  lostMembership: "lost-membership",
  nrPartiallyMapped: "nr-partially-mapped",
  nullMemcgDeref: "null-memcg-deref",
  listLruUnlocked: "list-lru-unlocked",
  bogusEntry: "bogus-entry",
  nullDeref: "null-deref",
  deadlock: "deadlock",
  dataRace: "data-race",
} as const;
export type PropertyName = (typeof PROP)[keyof typeof PROP];

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
 * list_del_init): f's _deferred_list must be on queue q. The step calling it declares
 * `raises: [PROP.doubleUnqueue]` (folio.ts's unqueue_accounting does), so that the property is
 * listed, and shown holding, wherever that step is compiled.
 */
export function checkDoubleUnqueue(c: { m: Mem }, f: FolioRef, q: QueueLike): void {
  const m = c.m;
  const b = m.b;
  const id = f._deferred_list.$node(b);
  const qh = headRef(q).$node(b);
  const h = headOf(m, id);
  if (h === qh) return;
  const where =
    b[m.layout.nodes[id]!.nextOff] === id
      ? "its _deferred_list is empty"
      : h >= 0
        ? `it is on ${nodeName(m, h)}`
        : "its _deferred_list reaches no list head";
  throw new Violation(
    PROP.doubleUnqueue,
    `double unqueue: the length of ${nodeName(m, qh)} is decremented for ${fname(f, b)}, which is not on it (${where})`,
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
 * use-after-free (as an invariant): a freed folio must not be linked into any list: its
 * _deferred_list must point to itself and no other node may point to it.
 */
export function useAfterFree<F extends Fields>(
  mb: ModelBuilder<F>,
  folios: FolioList,
  name: string = PROP.useAfterFree,
): void {
  const fs = folioRefs(folios);
  mb.invariant(name, (w: World) => {
    const m = w.m;
    const b = m.b;
    const nodes = m.layout.nodes;
    for (const f of fs) {
      if (b[f.freed.$off(b)] === 0) continue;
      const id = f._deferred_list.$node(b);
      const self = nodes[id]!;
      if (b[self.nextOff] !== id || b[self.prevOff] !== id) {
        const h = headOf(m, id);
        return `use-after-free: ${fname(f, b)} was freed while still linked${h >= 0 ? ` on ${nodeName(m, h)}` : ""}`;
      }
      for (const n of nodes) {
        if (n.id === id) continue;
        if (b[n.nextOff] === id || b[n.prevOff] === id) {
          return `use-after-free: ${nodeName(m, n.id)} points to ${fname(f, b)}._deferred_list, but ${fname(f, b)} was freed`;
        }
      }
    }
    return true;
  });
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
      if (opts.isPartial ? !opts.isPartial(w, i) : b[f.partially_mapped.$off(b)] === 0) continue;
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
    for (const f of fs) if (b[f.partially_mapped.$off(b)] !== 0) n++;
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
