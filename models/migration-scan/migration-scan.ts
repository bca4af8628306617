// Migration racing a partial unmap and the deferred split scanner, written only against
// src/index.ts (the library of issue 11): no raw offsets, no hand-built lock or list_lru.
//
// Follows seed 000 (/work/shared/seeds/000_*.txt: Usama Arif, "[PATCH] mm: migrate: requeue
// destination folio on deferred split queue", Mar 2026; David Hildenbrand's and Zi Yan's
// review): migrate_pages() of F1 into F2 records whether F1 was on the deferred split queue and
// requeues F2 after remove_migration_ptes(). Variant "v2" reads it as posted, before
// move_to_new_folio(): `src_deferred_split = !data_race(list_empty(&src->_deferred_list))`;
// "under-freeze" records folio_unqueue_deferred_split()'s result while F1 is frozen. The
// scanner is seed 002's folio_batch deferred_split_scan() (Qi Zheng, Sep 2025), and a third CPU
// zaps part of F1's mapping (deferred_split_folio(F1, true)), which is what queues it.
//
// Both fail, as models/migration-requeue found with its hand-built threads: v2's unlocked read
// comes before the zap has queued F1 (the zap is between its rmap update and
// deferred_split_folio()); under the freeze, the scanner's folio_try_get() fails on the frozen
// F1, takes it for "lost race with folio_put()", clears its flag and dequeues it (migration
// freezes without split_queue_lock, unlike __folio_split()), so the unqueue finds nothing.
//
// Left out: a zap that meets F1's migration entries (after try_to_migrate() the partial unmap
// finds F1 unmapped and does nothing), memcg queues, the destination's later unmaps.
import {
  array,
  defineModel,
  deferred_split_folio,
  deferred_split_scan_folio_batch,
  folio,
  folio_put,
  headOf,
  migrate_folio,
  mthpStat,
  ModelBuilder,
  rmapFolioFields,
  splitQueues,
  useAfterFree,
  queueLenConsistent,
  zap_folio_partially,
  bool,
  data_race,
  ghost,
  type DeferredSplit,
} from "../../src/index.ts";

type Opts = { readonly record: "list-empty" | "under-freeze" };

export default defineModel<Record<string, never>, Opts>({
  name: "migration-scan",
  doc: "migrate F1 into F2 while a partial unmap queues F1 and a folio_batch scan runs: is F2 queued when it is partially mapped?",
  params: {},
  variants: {
    v2: {
      doc: "seed 000 v2: src_deferred_split = !data_race(list_empty(&src->_deferred_list)) before the move",
      options: { record: "list-empty" },
      expect: { violated: ["lost-membership"] },
    },
    "under-freeze": {
      doc: "src_deferred_split = folio_unqueue_deferred_split(src) under the freeze (not posted)",
      options: { record: "under-freeze" },
      expect: { violated: ["lost-membership"] },
    },
  },
  build: ({ options }) => {
    const Folio = folio({ maxRef: 4, ref: 1, mapped: true, extra: rmapFolioFields });
    const m = new ModelBuilder({
      queues: splitQueues({ nodes: 1, maxLen: 3 }),
      folio: array(2, Folio, { label: (i) => `F${i + 1}` }),
      nr_anon_partially_mapped: mthpStat(9, 2),
      src_deferred_split: ghost(bool()),
    });
    const [F1, F2] = [m.s.folio[0]!, m.s.folio[1]!];
    const d: DeferredSplit = { queue: m.s.queues, stat: m.s.nr_anon_partially_mapped };
    // F1: the mapping's reference, the migration's isolation pin, the zapped PTEs' reference;
    // F2: the new folio, not mapped yet, with the migration's reference
    m.init((s) => {
      s.folio[0]!._refcount = 3;
      s.folio[0]!.isolated = true;
      s.folio[1]!.mapped = false;
    });

    m.thread("migrate_pages", {}, ({ step, if_ }) => [
      ...migrate_folio(F1, d, {
        dst: F2,
        hooks: {
          beforeMove:
            options.record === "list-empty"
              ? [
                  step(
                    "src_deferred_split = !data_race(list_empty(&F1->_deferred_list))",
                    ({ s }) => {
                      const f1 = s.folio[0]!._deferred_list;
                      s.src_deferred_split = data_race(s, () => f1.next !== f1.id);
                    },
                  ),
                ]
              : [],
          onUnqueued:
            options.record === "under-freeze"
              ? [
                  step("src_deferred_split = true", ({ s }) => {
                    s.src_deferred_split = true;
                  }),
                ]
              : [],
          // remove_migration_ptes() has mapped F2 as F1 was (partially, if it was)
          afterRemap: [if_(({ s }) => s.src_deferred_split, [deferred_split_folio(F2, d, true)])],
        },
      }),
      folio_put(F2, d), // the migration's reference to the new folio
    ]);
    m.thread("deferred_split_scan", {}, () => [
      deferred_split_scan_folio_batch(m.s.queues.node[0]!, d, Folio, {
        underused: false,
        nrToScan: 2,
      }),
    ]);
    m.thread("zap_pte_range", {}, () => [zap_folio_partially(F1, d)]);

    queueLenConsistent(m, m.s.queues.node[0]!);
    useAfterFree(m, m.s.folio);
    m.endState("lost-membership", ({ s, m: mem }) => {
      for (let i = 0; i < 2; i++) {
        const f = s.folio[i]!;
        const queued = headOf(mem, f._deferred_list.id) >= 0;
        if (!f.freed && f.mapped && f.pte_partial && !queued)
          return `F${i + 1} is partially mapped but on no deferred split queue: the shrinker will never split it`;
      }
      return true;
    });
    return m;
  },
});
