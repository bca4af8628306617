// The randomized engine: fast-check generates a scenario (from the model's declared parameter
// ranges) and a strategy's schedule decisions, the model runs along that schedule without a
// visited set, and a run that breaks a property is shrunk: first by fast-check (scenario and
// decisions), then towards smaller parameters, then the concrete schedule (shortest, fewest
// context switches); small enough, the exhaustive explorer confirms it with the shortest trace.
//
// Run i of a fuzz session has its own seed (run 0's is the session seed): passing a failure's
// seed as `seed` reproduces that failure on the first run.

import * as fc from "fast-check";
import type { ModelDef, CompiledModel } from "../model/model.ts";
import type { Move } from "../rt/machine.ts";
import type { Outcome } from "../trace/replay.ts";
import { replay } from "../trace/replay.ts";
import { diagram } from "../trace/diagram.ts";
import { strategyRunner, type RunResult, type StrategyRun } from "./run.ts";
import {
  describeSpace,
  scenarioSpace,
  ScenarioError,
  type Params,
  type ScenarioSpace,
} from "./scenario.ts";
import { formatOps, parseOps, type Op } from "../model/params.ts";
import { contextSwitches, shrinkSchedule } from "./shrink.ts";
import { makeStrategy, type StrategyOptions } from "./strategies.ts";
import { runSeed, type Strategy, type StrategyName } from "./strategy.ts";
import { saveFuzzCounterexample } from "./save.ts";
import { SaveError } from "../trace/atomic.ts";

export interface FuzzOptions extends StrategyOptions {
  /** Variant to fuzz (default: the first declared). */
  readonly variant?: string;
  /** "mix" (default), "random", "pct", "preempt", "replay" (with `schedule`), or a Strategy. */
  readonly strategy?: StrategyName | Strategy<unknown>;
  /** Runs before giving up (default 1000). Finding nothing is not a proof. */
  readonly runs?: number;
  /** Steps per run (default 500). */
  readonly depth?: number;
  /** Session seed (default: drawn at random, reported in the result). */
  readonly seed?: number;
  /** Parameters held fixed; the others vary over their declared min..max. */
  readonly params?: Params;
  /** Count only violations of this property (or of one of these) as failures (default: any). */
  readonly property?: string | readonly string[];
  /** Stop the session after this long (the result says so: `stopped`). */
  readonly maxSeconds?: number;
  /** Shrink a failure (default true). */
  readonly shrink?: boolean;
  /** Random runs tried per smaller scenario when shrinking the parameters (default 200). */
  readonly reduceRuns?: number;
  /** Candidate runs fast-check's own shrinking may use (default 300). */
  readonly fcShrinkRuns?: number;
  /** Time for shrinking beyond fast-check's own (smaller parameters, then the schedule; default 20). */
  readonly shrinkSeconds?: number;
  /** Confirm the shrunk scenario with the BFS explorer (default: up to 200k states, 10 s). */
  readonly confirm?: boolean | { readonly maxStates?: number; readonly maxSeconds?: number };
  /** Save the counterexample under this folder (needs `file`). */
  readonly saveTo?: string;
  /** The model's file, relative to the repository root (recorded in saved counterexamples). */
  readonly file?: string;
  readonly onProgress?: (p: FuzzProgress) => void;
  /** Set `stop` to true (e.g. from a SIGINT handler) to end the session early. */
  readonly signal?: { readonly stop: boolean };
  /**
   * Run only part of the session (a worker of `fuzzParallel`): runs first, first+stride, ...,
   * none past limit() (a lower run already ended the session); ran() hears of each run.
   */
  readonly part?: SessionPart;
}

export interface SessionPart {
  readonly first: number;
  readonly stride: number;
  limit(): number;
  ran(run: number, steps: number, cutAtDepth: boolean): void;
  /** Hears the scenario of each run before it runs (a watchdog names a step that hangs in it). */
  begin?(params: Params): void;
}

export interface FuzzProgress {
  readonly run: number;
  readonly runs: number;
  readonly steps: number;
  readonly seconds: number;
}

export interface TraceSize {
  readonly params: Params;
  readonly moves: readonly Move[];
  readonly length: number;
  readonly switches: number;
}

export interface FuzzCounterexample {
  readonly property: string;
  readonly kind: Outcome["kind"];
  /** What the search does past it ("warn": goes on, "bug": the path ends); none for deadlock, end state. */
  readonly severity?: Outcome["severity"];
  readonly message: string;
  /** Seed of the failing run: `seed` (CLI --seed) with it finds this failure on the first run. */
  readonly seed: number;
  /** 1-based number of the failing run in this session. */
  readonly run: number;
  /** What scheduled the failing run, when the strategy says (mix: its arm, e.g. "pct d=5"). */
  readonly arm?: string;
  /** As the run found it. */
  readonly found: TraceSize;
  /** After shrinking (equal to `found` when shrinking is off). */
  readonly shrunk: TraceSize;
  /**
   * The exhaustive explorer's shortest trace in the shrunk scenario, when it is shorter than the
   * shrunk one: then it is the trace shown (`diagram`) and saved.
   */
  readonly shortest?: TraceSize;
  /** The exhaustive explorer on the shrunk scenario. */
  readonly bfs?: {
    readonly shortest: number | undefined;
    readonly complete: boolean;
    readonly states: number;
  };
  /** The compiled shrunk scenario (for replay / explain). */
  readonly model: CompiledModel;
  readonly diagram: string;
  /** Where it was saved, if it was. */
  readonly file?: string;
  /** Why saving it failed, when it did. */
  readonly saveError?: {
    readonly path: string;
    readonly code: string | undefined;
    readonly message: string;
  };
}

export interface FuzzResult {
  readonly model: string;
  readonly variant: string;
  readonly strategy: StrategyName;
  /** Options that rebuild the strategy on the command line (e.g. ["--pct-depth", "5"]). */
  readonly strategyArgs: readonly string[];
  readonly seed: number;
  /** Runs executed (up to and including the failing one). */
  readonly runs: number;
  readonly runsRequested: number;
  readonly depth: number;
  readonly steps: number;
  readonly seconds: number;
  /** Runs that ended at the depth bound without finishing. */
  readonly cutAtDepth: number;
  /** Set when the session ended before its runs were done (maxSeconds, or interrupted). */
  readonly stopped?: "time" | "interrupted";
  /** Set when the session was ended from outside because a step never returned: which, and why. */
  readonly stuck?: string;
  readonly counterexample?: FuzzCounterexample;
  /** The model rejected a generated scenario, or the replayed schedule does not fit. */
  readonly error?: {
    readonly code: string;
    readonly message: string;
    readonly hint?: string;
    readonly fields?: readonly string[];
  };
  /** The model file, when given. */
  readonly file?: string;
  /** Parameters held fixed by the caller. */
  readonly fixed: Params;
  /** What the session drew and held (describeSpace()). */
  readonly space?: string;
  /** The scenario `check` verifies for this variant (defaults, the variant's, --param). */
  readonly verified?: Params;
}

export { runSeed };

/** Seed of run i of a session of this strategy (its plan's, when it lays out its runs). */
export function sessionRunSeed(strat: Strategy<unknown>, seed: number, i: number): number {
  return strat.plan ? strat.plan.runSeed(seed, i) : runSeed(seed, i);
}

export async function fuzzModel(def: ModelDef, opts: FuzzOptions = {}): Promise<FuzzResult> {
  const variant = opts.variant ?? Object.keys(def.variants)[0]!;
  const space = scenarioSpace(def, variant, opts.params ?? {});
  const strat =
    typeof opts.strategy === "object" ? opts.strategy : makeStrategy(opts.strategy ?? "mix", opts);
  const runs = opts.runs ?? 1000;
  const depth = opts.depth ?? 500;
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fffffff);
  const t0 = performance.now();
  const runOnce = strategyRunner(strat, depth);

  let steps = 0;
  let cutAtDepth = 0;
  const target = opts.property;
  /** Once a run fails: the property every shrunk candidate must still break. */
  let lock: string | undefined;
  let failing = false;
  let scenarioErr: ScenarioError | undefined;
  let infeasible: string | undefined;
  let first: { params: Params; r: RunResult; arm?: string; arb: fc.Arbitrary<unknown> } | undefined;
  const isFailure = (r: RunResult): boolean => {
    if (r.end !== "violation") return false;
    const v = r.violation!;
    if (lock !== undefined) return v.property === lock;
    return (
      v.kind === "model-error" ||
      target === undefined ||
      (typeof target === "string" ? v.property === target : target.includes(v.property))
    );
  };

  // fast-check's shrinking gets a budget of candidate runs: past it, every candidate "passes",
  // which ends the shrink where it is (deterministically); our own passes follow
  const fcShrinkRuns = opts.fcShrinkRuns ?? 300;
  let shrinkRuns = 0;
  const property = (arb: fc.Arbitrary<unknown>) =>
    fc.property(space.arbitrary, arb, (params, data) => check(arb, params, data));
  const check = (arb: fc.Arbitrary<unknown>, params: Params, data: unknown): boolean => {
    if (failing && ++shrinkRuns > fcShrinkRuns) return true;
    let m: CompiledModel;
    try {
      m = space.compileForRun(params);
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      if (!failing) scenarioErr ??= e;
      return true; // while shrinking: a rejected scenario is not a smaller failure
    }
    if (!failing) opts.part?.begin?.(params);
    const r = runOnce(m, data, lock ?? target);
    if (!failing) {
      steps += r.moves.length;
      if (r.end === "depth") cutAtDepth++;
      if (r.end === "infeasible") infeasible ??= r.infeasible;
    }
    if (!isFailure(r)) return true;
    if (!failing) {
      failing = true;
      lock = r.violation!.property;
      first = { params, r, arm: strat.describe?.(data), arb };
    }
    return false;
  };
  // one property per arbitrary a run draws from (a plan's runs may draw from several)
  const props = new Map<number, ReturnType<typeof property>>();
  const propFor = (s: number): ReturnType<typeof property> => {
    const { key, arbitrary } = strat.plan
      ? strat.plan.arbitraryFor(s, { depth })
      : { key: 0, arbitrary: strat.arbitrary({ depth }) };
    let p = props.get(key);
    if (!p) props.set(key, (p = property(arbitrary)));
    return p;
  };

  const base = {
    model: def.name,
    variant,
    strategy: strat.name,
    strategyArgs: strat.cliArgs ?? [],
    seed,
    runsRequested: runs,
    depth,
    file: opts.file,
    fixed: opts.params ?? {},
    space: describeSpace(space, opts.params ?? {}),
    verified: space.base,
  };
  const done = (n: number, extra: Partial<FuzzResult> = {}): FuzzResult => ({
    ...base,
    runs: n,
    steps,
    cutAtDepth,
    seconds: (performance.now() - t0) / 1000,
    ...extra,
  });

  const deadline = opts.maxSeconds !== undefined ? t0 + opts.maxSeconds * 1000 : Infinity;
  let lastYield = t0;
  const part = opts.part;
  for (let i = part?.first ?? 0; i < runs; i += part?.stride ?? 1) {
    if (part && i > part.limit()) return done(i);
    const now = performance.now();
    if (i > 0 && now > deadline) return done(i, { stopped: "time" });
    if (opts.signal?.stop) return done(i, { stopped: "interrupted" });
    if (now - lastYield > 50) {
      // let timers and signal handlers run
      await new Promise<void>((r) => setImmediate(r));
      lastYield = performance.now();
    }
    const s = sessionRunSeed(strat, seed, i);
    const before = { steps, cutAtDepth };
    const det = fc.check(propFor(s), { seed: s, numRuns: 1, endOnFailure: opts.shrink === false });
    part?.ran(i, steps - before.steps, cutAtDepth > before.cutAtDepth);
    if (scenarioErr) {
      return done(i + 1, {
        error: {
          code: scenarioErr.code,
          message: scenarioErr.message,
          hint: scenarioErr.hint,
          fields: scenarioErr.fields,
        },
      });
    }
    if (infeasible !== undefined) {
      return done(i + 1, {
        error: {
          code: "E_INFEASIBLE",
          message: `the schedule cannot be followed: ${infeasible}`,
          hint: "the model changed since the schedule was recorded",
        },
      });
    }
    if (det.failed && first) {
      const cx = await finish(
        space,
        opts,
        strat,
        runOnce,
        lock!,
        first,
        det.counterexample as [Params, unknown] | null,
        s,
        i + 1,
      );
      const err =
        cx.kind === "model-error"
          ? {
              error: {
                code: cx.property,
                message: `a step failed: ${cx.message}`,
                hint: "the model is wrong here (see the trace); fix it",
              },
            }
          : {};
      return done(i + 1, { counterexample: cx, ...err });
    }
    if (det.failed) {
      // the property threw something other than a violation: a bug in a strategy or the model
      throw det.errorInstance instanceof Error
        ? det.errorInstance
        : new Error(String(det.errorInstance));
    }
    opts.onProgress?.({ run: i + 1, runs, steps, seconds: (performance.now() - t0) / 1000 });
  }
  return done(runs);
}

/** The explorer's shortest schedule, with its context switches reduced when that keeps it failing. */
function shortestShown(
  model: CompiledModel,
  schedule: readonly Move[],
  property: string,
): { moves: readonly Move[]; violation: Outcome } | undefined {
  try {
    const sh = shrinkSchedule(model, schedule, property, { maxSeconds: 2 });
    return { moves: sh.moves, violation: sh.violation };
  } catch {
    // a schedule the run cannot follow to the same violation: keep the shrunk one
    return undefined;
  }
}

function size(params: Params, moves: readonly Move[]): TraceSize {
  return { params, moves, length: moves.length, switches: contextSwitches(moves) };
}

async function finish(
  space: ScenarioSpace,
  opts: FuzzOptions,
  strat: Strategy<unknown>,
  runOnce: StrategyRun,
  property: string,
  first: { params: Params; r: RunResult; arm?: string; arb: fc.Arbitrary<unknown> },
  shrunkValue: [Params, unknown] | null,
  seed: number,
  run: number,
): Promise<FuzzCounterexample> {
  const found = size(first.params, first.r.moves);
  let params = first.params;
  let moves = first.r.moves;
  let violation = first.r.violation!;
  if (opts.shrink !== false) {
    // 1. fast-check's shrink of scenario and decisions
    if (shrunkValue) {
      const r = runOnce(space.compileForRun(shrunkValue[0]), shrunkValue[1], property);
      if (
        r.end === "violation" &&
        r.violation!.property === property &&
        r.moves.length <= moves.length
      ) {
        params = shrunkValue[0];
        moves = r.moves;
      }
    }
    // 2. smaller parameters: look for the same property with a few runs per smaller scenario
    const reduceRuns = opts.reduceRuns ?? 200;
    const budget = (opts.shrinkSeconds ?? 20) * 1000;
    const t0 = performance.now();
    const halfway = t0 + budget / 2;
    // the same decisions are tried on every smaller scenario (drawn as the failing run drew)
    const sample = fc.sample(first.arb, {
      seed: runSeed(seed, 7919),
      numRuns: reduceRuns,
    });
    ({ params, moves } = reduceScenario(space, params, moves, property, sample, runOnce, halfway));
    // 3. the concrete schedule: shortest, then fewest context switches (it also gives the
    //    violation as the final schedule shows it). Phases 2 and 3 share a time budget; within
    //    it, shrinking is deterministic.
    const sh = shrinkSchedule(space.compileForRun(params), moves, property, {
      maxSeconds: Math.max(1, (t0 + budget - performance.now()) / 1000),
    });
    moves = sh.moves;
    violation = sh.violation;
  }
  const model = space.compile(params);
  model.file = opts.file;
  let bfs: FuzzCounterexample["bfs"];
  let shortest: { moves: readonly Move[]; violation: Outcome } | undefined;
  // lock-order: the explorer reports it over several acquisition paths, a run over its own
  // schedule; their lengths do not compare, so a lock-order run is not confirmed by BFS
  if (opts.confirm !== false && property !== "lock-order") {
    const lim = typeof opts.confirm === "object" ? opts.confirm : {};
    const c = await space.check(params, {
      strategy: "bfs",
      maxStates: lim.maxStates ?? 200_000,
      maxSeconds: lim.maxSeconds ?? 10,
      // a randomized run finds safety violations: no edges to keep for the liveness check
      liveness: false,
      // the shortest trace: no partial-order reduction
      reduce: false,
    });
    const v = c.result.violations.find((x) => x.property === property);
    bfs = { shortest: v?.length, complete: c.result.complete, states: c.result.states };
    // the explorer's trace is shorter than the shrunk one: show that one, with its context
    // switches shrunk the same way (a shortest trace stays as long, but may group better)
    if (v !== undefined && v.schedule.length < moves.length) {
      shortest = shortestShown(model, v.schedule, property);
    }
  }
  const shown = shortest ?? { moves, violation };
  const rep = replay(model, shown.moves);
  // the violation as the scenario built with its sites words it (runs build it without them)
  const said = rep.outcomes.find((o) => o.property === property) ?? shown.violation;
  const text = diagram(model, rep.steps, said);
  const cx: FuzzCounterexample = {
    property,
    kind: said.kind,
    ...(said.severity ? { severity: said.severity } : {}),
    message: said.message,
    seed,
    run,
    ...(first.arm !== undefined ? { arm: first.arm } : {}),
    found,
    shrunk: size(params, moves),
    ...(shortest ? { shortest: size(params, shortest.moves) } : {}),
    bfs,
    model,
    diagram: text,
  };
  if (opts.saveTo !== undefined && opts.file !== undefined) {
    try {
      return {
        ...cx,
        file: saveFuzzCounterexample(opts.saveTo, opts.file, cx, strat.name, strat.cliArgs),
      };
    } catch (e) {
      // the failure stands; the caller reports the save after it
      if (!(e instanceof SaveError)) throw e;
      return { ...cx, saveError: { path: e.path, code: e.cause_code, message: e.message } };
    }
  }
  return cx;
}

/**
 * The smallest scenario reached by steps of smallerScenarios() in which one of `sample`'s
 * decisions still breaks `property` (each step takes the first smaller scenario that does),
 * with the failing moves there; the given scenario and moves when none is smaller. Stops at
 * `deadline` (performance.now() time).
 */
export function reduceScenario(
  space: ScenarioSpace,
  params: Params,
  moves: readonly Move[],
  property: string,
  sample: readonly unknown[],
  runOnce: StrategyRun,
  deadline: number,
): { params: Params; moves: readonly Move[] } {
  let progress = true;
  while (progress && performance.now() < deadline) {
    progress = false;
    for (const cand of smallerScenarios(space, params)) {
      if (performance.now() > deadline) break;
      let m: CompiledModel;
      try {
        m = space.compileForRun(cand);
      } catch (e) {
        if (e instanceof ScenarioError) continue;
        throw e;
      }
      let hit: RunResult | undefined;
      for (const data of sample) {
        if (performance.now() > deadline) break;
        const r = runOnce(m, data, property);
        if (r.end === "violation" && r.violation!.property === property) {
          hit = r;
          break;
        }
      }
      if (hit) {
        params = cand;
        moves = hit.moves;
        progress = true;
        break;
      }
    }
  }
  return { params, moves };
}

/**
 * Scenarios one step smaller than p, the likeliest to keep the bug first: each integer parameter
 * at its minimum, then one less; each operation list without one of its CPUs, then without one
 * operation.
 */
export function smallerScenarios(space: ScenarioSpace, p: Params): Params[] {
  const out: Params[] = [];
  for (const r of space.ranges) {
    const cur = p[r.name];
    if (typeof cur !== "number" || cur <= r.min) continue;
    out.push({ ...p, [r.name]: r.min });
    if (cur - 1 > r.min) out.push({ ...p, [r.name]: cur - 1 });
  }
  for (const o of space.opLists) {
    const text = p[o.name];
    if (typeof text !== "string") continue;
    let cpus: Op[][];
    try {
      cpus = parseOps(space.def.name, o.name, o.decl, text, p);
    } catch {
      continue;
    }
    const fewer = (c: Op[][]): void => {
      if (c.length >= o.decl.cpus.min) out.push({ ...p, [o.name]: formatOps(o.decl, c) });
    };
    cpus.forEach((_, i) => fewer(cpus.filter((_c, j) => j !== i)));
    cpus.forEach((ops, i) => {
      if (ops.length < 2) return;
      ops.forEach((_, k) =>
        fewer(cpus.map((c, j) => (j === i ? c.filter((_o, l) => l !== k) : c))),
      );
    });
  }
  return out;
}
