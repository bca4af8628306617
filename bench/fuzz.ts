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
//
// Then a "scaled" section (scaledSection below): the same bugs in larger scenarios, runs to the
// first failure only, PCT at d=3 and at the best d of {2,3,5} picked on separate tuning seeds,
// and the explorer's state count at that size.
//
//   npm run bench:fuzz -- --section default|mix|scaled|throughput|all   (default: all)
//   npm run bench:fuzz -- --scaled-budget 2000 --scaled-seconds 25 --tune-seeds 5
//
// The "mix" section (mixSection below): the portfolio against the best single strategy on every
// seeded bug, runs to the first failure only, over more seeds than the default section (a median
// of 20 geometric counts is too noisy to compare two strategies within 2x), with a bootstrap
// interval for each ratio.
//
//   npm run bench:fuzz -- --section mix --mix-seeds 100 --mix-seconds 30
//
// The "arms" section (armsSection below): each arm's hit rate per run on every seeded bug (the
// figures DEFAULT_WEIGHTS and DEFAULT_OPENING are fitted to), the median runs they predict for
// each single strategy and for mix's layout, and how often the arm that reaches the most distinct
// states (a novelty signal an adaptive mix could learn from) is the one that finds the bug best.
//
//   npm run bench:fuzz -- --section arms --arm-runs 600

import { availableParallelism } from "node:os";
import { loadModels, type LoadedModel } from "../src/cli/load.ts";
import { fuzzParallel } from "../src/fuzz/parallel.ts";
import { fuzzModel } from "../src/fuzz/index.ts";
import { checkVariant } from "../src/check.ts";
import { columns } from "../src/cli/columns.ts";
import { compileModel, resolveParams, type ModelDef } from "../src/model/model.ts";
import { paramText, type ParamValues } from "../src/model/params.ts";
import { estimateSteps } from "../src/fuzz/run.ts";
import * as fc from "fast-check";
import {
  DEFAULT_OPENING,
  DEFAULT_WEIGHTS,
  defaultArms,
  describeLayout,
  layout,
} from "../src/fuzz/mix.ts";
import { strategyRunner } from "../src/fuzz/run.ts";
import { stateHash, type Strategy } from "../src/fuzz/strategy.ts";

interface Opts {
  seeds: number;
  budget: number;
  maxSeconds: number;
  only: string | undefined;
  depth: number;
  pctDepth: number;
  preemptions: number;
  section: "default" | "mix" | "arms" | "scaled" | "throughput" | "all";
  mixSeeds: number;
  mixSeconds: number;
  armRuns: number;
  scaledBudget: number;
  scaledSeconds: number;
  tuneSeeds: number;
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
    section: "all",
    mixSeeds: 100,
    mixSeconds: 30,
    armRuns: 600,
    scaledBudget: 2000,
    scaledSeconds: 25,
    tuneSeeds: 5,
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
    else if (a === "--section") {
      if (!["default", "mix", "arms", "scaled", "throughput", "all"].includes(v ?? ""))
        throw new Error(`--section ${v}: expected default, mix, arms, scaled, throughput or all`);
      o.section = v as Opts["section"];
    } else if (a === "--scaled-budget") o.scaledBudget = Number(v);
    else if (a === "--scaled-seconds") o.scaledSeconds = Number(v);
    else if (a === "--tune-seeds") o.tuneSeeds = Number(v);
    else if (a === "--mix-seeds") o.mixSeeds = Number(v);
    else if (a === "--mix-seconds") o.mixSeconds = Number(v);
    else if (a === "--arm-runs") o.armRuns = Number(v);
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

type Strat = "random" | "pct" | "preempt" | "pos" | "mix";
const STRATS: readonly Strat[] = ["random", "pct", "preempt", "pos", "mix"];

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
  params: ParamValues,
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
  params: ParamValues,
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

async function defaultSection(o: Opts): Promise<void> {
  const models = (await loadModels(["models"])).filter(
    (m) => !o.only || m.def.name.includes(o.only),
  );
  const bugs: { def: ModelDef; variant: string; props: readonly string[]; seed: boolean }[] = [];
  for (const { def, file } of models) {
    // the classics (Peterson, the flag lock, the philosophers) are textbook bugs, not seed bugs
    const seed = !file.split(/[\\/]/).includes("classic");
    for (const [variant, v] of Object.entries(def.variants)) {
      if (v.expect !== "holds") bugs.push({ def, variant, props: v.expect.violated, seed });
    }
  }
  const goal = {
    seedBugs: 0,
    met: [] as string[],
    shallow: 0,
    worstShrink: 0,
    cxs: 0,
    mixWorst: 0,
    mixWorstBug: "",
    mixBugs: 0,
    mixWithin2: 0,
    mixMissed: [] as string[],
  };
  console.log(
    `fuzz bench: ${bugs.length} seeded bug(s) (variants declared violated); ${o.seeds} session seeds per strategy, ` +
      `budget ${o.budget} runs per seed, depth ${o.depth}, at most ${o.maxSeconds}s per cell; PCT d=${o.pctDepth}, preemption bound ${o.preemptions}\n`,
  );
  const header = [
    "model / variant",
    "random runs",
    "pct runs",
    "preempt runs",
    "pos runs",
    "mix runs",
    "random/pct",
    "mix/best",
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
    if (b.seed) {
      goal.seedBugs++;
      if ((approx === "" || approx === ">") && ratio >= 10)
        goal.met.push(`${b.def.name}/${b.variant}`);
      if (rm < 10) goal.shallow++;
    }
    goal.cxs += ratios.length;
    goal.worstShrink = Math.max(goal.worstShrink, ...ratios);
    // the portfolio against the best single strategy on this bug
    const best = Math.min(rm, pm, median(cells.preempt.runs), median(cells.pos.runs));
    const mm = median(cells.mix.runs);
    const mixVsBest =
      best > o.budget
        ? "-"
        : mm > o.budget
          ? `>${(o.budget / best).toFixed(1)}x`
          : `${(mm / best).toFixed(1)}x`;
    if (best <= o.budget) {
      goal.mixBugs++;
      if (mm <= 2 * best) goal.mixWithin2++;
      if (mm > o.budget) goal.mixMissed.push(`${b.def.name}/${b.variant}`);
      else if (mm / best > goal.mixWorst) {
        goal.mixWorst = mm / best;
        goal.mixWorstBug = `${b.def.name}/${b.variant}`;
      }
    }
    rows.push([
      `${b.def.name} / ${b.variant}`,
      fmtRuns(cells.random, o.budget),
      fmtRuns(cells.pct, o.budget),
      fmtRuns(cells.preempt, o.budget),
      fmtRuns(cells.pos, o.budget),
      fmtRuns(cells.mix, o.budget),
      approx === "?" ? "-" : `${approx}${ratio.toFixed(2)}x`,
      mixVsBest,
      foundLen.length ? String(median(foundLen)) : "-",
      shrunkLen.length ? String(median(shrunkLen)) : "-",
      ratios.length ? `${median(ratios).toFixed(2)} (${Math.max(...ratios).toFixed(2)})` : "-",
      [...new Set(all.flatMap((c) => [...c.props]))].join(",") || "-",
    ]);
    process.stderr.write(
      `  ${b.def.name}/${b.variant}: ${all.map((c) => c.seconds.toFixed(1)).join("s, ")}s\n`,
    );
  }
  console.log(columns(rows));
  console.log(
    "\nruns: median runs to the first failure over the seeds (seeds that found it / seeds run); random/pct: how many" +
      "\ntimes fewer runs PCT needs ('>' when random's median exceeds the budget). pos: partial order sampling. mix: each" +
      `\nsession runs its arms in a fixed layout (${describeLayout()}); mix/best: its runs over the fewest of random, pct,` +
      "\npreempt and pos (20 seeds: see the mix section for the comparison over more). found/shrunk len: median trace length over" +
      "\nevery counterexample found; shrunk/BFS: shrunk length over the explorer's shortest for the same property and scenario.",
  );
  console.log(
    `\nagainst the goals: PCT >= 10x fewer runs than random on ${goal.met.length} of ${goal.seedBugs} seed bugs` +
      ` (${goal.met.join(", ") || "none"}); on ${goal.shallow} of them random needs fewer than 10 runs, so no 10x gap` +
      ` can exist at these parameters (${goal.met.length} of the ${goal.seedBugs - goal.shallow} where random needs 10 or more).` +
      ` Shrunk <= 2x the BFS shortest: ${goal.worstShrink <= 2 ? "met" : "NOT met"}` +
      ` (${goal.cxs} counterexamples, worst ${goal.worstShrink.toFixed(2)}x).` +
      ` Mix: at most ${goal.mixWorst.toFixed(1)}x the runs of the best single strategy (${goal.mixWorstBug || "-"});` +
      ` within 2x on ${goal.mixWithin2} of ${goal.mixBugs} bugs (goal: all)` +
      (goal.mixMissed.length ? `; over budget on ${goal.mixMissed.join(", ")}` : "") +
      ".",
  );
}

// The scaled section: the same seeded bugs in larger scenarios (parameters towards their
// declared maximum), where a run is longer and a uniform random schedule is diluted among
// many more interleavings. Only runs to the first failure (no shrinking), against the
// exhaustive explorer's state count at that size when it finishes within a few seconds.

interface Scaled {
  readonly model: string;
  readonly variant: string;
  /** Parameters set on top of the variant's (never one the variant fixes). */
  readonly params: ParamValues;
  /** One of the variant's properties (default: a run fails on any of them). */
  readonly property?: string;
}

// Operation lists for deferred-split: one extra CPU running four operations in order (a longer
// run where a bug needs one CPU far ahead of another), or two extra CPUs.
const ONE_CPU_FOUR_OPS = {
  folios: 3,
  putters: 0,
  third_parties: "partial_unmap(F2),folio_put(F3),migrate(F2),folio_put(F1)",
};
const TWO_CPUS = {
  folios: 3,
  putters: 1,
  third_parties:
    "migrate(F1),split(F2),partial_unmap(F3),folio_put(F2);partial_unmap(F1),split(F3)",
};

const SCALED: readonly Scaled[] = [
  { model: "flag-lock", variant: "test-then-set", params: { cpus: 4 } },
  { model: "philosophers", variant: "left-then-right", params: { n: 6 } },
  { model: "deferred-split", variant: "private-list", params: { folios: 3, putters: 2 } },
  { model: "deferred-split", variant: "list-lru", params: { folios: 3, putters: 2 } },
  {
    model: "deferred-split",
    variant: "list-lru-clear-before-isolate",
    params: { folios: 3, putters: 2 },
  },
  // past the explorer's reach: more CPUs on the same queue
  {
    model: "deferred-split",
    variant: "private-list",
    params: { folios: 3, putters: 3, scanners: 2, with_migration: 1, with_sync_split: 1 },
  },
  {
    model: "deferred-split",
    variant: "list-lru",
    params: { folios: 3, putters: 3, scanners: 2, with_migration: 1, with_sync_split: 1 },
  },
  // operations per CPU (third_parties): longer runs
  { model: "deferred-split", variant: "private-list", params: ONE_CPU_FOUR_OPS },
  { model: "deferred-split", variant: "private-list", params: TWO_CPUS },
  { model: "deferred-split", variant: "list-lru", params: ONE_CPU_FOUR_OPS },
  {
    model: "deferred-split",
    variant: "list-lru",
    params: ONE_CPU_FOUR_OPS,
    property: "use-after-free",
  },
  {
    model: "deferred-split",
    variant: "list-lru",
    params: { folios: 2 },
    property: "use-after-free",
  },
  { model: "deferred-split", variant: "list-lru-clear-before-isolate", params: ONE_CPU_FOUR_OPS },
  { model: "deferred-split", variant: "private-list-with-partial-unmap", params: ONE_CPU_FOUR_OPS },
  { model: "deferred-split", variant: "list-lru-with-partial-unmap", params: ONE_CPU_FOUR_OPS },
  { model: "deferred-split", variant: "private-list-no-prev", params: TWO_CPUS },
  { model: "migration-requeue", variant: "no-requeue-private-list", params: { other_folio: 1 } },
  { model: "migration-requeue", variant: "v2-private-list", params: { other_folio: 1 } },
  { model: "migration-requeue", variant: "v3-folio-batch", params: { other_folio: 1 } },
  {
    model: "migration-requeue",
    variant: "v3-folio-batch",
    params: { other_folio: 1, third_parties: "partial_unmap(F3),split(F3),folio_put(F3)" },
  },
  { model: "list-lru-split", variant: "freeze-then-lock", params: { third_party: 1 } },
  {
    model: "list-lru-split",
    variant: "lock-then-freeze",
    params: { third_party: 1, split_can_fail: 1 },
  },
  { model: "misplaced-migration", variant: "v2", params: { nr_folios: 3, nr_memcgs: 3 } },
  { model: "misplaced-migration", variant: "v6", params: { nr_folios: 3, nr_memcgs: 3 } },
];

const PCT_DEPTHS = [2, 3, 5] as const;
/** Reported medians use seeds s·7919 (as the default section); tuning uses other seeds. */
const reportSeed = (s: number): number => s * 7919;
const tuneSeed = (s: number): number => 1_000_003 + s * 104_729;

interface RunsCell {
  runs: number[]; // budget + 1 for a seed that found nothing
  found: number;
  seeds: number;
  seconds: number;
}

async function runsCell(
  def: ModelDef,
  variant: string,
  props: readonly string[],
  params: ParamValues,
  strategy: Strat,
  pctDepth: number,
  seeds: readonly number[],
  budget: number,
  maxSeconds: number,
  depth: number,
  preemptions: number,
): Promise<RunsCell> {
  const c: RunsCell = { runs: [], found: 0, seeds: 0, seconds: 0 };
  const t0 = performance.now();
  for (const seed of seeds) {
    const left = maxSeconds - (performance.now() - t0) / 1000;
    if (left <= 0) break;
    const r = await fuzzModel(def, {
      variant,
      strategy,
      runs: budget,
      depth,
      seed,
      property: props,
      params,
      pctDepth,
      preemptions,
      shrink: false,
      confirm: false,
      maxSeconds: left,
    });
    const cx = r.counterexample;
    // a seed cut off by the time limit before finding anything says nothing: not counted
    if (!cx && r.stopped !== undefined) break;
    c.seeds++;
    if (cx) {
      c.found++;
      c.runs.push(cx.run);
    } else c.runs.push(budget + 1);
  }
  c.seconds = (performance.now() - t0) / 1000;
  return c;
}

function fmtCell(c: RunsCell, budget: number): string {
  if (c.seeds === 0) return "- (0 seeds)";
  const m = median(c.runs);
  return `${m > budget ? `>${budget}` : String(m)} (${c.found}/${c.seeds})`;
}

function fmtRatio(r: RunsCell, p: RunsCell, budget: number): string {
  if (r.seeds === 0 || p.seeds === 0) return "-";
  const rm = median(r.runs);
  const pm = median(p.runs);
  if (rm > budget && pm > budget) return "-";
  const x = (rm / pm).toFixed(1);
  return rm > budget ? `>${x}x` : pm > budget ? `<${x}x` : `${x}x`;
}

async function bfsStates(def: ModelDef, variant: string, params: ParamValues): Promise<string> {
  const c = await checkVariant(def, variant, {
    params,
    strategy: "bfs",
    maxStates: 3_000_000,
    maxSeconds: 10,
    stopAtFirst: false,
  });
  const r = c.result;
  return r.complete ? String(r.states) : `>${r.states} (cut at ${r.seconds.toFixed(0)}s)`;
}

async function scaledSection(o: Opts, defs: ReadonlyMap<string, ModelDef>): Promise<void> {
  const B = o.scaledBudget;
  const T = o.scaledSeconds;
  const seeds = Array.from({ length: o.seeds }, (_, i) => reportSeed(i + 1));
  const tune = Array.from({ length: o.tuneSeeds }, (_, i) => tuneSeed(i + 1));
  console.log(
    `\nscaled scenarios: runs to the first failure, median over ${o.seeds} seeds, budget ${B} runs, depth ${o.depth}, ` +
      `at most ${T}s per cell (a cell that runs out of time reports the seeds it finished: see (found/seeds));` +
      `\nPCT d=${o.pctDepth} as in the default section, and PCT with the best d of {${PCT_DEPTHS.join(",")}} chosen on ` +
      `${o.tuneSeeds} separate tuning seeds (budget ${Math.ceil(B / 4)}), then measured on the reported seeds.\n`,
  );
  const header = [
    "model / variant  (scaled params)",
    "BFS states",
    "k",
    "random runs",
    `pct d=${o.pctDepth} runs`,
    "pct best-d runs",
    "preempt runs",
    "pos runs",
    "mix runs",
    `random/pct d=${o.pctDepth}`,
    "random/pct best",
  ];
  const rows: string[][] = [header];
  const met: string[] = [];
  let measured = 0;
  for (const sc of SCALED) {
    const def = defs.get(sc.model);
    if (!def || (o.only && !def.name.includes(o.only))) continue;
    const v = def.variants[sc.variant];
    if (!v || v.expect === "holds") continue;
    const props = sc.property !== undefined ? [sc.property] : v.expect.violated;
    const params = { ...resolveParams(def, sc.variant), ...sc.params };
    const t0 = performance.now();
    const bfs = await bfsStates(def, sc.variant, params);
    const k = estimateSteps(compileModel(def, sc.variant, params), o.depth);
    const go = (s: Strat, d: number, ss: readonly number[], budget = B, secs = T) =>
      runsCell(def, sc.variant, props, params, s, d, ss, budget, secs, o.depth, o.preemptions);
    // tuning: smallest median on the tuning seeds (ties: smaller d)
    // tuning: smallest median on the tuning seeds; ties (e.g. all over the budget): most seeds
    // that found it, then the smaller d
    let bestD = o.pctDepth;
    let best = [Infinity, 0];
    for (const d of PCT_DEPTHS) {
      const c = await go("pct", d, tune, Math.ceil(B / 4), T / 3);
      const m = c.seeds ? median(c.runs) : Infinity;
      if (m < best[0]! || (m === best[0] && c.found > best[1]!)) [best, bestD] = [[m, c.found], d];
    }
    const random = await go("random", o.pctDepth, seeds);
    const pctFixed = await go("pct", o.pctDepth, seeds);
    const pctBest = bestD === o.pctDepth ? pctFixed : await go("pct", bestD, seeds);
    const pre = await go("preempt", o.pctDepth, seeds);
    const posCell = await go("pos", o.pctDepth, seeds);
    const mixed = await go("mix", o.pctDepth, seeds);
    const ps = Object.entries(sc.params)
      .map(([a, b]) => paramText(a, b))
      .join(" ");
    const label = `${def.name} / ${sc.variant}${sc.property ? ` [${sc.property}]` : ""}  (${ps})`;
    if (!/^(flag-lock|philosophers|peterson)$/.test(sc.model)) {
      measured++;
      // PCT must find it within the budget; random's median over the budget is a lower bound
      const rm = median(random.runs);
      const pm = median(pctBest.runs);
      if (random.seeds > 0 && pctBest.seeds > 0 && pm <= B && rm / pm >= 10) met.push(label);
    }
    rows.push([
      label,
      bfs,
      String(k),
      fmtCell(random, B),
      fmtCell(pctFixed, B),
      `d=${bestD}: ${fmtCell(pctBest, B)}`,
      fmtCell(pre, B),
      fmtCell(posCell, B),
      fmtCell(mixed, B),
      fmtRatio(random, pctFixed, B),
      fmtRatio(random, pctBest, B),
    ]);
    process.stderr.write(
      `  scaled ${def.name}/${sc.variant}: ${((performance.now() - t0) / 1000).toFixed(1)}s\n`,
    );
  }
  console.log(columns(rows));
  console.log(
    "\nBFS states: the exhaustive explorer's reachable states at that size ('>N (cut)': not finished within 10s / 3M" +
      "\nstates). k: PCT's estimate of a run's length in steps. runs: median runs to the first failure (seeds that found" +
      "\nit / seeds run; a seed that found nothing in the budget counts as more than the budget). pct best-d: the d" +
      "\nchosen on the tuning seeds, measured on the reported ones. random/pct: how many times fewer runs PCT needs.",
  );
  console.log(
    `\nagainst the goal: PCT (best d) >= 10x fewer runs than random in ${met.length} of ${measured} scaled seed-bug rows` +
      (met.length ? `:\n  ${met.join("\n  ")}` : "."),
  );
}

// Throughput: runs per second when every run draws a new scenario from the whole declared
// space (operation lists included), where building each scenario dominates, against runs on one
// fixed scenario, where the runs themselves do.
async function throughputSection(models: readonly LoadedModel[]): Promise<void> {
  const rows: string[][] = [
    ["model / variant", "scenario", "runs", "runs/s", "runs/s --jobs 2", "jobs 2 / jobs 1"],
  ];
  for (const [model, variant] of [
    ["deferred-split", "folio-batch"],
    ["list-lru-split", "lock-then-freeze+flag-first"],
  ] as const) {
    const lm = models.find((m) => m.def.name === model);
    if (!lm) continue;
    const def = lm.def;
    // the fixed scenario first: after fuzzing the whole space, the same process runs a fixed
    // scenario up to 2x slower (the code that ran many compiled scenarios is less specialised),
    // and the workers, fresh each time, would look better than they are
    for (const fixed of [true, false]) {
      const runs = fixed ? 30000 : 3000;
      const rate = async (jobs: number): Promise<number> => {
        const t0 = performance.now();
        await fuzzParallel(def, {
          jobs,
          isolate: true,
          modelFile: lm.file,
          variant,
          strategy: "pct",
          runs,
          seed: 5,
          params: fixed ? resolveParams(def, variant) : {},
          shrink: false,
          confirm: false,
        });
        return runs / ((performance.now() - t0) / 1000);
      };
      const one = await rate(1);
      const two = await rate(2);
      rows.push([
        `${model} / ${variant}`,
        fixed ? "fixed (the variant's own)" : "drawn per run (whole space)",
        String(runs),
        one.toFixed(0),
        two.toFixed(0),
        `${(two / one).toFixed(2)}x`,
      ]);
    }
  }
  console.log(
    `\nthroughput (PCT d=3, no violation expected: variants that hold; each session in fresh worker threads, one or two,` +
      ` starting them included):\n${columns(rows)}` +
      `\n(${availableParallelism()} CPUs here)`,
  );
}

// The mix section: mix against the best of the single strategies (random, PCT d, preempt k, POS)
// on every seeded bug, runs to the first failure only (no shrinking), over `--mix-seeds` session
// seeds (default 100). Each ratio comes with a 90% bootstrap interval (the seeds of every cell
// resampled 1000 times, the medians and the best of the four taken again each time): a median of
// geometric counts moves a lot from one set of seeds to another, and the best of four noisy
// medians is biased low, so even a strategy equal to the best one in law shows ratios above 1.

/** mulberry32: a small deterministic source for the bootstrap. */
function bootstrapSource(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The 5% and 95% points of mix's median over the best single median, seeds resampled. */
function ratioInterval(
  singles: readonly (readonly number[])[],
  mixRuns: readonly number[],
  reps = 1000,
): [number, number] {
  const rand = bootstrapSource(12345);
  const resample = (xs: readonly number[]): number[] =>
    xs.map(() => xs[Math.floor(rand() * xs.length)]!);
  const rs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const best = Math.min(...singles.filter((x) => x.length > 0).map((x) => median(resample(x))));
    rs.push(median(resample(mixRuns)) / best);
  }
  rs.sort((a, b) => a - b);
  return [rs[Math.floor(0.05 * reps)]!, rs[Math.floor(0.95 * reps)]!];
}

async function mixSection(o: Opts): Promise<void> {
  const models = (await loadModels(["models"])).filter(
    (m) => !o.only || m.def.name.includes(o.only),
  );
  const seeds = Array.from({ length: o.mixSeeds }, (_, i) => reportSeed(i + 1));
  const B = o.budget;
  const singles: readonly Strat[] = ["random", "pct", "preempt", "pos"];
  console.log(
    `\nmix against the best single strategy: runs to the first failure, median over ${o.mixSeeds} seeds, budget ${B} runs, ` +
      `depth ${o.depth}, at most ${o.mixSeconds}s per cell; PCT d=${o.pctDepth}, preemption bound ${o.preemptions}.` +
      `\nmix: ${describeLayout()}.\n`,
  );
  const rows: string[][] = [
    [
      "model / variant",
      "random runs",
      "pct runs",
      "preempt runs",
      "pos runs",
      "mix runs",
      "best",
      "mix/best",
      "90% interval",
    ],
  ];
  const summary = { bugs: 0, within: 0, surely: 0, worst: 0, worstBug: "", over: [] as string[] };
  for (const { def } of models) {
    for (const [variant, v] of Object.entries(def.variants)) {
      if (v.expect === "holds") continue;
      const props = v.expect.violated;
      const params = resolveParams(def, variant);
      const go = (s: Strat, ss: readonly number[], secs = o.mixSeconds) =>
        runsCell(def, variant, props, params, s, o.pctDepth, ss, B, secs, o.depth, o.preemptions);
      const t0 = performance.now();
      // a bug no single strategy finds with the first seed is left out (the classics' livelocks)
      let anyFound = false;
      for (const s of singles) if (!anyFound) anyFound = (await go(s, seeds.slice(0, 1))).found > 0;
      if (!anyFound) {
        rows.push([
          `${def.name} / ${variant}`,
          "-",
          "-",
          "-",
          "-",
          "-",
          "-",
          "-",
          "not found by any with seed 1",
        ]);
        continue;
      }
      const cells = [] as RunsCell[];
      for (const s of singles) cells.push(await go(s, seeds));
      const mixed = await go("mix", seeds);
      const meds = cells.map((c) => (c.seeds ? median(c.runs) : Infinity));
      const best = Math.min(...meds);
      const bestName = singles[meds.indexOf(best)]!;
      const mm = median(mixed.runs);
      const label = `${def.name} / ${variant}`;
      let ratio = "-";
      let interval = "-";
      if (best <= B) {
        const r = mm / best;
        const [lo, hi] = ratioInterval(
          cells.map((c) => c.runs),
          mixed.runs,
        );
        ratio = mm > B ? `>${(B / best).toFixed(2)}x` : `${r.toFixed(2)}x`;
        interval = `${lo.toFixed(2)}-${hi.toFixed(2)}`;
        summary.bugs++;
        if (r <= 2) summary.within++;
        else summary.over.push(`${label} ${r.toFixed(2)}x`);
        if (hi <= 2) summary.surely++;
        if (r > summary.worst) [summary.worst, summary.worstBug] = [r, label];
      }
      rows.push([
        label,
        ...cells.map((c) => fmtCell(c, B)),
        fmtCell(mixed, B),
        best <= B ? bestName : "-",
        ratio,
        interval,
      ]);
      process.stderr.write(`  mix ${label}: ${((performance.now() - t0) / 1000).toFixed(1)}s\n`);
    }
  }
  console.log(columns(rows));
  console.log(
    "\nruns: median runs to the first failure (seeds that found it / seeds run; a seed that found nothing in the" +
      "\nbudget counts as more than the budget). best: the single strategy with the fewest; mix/best: mix's median over" +
      "\nit; 90% interval: the 5th and 95th percentiles of that ratio over 1000 resamplings of the seeds.",
  );
  console.log(
    `\nagainst the goal (mix at most 2x the best single strategy on every seeded bug): worst ${summary.worst.toFixed(2)}x` +
      ` (${summary.worstBug || "-"}); within 2x on ${summary.within} of ${summary.bugs} bugs` +
      ` (${summary.surely} with the whole 90% interval within 2x)` +
      (summary.over.length ? `; over 2x: ${summary.over.join(", ")}` : "") +
      ".",
  );
}

/** Median runs to the first failure of a sequence of runs with these hit rates (Infinity: never). */
function predictedMedian(rateOfRun: (i: number) => number, cap = 100_000): number {
  let miss = 1;
  for (let n = 1; n <= cap; n++) {
    miss *= 1 - rateOfRun(n - 1);
    if (miss <= 0.5) return n;
  }
  return Infinity;
}

async function armsSection(o: Opts): Promise<void> {
  const models = (await loadModels(["models"])).filter(
    (m) => !o.only || m.def.name.includes(o.only),
  );
  const arms = defaultArms();
  const names = arms.map((a) => a.label ?? a.name);
  // the single strategies of the other sections, as arms: random, pct d=3, preempt k=2, pos
  const singles = ["random", "pct d=3", "preempt k=2", "pos"].map((n) => names.indexOf(n));
  const armOf = layout(DEFAULT_WEIGHTS, DEFAULT_OPENING);
  const N = o.armRuns;
  console.log(
    `\neach arm's hit rate per run on every seeded bug (${N} runs per arm, the variant's scenario, depth ${o.depth}), ` +
      `the median runs it predicts for the single strategies and for mix (${describeLayout()}),` +
      `\nand the arm whose runs reach the most distinct states.\n`,
  );
  const rows: string[][] = [
    [
      "model / variant",
      ...names,
      "best single (predicted median)",
      "mix predicted",
      "mix/best",
      "most states",
    ],
  ];
  const sum = { bugs: 0, within: 0, worst: 0, worstBug: "", novelBest: 0 };
  for (const { def } of models) {
    for (const [variant, v] of Object.entries(def.variants)) {
      if (v.expect === "holds") continue;
      const props = v.expect.violated;
      const model = compileModel(def, variant, resolveParams(def, variant));
      const rates: number[] = [];
      const states: number[] = [];
      for (const arm of arms) {
        const seen = new Set<number>();
        const watched: Strategy<unknown> = {
          ...arm,
          scheduler(d, ctx) {
            const inner = arm.scheduler(d, ctx);
            return {
              next(view) {
                seen.add(stateHash(view.state));
                return inner.next(view);
              },
            };
          },
        };
        const run = strategyRunner(watched, o.depth);
        let hits = 0;
        for (const d of fc.sample(arm.arbitrary({ depth: o.depth }), { seed: 4242, numRuns: N })) {
          const r = run(model, d, props);
          if (
            r.end === "violation" &&
            (props.includes(r.violation!.property) || r.violation!.kind === "model-error")
          )
            hits++;
        }
        rates.push(hits / N);
        states.push(seen.size);
      }
      const label = `${def.name} / ${variant}`;
      const singleMeds = singles.map((a) => predictedMedian(() => rates[a]!));
      const best = Math.min(...singleMeds);
      if (best === Infinity) {
        rows.push([label, ...rates.map((r) => r.toFixed(3)), "-", "-", "-", "-"]);
        continue;
      }
      const bestArm = singles[singleMeds.indexOf(best)]!;
      const mm = predictedMedian((i) => rates[armOf(i)]!);
      const ratio = mm / best;
      const novel = states.indexOf(Math.max(...states));
      sum.bugs++;
      if (ratio <= 2) sum.within++;
      if (ratio > sum.worst) [sum.worst, sum.worstBug] = [ratio, label];
      // the most novel arm finds the bug as well as the best single strategy does (within 10%)
      if (rates[novel]! >= 0.9 * rates[bestArm]!) sum.novelBest++;
      rows.push([
        label,
        ...rates.map((r) => r.toFixed(3)),
        `${names[bestArm]} (${best})`,
        String(mm),
        `${ratio.toFixed(2)}x`,
        names[novel]!,
      ]);
      process.stderr.write(`  arms ${label}\n`);
    }
  }
  console.log(columns(rows));
  console.log(
    "\nrates: runs that broke one of the variant's declared properties, out of the runs made; predicted median: the fewest" +
      "\nruns n with (1 - rate)^n <= 1/2 (for mix: the product over its layout's first n runs). most states: the arm whose runs" +
      "\nreached the most distinct states (state hashes) over its runs.",
  );
  console.log(
    `\npredicted from the hit rates: mix at most ${sum.worst.toFixed(2)}x the best single strategy (${sum.worstBug || "-"});` +
      ` within 2x on ${sum.within} of ${sum.bugs} bugs. The arm reaching the most distinct states finds the bug at` +
      ` 90% or more of the best single strategy's rate on ${sum.novelBest} of ${sum.bugs} bugs.`,
  );
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  if (o.section === "default" || o.section === "all") await defaultSection(o);
  if (o.section === "mix" || o.section === "all") await mixSection(o);
  if (o.section === "arms" || o.section === "all") await armsSection(o);
  const models = await loadModels(["models"]);
  const defs = new Map(models.map((m) => [m.def.name, m.def]));
  if (o.section === "scaled" || o.section === "all") await scaledSection(o, defs);
  if (o.section === "throughput" || o.section === "all") await throughputSection(models);
}

await main();
