import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import model from "./memcg-disabled.ts";
import { checkVariant, explain, violatedProperties as props } from "../../src/check.ts";

describe("memcg-disabled (seed 004: s390 panic in __memcg_list_lru_alloc)", () => {
  it("before the fix, with cgroup_disable=memory, folio_memcg_list_lru_alloc() dereferences a NULL memcg", async () => {
    const { result, judgement, model: cm } = await checkVariant(model, "before-fix");
    expect(judgement?.ok).toBe(true);
    expect(props(result)).toEqual(["null-memcg-deref"]);
    // the fast path's memcg_list_lru_allocated(folio_memcg(folio)) is the first NULL read (on
    // s390 it hits the lowcore and does not fault; the oops is the slow path's parent walk)
    expect(result.violations[0]!.length).toBe(6);
    const d = explain(cm, result.violations[0]!);
    expect(d).toContain("memcg_aware = true");
    expect(d).toContain("memcg = folio_memcg(F1) -> NULL; memcg_list_lru_allocated(memcg, lru)");
    expect(d).toContain("memcg->kmemcg_id (memory cgroups are disabled at boot)");
    expect(d).toContain("null-memcg-deref");
  });

  it("after the fix, with cgroup_disable=memory, the lru is not memcg aware and everything holds", async () => {
    const { result, judgement } = await checkVariant(model, "after-fix");
    expect(judgement?.ok).toBe(true);
    expect(result.verdict).toBe("holds");
    expect(result.complete).toBe(true);
  });

  it("with memory cgroups enabled both versions hold (the normal boot worked)", async () => {
    for (const v of ["before-fix-memcg-on", "after-fix-memcg-on"]) {
      const { result, judgement } = await checkVariant(model, v);
      expect(judgement?.ok, v).toBe(true);
      expect(result.verdict).toBe("holds");
      // two CPUs race to install memcg1's list_lru_memcg: more states than the disabled boot
      expect(result.states).toBeGreaterThan(100);
    }
  });

  it("every boot configuration: only memcg disabled without nokmem, before the fix, breaks", async () => {
    for (const fixed of ["before-fix", "after-fix"]) {
      for (const memcg_disabled of [0, 1]) {
        for (const kmem_disabled of [0, 1]) {
          for (const fault of [0, 1]) {
            const { result } = await checkVariant(model, fixed, {
              params: { memcg_disabled, kmem_disabled, fault },
            });
            const bad = fixed === "before-fix" && memcg_disabled === 1 && kmem_disabled === 0;
            expect(
              props(result),
              `${fixed} md=${memcg_disabled} kd=${kmem_disabled} f=${fault}`,
            ).toEqual(bad ? ["null-memcg-deref"] : []);
            expect(result.complete).toBe(true);
          }
        }
      }
    }
  });

  it("is written against src/index.ts alone: no $off, no state array, no hand-built lock or Violation", () => {
    const src = readFileSync(new URL("./memcg-disabled.ts", import.meta.url), "utf8");
    const code = src.replace(/^\s*\/\/.*$/gm, "");
    expect(code).not.toMatch(
      /\$off|\$node|\.m\.b\b|getMarked|setMarked|spinlock\(|listHead\(|Violation|spin_lock/,
    );
    const imports = [...code.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    expect(imports).toEqual(["../../src/index.ts"]);
  });
});
