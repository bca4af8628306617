// One worker thread of fuzzParallel (parallel.ts): loads the model file, runs its share of the
// session's runs (first, first+stride, ...) without shrinking, records the steps of each run,
// and posts them back. A run that ends the session (a violation, a rejected scenario) lowers
// the shared limit, so that no worker goes past it.

import { parentPort, workerData } from "node:worker_threads";
import { loadModels } from "../cli/load.ts";
import { fuzzModel } from "./fuzz.ts";
import type { WorkerInput, WorkerOutput } from "./parallel.ts";
import { PROBE_WORDS, setStepProbe } from "../rt/probe.ts";

const input = workerData as WorkerInput;
const ctl = new Int32Array(input.control);
const progress = new Float64Array(input.progress);
// the step being run, and the scenario of the run, for the main thread's watchdog
setStepProbe(new Int32Array(input.probe, 0, PROBE_WORDS));
const scenario = new Uint8Array(input.probe, 4 * PROBE_WORDS + 4);
const scenarioLen = new Int32Array(input.probe, 4 * PROBE_WORDS, 1);
const encoder = new TextEncoder();

/** Lowers the shared limit to `run` unless it is lower already. */
function lowerLimit(run: number): void {
  for (;;) {
    const cur = Atomics.load(ctl, 0);
    if (run >= cur || Atomics.compareExchange(ctl, 0, cur, run) === cur) return;
  }
}

async function work(): Promise<Extract<WorkerOutput, { records: Int32Array }>> {
  const lm = (await loadModels([input.file])).find((m) => m.def.name === input.model);
  if (!lm) throw new Error(`worker: model ${input.model} not found in ${input.file}`);
  // steps of the k-th run of this worker (run first + k*stride); -1 - steps when cut at depth
  let records = new Int32Array(1024);
  let count = 0;
  let runs = 0;
  let steps = 0;
  const r = await fuzzModel(lm.def, {
    ...input.opts,
    shrink: false,
    confirm: false,
    signal: {
      get stop() {
        return Atomics.load(ctl, 1) === 1;
      },
    },
    part: {
      begin(params) {
        const json = JSON.stringify(params);
        const r = encoder.encodeInto(json, scenario);
        scenarioLen[0] = r.read === json.length ? r.written : 0;
      },
      first: input.first,
      stride: input.stride,
      limit: () => Atomics.load(ctl, 0),
      ran(_run, s, cut) {
        if (count === records.length) {
          const next = new Int32Array(records.length * 2);
          next.set(records);
          records = next;
        }
        records[count++] = cut ? -1 - s : s;
        progress[2 * input.index] = ++runs;
        progress[2 * input.index + 1] = steps += s;
      },
    },
  });
  const ended = r.counterexample !== undefined || r.error !== undefined;
  if (ended) lowerLimit(r.runs - 1);
  return {
    records: records.subarray(0, count),
    eventAt: ended ? r.runs - 1 : undefined,
    stopped: r.stopped,
  };
}

work().then(
  (out) => parentPort!.postMessage(out, [out.records.buffer as ArrayBuffer]),
  (e: unknown) =>
    parentPort!.postMessage({
      crash: e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e),
    } satisfies WorkerOutput),
);
