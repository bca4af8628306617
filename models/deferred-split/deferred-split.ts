// Deferred split scan (KERNEL issue, model 1): the THP deferred split queue under
// deferred_split_scan() in its three designs, with third parties that race with it.
//
// Follows mm/huge_memory.c (the thread bodies are in ./scan.ts, shared with
// models/migration-requeue):
// - variants "private-list-no-prev" and "private-list": deferred_split_scan() as in v6.12..v6.17
//   (on-stack LIST_HEAD, list_move under split_queue_lock, unlocked list_del_init of a folio that
//   is not partially mapped, list_splice_tail back, `split_queue_len -= removed`). The first
//   variant drops the `prev` folio of commit e66f3185fa04 ("mm/thp: fix deferred split queue not
//   partially_mapped"): each kept folio is put at once; the second keeps "one safe folio with
//   refcount still raised" before the folio it removes without the lock.
// - variant "folio-batch": seed 002 (/work/shared/seeds/002_*.txt, Qi Zheng's reply of
//   22 Sep 2025 to David Hildenbrand on "[PATCH 3/4] mm: thp: use folio_batch to handle THP
//   splitting in deferred_split_scan()"): list_del_init + split_queue_len-- under the lock for
//   every scanned folio, requeue under the lock, retry.
// - variant "list-lru": seed 004's conversion of the queue to a list_lru (deferred_split_isolate,
//   the dispose list, __list_lru_add requeue), on a simplified per-node list_lru: ONE sublist with
//   its lock and nr_items (no memcg, one node), written in ./scan.ts.
// Third parties (each a parameter): a CPU that zaps the last mapping of a folio and drops its
// reference (folio_put -> __folio_put -> folio_unqueue_deferred_split under the queue lock), a
// partial unmap (deferred_split_folio(folio, true)), a synchronous split_huge_page() (lock the
// queue, freeze, dequeue, split or -EAGAIN), a migration of a queued folio (unmap, freeze,
// unqueue, unfreeze; the destination is model 2's subject and is left out here).
// The same four operations, on any folio and in any order, make up `third_parties`: a list of
// extra CPUs, each running its operations in turn (e.g. 'partial_unmap(F2),folio_put(F3);split(F1)').
// `unqueued` starts the first folios off the queue (fully mapped), for a partial unmap to queue.
//
// Verdicts under the severities and the LKMM race rule (see README "Severities" and "Data races"):
// - private-list-no-prev also breaks counter-underflow: list-corruption is a warning now (DEBUG_LIST
//   reports and refuses the operation, the kernel goes on), so the search follows the corrupted
//   queue further: the free path unqueues F2, which the torn private list put back on the queue,
//   and split_queue_len goes below 0 (an unsigned long in the kernel: it wraps). Until the
//   severities, the list-corruption report ended that path.
// - private-list-with-partial-unmap and list-lru-with-partial-unmap also break data-race, a true
//   race under the LKMM: the scanner's UNLOCKED list_del_init() of F1 from its private (dispose)
//   list writes F1->prev with WRITE_ONCE (INIT_LIST_HEAD), while the partial unmap's
//   deferred_split_folio() writes the same word with a plain store in list_add_tail()
//   (`new->prev = prev`) under the queue lock, which the scanner does not hold. Only one of the two
//   accesses is marked; the old rule (both plain) missed it. It is the race the seeds argue
//   about, seen at the word that is torn.
//
// Left out: unmap/remap around split and migration (the freeze counts the mapping as one
// reference), memcg queues, swapcache, thp_underused() (parameter `underused`), statistics other
// than the partially-mapped counter.

import { defineModel, ModelBuilder, parseOps, type OpsParamDecl } from "../../src/index.ts";
import type { Ref } from "../../src/model/ref.ts";
import type { ListHeadS } from "../../src/model/schema.ts";
import {
  deferred_split_scan,
  folioType,
  foliosOf,
  initQueue,
  installProperties,
  migrate,
  folioOps,
  folioOpThreads,
  opPins,
  partialUnmap,
  queueOf,
  scanLocals,
  sharedFields,
  syncSplit,
  unmapAndPut,
  type Design,
} from "./scan.ts";

interface Opts {
  readonly design: Design;
  readonly safePrev: boolean;
  /** list-lru only: clear the flag before list_lru_isolate() in the lost-race branch. */
  readonly clearBeforeIsolate?: boolean;
}

/** Extra CPUs, each running a list of operations on chosen folios (the scenario's free part). */
const thirdParties: OpsParamDecl = {
  kind: "ops",
  default: "",
  ops: folioOps({ prefix: "F", count: "folios" }),
  cpus: { min: 0, max: 3 },
  maxOps: 4,
  doc: "extra CPUs, ';' between CPUs and ',' between one CPU's operations, e.g. 'folio_put(F2),migrate(F1);split(F1)'",
};

type P = {
  folios: number;
  partially_mapped: number;
  underused: number;
  scanners: number;
  putters: number;
  with_partial_unmap: number;
  with_sync_split: number;
  with_migration: number;
  batch_size: number;
  unqueued: number;
  third_parties: string;
};

export default defineModel<P, Opts>({
  name: "deferred-split",
  doc: "deferred_split_scan() (private list with/without the safe prev folio, folio_batch, list_lru) against free, partial unmap, split and migration",
  params: {
    folios: {
      default: 2,
      min: 1,
      max: 3,
      doc: "folios on the queue at the start (F1..Fn, in queue order)",
    },
    partially_mapped: {
      default: 1,
      min: 0,
      max: 3,
      doc: "how many of the LAST folios are partially mapped (PG_partially_mapped set) at the start",
    },
    underused: {
      default: 0,
      min: 0,
      max: 1,
      doc: "thp_underused() of the folios that are not partially mapped",
    },
    scanners: { default: 1, min: 1, max: 2, doc: "CPUs running deferred_split_scan()" },
    putters: {
      default: 1,
      min: 0,
      max: 3,
      doc: "CPUs that zap the whole mapping of a folio and drop its last reference (Fn, Fn-1, ...)",
    },
    with_partial_unmap: {
      default: 0,
      min: 0,
      max: 1,
      doc: "a CPU partially unmaps F1: deferred_split_folio(F1, true)",
    },
    with_sync_split: {
      default: 0,
      min: 0,
      max: 1,
      doc: "a CPU holding a pin on F1 runs split_huge_page(F1)",
    },
    with_migration: {
      default: 0,
      min: 0,
      max: 1,
      doc: "a CPU migrates F1 (isolated: it holds a pin)",
    },
    batch_size: { default: 31, min: 1, max: 31, doc: "FOLIO_BATCH_SIZE of the folio-batch design" },
    unqueued: {
      default: 0,
      min: 0,
      max: 2,
      doc: "how many of the first folios (F1, F2, ...) are on no queue at the start: fully mapped, not partially mapped (a partial unmap queues them); partially_mapped counts among the others",
    },
    third_parties: thirdParties,
  },
  variants: {
    "private-list-no-prev": {
      doc: "on-stack private list, every kept folio put at once (no safe prev folio); two scanners so a later list operation meets the corruption",
      options: { design: "private-list", safePrev: false },
      params: { scanners: 2 },
      expect: {
        violated: [
          "list-corruption",
          "queue-len",
          "stale-membership",
          "data-race",
          "use-after-free",
          "bad-page-state",
          "list-integrity",
          "counter-underflow",
        ],
      },
    },
    "private-list": {
      doc: "on-stack private list with the safe prev folio of e66f3185fa04 (v6.12..v6.17)",
      options: { design: "private-list", safePrev: true },
      expect: { violated: ["queue-len", "stale-membership"] },
    },
    "folio-batch": {
      doc: "seed 002: folio_batch, everything dequeued under the lock",
      options: { design: "folio-batch", safePrev: false },
      expect: "holds",
    },
    "list-lru": {
      doc: "seed 004: list_lru walk onto a dispose list (simplified per-node list_lru)",
      options: { design: "list-lru", safePrev: false },
      expect: { violated: ["stale-membership", "use-after-free"] },
    },
    "list-lru-clear-before-isolate": {
      doc: "seed 004 with the lost-race branch reordered (ours): clear PG_partially_mapped, then list_lru_isolate()",
      options: { design: "list-lru", safePrev: false, clearBeforeIsolate: true },
      expect: { violated: ["stale-membership"] },
    },
    "private-list-with-partial-unmap": {
      doc: "v6.12..v6.17 scan while F1 (queued, not partially mapped) is partially unmapped",
      options: { design: "private-list", safePrev: true },
      params: { with_partial_unmap: 1 },
      expect: {
        violated: [
          "queue-len",
          "stale-membership",
          "list-integrity",
          "lost-membership",
          "data-race",
        ],
      },
    },
    "folio-batch-with-partial-unmap": {
      doc: "seed 002's scan while F1 is partially unmapped",
      options: { design: "folio-batch", safePrev: false },
      params: { with_partial_unmap: 1 },
      expect: "holds",
    },
    "list-lru-with-partial-unmap": {
      doc: "seed 004's scan while F1 is partially unmapped",
      options: { design: "list-lru", safePrev: false },
      params: { with_partial_unmap: 1 },
      expect: {
        violated: [
          "stale-membership",
          "use-after-free",
          "list-integrity",
          "list-corruption",
          "data-race",
        ],
      },
    },
  },
  build: ({ params: p, options }) => {
    const n = p.folios;
    const unqueued = Math.min(p.unqueued, n);
    const pm = Math.min(p.partially_mapped, n - unqueued);
    const extra = parseOps("deferred-split", "third_parties", thirdParties, p.third_parties, p);
    // the pins each folio's operations hold from the start (folio_put drops the mapping's reference)
    const pins = opPins(extra, n);
    pins[0]! += p.with_partial_unmap + p.with_sync_split + p.with_migration;
    const Folio = folioType(1 + p.scanners + Math.max(...pins));
    const slack = extra.flat().length;
    const m = new ModelBuilder(sharedFields(options.design, Folio, n, {}, slack), { races: true });
    const q = queueOf(m, options.design);
    const F = foliosOf(m);
    const scan = {
      safePrev: options.safePrev,
      underused: p.underused === 1,
      nrToScan: n,
      batch: Math.min(p.batch_size, n),
      clearBeforeIsolate: options.clearBeforeIsolate === true,
    };
    const lists: Ref<ListHeadS>[] = [];
    for (let k = 0; k < p.scanners; k++) {
      m.thread("deferred_split_scan", scanLocals(options.design, q, Folio, n, scan), (t) => {
        const l = t.l as unknown as Record<string, Ref<ListHeadS>>;
        const priv = l["list"] ?? l["dispose"];
        if (priv) lists.push(priv);
        return deferred_split_scan(options.design, q, t.l, scan);
      });
    }
    for (let j = 0; j < Math.min(p.putters, n); j++) {
      m.thread("folio_put", {}, () => [unmapAndPut(q, F[n - 1 - j]!)]);
    }
    if (p.with_partial_unmap) m.thread("zap_pte_range", {}, () => [partialUnmap(q, F[0]!)]);
    if (p.with_sync_split) m.thread("split_huge_page", {}, () => syncSplit(q, F[0]!));
    if (p.with_migration) m.thread("migrate_pages", {}, () => migrate(q, F[0]!));
    folioOpThreads(m, q, F, extra);
    m.init((_s, w) => {
      const b = w.m.b;
      for (let i = 0; i < n; i++) {
        const f = F[i]!;
        const partial = i >= n - pm;
        f.partially_mapped.$put(b, partial);
        b[f.pte_partial.$off(b)] = partial ? 1 : 0;
      }
      const F1 = F[0]!;
      // the mapping's reference, the zapped PTEs' reference, the split's and the migration's pins
      for (let i = 0; i < n; i++) b[F[i]!._refcount.$off(b)] = 1 + pins[i]!;
      // the migration of with_migration isolated F1 before the scenario starts
      b[F1.isolated.$off(b)] = p.with_migration;
      const stat = q.split.stat as Ref;
      b[stat.$off(b)] = pm;
      initQueue(
        w,
        q,
        F,
        Array.from({ length: n - unqueued }, (_, i) => unqueued + i),
      );
    });
    installProperties(m, q);
    return m;
  },
});
