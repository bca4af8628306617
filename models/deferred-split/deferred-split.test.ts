import { describe, it, expect } from "vitest";
import model from "./deferred-split.ts";
import { itHasVerdicts, type VerdictTable } from "../../test/verdicts.ts";
import { checkVariant, explain, traceLengths as lengths } from "../../src/check.ts";
import { compileModel } from "../../src/model/model.ts";
import { runSchedule } from "../../src/fuzz/run.ts";
import { replay } from "../../src/trace/replay.ts";

// Every variant's verdict, the properties it breaks and the BFS (minimal) trace length of each.
// Since the model runs on src/kernel (issue 11) the free path's unqueue is huge_memory.ts's
// (split_queue_len-- and the flag cleared in one step: one step shorter from data-race on), and
// the list-lru variants walk with list_lru.ts's list_lru_shrink_walk_irq() (the lock and the
// first item one step, the status and the next item one step: shorter traces).
const expected: VerdictTable = {
  "private-list-no-prev": {
    "stale-membership": 5,
    "queue-len": 11,
    "data-race": 31,
    "bad-page-state": 36,
    "use-after-free": 36,
    "list-integrity": 47,
    "list-corruption": 50,
    "counter-underflow": 72,
  },
  "private-list": { "stale-membership": 5, "queue-len": 11 },
  "folio-batch": {},
  "list-lru": { "stale-membership": 4, "use-after-free": 11 },
  "list-lru-clear-before-isolate": { "stale-membership": 4 },
  "private-list-with-partial-unmap": {
    "stale-membership": 5,
    "queue-len": 11,
    "data-race": 26,
    "list-integrity": 31,
    "lost-membership": 42,
  },
  "folio-batch-with-partial-unmap": {},
  "list-lru-with-partial-unmap": {
    "stale-membership": 4,
    "use-after-free": 11,
    "data-race": 19,
    "list-integrity": 23,
    "list-corruption": 28,
  },
};

describe("deferred-split model", () => {
  itHasVerdicts(model, expected);

  it("without the safe prev folio, the unlocked list_del_init races with the free path's locked one", async () => {
    const c = await checkVariant(model, "private-list-no-prev");
    const v = c.result.violations.find((x) => x.property === "bad-page-state")!;
    const d = explain(c.model, v);
    // the scanner's torn unlink of F1 (whose prev on the private list is F2)...
    expect(d).toContain("list_del_init(&F1._deferred_list) [1/4: next->prev = prev]");
    expect(d).toContain("list_del_init(&F1._deferred_list) [2/4: WRITE_ONCE(prev->next, next)]");
    // ...while F2, kept and already put by the scanner, is freed and unqueued under the lock
    expect(d).toContain("folio_put(F2) (_refcount 1 -> 0, last reference: free)");
    expect(d).toContain("list_del_init(&F2._deferred_list)");
    expect(d).toMatch(/Bad page state: F2 freed while on a deferred list/);
    const lc = c.result.violations.find((x) => x.property === "list-corruption")!;
    expect(lc.message).toMatch(/list_(del|add) corruption/);
  });

  it("the safe prev folio keeps the free path off the neighbour: no corruption with two scanners either", async () => {
    const c = await checkVariant(model, "private-list", { params: { scanners: 2 } });
    expect(c.result.complete).toBe(true);
    expect(lengths(c.result)).toEqual({ "stale-membership": 5, "queue-len": 11 });
  });

  it("private list: a partial unmap during the unlocked list_del_init corrupts the queue", async () => {
    const c = await checkVariant(model, "private-list-with-partial-unmap");
    const v = c.result.violations.find((x) => x.property === "list-integrity")!;
    const d = explain(c.model, v);
    expect(d).toContain("list_del_init(&F1._deferred_list) [3/4: WRITE_ONCE(entry->next, entry)]");
    expect(d).toContain("list_empty(&F1._deferred_list) -> true");
    expect(d).toContain("list_add_tail(&F1._deferred_list, &ds_queue.split_queue)");
    expect(d).toContain("list_del_init(&F1._deferred_list) [4/4: WRITE_ONCE(entry->prev, entry)]");
  });

  it("list_lru: the lost-race branch clears the flag after list_lru_isolate, when the folio may be freed", async () => {
    const c = await checkVariant(model, "list-lru");
    const v = c.result.violations.find((x) => x.property === "use-after-free")!;
    const d = explain(c.model, v);
    expect(d).toContain("folio_try_get(F2) -> false (_refcount 0)");
    expect(d).toContain("free_unref_folio(F2)");
    expect(v.message).toContain("folio_test_partially_mapped on F2, which was already freed");
  });

  it.each([
    ["with_sync_split", { with_sync_split: 1 }],
    ["with_migration", { with_migration: 1 }],
    ["scanners=2", { scanners: 2 }],
    ["putters=2, 3 folios", { putters: 2, folios: 3, partially_mapped: 2 }],
  ])("folio-batch holds %s", async (_name, params) => {
    const c = await checkVariant(model, "folio-batch", { params });
    expect(c.result.complete).toBe(true);
    expect(c.result.violations.map((x) => x.property)).toEqual([]);
  });

  // third_parties: extra CPUs given as operation lists
  it.each([
    [
      "a zap and a migration on one CPU, a split and a partial unmap on another",
      "folio_put(F2),migrate(F1);split(F1),partial_unmap(F2)",
    ],
    ["two migrations of F1 (the second cannot isolate it)", "migrate(F1);migrate(F1)"],
    ["two splits of F1 (the second finds it order 0)", "split(F1);split(F1)"],
  ])("folio-batch holds with %s", async (_name, third_parties) => {
    const c = await checkVariant(model, "folio-batch", { params: { third_parties } });
    expect(c.result.complete).toBe(true);
    expect(c.result.violations.map((x) => x.property)).toEqual([]);
  });

  it("a partial unmap given as an operation breaks the private list as with_partial_unmap does", async () => {
    const third_parties = "partial_unmap(F1),split(F1);folio_put(F2)";
    const pl = await checkVariant(model, "private-list", { params: { third_parties } });
    // past the list_del corruption (a warning: the deletion is refused), the free path frees F2
    // while the queue head still points to it
    expect(lengths(pl.result)).toEqual({
      "stale-membership": 5,
      "queue-len": 11,
      "data-race": 26,
      "list-integrity": 31,
      "list-corruption": 41,
      "lost-membership": 50,
      "use-after-free": 68,
    });
    const fb = await checkVariant(model, "folio-batch", { params: { third_parties } });
    expect(fb.result.violations).toEqual([]);
    // each list is one CPU, named after its operations
    expect(pl.model.threads.map((t) => t.name)).toEqual([
      "deferred_split_scan",
      "folio_put",
      "partial_unmap+split",
      "folio_put",
      "observer",
    ]);
  });

  it("a folio on no queue at the start (unqueued) is queued by its first partial unmap", () => {
    const m = compileModel(model, "folio-batch", {
      unqueued: 1,
      putters: 0,
      third_parties: "partial_unmap(F1)",
    });
    const zap = m.threads.find((t) => t.name === "partial_unmap")!.cpu;
    // the partial unmap runs first, then everyone else
    const r = runSchedule(
      m,
      {
        next: (v) => ({ cpu: v.enabled.includes(zap) ? zap : v.enabled[0]!, choice: 0 }),
      },
      { depth: 500 },
    );
    expect(r.end).toBe("done");
    const labels = replay(m, r.moves)
      .steps.filter((x) => x.cpu === zap)
      .map((x) => x.label);
    // F2 is on the queue from the start, F1 joins it
    expect(labels).toContain("list_empty(&F1._deferred_list) -> true");
    expect(labels).toContain("list_add_tail(&F1._deferred_list, &ds_queue.split_queue)");
    expect(labels).toContain("ds_queue.split_queue_len++ (1 -> 2)");
  });

  it("the second migration of a folio cannot isolate it and drops its pin", () => {
    const m = compileModel(model, "folio-batch", {
      third_parties: "migrate(F1);migrate(F1)",
      putters: 0,
    });
    const [first, second] = m.threads.filter((t) => t.name === "migrate").map((t) => t.cpu);
    // the first migration runs to its end, then the second, then everyone else
    const order = [first!, second!, ...m.threads.keys()];
    const r = runSchedule(
      m,
      { next: (v) => ({ cpu: order.find((t) => v.enabled.includes(t))!, choice: 0 }) },
      { depth: 500 },
    );
    expect(r.end).toBe("done");
    const steps = replay(m, r.moves).steps.filter((x) => x.cpu === second);
    expect(steps.map((x) => x.label)).toEqual([
      "folio_isolate_lru(F1) -> false (isolated already)",
      // the mapping's reference is back (the first migration failed on this CPU's pin: -EAGAIN)
      "folio_put(F1) (_refcount 2 -> 1)",
    ]);
  });

  it("every parameter at its bounds builds and checks without a model error", async () => {
    for (const v of ["private-list", "folio-batch", "list-lru"]) {
      const c = await checkVariant(model, v, {
        params: { folios: 1, partially_mapped: 3, putters: 3, with_migration: 1, batch_size: 1 },
      });
      expect(c.result.verdict).not.toBe("error");
    }
  });
});
