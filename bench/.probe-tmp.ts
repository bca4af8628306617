import { loadModels } from "../src/cli/load.ts";
import { compileModel, resolveParams } from "../src/model/model.ts";
import { runSchedule, estimateSteps } from "../src/fuzz/run.ts";
import { pct } from "../src/fuzz/pct.ts";
import { random } from "../src/fuzz/random.ts";
import * as fc from "fast-check";
const name = process.argv[2]!, variant = process.argv[3]!;
const extra = JSON.parse(process.argv[4] ?? "{}");
const ms = await loadModels(["models"]);
const def = ms.find((m) => m.def.name === name)!.def;
const m = compileModel(def, variant, { ...resolveParams(def, variant), ...extra });
const depth = 500;
const k = estimateSteps(m, depth);
console.log("threads", m.threads.length, "k", k);
for (const [nm, st] of [["random", random], ["pct2", pct(2)], ["pct3", pct(3)], ["pct5", pct(5)]] as const) {
  const ends: Record<string, number> = {};
  const lens: number[] = [];
  const props: Record<string, number> = {};
  const samples = fc.sample((st as any).arbitrary({ depth }), { numRuns: 400, seed: 42 });
  for (const d of samples) {
    const r = runSchedule(m, (st as any).scheduler(d, { k, depth }), { depth });
    ends[r.end] = (ends[r.end] ?? 0) + 1;
    lens.push(r.moves.length);
    if (r.violation) props[r.violation.property] = (props[r.violation.property] ?? 0) + 1;
  }
  lens.sort((a, b) => a - b);
  console.log(nm, JSON.stringify(ends), "len med", lens[200], "max", lens[399], JSON.stringify(props));
}
