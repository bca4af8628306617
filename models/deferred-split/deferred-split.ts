// Deferred split scan (KERNEL issue, model 1): the THP deferred split queue under
// deferred_split_scan() in its three designs, with third parties that race with it. Written
// only against src/index.ts: the scans, the split, the free path, rmap and migration are
// src/kernel's (huge_memory.ts, rmap.ts, migrate.ts, list_lru.ts); ./scenario.ts holds the
// scenario code shared with models/migration-requeue.
//
// Upstream followed (mm/huge_memory.c):
// - variants "private-list-no-prev" and "private-list": deferred_split_scan() as in v6.12..v6.17
//   (huge_memory.ts deferred_split_scan_private_list(): on-stack LIST_HEAD, list_move under
//   split_queue_lock, unlocked list_del_init of a folio that is not partially mapped,
//   list_splice_tail back, `split_queue_len -= removed`). The first variant drops the `prev`
//   folio of commit e66f3185fa04 ("mm/thp: fix deferred split queue not partially_mapped"):
//   each kept folio is put at once; the second keeps "one safe folio with
//   refcount still raised" before the folio it removes without the lock.
// - variant "folio-batch": seed 002 (/work/shared/seeds/002_*.txt, Qi Zheng's reply of
//   22 Sep 2025 to David Hildenbrand on "[PATCH 3/4] mm: thp: use folio_batch to handle THP
//   splitting in deferred_split_scan()"; huge_memory.ts deferred_split_scan_folio_batch()):
//   list_del_init + split_queue_len-- under the lock for every scanned folio, requeue under the
//   lock, retry.
// - variant "list-lru": seed 004 (/work/shared/seeds/004_*.txt, Johannes Weiner, "[PATCH v3 7/7]
//   mm: switch deferred split shrinker to list_lru"; huge_memory.ts
//   deferred_split_scan_list_lru()): the walk's deferred_split_isolate() onto the dispose list,
//   the __list_lru_add requeue, on the list_lru of list_lru.ts (one node, not memcg-aware: one
//   sublist, lru.node[0].lru). The free path, the split and the partial unmap use the same
//   list_lru (huge_memory.ts's DeferredSplit with `queue: { lru }`).
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
// than the partially-mapped counter. The catalogue's invariants are checked by an observer CPU
// (catalogue.ts observer()), so the search goes on past them to what follows on the same paths.

import {
  defineModel,
  folio_put,
  initList,
  ModelBuilder,
  migrate_folio,
  parseOps,
  split_huge_page,
  zap_folio,
  zap_folio_partially,
  type OpsParamDecl,
} from "../../src/index.ts";
import {
  folioOps,
  folioOpThreads,
  folioType,
  installProperties,
  opPins,
  queueOf,
  scan,
  sharedFields,
  type Design,
} from "./scenario.ts";

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
    const s = m.s;
    const Q = queueOf(s, options.design);
    const d = Q.d;
    const F = s.folio;
    const o = {
      safePrev: options.safePrev,
      underused: p.underused === 1,
      nrToScan: n,
      batch: Math.min(p.batch_size, n),
      clearBeforeIsolate: options.clearBeforeIsolate === true,
    };
    for (let k = 0; k < p.scanners; k++) {
      m.thread("deferred_split_scan", {}, () => [scan(Q, Folio, o)]);
    }
    // the scanners run the same code on the same queue: interchangeable (symmetry reduction)
    if (p.scanners > 1) m.alike({ cpus: Array.from({ length: p.scanners }, (_, k) => k) });
    for (let j = 0; j < Math.min(p.putters, n); j++) {
      m.thread("folio_put", {}, () => [zap_folio(F[n - 1 - j]!, d)]);
    }
    const F1 = F[0]!;
    if (p.with_partial_unmap) m.thread("zap_pte_range", {}, () => [zap_folio_partially(F1, d)]);
    // the caller of split_huge_page() holds a pin, dropped after the split
    if (p.with_sync_split)
      m.thread("split_huge_page", {}, () => [split_huge_page(F1, d), folio_put(F1, d)]);
    // the migration isolated F1 before the scenario starts (its pin is one of F1's references)
    if (p.with_migration) m.thread("migrate_pages", {}, () => migrate_folio(F1, d));
    folioOpThreads(m, d, F, extra);
    m.init((v) => {
      for (let i = 0; i < n; i++) {
        const f = v.folio[i]!;
        const partial = i >= n - pm;
        f.partially_mapped = partial;
        f.pte_partial = partial;
        // the mapping's reference, the zapped PTEs' reference, the split's and the migration's pins
        f._refcount = 1 + pins[i]!;
      }
      v.folio[0]!.isolated = p.with_migration === 1;
      v.nr_anon_partially_mapped = pm;
      const queued = Array.from({ length: n - unqueued }, (_, i) => v.folio[unqueued + i]!);
      if (Q.design === "list-lru") {
        initList(
          v.lru.sub[0]!.list,
          queued.map((f) => f._deferred_list),
        );
        v.lru.sub[0]!.nr_items = queued.length;
        v.lru.nr_items[0] = queued.length;
      } else {
        initList(
          v.ds_queue.split_queue,
          queued.map((f) => f._deferred_list),
        );
        v.ds_queue.split_queue_len = queued.length;
      }
    });
    installProperties(m, Q, F, s.nr_anon_partially_mapped);
    return m;
  },
});
