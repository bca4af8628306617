import { describe, expect, it } from "vitest";
import model from "./list-lru-split.ts";
import {
  checkVariant,
  explain,
  violatedProperties as props,
  traceLength as lengthOf,
} from "../../src/check.ts";
import { compileModel } from "../../src/model/model.ts";

describe("list-lru-split (seed 004 review: lock-then-freeze vs freeze-then-lock)", () => {
  it("lock-then-freeze as posted: the lost-race branch touches F2 after the free path freed it", async () => {
    const { result, judgement, model: cm } = await checkVariant(model, "lock-then-freeze");
    expect(judgement?.ok).toBe(true);
    expect(result.complete).toBe(true);
    expect(props(result)).toEqual(["use-after-free"]);
    expect(lengthOf(result, "use-after-free")).toBe(10);
    const d = explain(cm, result.violations[0]!);
    expect(d).toContain("folio_try_get(F2) -> false");
    expect(d).toContain("list_lru_isolate(deferred_split_lru.node[0].lru, &F2._deferred_list)");
    expect(d).toContain("data_race(list_empty(&F2._deferred_list)) -> true: nothing to do");
    expect(d).toContain("free_unref_folio(F2)");
    // the isolate happens before the free path's unlocked list_empty() test, which happens before the free
    expect(d.indexOf("list_lru_isolate(deferred_split_lru.node[0].lru, &F2")).toBeLessThan(
      d.indexOf("data_race(list_empty(&F2"),
    );
    expect(d.indexOf("data_race(list_empty(&F2")).toBeLessThan(d.indexOf("free_unref_folio(F2)"));
    // ... and the callback's flag test comes after the free: that is the use-after-free
    expect(d.indexOf("free_unref_folio(F2)")).toBeLessThan(
      d.lastIndexOf("folio_clear_partially_mapped(F2)"),
    );
    expect(d).toContain("use-after-free: folio_test_partially_mapped on F2");
  });

  it("freeze-then-lock with the callback as posted: the same use-after-free, nothing else", async () => {
    const { result, judgement } = await checkVariant(model, "freeze-then-lock");
    expect(judgement?.ok).toBe(true);
    expect(result.complete).toBe(true);
    expect(props(result)).toEqual(["use-after-free"]);
    expect(lengthOf(result, "use-after-free")).toBe(10);
  });

  it("lock-then-freeze with the flag cleared before list_lru_isolate holds, failing split included", async () => {
    for (const v of ["lock-then-freeze+flag-first", "lock-then-freeze+flag-first+split-fails"]) {
      const { result, judgement } = await checkVariant(model, v);
      expect(judgement?.ok, v).toBe(true);
      expect(result.verdict, v).toBe("holds");
      expect(result.complete).toBe(true);
      expect(result.states).toBeGreaterThan(1000);
    }
  });

  it("hypothetical split failure: the walk isolates the frozen F1 and the failed split cannot put it back", async () => {
    const {
      result,
      judgement,
      model: cm,
    } = await checkVariant(model, "freeze-then-lock+flag-first+split-fails");
    expect(judgement?.ok).toBe(true);
    expect(props(result)).toEqual(["lost-membership"]);
    // 22 since the split is huge_memory.ts __folio_split() (split and unfreeze one step)
    expect(lengthOf(result, "lost-membership")).toBe(22);
    const d = explain(cm, result.violations[0]!);
    expect(d).toContain("folio_ref_freeze(F1, 1) -> true");
    expect(d).toContain("folio_try_get(F1) -> false (_refcount 0)");
    expect(d).toContain(
      "__list_lru_del(deferred_split_lru.node[0].lru, &F1._deferred_list) -> false",
    );
    expect(d).toContain("-EAGAIN (fails after the freeze)");
    expect(d).toContain("nothing to restore");
    // the walk's failed try_get falls between CPU1's freeze and CPU1's list_lru_lock
    const freeze = d.indexOf("folio_ref_freeze(F1, 1) -> true");
    expect(freeze).toBeLessThan(d.indexOf("folio_try_get(F1) -> false"));
    expect(d.indexOf("folio_try_get(F1) -> false")).toBeLessThan(
      d.indexOf("__list_lru_del(deferred_split_lru.node[0].lru, &F1._deferred_list) -> false"),
    );
  });

  it("without the third party the key trace is shorter (15 steps)", async () => {
    const { result } = await checkVariant(model, "freeze-then-lock+flag-first+split-fails", {
      params: { split_can_fail: 1, third_party: 0 },
    });
    expect(props(result)).toEqual(["lost-membership"]);
    expect(lengthOf(result, "lost-membership")).toBe(15);
  });

  it("freeze-then-lock holds when nothing can fail after the freeze (the posted split)", async () => {
    const { result, judgement } = await checkVariant(model, "freeze-then-lock+flag-first");
    expect(judgement?.ok).toBe(true);
    expect(result.verdict).toBe("holds");
    expect(result.complete).toBe(true);
  });

  it("extra folios ahead of F2 and CPUs taking speculative references keep every verdict", async () => {
    const params = {
      extra_folios: 1,
      third_parties: "try_get_put(F1),try_get_put(F2);try_get_put(F3)",
    };
    const verdicts: Record<string, string> = {};
    for (const variant of [
      "lock-then-freeze",
      "lock-then-freeze+flag-first",
      "freeze-then-lock+flag-first",
    ]) {
      const { result } = await checkVariant(model, variant, { params });
      expect(result.complete).toBe(true);
      verdicts[variant] = `${result.verdict} ${props(result).join(",")}`;
    }
    expect(verdicts).toEqual({
      "lock-then-freeze": "violated use-after-free",
      "lock-then-freeze+flag-first": "holds ",
      "freeze-then-lock+flag-first": "holds ",
    });
  });

  it("a speculative reference on a queued folio is one more CPU, named after its operations", () => {
    const m = compileModel(model, "lock-then-freeze", {
      third_parties: "try_get_put(F2),try_get_put(F1)",
    });
    expect(m.threads.map((t) => t.name)).toEqual([
      "deferred_split_scan",
      "split_folio",
      "folio_put",
      "try_get_put+try_get_put",
    ]);
    expect(() =>
      compileModel(model, "lock-then-freeze", { third_parties: "try_get_put(F3)" }),
    ).toThrow(/F3 does not exist \(this scenario has F1..F2\)/);
  });

  it("every parameter combination builds and explores completely", async () => {
    for (const variant of Object.keys(model.variants)) {
      for (const split_can_fail of [0, 1]) {
        for (const third_party of [0, 1]) {
          const { result } = await checkVariant(model, variant, {
            params: { split_can_fail, third_party },
          });
          expect(result.verdict, `${variant} ${split_can_fail} ${third_party}`).not.toBe("error");
          expect(result.complete).toBe(true);
          // without a split that can fail, no ordering loses F1; without F2, no use-after-free
          if (split_can_fail === 0) expect(props(result)).not.toContain("lost-membership");
          if (third_party === 0) expect(props(result)).not.toContain("use-after-free");
        }
      }
    }
  });
});
