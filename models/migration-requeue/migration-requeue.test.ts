import { describe, it, expect } from "vitest";
import model from "./migration-requeue.ts";
import { itHasVerdicts, type VerdictTable } from "../../test/verdicts.ts";
import { checkVariant, explain, traceLengths as lengths } from "../../src/check.ts";

// Every variant's violated properties with the BFS (minimal) trace length of each. Since the
// model runs on src/kernel (issue 11) migration is migrate.ts's migrate_folio() (with
// mem_cgroup_migrate() and remove_migration_ptes() as steps of their own) and the folio_batch
// scan huge_memory.ts's (its batch bookkeeping as steps): the traces are longer, the verdicts
// the same.
const expected: VerdictTable = {
  "no-requeue-private-list": { "lost-membership": 29, "requeue-mismatch": 29 },
  "no-requeue-folio-batch": { "lost-membership": 21, "requeue-mismatch": 21 },
  "v1-private-list": { "requeue-mismatch": 47 },
  "v1-folio-batch": { "requeue-mismatch": 47 },
  "v2-private-list": { "recorded-state-stale": 8, "lost-membership": 53 },
  "v2-folio-batch": { "lost-membership": 52, "requeue-mismatch": 52 },
  "v2-private-list-fully-mapped": { "recorded-state-stale": 8, "requeue-mismatch": 48 },
  "v2-folio-batch-fully-mapped": { "requeue-mismatch": 48 },
  "v3-private-list": { "lost-membership": 32, "requeue-mismatch": 32 },
  "v3-folio-batch": { "lost-membership": 33, "requeue-mismatch": 33 },
};

describe("migration-requeue model", () => {
  itHasVerdicts(model, expected);

  it("v2's unlocked list_empty() reads 'queued' while the source sits on the scanner's private list", async () => {
    const c = await checkVariant(model, "v2-private-list");
    const v = c.result.violations.find((x) => x.property === "recorded-state-stale")!;
    const d = explain(c.model, v);
    expect(d).toContain("folio_try_get(F1) -> true");
    expect(d).toContain("list_move(&F1._deferred_list, &CPU0.list)");
    expect(d).toContain(
      "src_deferred_split = folio_test_large(F1) && !data_race(list_empty(&F1->_deferred_list)) -> true",
    );
    expect(v.message).toContain("F1 was on CPU0.list, not on the deferred split queue");
  });

  it("v2 + folio_batch: the source is in the scanner's batch when read, requeued before the freeze, dst lost", async () => {
    const c = await checkVariant(model, "v2-folio-batch");
    const v = c.result.violations.find((x) => x.property === "lost-membership")!;
    const d = explain(c.model, v);
    expect(d).toContain("folio_batch_add(&fbatch, F1)");
    expect(d).toContain("!data_race(list_empty(&F1->_deferred_list)) -> false");
    expect(d).toContain("list_add_tail(&F1._deferred_list, &ds_queue.split_queue)");
    expect(d).toContain("if (src_deferred_split) -> false");
    expect(v.message).toContain("F2 is partially mapped and live but on no deferred split queue");
  });

  it("without a concurrent scan, v2 and v3 keep the destination queued exactly as the source was", async () => {
    for (const v of ["v2-private-list", "v2-folio-batch", "v3-private-list", "v3-folio-batch"]) {
      const c = await checkVariant(model, v, { params: { with_scanner: 0 } });
      expect(c.result.complete).toBe(true);
      expect(lengths(c.result)).toEqual({});
    }
  });

  it("without a concurrent scan, v1 still requeues a source that was not queued", async () => {
    const c = await checkVariant(model, "v1-private-list", {
      params: { with_scanner: 0, src_queued: 0 },
    });
    expect(lengths(c.result)).toEqual({ "requeue-mismatch": 22 });
  });

  it("extra CPUs on F3 (an operation list): v3 keeps its bug, a partial unmap corrupts the private list", async () => {
    const split = await checkVariant(model, "v3-folio-batch", {
      params: { other_folio: 1, third_parties: "split(F3)" },
    });
    expect(lengths(split.result)).toEqual({ "lost-membership": 45, "requeue-mismatch": 45 });
    const zap = await checkVariant(model, "v2-private-list", {
      params: { other_folio: 1, third_parties: "partial_unmap(F3)" },
    });
    // the scanner's unlocked list_del_init of F3 races with the partial unmap's list_add_tail
    expect(lengths(zap.result)).toEqual({
      "recorded-state-stale": 8,
      "data-race": 23,
      "list-integrity": 28,
      "lost-membership": 55,
    });
  });

  it("an operation on F3 needs other_folio=1, and F1 and F2 are not for the extra CPUs", async () => {
    await expect(
      checkVariant(model, "v3-folio-batch", { params: { third_parties: "split(F3)" } }),
    ).rejects.toThrow(/F3 does not exist \(this scenario has no F3 or later\)/);
    await expect(
      checkVariant(model, "v3-folio-batch", {
        params: { other_folio: 1, third_parties: "migrate(F1)" },
      }),
    ).rejects.toThrow(/F1 is not one this operation takes \(this scenario has F3..F3\)/);
  });
});
