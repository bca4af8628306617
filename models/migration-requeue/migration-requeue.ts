// Migration requeue (KERNEL issue, model 2): after migrating a folio that was on the deferred
// split queue, is the destination queued exactly when the source was?
//
// Follows seed 000 (/work/shared/seeds/000_*.txt: Usama Arif, "[PATCH] mm: migrate: requeue
// destination folio on deferred split queue", Mar 2026, and the thread with David Hildenbrand,
// Zi Yan and Johannes Weiner):
// - "no-requeue": mm/migrate.c before the patch: __folio_migrate_mapping() freezes the source,
//   folio_unqueue_deferred_split(src), unfreezes; the destination is never queued.
// - "v1": the patch as posted: after remove_migration_ptes(), `if (folio_test_large(dst) &&
//   folio_test_large_rmappable(dst)) deferred_split_folio(dst, false);` (David: "Doesn't that
//   mean that you will readd any large folios, even if already previously taken off the list
//   after scanning?").
// - "v2": the revised patch (Usama's reply, "LGTM" from Zi Yan): before move_to_new_folio(),
//   `src_deferred_split = folio_test_large(src) && folio_test_large_rmappable(src) &&
//   !data_race(list_empty(&src->_deferred_list))`; afterwards `if (src_deferred_split)
//   deferred_split_folio(dst, false);`.
// - "v3" (ours, not posted; the change a reviewer might suggest): record under the freeze, from
//   folio_unqueue_deferred_split()'s return value, whether the source was queued, and its
//   PG_partially_mapped, and requeue with that flag. It still fails: a concurrent scan's
//   folio_try_get() fails on the migration-frozen source, takes it for "lost race with
//   folio_put()", clears its flag and dequeues it (migration freezes without split_queue_lock,
//   unlike __folio_split()), so the unqueue under the freeze finds nothing.
// Each against two scan designs of src/kernel/huge_memory.ts: the on-stack private list with the
// safe `prev` folio (v6.12..v6.17, deferred_split_scan_private_list()) and seed 002's folio_batch
// (deferred_split_scan_folio_batch()). Written only against src/index.ts (migration is
// migrate.ts's migrate_folio() with its hooks; ../deferred-split/scenario.ts is the scenario
// code shared with models/deferred-split).
//
// CPUs: migrate_pages() of the source F1 into the destination F2 (F1 isolated: the migration
// holds a pin; try_to_migrate() unmaps it, dropping the mapping's reference; the freeze expects
// the pin alone), optionally deferred_split_scan(), and an observer CPU (catalogue.ts). With
// other_folio=1, `third_parties` adds CPUs working on F3 (an operation list of folio_put,
// partial_unmap, split and migrate, as in models/deferred-split).
//
// Properties besides the catalogue's (list-integrity, use-after-free, nr-partially-mapped,
// lost-membership on the real mapping):
// - requeue-mismatch (end state): the source was queued when the migration froze it (on the
//   queue, or kept on a scanner's list that splices it back) but the destination was not
//   requeued, or the destination was requeued although the source was on no list then: "is the
//   destination queued exactly when the source was?" (DOMAIN.md, 000).
// - recorded-state-stale: v2's unlocked `!data_race(list_empty(&src->_deferred_list))` read says
//   "queued" while the source is not on the deferred split queue (it is on a scanner's private
//   list), or says "not queued" while it is.
//
// Left out: migration retries after -EAGAIN, the mapping (file) case, the PAGE_WAS_MAPPED
// bookkeeping, memcg queues, and the destination's own later unmaps.

import {
  bool,
  data_race,
  deferred_split_folio,
  defineModel,
  folio_put,
  func,
  ghost,
  headOf,
  initList,
  int,
  isEmpty,
  migrate_folio,
  ModelBuilder,
  parseOps,
  PROP,
  record,
  testPartiallyMapped,
  type Ctx,
  type OpsParamDecl,
  type ViewOf,
  type World,
} from "../../src/index.ts";
import {
  folioOpThreads,
  folioOps,
  folioType,
  installProperties,
  opPins,
  queueOf,
  scan,
  sharedFields,
  type Design,
} from "../deferred-split/scenario.ts";

type Requeue = "none" | "v1" | "v2" | "v3";
interface Opts {
  readonly design: Design;
  readonly requeue: Requeue;
}

type P = {
  src_queued: number;
  src_partially_mapped: number;
  with_scanner: number;
  underused: number;
  other_folio: number;
  third_parties: string;
};

/**
 * Extra CPUs working on the other folio F3 (F1 and F2 are the migration's source and
 * destination): zap, partial unmap, split, a second migration.
 */
const thirdParties: OpsParamDecl = {
  kind: "ops",
  default: "",
  ops: folioOps({ prefix: "F", first: 3, count: (p) => 2 + Number(p["other_folio"] ?? 0) }),
  cpus: { min: 0, max: 2 },
  maxOps: 3,
  doc: "extra CPUs on F3 (needs other_folio=1), ';' between CPUs and ',' between one CPU's operations, e.g. 'partial_unmap(F3),folio_put(F3);split(F3)'",
};

const REQUEUE_MISMATCH = "requeue-mismatch";
const RECORDED_STATE_STALE = "recorded-state-stale";

const variants = {
  "no-requeue-private-list": {
    doc: "before the patch: the destination is never queued; private-list scan",
    options: { design: "private-list", requeue: "none" },
    expect: { violated: [PROP.lostMembership, REQUEUE_MISMATCH] },
  },
  "no-requeue-folio-batch": {
    doc: "before the patch; folio_batch scan (seed 002)",
    options: { design: "folio-batch", requeue: "none" },
    expect: { violated: [PROP.lostMembership, REQUEUE_MISMATCH] },
  },
  "v1-private-list": {
    doc: "v1: deferred_split_folio(dst, false) for every large rmappable dst; a fully mapped source the scan drops as used",
    options: { design: "private-list", requeue: "v1" },
    params: { src_partially_mapped: 0 },
    expect: { violated: [REQUEUE_MISMATCH] },
  },
  "v1-folio-batch": {
    doc: "v1; folio_batch scan; a fully mapped source the scan drops as used",
    options: { design: "folio-batch", requeue: "v1" },
    params: { src_partially_mapped: 0 },
    expect: { violated: [REQUEUE_MISMATCH] },
  },
  "v2-private-list": {
    doc: "v2: requeue when !data_race(list_empty(&src->_deferred_list)) before move_to_new_folio; private-list scan (lost-membership: the requeue passes partially_mapped=false, so a later scan drops the unflagged destination)",
    options: { design: "private-list", requeue: "v2" },
    expect: { violated: [RECORDED_STATE_STALE, PROP.lostMembership] },
  },
  "v2-folio-batch": {
    doc: "v2; folio_batch scan: the source is in the scanner's batch (off the list) when v2 reads",
    options: { design: "folio-batch", requeue: "v2" },
    expect: { violated: [PROP.lostMembership, REQUEUE_MISMATCH] },
  },
  "v2-private-list-fully-mapped": {
    doc: "v2, private-list scan, a fully mapped source the scan drops as used: the stale read requeues the destination",
    options: { design: "private-list", requeue: "v2" },
    params: { src_partially_mapped: 0 },
    expect: { violated: [RECORDED_STATE_STALE, REQUEUE_MISMATCH] },
  },
  "v2-folio-batch-fully-mapped": {
    doc: "v2, folio_batch scan, a fully mapped source the scan drops as used between the read and the freeze",
    options: { design: "folio-batch", requeue: "v2" },
    params: { src_partially_mapped: 0 },
    expect: { violated: [REQUEUE_MISMATCH] },
  },
  "v3-private-list": {
    doc: "not posted: src_deferred_split from folio_unqueue_deferred_split()'s result under the freeze, requeue with the flag; private-list scan",
    options: { design: "private-list", requeue: "v3" },
    expect: { violated: [PROP.lostMembership, REQUEUE_MISMATCH] },
  },
  "v3-folio-batch": {
    doc: "not posted: v3 against the folio_batch scan",
    options: { design: "folio-batch", requeue: "v3" },
    expect: { violated: [PROP.lostMembership, REQUEUE_MISMATCH] },
  },
} as const;

export default defineModel<P, Opts>({
  name: "migration-requeue",
  doc: "seed 000: requeue the migration destination on the deferred split queue (none / v1 / v2 / our v3) against the scan designs",
  params: {
    src_queued: {
      default: 1,
      min: 0,
      max: 1,
      doc: "the source F1 is on the deferred split queue at the start",
    },
    src_partially_mapped: {
      default: 1,
      min: 0,
      max: 1,
      doc: 'the source is partially mapped (PG_partially_mapped set; "partially mapped but with a pin")',
    },
    with_scanner: {
      default: 1,
      min: 0,
      max: 1,
      doc: "a CPU runs deferred_split_scan() concurrently",
    },
    underused: {
      default: 0,
      min: 0,
      max: 1,
      doc: "thp_underused() of the folios that are not partially mapped",
    },
    other_folio: {
      default: 0,
      min: 0,
      max: 1,
      doc: "another folio F3 (fully mapped) queued after the source",
    },
    third_parties: thirdParties,
  },
  variants: variants as unknown as Record<
    string,
    { doc: string; options: Opts; params?: Record<string, number>; expect: { violated: string[] } }
  >,
  build: ({ params: p, options }) => {
    const n = 2 + p.other_folio;
    const opLists = parseOps(
      "migration-requeue",
      "third_parties",
      thirdParties,
      p.third_parties,
      p,
    );
    const pins = opPins(opLists, n);
    const Folio = folioType(3 + Math.max(...pins));
    const ghostFields = {
      mig: record(
        {
          /** v2's src_deferred_split as read: -1 not read yet. */
          src_deferred_split: ghost(int(-1, 1, -1)),
          /** The list head src's _deferred_list reached at that read (NULL: none). */
          src_on: ghost(int(-1, 255, -1)),
          /**
           * The source was queued (on the queue, or kept on a scanner's list that is spliced back)
           * at the moment the migration froze it: -1 not frozen yet.
           */
          src_queued: ghost(int(-1, 1, -1)),
          /** The migration requeued dst: -1 not decided yet. */
          dst_requeued: ghost(int(-1, 1, -1)),
        },
        "ghost",
      ),
    };
    const slack = opLists.flat().length;
    const m = new ModelBuilder(sharedFields(options.design, Folio, n, ghostFields, slack), {
      races: true,
    });
    const Q = queueOf(m.s, options.design);
    const d = Q.d;
    const F = m.s.folio;
    const src = F[0]!;
    const dst = F[1]!;
    const view = (c: Ctx): ViewOf<typeof m.shared> => c.s as ViewOf<typeof m.shared>;

    if (p.with_scanner) {
      const o = { safePrev: true, underused: p.underused === 1, nrToScan: n, batch: n };
      m.thread("deferred_split_scan", {}, () => [scan(Q, Folio, o)]);
    }

    m.thread(
      "migrate_pages",
      { src_deferred_split: bool(), src_partially_mapped: bool() },
      ({ step, if_ }) => {
        const requeue =
          options.requeue === "v1"
            ? [
                if_(
                  step(
                    "folio_test_large(dst) && folio_test_large_rmappable(dst) -> true",
                    () => true,
                  ),
                  [deferred_split_folio(dst, d, false)],
                ),
              ]
            : options.requeue === "v2" || options.requeue === "v3"
              ? [
                  if_(
                    step(
                      (c, r) => `if (src_deferred_split) -> ${r ? "true" : "false"}`,
                      ({ l }) => l.src_deferred_split,
                    ),
                    [
                      options.requeue === "v3"
                        ? if_(
                            step(
                              (c, r) => `if (src_partially_mapped) -> ${r ? "true" : "false"}`,
                              ({ l }) => l.src_partially_mapped,
                            ),
                            [deferred_split_folio(dst, d, true)],
                            [deferred_split_folio(dst, d, false)],
                          )
                        : deferred_split_folio(dst, d, false),
                    ],
                  ),
                ]
              : [];
        return [
          func("migrate_pages", [
            ...migrate_folio(src, d, {
              dst,
              hooks: {
                beforeMove:
                  options.requeue === "v2"
                    ? [
                        step(
                          (c, r) =>
                            `src_deferred_split = folio_test_large(F1) && !data_race(list_empty(&F1->_deferred_list)) -> ${r ? "true" : "false"}`,
                          (c) => {
                            const f1 = c.s.folio[0]!;
                            const queued = data_race(
                              c.s,
                              () => f1.order > 1 && f1._deferred_list.next !== f1._deferred_list.id,
                            );
                            c.l.src_deferred_split = queued;
                            c.s.mig.src_deferred_split = queued ? 1 : 0;
                            const id = f1._deferred_list.id;
                            c.s.mig.src_on = isEmpty(c.m, id) ? -1 : headOf(c.m, id);
                            return queued;
                          },
                        ),
                      ]
                    : [],
                frozen:
                  options.requeue === "v3"
                    ? [
                        step(
                          (c, r) =>
                            `src_partially_mapped = folio_test_partially_mapped(F1) -> ${r ? "true" : "false"}`,
                          (c) => {
                            const v = testPartiallyMapped(c, src);
                            c.l.src_partially_mapped = v;
                            return v;
                          },
                        ),
                      ]
                    : [],
                onUnqueued:
                  options.requeue === "v3"
                    ? [
                        step(
                          "src_deferred_split = true (folio_unqueue_deferred_split() -> true)",
                          ({ l }) => {
                            l.src_deferred_split = true;
                          },
                        ),
                      ]
                    : [],
                // was F1 queued when it was frozen? (ghost, inside the freeze step)
                onFrozen: (c) => {
                  const v = view(c);
                  v.mig.src_queued = isEmpty(c.m, v.folio[0]!._deferred_list.id) ? 0 : 1;
                },
                moved: [
                  step("move_to_new_folio(F2, F1)", (c) => {
                    // ghost: what the migration decided for dst
                    c.s.mig.dst_requeued =
                      options.requeue === "v1"
                        ? 1
                        : options.requeue === "none"
                          ? 0
                          : c.l.src_deferred_split
                            ? 1
                            : 0;
                  }),
                ],
                afterRemap: requeue,
              },
            }),
            folio_put(dst, d), // the migration's reference to the new folio
          ]),
        ];
      },
    );

    // v2's read, against where the source really was
    const extra = new Map<string, (w: World) => boolean | string>([
      [
        RECORDED_STATE_STALE,
        (w: World) => {
          const g = (w.s as unknown as { mig: Record<string, number> }).mig;
          const read = g["src_deferred_split"]!;
          if (read < 0) return true;
          const on = g["src_on"]!;
          const qh = (w.s as unknown as { ds_queue: { split_queue: { id: number } } }).ds_queue
            .split_queue.id;
          if ((read === 1) === (on === qh)) return true;
          const where =
            on < 0
              ? "on no list"
              : on === qh
                ? "on the deferred split queue"
                : `on ${w.m.layout.nodeName(on)}`;
          return (
            `src_deferred_split = ${read === 1 ? "true" : "false"} was recorded from an unlocked ` +
            `list_empty(&F1->_deferred_list), but F1 was ${where}${on >= 0 && on !== qh ? ", not on the deferred split queue" : ""}`
          );
        },
      ],
    ]);
    folioOpThreads(m, d, F, opLists);
    installProperties(m, Q, F, m.s.nr_anon_partially_mapped, {
      skip: [PROP.queueLen, PROP.staleMembership],
      extra,
    });

    m.endState(REQUEUE_MISMATCH, ({ s }) => {
      const un = s.mig.src_queued;
      const rq = s.mig.dst_requeued;
      if (un < 0 || rq === un) return true;
      return un === 1
        ? "the source F1 was queued when the migration froze it, but the destination F2 was not requeued"
        : "the migration requeued the destination F2, but the source F1 was on no deferred split list when the migration froze it";
    });

    m.init((v) => {
      const pm = p.src_partially_mapped === 1;
      const [vs, vd] = [v.folio[0]!, v.folio[1]!];
      vs._refcount = 2; // the mapping's reference + the isolation pin
      vs.partially_mapped = pm;
      vs.pte_partial = pm;
      vd._refcount = 1; // the new folio's reference, held by the migration
      vd.mapped = false;
      v.nr_anon_partially_mapped = pm ? 1 : 0;
      const queued = [];
      if (p.src_queued) queued.push(vs._deferred_list);
      if (p.other_folio) {
        queued.push(v.folio[2]!._deferred_list);
        // the mapping's reference and the pins of the extra CPUs' operations on F3
        v.folio[2]!._refcount = 1 + pins[2]!;
      }
      initList(v.ds_queue.split_queue, queued);
      v.ds_queue.split_queue_len = queued.length;
    });
    return m;
  },
});
