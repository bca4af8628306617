// Differential testing of the explorer's search modes on generated models (gen-model.ts): every
// search in SEARCHES must give the reference's verdict and the same set of violated properties,
// and every counterexample it prints must replay to its violation. The reference is the exact
// BFS, itself checked against a naive explorer (states as strings in a Set, machine.execute).
//
// `npm test` runs DIFF_RUNS (default 1000) models; `npm run test:differential` runs 20,000.
// A failure prints fast-check's seed and path, and the shrunk model; DIFF_SEED=<seed> reruns
// that seed. To test a new search (a reduction, symmetry, workers), add it to SEARCHES: with
// `sameStates: false` when it may store fewer states.

import { replays } from "./replays.ts";
import { findLockCycle, lockGraph } from "../../src/explore/lockorder.ts";
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { compileModel, explore, type CompiledModel, type ModelDef } from "../../src/index.ts";
import type { CheckResult } from "../../src/explore/result.ts";
import type { ExploreOptions } from "../../src/explore/explorer.ts";
import { Violation } from "../../src/rt/mem.ts";
import { choicesOf, enabledCpus, execute } from "../../src/rt/machine.ts";
import { stateOutcomes } from "../../src/trace/replay.ts";
import { withoutSites } from "../../src/model/dsl.ts";
import { build, modelSpec, symModelSpec, type ModelSpec } from "./gen-model.ts";

const RUNS = Number(process.env.DIFF_RUNS ?? 1000);
/** npm run test:differential runs for an hour or more on 2 cores; npm test's share in seconds. */
const LONG_TIMEOUT = RUNS > 1000 ? 4 * 3_600_000 : 900_000;
/** Statements per CPU at the top level (npm test: 3; test:differential: 5). */
const MAX_OPS = Number(process.env.DIFF_MAX_OPS ?? 3);
const SEED = process.env.DIFF_SEED !== undefined ? Number(process.env.DIFF_SEED) : undefined;
/** Generated models stay far below this; reaching it fails the test (no silent skip). */
const MAX_STATES = 200_000;

interface Search {
  readonly name: string;
  readonly opts: ExploreOptions;
  /** Must store exactly the reference's states (false for reductions). */
  readonly sameStates: boolean;
  /** Must print the reference's counterexamples (same BFS order). */
  readonly sameTraces: boolean;
}

export const SEARCHES: readonly Search[] = [
  { name: "exact DFS", opts: { strategy: "dfs" }, sameStates: true, sameTraces: false },
  {
    name: "fingerprint BFS",
    opts: { fingerprint: true },
    sameStates: true,
    sameTraces: true,
  },
  {
    name: "fingerprint DFS",
    opts: { fingerprint: true, strategy: "dfs" },
    sameStates: true,
    sameTraces: false,
  },
  // partial-order reduction (explore/por.ts): fewer states, possibly longer traces
  { name: "reduced BFS", opts: { reduce: true }, sameStates: false, sameTraces: false },
  {
    name: "reduced DFS",
    opts: { reduce: true, strategy: "dfs" },
    sameStates: false,
    sameTraces: false,
  },
  {
    name: "reduced fingerprint BFS",
    opts: { reduce: true, fingerprint: true },
    sameStates: false,
    sameTraces: false,
  },
];

/** Partial-order reduction over the run: models it reduced, states it saved, runs it redid. */
const porStats = { models: 0, reduced: 0, statesRef: 0, statesReduced: 0, redone: 0 };

const compile = (def: ModelDef): CompiledModel =>
  withoutSites(() => compileModel(def, "only")) as CompiledModel;

const violated = (r: CheckResult): string[] => r.violations.map((v) => v.property).sort();

/**
 * The naive reference: BFS over states kept as strings; at each state the outcomes the replayer
 * sees (invariants; where no bug-severity invariant breaks, also deadlock, end-state properties
 * and data races), and each step's violations (a thrown one ends the path, a warn-severity one
 * is recorded and the step's state kept). A state that breaks a bug-severity invariant is not
 * expanded, as in the explorer.
 */
function naive(model: CompiledModel): { states: number; violated: string[] } {
  const key = (b: Int32Array): string => b.join(",");
  const seen = new Set([key(model.init)]);
  const props = new Set<string>();
  // lockdep's lock order over the whole search: every edge any step took (Mem.loNew)
  const mem = model.mem;
  const loSaved = mem.loSeen.slice();
  mem.resetLockOrder();
  const edges = new Set<number>();
  let layer: Int32Array[] = [model.init.slice()];
  while (layer.length > 0) {
    const next: Int32Array[] = [];
    for (const b of layer) {
      const out = stateOutcomes(model, b);
      const inv = out.filter((o) => o.kind === "invariant");
      const stop = inv.some((o) => o.severity === "bug");
      for (const o of stop ? inv : out) props.add(o.property);
      if (stop) continue;
      for (const t of enabledCpus(model, b)) {
        for (let c = 0, n = choicesOf(model, t, b); c < n; c++) {
          const nb = b.slice();
          try {
            execute(model, t, c, nb);
          } catch (e) {
            if (!(e instanceof Violation)) throw e;
            props.add(e.property);
            continue;
          }
          for (const v of model.mem.pending) props.add(v.property);
          model.mem.pending.length = 0;
          for (let i = 0; i < mem.loNewLen; i++) edges.add(mem.loNew[i]!);
          mem.loNewLen = 0;
          const k = key(nb);
          if (!seen.has(k)) {
            seen.add(k);
            next.push(nb);
          }
        }
      }
      if (seen.size > MAX_STATES) throw new Error("naive: too many states");
    }
    layer = next;
  }
  mem.loSeen.set(loSaved);
  mem.loNewLen = 0;
  if (model.lockOrder !== false && findLockCycle(lockGraph(mem, edges)) !== undefined)
    props.add("lock-order");
  return { states: seen.size, violated: [...props].sort() };
}

function checkTraces(model: CompiledModel, r: CheckResult, who: string): void {
  for (const v of r.violations) {
    expect(replays(model, v), `${who}: ${v.property} does not replay`).toBe(true);
  }
}

/**
 * Checks every search on the model `spec` describes; returns the reference's result, or
 * undefined for a model past MAX_STATES (rare: counted, and bounded by the test).
 */
async function differential(spec: ModelSpec): Promise<CheckResult | undefined> {
  const def = build(spec);
  // one compiled model serves every search (a search leaves nothing behind in it)
  const model = compile(def);
  // safety properties only: liveness has its own differential test (test/explore/liveness*)
  const ref = await explore(model, { maxStates: MAX_STATES, liveness: false, reduce: false });
  expect(ref.verdict, "the generator makes valid models").not.toBe("error");
  if (!ref.complete) return undefined;
  const nv = naive(model);
  expect(ref.states, "exact BFS vs naive: states").toBe(nv.states);
  expect(violated(ref), "exact BFS vs naive: violated properties").toEqual(nv.violated);
  checkTraces(model, ref, "exact BFS");
  for (const s of SEARCHES) {
    const r = await explore(model, {
      liveness: false,
      reduce: false,
      ...s.opts,
      maxStates: MAX_STATES,
    });
    expect(r.verdict, `${s.name}: verdict`).toBe(ref.verdict);
    expect(violated(r), `${s.name}: violated properties`).toEqual(violated(ref));
    if (s.sameStates) expect(r.states, `${s.name}: states`).toBe(ref.states);
    if (s.sameTraces) {
      expect(
        r.violations.map((v) => v.schedule),
        `${s.name}: counterexamples`,
      ).toEqual(ref.violations.map((v) => v.schedule));
    }
    checkTraces(model, r, s.name);
    if (s.name === "reduced BFS") {
      porStats.models++;
      if (r.reduction?.on === false) porStats.redone++;
      if ((r.reduction?.reducedStates ?? 0) > 0) porStats.reduced++;
      porStats.statesRef += ref.states;
      porStats.statesReduced += r.states;
      expect(r.states, "reduced BFS: never more states").toBeLessThanOrEqual(ref.states);
    }
  }
  return ref;
}

describe(`differential: ${SEARCHES.map((s) => s.name).join(", ")} against the exact BFS`, () => {
  it(
    `${RUNS} generated models: same verdicts, violated properties and replayable traces`,
    async () => {
      let violatedModels = 0;
      let tooLarge = 0;
      const kinds = new Set<string>();
      await fc.assert(
        fc.asyncProperty(modelSpec({ maxOps: MAX_OPS }), async (spec) => {
          const r = await differential(spec);
          if (r === undefined) {
            tooLarge++;
            return;
          }
          if (r.verdict === "violated") violatedModels++;
          for (const v of r.violations) kinds.add(v.kind);
        }),
        { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );
      // the generator reaches every kind of violation, and not only violations
      // (lock-order too, in most runs: a generated CPU nests two locks in either order)
      expect([...kinds]).toEqual(
        expect.arrayContaining(["assertion", "data-race", "deadlock", "end-state", "invariant"]),
      );
      expect(violatedModels).toBeGreaterThan(RUNS / 10);
      expect(violatedModels).toBeLessThan(RUNS);
      // models past MAX_STATES states are not compared: at most 1 %
      expect(tooLarge).toBeLessThanOrEqual(RUNS / 100);
      // the reduction applies to a good share of the models (CPU-local steps on locals), and
      // the models whose invariants read locals are searched again unreduced
      console.log(
        `partial-order reduction: reduced ${porStats.reduced} of ${porStats.models} models, ` +
          `${porStats.statesReduced} states instead of ${porStats.statesRef} ` +
          `(${((100 * porStats.statesReduced) / Math.max(1, porStats.statesRef)).toFixed(1)} %); ` +
          `${porStats.redone} searched again unreduced (an invariant reads w.cpus)`,
      );
      expect(porStats.reduced).toBeGreaterThan(porStats.models / 5);
      expect(porStats.redone).toBeGreaterThan(0);
      // about 5 s of CPU for 1000 models; the wall clock on a shared machine can be far longer
    },
    LONG_TIMEOUT,
  );
});

/**
 * Symmetry reduction (src/explore/symmetry.ts) on generated models with k alike CPUs and, in
 * some, alike objects (gen-model.ts symModelSpec): BFS, DFS and fingerprint searches under
 * symmetry give the unreduced exact search's verdict and violated properties, store no more
 * states, and print counterexamples on the model's own CPUs that replay.
 */
/** npm test: 200 models; test:differential: 2000 (k copies of a program make models grow fast). */
const SYM_RUNS = Math.max(50, Math.round(Math.min(RUNS / 5, 2000)));
/** Statements per CPU at the top level: npm test 2, test:differential 3. */
const SYM_MAX_OPS = Math.min(MAX_OPS - 1, 3);
const SYM_SEARCHES: readonly { name: string; opts: ExploreOptions }[] = [
  { name: "symmetric BFS", opts: { reduce: false } },
  { name: "symmetric fingerprint BFS", opts: { fingerprint: true, reduce: false } },
  // both reductions together: verdicts and properties only (traces may be longer)
  { name: "symmetric BFS with partial-order reduction", opts: { reduce: true } },
  // DFS in the nightly-style run only (npm run test:differential)
  ...(RUNS > 1000
    ? [{ name: "symmetric DFS", opts: { strategy: "dfs" as const, reduce: false } }]
    : []),
];

describe("differential: symmetry reduction against the unreduced exact BFS", () => {
  it(
    `${SYM_RUNS} generated models with alike CPUs and objects: same verdicts and violated properties`,
    async () => {
      let reduced = 0;
      let violatedModels = 0;
      let withObjects = 0;
      let compared = 0;
      let statesRef = 0;
      let statesSym = 0;
      await fc.assert(
        fc.asyncProperty(symModelSpec({ maxOps: SYM_MAX_OPS }), async (spec) => {
          const model = compile(build(spec));
          const ref = await explore(model, {
            maxStates: MAX_STATES,
            liveness: false,
            symmetry: false,
            reduce: false,
          });
          expect(ref.verdict, "the generator makes valid models").not.toBe("error");
          if (!ref.complete) return;
          compared++;
          if (spec.alike?.objects) withObjects++;
          if (ref.verdict === "violated") violatedModels++;
          for (const s of SYM_SEARCHES) {
            const r = await explore(model, { liveness: false, ...s.opts, maxStates: MAX_STATES });
            expect(r.symmetry?.used, `${s.name}: used`).toBe(true);
            expect(r.verdict, `${s.name}: verdict`).toBe(ref.verdict);
            expect(violated(r), `${s.name}: violated properties`).toEqual(violated(ref));
            expect(r.states, `${s.name}: states`).toBeLessThanOrEqual(ref.states);
            checkTraces(model, r, s.name);
            if (s.opts.strategy === undefined && !s.opts.fingerprint && s.opts.reduce === false) {
              statesRef += ref.states;
              statesSym += r.states;
              if (r.states < ref.states) reduced++;
              // BFS over the classes of states: counterexamples as short as the unreduced BFS's
              for (const v of r.violations)
                expect(v.length, `${s.name}: ${v.property} length`).toBe(
                  ref.violations.find((x) => x.property === v.property)!.length,
                );
            }
          }
        }),
        { numRuns: SYM_RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );
      // the generator makes symmetric models that break properties, with objects, and reduce
      expect(compared).toBeGreaterThan(SYM_RUNS * 0.95);
      expect(violatedModels).toBeGreaterThan(SYM_RUNS / 10);
      expect(withObjects).toBeGreaterThan(SYM_RUNS / 10);
      expect(reduced).toBeGreaterThan(SYM_RUNS / 2);
      expect(statesSym).toBeLessThan(statesRef * 0.8);
    },
    LONG_TIMEOUT,
  );
});

/** Generated models the parallel search is compared on (workers cost time to start: a subset). */
const PAR_RUNS = Number(process.env.DIFF_PAR_RUNS ?? 150);

describe("differential: the parallel search (2 workers) against the exact BFS", () => {
  it(`${PAR_RUNS} generated models: same states, verdicts, violated properties and counterexamples`, async () => {
    const { ExplorePool, exploreParallel } = await import("../../src/explore/parallel.ts");
    const { resolve } = await import("node:path");
    const pool = new ExplorePool(2);
    const specs = fc.sample(modelSpec({ maxOps: MAX_OPS }), {
      numRuns: PAR_RUNS,
      seed: SEED ?? 4242,
    });
    let compared = 0;
    let violatedModels = 0;
    try {
      for (const [n, spec] of specs.entries()) {
        const model = compile(build(spec));
        const ref = await explore(model, { maxStates: MAX_STATES, liveness: false, reduce: false });
        if (!ref.complete) continue;
        const par = await exploreParallel(
          compile(build(spec)),
          {
            kind: "module",
            module: resolve("test/explore/gen-model.ts"),
            build: "build",
            arg: spec,
            sites: false,
          },
          { workers: 2, maxStates: MAX_STATES, liveness: false, reduce: false },
          pool,
        );
        const who = `parallel, model ${n} (seed ${SEED ?? 4242}): ${JSON.stringify(spec)}`;
        expect(par.verdict, who).toBe(ref.verdict);
        expect(par.states, who).toBe(ref.states);
        expect(par.transitions, who).toBe(ref.transitions);
        expect(violated(par), who).toEqual(violated(ref));
        expect(
          par.violations.map((v) => v.schedule),
          who,
        ).toEqual(ref.violations.map((v) => v.schedule));
        checkTraces(model, par, "parallel");
        compared++;
        if (ref.verdict === "violated") violatedModels++;
      }
    } finally {
      await pool.close();
    }
    expect(compared).toBeGreaterThanOrEqual(PAR_RUNS * 0.95);
    expect(violatedModels).toBeGreaterThan(PAR_RUNS / 10);
  }, 300_000);
});
