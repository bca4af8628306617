// The search worker: loads a model file, explores one variant at a time as the main thread asks
// (isolate.ts), announcing each step it runs in shared memory (rt/probe.ts) so that the main
// thread can end a step that never returns and say which it was.

import { parentPort, workerData } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import { compileModel, type ModelDef } from "../model/model.ts";
import { explore } from "../explore/explorer.ts";
import type { CheckResult } from "../explore/result.ts";
import { encodeMove, type Move } from "../rt/machine.ts";
import { PROBE_WORDS, setStepProbe } from "../rt/probe.ts";
import {
  CTL_PROBE,
  CTL_STOP,
  PROG_DEPTH,
  PROG_FRONTIER,
  PROG_HEARTBEAT,
  PROG_MEMORY,
  PROG_STATES,
  PROG_TRANSITIONS,
  type Job,
  type Packed,
  type Reply,
} from "./protocol.ts";

const { control, progress } = workerData as {
  control: SharedArrayBuffer;
  progress: SharedArrayBuffer;
};
const ctl = new Int32Array(control);
const prog = new Float64Array(progress);
setStepProbe(new Int32Array(control, CTL_PROBE * 4, PROBE_WORDS));

function pack(moves: readonly Move[]): Int32Array {
  const out = new Int32Array(moves.length);
  for (let i = 0; i < moves.length; i++) out[i] = encodeMove(moves[i]!.cpu, moves[i]!.choice);
  return out;
}

function packError(e: NonNullable<CheckResult["error"]>): NonNullable<Packed["error"]> {
  const { schedule, ...rest } = e;
  return { ...rest, moves: pack(schedule) };
}

async function run(job: Job): Promise<Packed> {
  const mod = (await import(pathToFileURL(job.file).href)) as Record<string, unknown>;
  const def = Object.values(mod).find(
    (v): v is ModelDef =>
      typeof v === "object" &&
      v !== null &&
      (v as { kind?: unknown }).kind === "interleave-model" &&
      (v as ModelDef).name === job.name,
  );
  if (!def) throw new Error(`${job.file} has no model named ${job.name}`);
  const model = compileModel(def, job.variant, job.params);
  prog[PROG_HEARTBEAT] = Date.now();
  const r = await explore(model, {
    ...job.opts,
    signal: {
      get stop() {
        return Atomics.load(ctl, CTL_STOP) === 1;
      },
    },
    progressEveryMs: 100,
    onProgress: (p) => {
      prog[PROG_STATES] = p.states;
      prog[PROG_TRANSITIONS] = p.transitions;
      prog[PROG_DEPTH] = p.depth;
      prog[PROG_FRONTIER] = p.frontier;
      prog[PROG_MEMORY] = p.memoryBytes;
      prog[PROG_HEARTBEAT] = Date.now();
    },
  });
  const { violations, error, ...rest } = r;
  return {
    ...rest,
    violations: violations.map(({ schedule, ...v }) => ({ ...v, moves: pack(schedule) })),
    ...(error ? { error: packError(error) } : {}),
  };
}

parentPort!.on("message", (job: Job) => {
  run(job).then(
    (result) =>
      parentPort!.postMessage({ result } satisfies Reply, [
        ...result.violations.map((v) => v.moves.buffer as ArrayBuffer),
        ...(result.error ? [result.error.moves.buffer as ArrayBuffer] : []),
      ]),
    (e: unknown) =>
      parentPort!.postMessage({
        crash: e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e),
      } satisfies Reply),
  );
});
