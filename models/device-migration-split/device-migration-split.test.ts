import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import model from "./device-migration-split.ts";
import {
  checkVariant,
  explain,
  violatedProperties as props,
  traceLength as lengthOf,
} from "../../src/check.ts";
import { compileModel } from "../../src/model/model.ts";

describe("device-migration-split (seed 001: split of a folio device migration unmapped)", () => {
  it("device migration splitting the folio it unmapped, with the flag: holds", async () => {
    const { result, judgement } = await checkVariant(model, "unmapped-with-flag");
    expect(judgement?.ok).toBe(true);
    expect(result.verdict).toBe("holds");
    expect(result.complete).toBe(true);
    // zap, user access and an rmap walker interleave with it
    expect(result.states).toBeGreaterThan(1000);
  });

  it("the normal split of a mapped folio (anon_vma lock, unmap, freeze, remap): holds", async () => {
    const { result, judgement } = await checkVariant(model, "mapped-without-flag");
    expect(judgement?.ok).toBe(true);
    expect(result.verdict).toBe("holds");
    expect(result.complete).toBe(true);
  });

  it("a mapped caller passing the flag: the freeze refuses the mapped folio, unless a zap unmapped it first -> leaked F1", async () => {
    const { result, judgement, model: cm } = await checkVariant(model, "mapped-with-flag");
    expect(judgement?.ok).toBe(true);
    expect(props(result)).toEqual(["leaked-folio"]);
    expect(lengthOf(result, "leaked-folio")).toBe(14);
    const d = explain(cm, result.violations[0]!);
    expect(d).toContain("CPU1 (zap_pte_range)");
    expect(d).toContain("zap pte1 (present): folio_remove_rmap_pte(F)");
    expect(d).toContain("folio_ref_freeze(F, 1) -> true");
    expect(d).toContain("__split_unmapped_folio(F)");
    expect(d).toContain("F1 is still locked");
    // the zap of the last PTE comes before the freeze that succeeds
    expect(d.indexOf("zap pte1 (present)")).toBeLessThan(
      d.indexOf("folio_ref_freeze(F, 1) -> true"),
    );
    // the split never happens while a PTE still maps the folio
    expect(props(result)).not.toContain("split-of-mapped-folio");
  });

  it("split-of-mapped-folio is live: a state where F was split under a present pte1 breaks it", () => {
    const cm = compileModel(model, "mapped-with-flag");
    const b = cm.init.slice();
    const off = (name: string): number => cm.layout.fieldByName.get(name)!.off;
    const inv = cm.invariants.find((i) => i.name === "split-of-mapped-folio")!;
    cm.mem.b = b;
    expect(inv.fn(cm.world)).toBe(true); // mapped by pte0 and pte1, mapcount 2
    b[off("F1.is_tail")] = 0; // what __split_unmapped_folio does, PTEs left present
    b[off("F.order")] = 0;
    b[off("F1._refcount")] = 1;
    expect(inv.fn(cm.world)).toBe("1 present PTE(s) map pages of F but its mapcount is 2");
  });

  it("without the concurrent zap, the mapped caller's split just fails with -EAGAIN: holds", async () => {
    const { result } = await checkVariant(model, "mapped-with-flag", { params: { zap: 0 } });
    expect(result.verdict).toBe("holds");
    expect(result.complete).toBe(true);
  });

  it("Zi Yan's misuse (unmap, split with the flag, restore the folio passed): stale entry, leak, hang", async () => {
    const {
      result,
      judgement,
      model: cm,
    } = await checkVariant(model, "unmap-then-split-with-flag");
    expect(judgement?.ok).toBe(true);
    expect(props(result)).toEqual(["deadlock", "leaked-folio", "stale-migration-entry"]);
    expect(lengthOf(result, "deadlock")).toBe(13);
    expect(lengthOf(result, "stale-migration-entry")).toBe(13);
    expect(lengthOf(result, "leaked-folio")).toBe(13);
    const dl = result.violations.find((v) => v.property === "deadlock")!;
    const d = explain(cm, dl);
    expect(d).toContain("pte1 maps page 1 of F1, not of F: left as migration entry");
    expect(d).toContain("migration_entry_wait()");
  });

  it("folio_split_unmapped() from device migration: holds", async () => {
    const { result, judgement } = await checkVariant(model, "folio_split_unmapped");
    expect(judgement?.ok).toBe(true);
    expect(result.verdict).toBe("holds");
  });

  it("folio_split_unmapped() on a mapped folio: the VM_WARN_ON_FOLIO catches it at once", async () => {
    const {
      result,
      judgement,
      model: cm,
    } = await checkVariant(model, "folio_split_unmapped-mapped");
    expect(judgement?.ok).toBe(true);
    expect(props(result)).toEqual(["leaked-folio", "vm-warn-folio-mapped"]);
    expect(lengthOf(result, "vm-warn-folio-mapped")).toBe(1);
    expect(lengthOf(result, "leaked-folio")).toBe(15);
    const w = result.violations.find((v) => v.property === "vm-warn-folio-mapped")!;
    expect(explain(cm, w)).toContain("VM_WARN_ON_FOLIO(folio_mapped(F)) (mapcount 2)");
  });

  it("every parameter combination builds; the intended callers hold in each", async () => {
    for (const zap of [0, 1])
      for (const access of [0, 1])
        for (const rmap_walk of [0, 1]) {
          const params = { zap, access, rmap_walk };
          for (const v of ["unmapped-with-flag", "mapped-without-flag", "folio_split_unmapped"]) {
            const { result } = await checkVariant(model, v, { params });
            expect(result.verdict, `${v} ${JSON.stringify(params)}`).toBe("holds");
          }
          const { result } = await checkVariant(model, "unmap-then-split-with-flag", { params });
          expect(props(result)).toContain("leaked-folio");
        }
  });

  it("is written against src/index.ts alone: no $off, no state array, no hand-built lock or Violation", () => {
    const src = readFileSync(new URL("./device-migration-split.ts", import.meta.url), "utf8");
    const code = src.replace(/^\s*\/\/.*$/gm, "");
    expect(code).not.toMatch(
      /\$off|\$node|\.m\.b\b|getMarked|setMarked|spinlock\(|Violation|spin_lock|check\(|races: false/,
    );
    const imports = [...code.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    expect(imports).toEqual(["../../src/index.ts"]);
  });
});
