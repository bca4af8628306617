// `npm run bench:fuzz`: the randomized engine on every seeded bug the models reproduce (each
// variant declared violated, each declared property). For uniform random, PCT and bounded
// preemption: the number of runs until the first failure (median over 20 session seeds; runs
// from a seed that found nothing within the budget count as "more than the budget"), and the
// counterexample's length as found and after shrinking, against the exhaustive explorer's
// shortest in the shrunk scenario.
//
//   npm run bench:fuzz                         every model under models/
//   npm run bench:fuzz -- --only philosophers  models whose name contains this
//   npm run bench:fuzz -- --seeds 20 --budget 5000 --max-seconds 60

import { loadModels } from "../src/cli/load.ts";
import { fuzzModel, type FuzzResult } from "../src/fuzz/index.ts";
import { checkVariant } from "../src/check.ts";
import type { ModelDef } from "../src/model/model.ts";

interface Opts {
  seeds: number;
  budget: number;
  maxSeconds: number;
  only: string | undefined;
  depth: number;
}

function parse(argv: string[]): Opts {
  const o: Opts = { seeds: 20, budget: 5000, maxSeconds: 60, only: undefined, depth: 500 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === "--seeds") o.seeds = Number(v);
    else if (a === "--budget") o.budget = Number(v);
    else if (a === "--max-seconds") o.maxSeconds = Number(v);
    else if (a === "--depth") o.depth = Number(v);
    else if (a === "--only") o.only = v;
    else continue;
    i++;
  }
  return o;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Cell {
  found: number;
  seeds: number;
  runs: number[]; // budget+1 for a seed that found nothing
  foundLen: number[];
  shrunkLen: number[];
  worstRatio: number; // shrunk / BFS shortest, worst seed
  seconds: number;
}

const bfsCache = new Map<string, number | undefined>();
async function bfsShortest(def: ModelDef, variant: string, params: Readonly<Record<string, number>>, property: string): Promise<number | undefined> {
  const key = `${def.name}/${variant}/${JSON.stringify(params)}/${property}`;
  if (!bfsCache.has(key)) {
    const c = await checkVariant(def, variant, { params, strategy: "bfs", maxStates: 2_000_000, maxSeconds: 60 });
    bfsCache.set(key, c.result.violations.find((v) => v.property === property)?.length);
  }
  return bfsCache.get(key);
}

async function cell(def: ModelDef, variant: string, property: string, strategy: "random" | "pct" | "preempt", o: Opts): Promise<Cell> {
  const c: Cell = { found: 0, seeds: 0, runs: [], foundLen: [], shrunkLen: [], worstRatio: 0, seconds: 0 };
  const t0 = performance.now();
  for (let s = 1; s <= o.seeds; s++) {
    if ((performance.now() - t0) / 1000 > o.maxSeconds) break;
    const r: FuzzResult = await fuzzModel(def, { variant, strategy, runs: o.budget, depth: o.depth, seed: s * 7919, property, confirm: false });
    c.seeds++;
    const cx = r.counterexample;
    if (!cx || cx.property !== property) {
      c.runs.push(o.budget + 1);
      continue;
    }
    c.found++;
    c.runs.push(cx.run);
    c.foundLen.push(cx.found.length);
    c.shrunkLen.push(cx.shrunk.length);
    const bfs = await bfsShortest(def, variant, cx.shrunk.params, property);
    if (bfs !== undefined && bfs > 0) c.worstRatio = Math.max(c.worstRatio, cx.shrunk.length / bfs);
    else if (bfs === 0) c.worstRatio = Math.max(c.worstRatio, cx.shrunk.length === 0 ? 1 : Infinity);
  }
  c.seconds = (performance.now() - t0) / 1000;
  return c;
}

function fmtRuns(c: Cell, budget: number): string {
  const m = median(c.runs);
  const med = m > budget ? `>${budget}` : String(m);
  return `${med} (${c.found}/${c.seeds})`;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const models = (await loadModels(["models"])).filter((m) => !o.only || m.def.name.includes(o.only));
  const bugs: { def: ModelDef; variant: string; property: string }[] = [];
  for (const { def } of models) {
    for (const [variant, v] of Object.entries(def.variants)) {
      if (v.expect === "holds") continue;
      for (const property of v.expect.violated) bugs.push({ def, variant, property });
    }
  }
  console.log(
    `fuzz bench: ${bugs.length} seeded bug(s); ${o.seeds} session seeds per strategy, budget ${o.budget} runs per seed, depth ${o.depth}, ` +
      `at most ${o.maxSeconds}s per cell; PCT d=3, preemption bound 2\n`,
  );
  const header = ["model / variant / property", "random runs", "pct runs", "preempt runs", "random/pct", "found len", "shrunk len", "BFS", "worst shrunk/BFS"];
  const rows: string[][] = [header];
  for (const b of bugs) {
    const cells: Record<string, Cell> = {};
    for (const s of ["random", "pct", "preempt"] as const) cells[s] = await cell(b.def, b.variant, b.property, s, o);
    const all = Object.values(cells);
    const foundLen = all.flatMap((c) => c.foundLen);
    const shrunkLen = all.flatMap((c) => c.shrunkLen);
    const ratio = median(cells.random!.runs) / median(cells.pct!.runs);
    const bfs = await bfsShortest(b.def, b.variant, b.def.variants[b.variant]!.params ?? {}, b.property).catch(() => undefined);
    const worst = Math.max(...all.map((c) => c.worstRatio));
    rows.push([
      `${b.def.name} / ${b.variant} / ${b.property}`,
      fmtRuns(cells.random!, o.budget),
      fmtRuns(cells.pct!, o.budget),
      fmtRuns(cells.preempt!, o.budget),
      Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : "-",
      foundLen.length ? String(median(foundLen)) : "-",
      shrunkLen.length ? String(median(shrunkLen)) : "-",
      bfs === undefined ? "?" : String(bfs),
      worst > 0 ? `${worst.toFixed(2)}` : "-",
    ]);
    process.stderr.write(`  ${b.def.name}/${b.variant}/${b.property}: ${all.map((c) => c.seconds.toFixed(1)).join("s, ")}s\n`);
  }
  const w = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(rows.map((r) => r.map((x, i) => x.padEnd(w[i]!)).join("  ").trimEnd()).join("\n"));
  console.log(
    "\nruns: median runs to the first failure over the seeds (found/seeds); random/pct: how many times fewer runs PCT needs." +
      "\nfound len / shrunk len: median trace length over every found counterexample; BFS: the explorer's shortest in the" +
      "\nvariant's default scenario; worst shrunk/BFS: the largest ratio of a shrunk trace to the BFS shortest in its own scenario.",
  );
}

await main();
