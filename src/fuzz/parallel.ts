// A fuzz session spread over worker threads, with the same result as the serial session of the
// same seed. Run i of a session depends only on (seed, i) (sessionRunSeed: mix writes the arm
// of run i in its seed), so worker w of n takes runs w, w+n, w+2n, ... in order. The first run
// that ends the session (a violation the session counts, a rejected scenario) is the one with
// the lowest number, whichever worker found it: a worker that finds one lowers a shared limit,
// and no worker starts a run past the limit. Once all have stopped, the run at the limit is run
// again here, alone and with shrinking, as the serial session would have (`--seed` of that run,
// `--runs 1`), and the steps of the runs before it are added from the workers' records. The
// workers load the model from its file, so the model must be one: a model built in memory can
// only be fuzzed serially.

import { Worker } from "node:worker_threads";
import { resolve } from "node:path";
import { compileModel, type ModelDef } from "../model/model.ts";
import type { ParamValues } from "../model/params.ts";
import { PROBE_WORDS } from "../rt/probe.ts";
import { scenarioSpace } from "./scenario.ts";
import { stuckStep } from "../isolate/isolate.ts";
import { fuzzModel, sessionRunSeed, type FuzzOptions, type FuzzResult } from "./fuzz.ts";
import { makeStrategy } from "./strategies.ts";
import type { StrategyName } from "./strategy.ts";

/** Options a worker can take (plain data: they cross to another thread). */
export type WorkerFuzzOptions = Pick<
  FuzzOptions,
  "variant" | "runs" | "depth" | "params" | "property" | "maxSeconds" | "pctDepth" | "preemptions"
> & { readonly strategy: Exclude<StrategyName, "replay">; readonly seed: number };

export interface WorkerInput {
  readonly file: string;
  readonly model: string;
  readonly opts: WorkerFuzzOptions;
  readonly index: number;
  readonly first: number;
  readonly stride: number;
  /** Int32 [limit: lowest run that ended the session so far, stop flag]. */
  readonly control: SharedArrayBuffer;
  /** Float64 per worker: [runs done, steps]. */
  readonly progress: SharedArrayBuffer;
  /** This worker's step probe (rt/probe.ts), then the length and JSON of its run's scenario. */
  readonly probe: SharedArrayBuffer;
}

const SCENARIO_BYTES = 8192;

export type WorkerOutput =
  | {
      /** Steps of each run this worker made, in order; -1 - steps for a run cut at the depth bound. */
      readonly records: Int32Array;
      readonly eventAt: number | undefined;
      readonly stopped: FuzzResult["stopped"];
      readonly crash?: undefined;
    }
  | { readonly crash: string };

export interface ParallelFuzzOptions extends FuzzOptions {
  /** Worker threads (1: the serial session, in this thread). */
  readonly jobs: number;
  /** The model's file (the workers load it). */
  readonly modelFile: string;
  /**
   * Run even a single job in a worker thread: a fresh JavaScript heap. A thread that has run
   * many other models runs a new one up to 3x slower (its shared code is less specialised);
   * benchmarks use this to compare like with like.
   */
  readonly isolate?: boolean;
}

/** Heap of a fuzz worker: runs keep little; a step that allocates without end stops here. */
const WORKER_HEAP_MB = 1024;

/** How long a worker may go without finishing a run after a bound or an interrupt. */
const GRACE_MS = 1500;

/** The step a stuck worker's probe names, with its file:line, in the scenario of its run. */
function stuckInWorker(
  def: ModelDef,
  variant: string | undefined,
  probe: SharedArrayBuffer,
  why: "time" | "interrupted" | "memory",
  maxSeconds: number | undefined,
): string {
  const p = new Int32Array(probe, 0, PROBE_WORDS);
  const len = new Int32Array(probe, 4 * PROBE_WORDS, 1)[0]!;
  const bytes = new Uint8Array(probe, 4 * PROBE_WORDS + 4, len).slice();
  let params: ParamValues = {};
  try {
    params = JSON.parse(new TextDecoder().decode(bytes)) as ParamValues;
  } catch {
    /* no scenario recorded: the defaults */
  }
  let what = `CPU${p[0]} at pc ${p[1]}`;
  try {
    const m = compileModel(def, variant ?? Object.keys(def.variants)[0]!, params);
    what = stuckStep(m, p[0]!, p[1]!);
  } catch {
    /* named by CPU and pc only */
  }
  const after = why === "time" ? `--max-seconds ${maxSeconds}` : "the interrupt";
  return (
    `${what} did not return (it was still running ${(GRACE_MS / 1000).toFixed(1)} s after ${after}, ` +
    `in the scenario ${JSON.stringify(params)}); its code may loop forever`
  );
}

export async function fuzzParallel(def: ModelDef, opts: ParallelFuzzOptions): Promise<FuzzResult> {
  const jobs = opts.jobs;
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new RangeError(`jobs ${jobs}: expected an integer >= 1`);
  if (jobs === 1 && opts.isolate !== true) return fuzzModel(def, opts);
  if (typeof opts.strategy === "object" || opts.strategy === "replay")
    throw new RangeError("fuzzParallel: the strategy must be a name other than replay");
  const runs = opts.runs ?? 1000;
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fffffff);
  // parameters the model rejects: a usage error here, not a worker that fails
  scenarioSpace(def, opts.variant ?? Object.keys(def.variants)[0]!, opts.params ?? {});
  const t0 = performance.now();
  const control = new SharedArrayBuffer(8);
  const ctl = new Int32Array(control);
  ctl[0] = runs;
  const progress = new SharedArrayBuffer(16 * jobs);
  const prog = new Float64Array(progress);
  const wopts: WorkerFuzzOptions = {
    variant: opts.variant ?? Object.keys(def.variants)[0]!,
    strategy: opts.strategy ?? "mix",
    runs,
    depth: opts.depth,
    seed,
    params: opts.params,
    property: opts.property,
    maxSeconds: opts.maxSeconds,
    pctDepth: opts.pctDepth,
    preemptions: opts.preemptions,
  };
  const file = resolve(opts.modelFile);
  const n = Math.min(jobs, runs);
  const probes = Array.from(
    { length: n },
    () => new SharedArrayBuffer(4 * PROBE_WORDS + 4 + SCENARIO_BYTES),
  );
  /** Steps that did not return, named (workers ended from here). */
  const stuck: string[] = [];
  const deadline = opts.maxSeconds !== undefined ? t0 + opts.maxSeconds * 1000 : Infinity;
  const outs = await new Promise<WorkerOutput[]>((done, fail) => {
    const results: WorkerOutput[] = new Array<WorkerOutput>(n);
    const workers: Worker[] = [];
    let left = n;
    let stopAsked: { at: number; why: "time" | "interrupted" } | undefined;
    /** Per worker: runs done when last looked at, and since when that count has not moved. */
    const seen = Array.from({ length: n }, () => ({ runs: -1, since: performance.now() }));
    const timer = setInterval(() => {
      const now = performance.now();
      if (opts.signal?.stop) Atomics.store(ctl, 1, 1);
      if (!stopAsked && opts.signal?.stop) stopAsked = { at: now, why: "interrupted" };
      if (!stopAsked && now > deadline) stopAsked = { at: now, why: "time" };
      for (let w = 0; w < n; w++) {
        if (results[w] !== undefined) continue;
        if (prog[2 * w] !== seen[w]!.runs) seen[w] = { runs: prog[2 * w]!, since: now };
        // asked to stop, and no run ended for a while: a step that does not return
        if (!stopAsked || now - Math.max(stopAsked.at, seen[w]!.since) < GRACE_MS) continue;
        stuck.push(stuckInWorker(def, opts.variant, probes[w]!, stopAsked.why, opts.maxSeconds));
        results[w] = { records: new Int32Array(0), eventAt: undefined, stopped: stopAsked.why };
        void workers[w]!.terminate();
      }
      if (opts.onProgress) {
        let r = 0;
        let s = 0;
        for (let w = 0; w < n; w++) {
          r += prog[2 * w]!;
          s += prog[2 * w + 1]!;
        }
        opts.onProgress({ run: r, runs, steps: s, seconds: (performance.now() - t0) / 1000 });
      }
    }, 100);
    for (let w = 0; w < n; w++) {
      const input: WorkerInput = {
        file,
        model: def.name,
        opts: wopts,
        index: w,
        first: w,
        stride: n,
        control,
        progress,
        probe: probes[w]!,
      };
      const worker = new Worker(new URL("./worker-boot.mjs", import.meta.url), {
        workerData: input,
        // a step that allocates without end ends this worker, not the process
        resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
      });
      workers.push(worker);
      let got = false;
      worker.once("message", (m: WorkerOutput) => {
        got = true;
        results[w] = m;
      });
      worker.once("error", (e: unknown) => {
        if ((e as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY") {
          // a step that allocates without end: this worker is over, the session is incomplete
          stuck.push(
            stuckInWorker(def, opts.variant, probes[w]!, "memory", opts.maxSeconds).replace(
              /\(it was still running [^,]*,/,
              `(its code allocated past the worker's heap limit (${WORKER_HEAP_MB} MB),`,
            ),
          );
          results[w] = { records: new Int32Array(0), eventAt: undefined, stopped: "interrupted" };
          Atomics.store(ctl, 1, 1);
          return;
        }
        clearInterval(timer);
        Atomics.store(ctl, 1, 1);
        fail(e instanceof Error ? e : new Error(String(e)));
      });
      worker.once("exit", (code) => {
        if (!got && results[w] === undefined)
          results[w] = { crash: `worker ${w} exited with code ${code} before reporting` };
        if (--left === 0) {
          clearInterval(timer);
          done(results);
        }
      });
    }
  });
  const crash = outs.find((o) => o.crash !== undefined);
  if (crash?.crash !== undefined) throw new Error(`fuzz worker failed: ${crash.crash}`);
  const limit = Atomics.load(ctl, 0);
  let done = 0;
  let steps = 0;
  let cutAtDepth = 0;
  let stopped: FuzzResult["stopped"];
  outs.forEach((o, w) => {
    if (o.crash !== undefined) return;
    stopped ??= o.stopped;
    o.records.forEach((rec, k) => {
      if (w + k * n >= limit) return; // the run that ended the session, and any past it
      done++;
      steps += rec < 0 ? -1 - rec : rec;
      if (rec < 0) cutAtDepth++;
    });
  });
  const seconds = (): number => (performance.now() - t0) / 1000;
  if (stuck.length > 0 || limit >= runs) {
    // ended from outside (whatever the workers found before is lost with them), or nothing
    // ended the session (every run made counts): the counts, with no counterexample
    const r = await fuzzModel(def, { ...opts, seed, runs: 0 });
    return {
      ...r,
      runs: done,
      runsRequested: runs,
      steps,
      cutAtDepth,
      seconds: seconds(),
      ...(stuck.length > 0
        ? { stopped: stopped ?? "interrupted", stuck: stuck.join("; ") }
        : stopped
          ? { stopped }
          : {}),
    };
  }
  // the run that ended it, again, alone, with shrinking and the BFS check as configured
  // (not interruptible, as the serial session's shrinking is not)
  const again = await fuzzModel(def, {
    ...opts,
    seed: sessionRunSeed(makeStrategy(opts.strategy ?? "mix", opts), seed, limit),
    runs: 1,
    signal: undefined,
  });
  const cx = again.counterexample;
  return {
    ...again,
    seed,
    // limit + 1, unless a worker stopped early (time, interrupt): then some runs below the
    // failing one were never made, and only the runs made count
    runs: done + 1,
    runsRequested: runs,
    steps: steps + again.steps,
    cutAtDepth: cutAtDepth + again.cutAtDepth,
    seconds: seconds(),
    ...(cx ? { counterexample: { ...cx, run: limit + 1 } } : {}),
  };
}
