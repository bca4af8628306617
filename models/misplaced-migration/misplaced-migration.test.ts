import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import model from "./misplaced-migration.ts";
import {
  checkVariant,
  explain,
  violatedProperties as props,
  traceLength as lengthOf,
} from "../../src/check.ts";

describe("misplaced-migration (seed 003: migrate_misplaced_folios_batch and memcg stats)", () => {
  it("v6 as posted: the first folio's memcg gets the whole batch's NUMA_PAGE_MIGRATE", async () => {
    const { result, judgement, model: cm } = await checkVariant(model, "v6");
    expect(judgement?.ok).toBe(true);
    expect(result.complete).toBe(true);
    expect(props(result)).toEqual(["memcg-numa-migrate-stat"]);
    expect(lengthOf(result, "memcg-numa-migrate-stat")).toBe(33);
    const d = explain(cm, result.violations[0]!);
    expect(d).toContain("F1->memcg = memcg1");
    // kmigrated list_add()s: the first entry is the folio isolated last (F1)
    expect(d).toContain("first = list_first_entry(&CPU0.migrate_list)");
    expect(d).toContain("memcg = get_mem_cgroup_from_folio(F1) -> memcg1");
    expect(d).toContain("count_memcg_events(memcg1, NUMA_PAGE_MIGRATE, 2)");
    expect(d).toContain(
      "memcg0's NUMA_PAGE_MIGRATE events are 0, but 1 of its folios were migrated",
    );
  });

  it("v6 with one memcg only: holds (the bug needs a mixed list)", async () => {
    const { result } = await checkVariant(model, "v6", { params: { nr_memcgs: 1 } });
    expect(result.verdict).toBe("holds");
    expect(result.complete).toBe(true);
  });

  it("v6 with an empty list is fine: the guard leaves memcg NULL and nr_succeeded is 0", async () => {
    const { result } = await checkVariant(model, "v6", { params: { nr_folios: 0 } });
    expect(result.verdict).toBe("holds");
  });

  it("without the guard: list_first_entry() of the empty list is used as a folio", async () => {
    const { result, judgement, model: cm } = await checkVariant(model, "v6-unguarded");
    expect(judgement?.ok).toBe(true);
    expect(props(result)).toEqual(["bogus-entry", "memcg-numa-migrate-stat"]);
    expect(lengthOf(result, "bogus-entry")).toBe(9);
    expect(lengthOf(result, "memcg-numa-migrate-stat")).toBe(32);
    const b = result.violations.find((v) => v.property === "bogus-entry")!;
    const d = explain(cm, b);
    expect(d).toContain("migrate_misplaced_folio_prepare(F0, NULL, 0) -> -EAGAIN");
    expect(d).toContain("migrate_misplaced_folio_prepare(F1, NULL, 0) -> -EAGAIN");
    expect(d).toContain("first NULL -> container_of(list head)");
  });

  it("without the guard but with memory cgroups disabled: get_mem_cgroup_from_folio() never reads the folio", async () => {
    const { result } = await checkVariant(model, "v6-unguarded", { params: { memcg_disabled: 1 } });
    expect(result.verdict).toBe("holds");
  });

  it("v2 (no memcg accounting): every migrated folio's memcg misses its events", async () => {
    const { result, judgement } = await checkVariant(model, "v2");
    expect(judgement?.ok).toBe(true);
    expect(props(result)).toEqual(["memcg-numa-migrate-stat"]);
    expect(lengthOf(result, "memcg-numa-migrate-stat")).toBe(21);
  });

  it("per-memcg batches with an early return: holds", async () => {
    const { result, judgement } = await checkVariant(model, "per-memcg-batches");
    expect(judgement?.ok).toBe(true);
    expect(result.verdict).toBe("holds");
    expect(result.states).toBeGreaterThan(1000);
  });

  it("the verdicts do not depend on the concurrent unmap (the bugs are sequential)", async () => {
    for (const v of ["v2", "v6", "v6-unguarded", "per-memcg-batches"]) {
      const a = await checkVariant(model, v, { params: { unmap: 0 } });
      const b = await checkVariant(model, v, { params: { unmap: 1 } });
      expect(props(a.result), v).toEqual(props(b.result));
    }
  });

  it("the fix holds over the whole scenario space (list length x memcgs x memcg disabled)", async () => {
    for (let nr_folios = 0; nr_folios <= 3; nr_folios++)
      for (let nr_memcgs = 1; nr_memcgs <= 3; nr_memcgs++)
        for (const memcg_disabled of [0, 1]) {
          const params = { nr_folios, nr_memcgs, memcg_disabled, unmap: 1 };
          const { result } = await checkVariant(model, "per-memcg-batches", { params });
          expect(result.verdict, JSON.stringify(params)).toBe("holds");
          const v6 = await checkVariant(model, "v6", { params });
          const mixed = nr_folios >= 2 && nr_memcgs >= 2 && memcg_disabled === 0;
          expect(props(v6.result), JSON.stringify(params)).toEqual(
            mixed ? ["memcg-numa-migrate-stat"] : [],
          );
        }
  });

  it("is written against src/index.ts alone: no $off, no state array, no hand-built lock or Violation", () => {
    const src = readFileSync(new URL("./misplaced-migration.ts", import.meta.url), "utf8");
    const code = src.replace(/^\s*\/\/.*$/gm, "");
    expect(code).not.toMatch(
      /\$off|\$node|\.m\.b\b|getMarked|setMarked|spinlock\(|Violation|spin_lock|atomicUnder/,
    );
    const imports = [...code.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    expect(imports).toEqual(["../../src/index.ts"]);
  });
});
