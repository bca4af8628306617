// The parallel search (explore/parallel.ts) against the serial explorer: on every variant of
// the bundled models, the same states, transitions, verdict, violations, counterexamples and
// messages; a model error in a worker comes back as the serial search's error; bounds end it as
// "incomplete"; no worker outlives its pool. One pool of 2 workers serves every run (a worker
// costs a few hundred milliseconds to start).

import { afterAll, describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { compileModel, explore, type CompiledModel, type ModelDef } from "../../src/index.ts";
import type { CheckResult } from "../../src/explore/result.ts";
import type { ExploreOptions } from "../../src/explore/explorer.ts";
import { ExplorePool, exploreParallel, type ModelSource } from "../../src/explore/parallel.ts";
import { loadModels } from "../../src/cli/load.ts";
import { replays } from "./replays.ts";

const pool = new ExplorePool(2);
afterAll(() => pool.close());

/** Everything a run reports that must not depend on the number of threads. */
function essence(r: CheckResult): unknown {
  return {
    verdict: r.verdict,
    states: r.states,
    transitions: r.transitions,
    maxDepth: r.maxDepth,
    complete: r.complete,
    stopReason: r.stopReason,
    liveness: r.liveness,
    violations: r.violations.map((v) => ({
      property: v.property,
      kind: v.kind,
      severity: v.severity,
      message: v.message,
      schedule: v.schedule,
      cycle: v.cycle,
      paths: v.paths,
    })),
    error: r.error && {
      code: r.error.code,
      message: r.error.message,
      where: r.error.where,
      schedule: r.error.schedule,
      stepFailed: r.error.stepFailed,
    },
  };
}

async function both(
  def: ModelDef,
  variant: string,
  file: string,
  opts: ExploreOptions = {},
): Promise<{ serial: CheckResult; par: CheckResult; model: CompiledModel }> {
  const serial = await explore(compileModel(def, variant), opts);
  const model = compileModel(def, variant);
  const source: ModelSource = { kind: "file", file, name: def.name };
  const par = await exploreParallel(model, source, { ...opts, workers: 2 }, pool);
  return { serial, par, model };
}

describe("parallel search = serial search", () => {
  it("on every variant of the bundled models: states, verdicts, counterexamples, messages", async () => {
    const models = await loadModels([resolve("models")], { typecheck: false });
    expect(models.length).toBeGreaterThan(5);
    let variants = 0;
    let violated = 0;
    for (const lm of models) {
      for (const v of Object.keys(lm.def.variants)) {
        const { serial, par, model } = await both(lm.def, v, lm.file);
        expect(par.parallel?.workers, `${lm.def.name}/${v}`).toBe(2);
        expect(essence(par), `${lm.def.name}/${v}`).toEqual(essence(serial));
        for (const x of par.violations)
          if (x.kind !== "liveness" && x.kind !== "lock-order")
            expect(replays(model, x), `${lm.def.name}/${v}: ${x.property}`).toBe(true);
        variants++;
        if (par.verdict === "violated") violated++;
      }
    }
    expect(variants).toBeGreaterThan(40);
    expect(violated).toBeGreaterThan(10);
  }, 300_000);

  it("with --stop-first, --no-races and a depth bound, as the serial search", async () => {
    const [lm] = await loadModels([resolve("models/deferred-split/deferred-split.ts")], {
      typecheck: false,
    });
    for (const opts of [
      { races: false },
      { maxDepth: 6 },
      // the reductions run on one thread: off, so that two workers really search
      { liveness: false, reduce: false, symmetry: false },
    ]) {
      const { serial, par } = await both(lm!.def, "private-list", lm!.file, opts);
      expect(essence(par), JSON.stringify(opts)).toEqual(essence(serial));
      expect(par.parallel, JSON.stringify(opts)).toEqual({ workers: 2 });
    }
    // --stop-first: the serial search's first violation, and only it (the serial explorer goes
    // on past it, slice after slice: it reports the others too)
    const { serial, par } = await both(lm!.def, "private-list", lm!.file, { stopAtFirst: true });
    expect(par.violations.map((v) => [v.property, v.schedule])).toEqual(
      serial.violations.slice(0, 1).map((v) => [v.property, v.schedule]),
    );
    expect(par.states).toBeLessThan(serial.states);
  }, 60_000);

  it("a --max-states bound: incomplete with exactly that many states", async () => {
    const [lm] = await loadModels([resolve("models/deferred-split/deferred-split.ts")], {
      typecheck: false,
    });
    const { serial, par } = await both(lm!.def, "private-list-no-prev", lm!.file, {
      maxStates: 5000,
      liveness: false,
      reduce: false,
    });
    expect(par.complete).toBe(false);
    expect(par.stopReason).toBe("states");
    expect(par.states).toBe(serial.states);
    expect(par.states).toBe(5000);
  }, 60_000);
});

describe("errors in a worker", () => {
  it("a step that throws: the serial search's error (code, where, trace), no hang", async () => {
    const file = resolve("test/fixtures/step-throws.ts");
    const def = (await import(file)).default as ModelDef;
    const { serial, par } = await both(def, "only", file);
    expect(par.verdict).toBe("error");
    expect(par.error?.code).toBe("E_STEP");
    expect(par.error?.message).toMatch(/undefined/);
    expect(par.error?.stack).toMatch(/step-throws\.ts/);
    expect(essence(par)).toEqual(essence(serial));
  }, 60_000);

  it("an invariant that throws: E_PROPERTY naming it, the trace to its state", async () => {
    const file = resolve("test/fixtures/faults/invariant-throws.ts");
    const def = (await import(file)).default as ModelDef;
    const { serial, par } = await both(def, "only", file);
    expect(par.verdict).toBe("error");
    expect(par.error?.code).toBe("E_PROPERTY");
    expect(par.error?.where).toMatch(/invariant "x-small"/);
    expect(essence(par)).toEqual(essence(serial));
  }, 60_000);

  it("a source the workers cannot load: a clear error, and the pool still serves", async () => {
    const file = resolve("test/fixtures/step-throws.ts");
    const def = (await import(file)).default as ModelDef;
    await expect(
      exploreParallel(
        compileModel(def, "only"),
        { kind: "file", file, name: "no-such-model" },
        { workers: 2 },
        pool,
      ),
    ).rejects.toThrow(/has no model named no-such-model/);
    const { par } = await both(def, "only", file);
    expect(par.verdict).toBe("error");
  }, 60_000);

  it("a pool of its own is ended after the run", async () => {
    const file = resolve("models/classic/peterson.ts");
    const def = (await import(file)).default as ModelDef;
    const r = await exploreParallel(
      compileModel(def, "peterson"),
      { kind: "file", file, name: def.name },
      { workers: 2 },
    );
    expect(r.verdict).toBe("holds");
    expect(r.parallel?.workers).toBe(2);
  }, 60_000);

  it("DFS and fingerprint mode run on one thread, and say so", async () => {
    const file = resolve("models/classic/peterson.ts");
    const def = (await import(file)).default as ModelDef;
    for (const opts of [{ strategy: "dfs" as const }, { fingerprint: true }]) {
      const r = await exploreParallel(
        compileModel(def, "peterson"),
        { kind: "file", file, name: def.name },
        { ...opts, workers: 2 },
        pool,
      );
      expect(r.parallel?.workers).toBe(1);
      expect(r.parallel?.note).toMatch(/serial.*ran on 1 thread/);
    }
  });
});
