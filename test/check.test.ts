import { describe, it, expect, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { checkModel, checkVariant, judge, stopText } from "../src/check.ts";
import type { CheckResult } from "../src/explore/result.ts";
import flagLock from "../models/classic/flag-lock.ts";
import philosophers from "../models/classic/philosophers.ts";

const tmp = mkdtempSync(join(tmpdir(), "interleave-check-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function result(over: Partial<CheckResult>): CheckResult {
  return {
    model: "m",
    variant: "v",
    params: {},
    verdict: "holds",
    states: 1,
    transitions: 0,
    seconds: 0,
    maxDepth: 0,
    complete: true,
    stopReason: undefined,
    memoryBytes: 0,
    violations: [],
    ...over,
  };
}
const violation = (property: string) => ({
  property,
  kind: "invariant" as const,
  message: "",
  schedule: [],
  length: 0,
});

describe("judge: is the verdict the declared one?", () => {
  it("holds, declared holds: ok", () => {
    expect(judge(result({}), "holds").ok).toBe(true);
  });

  it("exactly the declared violations: ok, even when the run stopped early", () => {
    const r = result({ verdict: "violated", violations: [violation("a"), violation("b")] });
    expect(judge(r, { violated: ["a", "b"] }).ok).toBe(true);
    const partial = { ...r, complete: false, stopReason: "states" as const };
    expect(judge(partial, { violated: ["b", "a"] }).ok).toBe(true);
  });

  it("an undeclared violation is not ok, and is named", () => {
    const r = result({ verdict: "violated", violations: [violation("a"), violation("c")] });
    const j = judge(r, { violated: ["a"] });
    expect(j.ok).toBe(false);
    expect(j.detail).toBe("unexpected violation of c");
  });

  it("a declared violation that was not found: 'it holds', or 'not found before the stop'", () => {
    const j = judge(result({}), { violated: ["a", "b"] });
    expect(j).toEqual({ ok: false, detail: "expected a, b to be violated, but they hold" });
    const stopped = result({ verdict: "incomplete", complete: false, stopReason: "time" });
    expect(judge(stopped, { violated: ["a"] }).detail).toBe(
      "expected a to be violated; not found before the run stopped (reached the max-seconds bound)",
    );
  });

  it("incomplete cannot confirm 'holds'; a model error is never as declared", () => {
    const stopped = result({ verdict: "incomplete", complete: false, stopReason: "interrupted" });
    expect(judge(stopped, "holds")).toEqual({
      ok: false,
      detail: "incomplete (interrupted): cannot confirm that every property holds",
    });
    const err = result({ verdict: "error", complete: false });
    expect(judge(err, "holds").ok).toBe(false);
    expect(stopText("memory")).toBe("reached the memory budget");
  });
});

describe("checkVariant / checkModel", () => {
  it("judges against the declaration and saves each counterexample with what replay needs", async () => {
    const c = await checkVariant(flagLock, "test-then-set", {
      saveTo: tmp,
      file: "models/classic/flag-lock.ts",
      params: { cpus: 3 },
    });
    expect(c.judgement).toEqual({ ok: true, detail: "violations as declared" });
    const v = c.result.violations[0]!;
    // cpus=3 is not the variant's own: the path says so, and the default's file is left alone
    expect(v.file).toBe(join(tmp, "flag-lock/test-then-set/mutual-exclusion@cpus=3.json"));
    const saved = JSON.parse(readFileSync(v.file!, "utf8")) as Record<string, unknown>;
    expect(saved).toMatchObject({
      interleave: 1,
      model: "models/classic/flag-lock.ts",
      name: "flag-lock",
      variant: "test-then-set",
      params: { cpus: 3 },
      property: "mutual-exclusion",
      kind: "invariant",
      length: v.length,
    });
    expect((saved.diagram as string[]).join("\n")).toContain("=> mutual-exclusion");
  });

  it("saves nothing without a model file or a folder", async () => {
    const c = await checkVariant(philosophers, "left-then-right", { saveTo: join(tmp, "none") });
    expect(c.result.violations[0]!.file).toBeUndefined();
    expect(existsSync(join(tmp, "none"))).toBe(false);
  });

  it("checkModel runs every variant, or the one asked for", async () => {
    const all = await checkModel(philosophers);
    expect(all.map((c) => [c.model.variant, c.result.verdict, c.judgement?.ok])).toEqual([
      ["left-then-right", "violated", true],
      ["ordered", "holds", true],
    ]);
    const one = await checkModel(philosophers, { variant: "ordered", params: { n: 4 } });
    expect(one.map((c) => [c.model.variant, c.model.params])).toEqual([["ordered", { n: 4 }]]);
  });
});
