// Using the exhaustive checker from any vitest (or other) test:
//   await expectHolds(model, { variant: "fixed" });
//   await expectAsDeclared(model);                       // every variant gets its declared verdict
// or, with `expect.extend(checkMatchers)`:
//   await expect(model).toHold({ variant: "fixed" });
// A failure's message names the model, the variant and the verdict, and gives the kernel-commit
// style diagram of each violation found (the shortest trace, with BFS), so the test output is the
// race itself. A run that hits a bound fails too: "incomplete" is not "holds".

import { checkModel, explain, stopText, type Checked, type CheckOptions } from "./check.ts";
import type { ModelDef } from "./model/model.ts";
import { paramsText } from "./model/params.ts";

export class CheckFailure extends Error {
  override name = "CheckFailure";
  constructor(
    message: string,
    readonly checked: readonly Checked[],
  ) {
    super(message);
  }
}

function head(c: Checked): string {
  const r = c.result;
  return `${r.model} / ${r.variant} (${paramsText(r.params)}): ${r.verdict}, ${r.states} states`;
}

/** What went wrong in one run: its verdict, and the diagram of each violation. */
export function describeChecked(c: Checked): string {
  const r = c.result;
  const lines = [head(c)];
  if (r.verdict === "error" && r.error) lines.push(`  error ${r.error.code}: ${r.error.message}`);
  if (!r.complete && r.verdict !== "error") lines.push(`  incomplete: ${stopText(r.stopReason)}`);
  for (const v of r.violations) {
    lines.push("", `${v.property} (${v.schedule.length} steps):`, explain(c.model, v));
  }
  return lines.join("\n");
}

/** Checks every variant (or opts.variant) and throws a CheckFailure unless each one holds. */
export async function expectHolds(def: ModelDef, opts: CheckOptions = {}): Promise<Checked[]> {
  const all = await checkModel(def, opts);
  const bad = all.filter((c) => c.result.verdict !== "holds");
  if (bad.length > 0) {
    throw new CheckFailure(
      `expected every property to hold:\n\n${bad.map(describeChecked).join("\n\n")}`,
      all,
    );
  }
  return all;
}

/**
 * Checks every variant (or opts.variant) and throws a CheckFailure unless each one gets the
 * verdict its declaration expects (holds, or exactly the declared properties violated).
 */
export async function expectAsDeclared(def: ModelDef, opts: CheckOptions = {}): Promise<Checked[]> {
  const all = await checkModel(def, opts);
  const bad = all.filter((c) => !c.judgement?.ok);
  if (bad.length > 0) {
    throw new CheckFailure(
      bad
        .map((c) => `${c.judgement?.detail ?? "no declared verdict"}\n${describeChecked(c)}`)
        .join("\n\n"),
      all,
    );
  }
  return all;
}

export const checkMatchers = {
  async toHold(
    received: ModelDef,
    opts: CheckOptions = {},
  ): Promise<{ pass: boolean; message: () => string }> {
    const all = await checkModel(received, opts);
    const pass = all.every((c) => c.result.verdict === "holds");
    return {
      pass,
      message: () =>
        pass
          ? `expected a violation, but every property holds:\n${all.map(head).join("\n")}`
          : all
              .filter((c) => c.result.verdict !== "holds")
              .map(describeChecked)
              .join("\n\n"),
    };
  },
};
