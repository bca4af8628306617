// `npm run bench:switches`: the context switches of every stored counterexample before and
// after the reordering (trace/reorder.ts), with the greedy order against the exhaustive optimum.
// Prints one row per counterexample file and the sums.

import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { compileModel, type ModelDef } from "../src/index.ts";
import { parseSchedule } from "../src/trace/schedule.ts";
import { readableOrder } from "../src/trace/reorder.ts";
import { columns } from "../src/cli/columns.ts";

const ROOT = "counterexamples";
const files = readdirSync(ROOT, { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".json"))
  .map((f) => join(ROOT, f))
  .sort();

const rows = [["counterexample", "steps", "cpus", "original", "greedy", "optimum", "shown", "ms"]];
const sum = {
  original: 0,
  greedy: 0,
  optimal: 0,
  shown: 0,
  steps: 0,
  greedyOff: 0,
  noOpt: 0,
  lassos: 0,
};
for (const f of files) {
  const cx = JSON.parse(readFileSync(f, "utf8")) as {
    model: string;
    name: string;
    variant: string;
    params: Record<string, number | string>;
    schedule: string;
    property: string;
    cycle?: number;
  };
  const mod = (await import(pathToFileURL(resolve(cx.model)).href)) as Record<string, unknown>;
  const def = Object.values(mod).find(
    (v) => (v as ModelDef).kind === "interleave-model" && (v as ModelDef).name === cx.name,
  ) as ModelDef;
  const model = compileModel(def, cx.variant, cx.params);
  const moves = parseSchedule(cx.schedule);
  const t0 = performance.now();
  // what is shown: a lasso as found, a reordering only when its replay shows the same violation
  const r = readableOrder(model, moves, cx.property, cx.cycle);
  const ms = performance.now() - t0;
  const opt = r.optimalSwitches;
  rows.push([
    f.slice(ROOT.length + 1),
    String(moves.length),
    String(new Set(moves.map((m) => m.cpu)).size),
    String(r.originalSwitches),
    String(r.greedySwitches),
    cx.cycle !== undefined ? "(lasso)" : opt === undefined ? "(skipped)" : String(opt),
    String(r.switches),
    ms.toFixed(0),
  ]);
  sum.original += r.originalSwitches;
  sum.greedy += r.greedySwitches;
  sum.optimal += opt ?? r.greedySwitches;
  sum.shown += r.switches;
  sum.steps += moves.length;
  if (cx.cycle !== undefined) sum.lassos++;
  else if (opt === undefined) sum.noOpt++;
  else if (r.greedySwitches > opt) sum.greedyOff++;
}
rows.push([
  `sum over ${files.length} files`,
  String(sum.steps),
  "",
  String(sum.original),
  String(sum.greedy),
  String(sum.optimal),
  String(sum.shown),
  "",
]);
console.log(columns(rows));
console.log(
  `\ncontext switches: ${sum.original} before, ${sum.shown} after (${((100 * (sum.original - sum.shown)) / Math.max(1, sum.original)).toFixed(0)}% fewer); ` +
    `greedy ${sum.greedy} against the optimum ${sum.optimal} (greedy above the optimum on ${sum.greedyOff} of ${files.length - sum.noOpt - sum.lassos} traces where the optimum was searched` +
    (sum.lassos ? `; ${sum.lassos} lassos kept as found` : "") +
    (sum.noOpt ? `; optimum skipped on ${sum.noOpt}, too large` : "") +
    ")",
);
