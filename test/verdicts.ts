// A model's verdict table as tests: every variant declared in the model is listed here, and each
// one's violated properties with their BFS (shortest) trace lengths are exactly these.

import { expect, it } from "vitest";
import { checkVariant, traceLengths } from "../src/check.ts";
import type { ModelDef } from "../src/model/model.ts";

/** Per variant: each violated property and its BFS trace length (`{}`: the variant holds). */
export type VerdictTable = Readonly<Record<string, Readonly<Record<string, number>>>>;

export function itHasVerdicts(model: ModelDef, expected: VerdictTable): void {
  it("declares exactly the variants tested here", () => {
    expect(Object.keys(model.variants).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.keys(expected))(
    "%s: verdict, violated properties and trace lengths",
    async (variant) => {
      const { result, judgement } = await checkVariant(model, variant);
      expect(judgement?.ok, judgement?.detail).toBe(true);
      expect(result.complete).toBe(true);
      expect(traceLengths(result)).toEqual(expected[variant]);
      expect(result.verdict).toBe(
        Object.keys(expected[variant]!).length === 0 ? "holds" : "violated",
      );
    },
  );
}
