// interleave diff MODEL [--variants a,b,...] [--param k=v] [--json]: one run per variant, then
// the table property x variant, and for each property that one variant breaks and another
// keeps, the counterexample. The pre-review use: the posted patch against the suggested one.

import { parseArgs } from "node:util";
import { UsageError } from "./errors.ts";
import { loadModels } from "./load.ts";
import { checkVariant, explain, type Checked } from "../check.ts";
import { compileModel } from "../model/model.ts";
import {
  EXIT_OK,
  EXIT_USAGE,
  EXIT_VIOLATION,
  installInterrupt,
  parseParams,
  positiveInt,
  resultJson,
} from "./main.ts";

export async function runDiff(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      variants: { type: "string" },
      param: { type: "string", multiple: true },
      "max-states": { type: "string" },
      "max-seconds": { type: "string" },
      json: { type: "boolean" },
      save: { type: "string", default: "counterexamples" },
      "no-save": { type: "boolean" },
    },
  });
  if (positionals.length !== 1)
    throw new UsageError(
      "E_USAGE",
      "diff takes one model file",
      "interleave diff models/NAME/NAME.ts --variants a,b",
    );
  const models = await loadModels(positionals);
  if (models.length !== 1)
    throw new UsageError(
      "E_USAGE",
      `${positionals[0]} holds ${models.length} models; name one file`,
    );
  const { def, file } = models[0]!;
  const all = Object.keys(def.variants);
  const names = values.variants
    ? [
        ...new Set(
          values.variants
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean),
        ),
      ]
    : all;
  if (names.length === 0)
    throw new UsageError(
      "E_USAGE",
      "--variants names no variant",
      `give a comma-separated list of: ${all.join(", ")}`,
    );
  for (const n of names) {
    if (!all.includes(n))
      throw new UsageError(
        "E_VARIANT",
        `model ${def.name} has no variant "${n}"`,
        `its variants are: ${all.join(", ")}`,
      );
  }
  const params = parseParams(values.param);
  const { signal, dispose } = installInterrupt();
  const runs: Checked[] = [];
  try {
    for (const v of names) {
      runs.push(
        await checkVariant(def, v, {
          params,
          file,
          signal,
          maxStates: positiveInt("--max-states", values["max-states"]),
          maxSeconds: positiveInt("--max-seconds", values["max-seconds"]),
          saveTo: values["no-save"] ? undefined : values.save,
        }),
      );
    }
  } finally {
    dispose();
  }
  // every property any variant checks or breaks
  const props: string[] = [];
  const add = (p: string): void => {
    if (!props.includes(p)) props.push(p);
  };
  for (const r of runs) {
    const m = compileModel(def, r.model.variant, params);
    for (const i of m.invariants) add(i.name);
    for (const e of m.endStates) add(e.name);
    for (const v of r.result.violations) add(v.property);
  }
  add("deadlock");
  const cell = (r: Checked, p: string): string => {
    const v = r.result.violations.find((x) => x.property === p);
    if (v) return `violated (${v.length})`;
    if (r.result.verdict === "error") return "error";
    return r.result.complete ? "holds" : "incomplete";
  };
  const contrasts = props.filter((p) => {
    const c = runs.map((r) => cell(r, p));
    return c.some((x) => x.startsWith("violated")) && c.some((x) => x === "holds");
  });
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          model: def.name,
          properties: props,
          variants: runs.map((r) => ({
            ...resultJson(r),
            cells: Object.fromEntries(props.map((p) => [p, cell(r, p)])),
          })),
          contrasts,
        },
        null,
        2,
      ),
    );
  } else {
    const rows = [["property", ...names], ...props.map((p) => [p, ...runs.map((r) => cell(r, p))])];
    rows.push(["(states)", ...runs.map((r) => String(r.result.states))]);
    // variants may declare their own parameters: show the ones that differ, or the table
    // would compare different scenarios without saying so
    const differ = Object.keys(runs[0]?.result.params ?? {}).filter((k) =>
      runs.some((r) => r.result.params[k] !== runs[0]!.result.params[k]),
    );
    if (differ.length > 0)
      rows.push([
        "(params)",
        ...runs.map((r) => differ.map((k) => `${k}=${r.result.params[k]}`).join(" ")),
      ]);
    rows.push([
      "(verdict)",
      ...runs.map(
        (r) =>
          r.result.verdict +
          (r.judgement ? (r.judgement.ok ? ", as declared" : ", NOT as declared") : ""),
      ),
    ]);
    const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    console.log(`${def.name}: ${def.doc}\n`);
    console.log(
      rows
        .map((r) =>
          r
            .map((x, i) => x.padEnd(w[i]!))
            .join("  ")
            .trimEnd(),
        )
        .join("\n"),
    );
    for (const p of contrasts) {
      const breaking = runs.filter((r) => r.result.violations.some((v) => v.property === p));
      const keeping = runs.filter((r) => cell(r, p) === "holds").map((r) => r.model.variant);
      for (const r of breaking) {
        const v = r.result.violations.find((x) => x.property === p)!;
        console.log(
          `\n${p}: broken by ${r.model.variant}, kept by ${keeping.join(", ")} — ${v.length} steps${v.file ? ` (${v.file})` : ""}\n`,
        );
        console.log(explain(r.model, v));
      }
    }
  }
  if (runs.some((r) => r.result.verdict === "error")) return EXIT_USAGE;
  return runs.some((r) => r.result.violations.length > 0) ? EXIT_VIOLATION : EXIT_OK;
}
