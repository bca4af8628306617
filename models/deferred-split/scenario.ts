// Scenario code shared by models/deferred-split and models/migration-requeue (no mechanism: the
// kernel functions are those of src/index.ts): the deferred split queue of a scan design, the
// operations an extra CPU can run on a folio (the `third_parties` operation lists), and the
// properties both models check.

import {
  array,
  counter,
  deferredSplitQueue,
  deferred_split_scan_folio_batch,
  deferred_split_scan_list_lru,
  deferred_split_scan_private_list,
  folio,
  folio_put,
  isolate_and_migrate,
  listIntegrity,
  listLru,
  lostMembershipRmap,
  lruKey,
  lruQueue,
  observer,
  partiallyMappedCounter,
  PROP,
  queueLenConsistent,
  rmapFolioFields,
  split_huge_page,
  staleMembership,
  useAfterFree,
  zap_folio,
  zap_folio_partially,
  collect,
  type ModelBuilder,
  type DeferredSplit,
  type DsQueueRef,
  type Fields,
  type ListLruRef,
  type Op,
  type OpArgDecl,
  type OpsParamDecl,
  type PropertyPredicate,
  type RmapFolioRef,
  type Stmt,
} from "../../src/index.ts";

export type Design = "private-list" | "folio-batch" | "list-lru";

/** The folio record type of a build (ptr() needs one shared record type per build). */
export const folioType = (maxRef: number) =>
  folio({ maxRef, ref: 1, mapped: true, extra: rmapFolioFields });
export type DsFolio = ReturnType<typeof folioType>;

/**
 * The shared state of a design: its queue (the per-node `ds_queue`, or for list-lru the one
 * sublist of a list_lru that is not memcg-aware, `lru`), the folios and the partially-mapped
 * statistic. `slack` widens the ranges for extra operations that queue or count a folio again.
 * Both queues are declared whatever the design (one type for both models' state); the one the
 * design does not use has a length range of 0 and stays empty and unlocked, so it adds no state.
 */
export function sharedFields<E extends Fields>(
  design: Design,
  Folio: DsFolio,
  nFolios: number,
  extra: E,
  slack = 0,
) {
  const maxLen = nFolios + 1 + slack;
  return {
    ...extra,
    ds_queue: deferredSplitQueue({ maxLen: design === "list-lru" ? 0 : maxLen }),
    lru: listLru({ name: "lru", maxItems: design === "list-lru" ? maxLen : 0 }),
    folio: array(nFolios, Folio, { label: (i) => `F${i + 1}` }),
    nr_anon_partially_mapped: counter(nFolios + slack),
  };
}

/** What the threads of a design work on. */
export interface Queue {
  readonly design: Design;
  /** The queue as the catalogue's properties take it. */
  readonly q: DsQueueRef;
  readonly d: DeferredSplit;
  readonly lru: ListLruRef;
}

export function queueOf(
  s: { ds_queue: DsQueueRef; lru: ListLruRef; nr_anon_partially_mapped: DeferredSplit["stat"] },
  design: Design,
): Queue {
  const stat = s.nr_anon_partially_mapped;
  if (design === "list-lru") {
    return {
      design,
      q: lruQueue(s.lru.sub[0]!),
      d: { queue: { lru: s.lru }, stat, atomicFlag: true },
      lru: s.lru,
    };
  }
  return {
    design,
    q: s.ds_queue,
    // the folio_batch scan dequeues under the lock what the free path may dequeue too
    d: { queue: s.ds_queue, stat, atomicFlag: true, doubleUnqueue: design === "folio-batch" },
    lru: s.lru,
  };
}

export interface ScanParams {
  readonly safePrev: boolean;
  readonly underused: boolean;
  readonly nrToScan: number;
  readonly batch: number;
  readonly clearBeforeIsolate?: boolean;
}

/** deferred_split_scan() of the design. */
export function scan(Q: Queue, Folio: DsFolio, o: ScanParams): Stmt {
  if (Q.design === "private-list") return deferred_split_scan_private_list(Q.q, Q.d, Folio, o);
  if (Q.design === "list-lru") return deferred_split_scan_list_lru(Q.lru, lruKey(0), Q.d, Folio, o);
  return deferred_split_scan_folio_batch(Q.q, Q.d, Folio, o);
}

/** The operations an extra CPU can run on a folio, each on a folio `arg` allows. */
export function folioOps(arg: OpArgDecl): OpsParamDecl["ops"] {
  return {
    folio_put: {
      arg,
      oncePerObject: "a folio has one mapping here, and its reference is dropped once",
      doc: "zap the whole mapping and drop its reference (the free path runs on the last one)",
    },
    partial_unmap: {
      arg,
      doc: "zap part of the mapping: deferred_split_folio(folio, true), then drop the zapped PTEs' reference",
    },
    split: {
      arg,
      doc: "split_huge_page() by a caller holding a pin (nothing to do once the folio is order 0)",
    },
    migrate: {
      arg,
      doc: "isolate and migrate (one migration can isolate a folio; a later one drops its pin)",
    },
  };
}

/** The references each folio's operations hold from the start (folio_put drops the mapping's). */
export function opPins(ops: readonly (readonly Op[])[], nFolios: number): number[] {
  const pins = Array.from({ length: nFolios }, () => 0);
  for (const o of ops.flat()) if (o.op !== "folio_put") pins[o.arg - 1]!++;
  return pins;
}

/** One operation on f: zap, partial zap, split by a pinning caller, or isolate and migrate. */
export function folioOp(op: string, f: RmapFolioRef, d: DeferredSplit): Stmt[] {
  if (op === "folio_put") return [zap_folio(f, d)];
  if (op === "partial_unmap") return [zap_folio_partially(f, d)];
  if (op === "split") return [split_huge_page(f, d), folio_put(f, d)];
  return [isolate_and_migrate(f, d)];
}

/** One CPU per operation list, named after its operations, running them in order. */
export function folioOpThreads<F extends Fields>(
  m: ModelBuilder<F>,
  d: DeferredSplit,
  F: { readonly [i: number]: RmapFolioRef },
  lists: readonly (readonly Op[])[],
): void {
  for (const ops of lists) {
    m.thread(ops.map((o) => o.op).join("+"), {}, () =>
      ops.flatMap((o) => folioOp(o.op, F[o.arg - 1]!, d)),
    );
  }
}

/** What the observer's steps say each catalogue property reads. */
const WHAT = (Q: Queue): Record<string, string> => ({
  [PROP.queueLen]: `deferred_split_count(): READ_ONCE(${Q.design === "list-lru" ? "l->nr_items" : "ds_queue->split_queue_len"}) against the queue's length`,
  [PROP.staleMembership]: "!list_empty(&folio->_deferred_list) taken to mean queued",
  [PROP.listIntegrity]: "the queue's next/prev pointers",
  [PROP.useAfterFree]: "no list reaches a freed folio",
  [PROP.nrPartiallyMapped]: "MTHP_STAT_NR_ANON_PARTIALLY_MAPPED against the flags",
});

/**
 * The catalogue's properties: queue-len, stale-membership, list-integrity (of the queue,
 * whenever its lock is free), use-after-free and nr-partially-mapped, checked by an observer CPU
 * (catalogue.ts observer(): the search goes on past them); lost-membership on the real mapping
 * (rmap.ts) and list-integrity at quiescence as end states. A scanner's on-stack list is left
 * out of list-integrity: it is dead once spliced back, and its torn states while the scanner
 * works on it unlocked are what DEBUG_LIST (list-corruption) and use-after-free judge.
 */
export function installProperties<F extends Fields>(
  m: ModelBuilder<F>,
  Q: Queue,
  folios: { readonly length: number; readonly [i: number]: RmapFolioRef },
  stat: Parameters<typeof partiallyMappedCounter>[2],
  opts: { skip?: readonly string[]; extra?: ReadonlyMap<string, PropertyPredicate> } = {},
): void {
  const skip = new Set(opts.skip ?? []);
  const { invariants, endStates } = collect((mb) => {
    if (!skip.has(PROP.queueLen)) queueLenConsistent(mb, Q.q);
    if (!skip.has(PROP.staleMembership)) staleMembership(mb, folios, [Q.q]);
    if (!skip.has(PROP.listIntegrity)) listIntegrity(mb, [Q.q]);
    if (!skip.has(PROP.useAfterFree)) useAfterFree(mb, folios);
    if (!skip.has(PROP.nrPartiallyMapped))
      partiallyMappedCounter(mb, folios, stat, [Q.q.split_queue_lock]);
  });
  const preds = new Map<string, PropertyPredicate>([...(opts.extra ?? []), ...invariants]);
  observer(m, preds, WHAT(Q));
  for (const [name, fn] of endStates) m.endState(name, fn);
  if (!skip.has(PROP.lostMembership)) lostMembershipRmap(m, folios, [Q.q]);
}
