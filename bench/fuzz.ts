// `npm run bench:fuzz`: the randomized engine on every seeded bug the models reproduce (each
// variant declared violated; a run fails when it breaks one of the variant's declared
// properties). The scenario is held at the variant's parameters so that the strategies are
// compared on the same state space. For uniform random, PCT (d=3) and bounded preemption (k=2):
// the number of runs until the first failure (median over the session seeds; a seed that found
// nothing within the budget or the time limit counts as "more than the budget"), and the
// counterexample's length as found and after shrinking, against the exhaustive explorer's
// shortest trace for the same property in the same scenario.
//
//   npm run bench:fuzz                              every model under models/
//   npm run bench:fuzz -- --only philosophers       models whose name contains this
//   npm run bench:fuzz -- --seeds 20 --budget 1000 --max-seconds 20   (per cell)
//   npm run bench:fuzz -- --pct-depth 5 --preemptions 3

import { loadModels } from "../src/cli/load.ts";
import { fuzzModel } from "../src/fuzz/index.ts";
import { checkVariant } from "../src/check.ts";
import { resolveParams, type ModelDef } from "../src/model/model.ts";

interface Opts {
  seeds: number;
  budget: number;
  maxSeconds: number;
  only: string | undefined;
  depth: number;
  pctDepth: number;
  preemptions: number;
}

function parse(argv: string[]): Opts {
  const o: Opts = {
    seeds: 20,
    budget: 1000,
    maxSeconds: 20,
    only: undefined,
    depth: 500,
    pctDepth: 3,
    preemptions: 2,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === "--seeds") o.seeds = Number(v);
    else if (a === "--budget") o.budget = Number(v);
    else if (a === "--max-seconds") o.maxSeconds = Number(v);
    else if (a === "--depth") o.depth = Number(v);
    else if (a === "--only") o.only = v;
    else if (a === "--pct-depth") o.pctDepth = Number(v);
    else if (a === "--preemptions") o.preemptions = Number(v);
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

type Strat = "random" | "pct" | "preempt";
const STRATS: readonly Strat[] = ["random", "pct", "preempt"];

interface Cell {
  found: number;
  seeds: number;
  runs: number[]; // budget + 1 for a seed that found nothing
  foundLen: number[];
  shrunkLen: number[];
  ratios: number[]; // shrunk / BFS shortest of the same property
  props: Set<string>;
  seconds: number;
}

const bfsCache = new Map<string, Promise<Map<string, number>>>();
function bfsShortest(
  def: ModelDef,
  variant: string,
  params: Readonly<Record<string, number>>,
): Promise<Map<string, number>> {
  const key = `${def.name}/${variant}/${JSON.stringify(params)}`;
  let p = bfsCache.get(key);
  if (!p) {
    p = checkVariant(def, variant, {
      params,
      strategy: "bfs",
      maxStates: 3_000_000,
      maxSeconds: 60,
    }).then((c) => new Map(c.result.violations.map((v) => [v.property, v.length])));
    bfsCache.set(key, p);
  }
  return p;
}

async function cell(
  def: ModelDef,
  variant: string,
  props: readonly string[],
  params: Readonly<Record<string, number>>,
  strategy: Strat,
  o: Opts,
): Promise<Cell> {
  const c: Cell = {
    found: 0,
    seeds: 0,
    runs: [],
    foundLen: [],
    shrunkLen: [],
    ratios: [],
    props: new Set(),
    seconds: 0,
  };
  const t0 = performance.now();
  const bfs = await bfsShortest(def, variant, params);
  for (let s = 1; s <= o.seeds; s++) {
    const left = o.maxSeconds - (performance.now() - t0) / 1000;
    if (left <= 0) break;
    const r = await fuzzModel(def, {
      variant,
      strategy,
      runs: o.budget,
      depth: o.depth,
      seed: s * 7919,
      property: props,
      params,
      pctDepth: o.pctDepth,
      preemptions: o.preemptions,
      confirm: false,
      maxSeconds: left,
    });
    c.seeds++;
    const cx = r.counterexample;
    if (!cx) {
      c.runs.push(o.budget + 1);
      continue;
    }
    c.found++;
    c.props.add(cx.property);
    c.runs.push(cx.run);
    c.foundLen.push(cx.found.length);
    c.shrunkLen.push(cx.shrunk.length);
    const b = bfs.get(cx.property);
    if (b !== undefined)
      c.ratios.push(b === 0 ? (cx.shrunk.length === 0 ? 1 : Infinity) : cx.shrunk.length / b);
  }
  c.seconds = (performance.now() - t0) / 1000;
  return c;
}

function fmtRuns(c: Cell, budget: number): string {
  const m = median(c.runs);
  return `${m > budget ? `>${budget}` : String(m)} (${c.found}/${c.seeds})`;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const models = (await loadModels(["models"])).filter(
    (m) => !o.only || m.def.name.includes(o.only),
  );
  const bugs: { def: ModelDef; variant: string; props: readonly string[] }[] = [];
  for (const { def } of models) {
    for (const [variant, v] of Object.entries(def.variants)) {
      if (v.expect !== "holds") bugs.push({ def, variant, props: v.expect.violated });
    }
  }
  console.log(
    `fuzz bench: ${bugs.length} seeded bug(s) (variants declared violated); ${o.seeds} session seeds per strategy, ` +
      `budget ${o.budget} runs per seed, depth ${o.depth}, at most ${o.maxSeconds}s per cell; PCT d=${o.pctDepth}, preemption bound ${o.preemptions}\n`,
  );
  const header = [
    "model / variant",
    "random runs",
    "pct runs",
    "preempt runs",
    "random/pct",
    "found len",
    "shrunk len",
    "shrunk/BFS med (max)",
    "properties found",
  ];
  const rows: string[][] = [header];
  for (const b of bugs) {
    const params = resolveParams(b.def, b.variant);
    const cells = {} as Record<Strat, Cell>;
    for (const s of STRATS) cells[s] = await cell(b.def, b.variant, b.props, params, s, o);
    const all = STRATS.map((s) => cells[s]);
    const foundLen = all.flatMap((c) => c.foundLen);
    const shrunkLen = all.flatMap((c) => c.shrunkLen);
    const ratios = all.flatMap((c) => c.ratios);
    const rm = median(cells.random.runs);
    const pm = median(cells.pct.runs);
    const ratio = rm / pm;
    const approx =
      rm > o.budget || pm > o.budget
        ? rm > o.budget && pm <= o.budget
          ? ">"
          : pm > o.budget && rm <= o.budget
            ? "<"
            : "?"
        : "";
    rows.push([
      `${b.def.name} / ${b.variant}`,
      fmtRuns(cells.random, o.budget),
      fmtRuns(cells.pct, o.budget),
      fmtRuns(cells.preempt, o.budget),
      approx === "?" ? "-" : `${approx}${ratio.toFixed(2)}x`,
      foundLen.length ? String(median(foundLen)) : "-",
      shrunkLen.length ? String(median(shrunkLen)) : "-",
      ratios.length ? `${median(ratios).toFixed(2)} (${Math.max(...ratios).toFixed(2)})` : "-",
      [...new Set(all.flatMap((c) => [...c.props]))].join(",") || "-",
    ]);
    process.stderr.write(
      `  ${b.def.name}/${b.variant}: ${all.map((c) => c.seconds.toFixed(1)).join("s, ")}s\n`,
    );
  }
  const w = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
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
  console.log(
    "\nruns: median runs to the first failure over the seeds (seeds that found it / seeds run); random/pct: how many" +
      "\ntimes fewer runs PCT needs ('>' when random's median exceeds the budget). found/shrunk len: median trace length over" +
      "\nevery counterexample found; shrunk/BFS: shrunk length over the explorer's shortest for the same property and scenario.",
  );
}

await main();
