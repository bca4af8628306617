// The search in a worker thread, so that the main thread can always end it: --max-seconds, the
// memory budget and Ctrl-C end even a step whose code never returns. The worker announces the
// step it runs in shared memory (rt/probe.ts); when it stops answering past a bound or an
// interrupt, it is terminated and the run is "incomplete", naming the step that did not return
// and where it is written. One worker serves the variants of a command in turn (its loaded
// model files stay loaded); a terminated one is replaced for the next.

import { Worker } from "node:worker_threads";
import { resolve } from "node:path";
import { getHeapStatistics } from "node:v8";
import type { CompiledModel } from "../model/model.ts";
import { DEFAULT_MAX_MEMORY, type ExploreOptions } from "../explore/explorer.ts";
import type { CheckResult, StopReason } from "../explore/result.ts";
import { decodeMove, labelOf, type Move } from "../rt/machine.ts";
import { PROBE_END_STATE, PROBE_INVARIANT, PROBE_REPORTING } from "../rt/probe.ts";
import {
  CTL_PROBE,
  CTL_STOP,
  CTL_WORDS,
  PROG_DEPTH,
  PROG_FRONTIER,
  PROG_HEARTBEAT,
  PROG_MEMORY,
  PROG_STATES,
  PROG_TRANSITIONS,
  PROG_WORDS,
  type Job,
  type Packed,
  type Reply,
} from "./protocol.ts";

/** How long a worker may go without a sign of life after a bound or an interrupt. */
export const GRACE_MS = 1500;

function unpack(moves: Int32Array): Move[] {
  const out = new Array<Move>(moves.length);
  for (let i = 0; i < moves.length; i++) out[i] = decodeMove(moves[i]!);
  return out;
}

/** The worker's heap: the memory budget, at least 256 MB, at most the main thread's own limit. */
function heapMb(maxMemory: number): number {
  const own = getHeapStatistics().heap_size_limit / 2 ** 20;
  return Math.round(Math.min(own, Math.max(256, maxMemory / 2 ** 20)));
}

export class SearchWorker {
  private worker: Worker | undefined;
  private control = new SharedArrayBuffer(4 * CTL_WORDS);
  private progress = new SharedArrayBuffer(8 * PROG_WORDS);
  private heap = 0;

  private start(heap: number): Worker {
    if (this.worker && this.heap === heap) return this.worker;
    void this.worker?.terminate();
    this.control = new SharedArrayBuffer(4 * CTL_WORDS);
    this.progress = new SharedArrayBuffer(8 * PROG_WORDS);
    this.heap = heap;
    this.worker = new Worker(new URL("./boot.mjs", import.meta.url), {
      workerData: { control: this.control, progress: this.progress },
      resourceLimits: { maxOldGenerationSizeMb: heap },
    });
    // an idle worker does not keep the process alive (a search in progress has its timer)
    this.worker.unref();
    return this.worker;
  }

  /** Explores `model` (compiled here too, for its names) in the worker. */
  async explore(model: CompiledModel, file: string, opts: ExploreOptions): Promise<CheckResult> {
    const maxMemory = opts.maxMemory ?? DEFAULT_MAX_MEMORY;
    const w = this.start(heapMb(maxMemory));
    const ctl = new Int32Array(this.control);
    const prog = new Float64Array(this.progress);
    Atomics.store(ctl, CTL_STOP, 0);
    ctl[CTL_PROBE] = PROBE_REPORTING;
    prog.fill(0);
    const t0 = performance.now();
    prog[PROG_HEARTBEAT] = Date.now();
    const job: Job = {
      file: resolve(file),
      name: model.name,
      variant: model.variant,
      params: model.params,
      opts: {
        strategy: opts.strategy,
        maxStates: opts.maxStates,
        maxDepth: opts.maxDepth,
        maxSeconds: opts.maxSeconds,
        maxMemory: opts.maxMemory,
        stopAtFirst: opts.stopAtFirst,
        races: opts.races,
        liveness: opts.liveness,
        fingerprint: opts.fingerprint,
        symmetry: opts.symmetry,
        reduce: opts.reduce,
      },
    };
    const deadline = opts.maxSeconds !== undefined ? Date.now() + opts.maxSeconds * 1000 : Infinity;
    const every = opts.progressEveryMs ?? 1000;
    let lastProgress = performance.now();
    let stopAsked: { at: number; why: StopReason } | undefined;
    const reply = await new Promise<Reply | { killed: StopReason; oom?: boolean }>((done) => {
      const finish = (r: Reply | { killed: StopReason; oom?: boolean }): void => {
        clearInterval(timer);
        w.off("message", onMessage);
        w.off("error", onError);
        w.off("exit", onExit);
        done(r);
      };
      const onMessage = (m: Reply): void => finish(m);
      const onError = (e: Error): void => {
        this.worker = undefined;
        const oom = (e as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY";
        finish(oom ? { killed: "memory", oom } : { crash: `${e.message}\n${e.stack ?? ""}` });
      };
      const onExit = (code: number): void => {
        this.worker = undefined;
        finish({ crash: `the search worker exited with code ${code}` });
      };
      w.on("message", onMessage);
      w.on("error", onError);
      w.on("exit", onExit);
      w.postMessage(job);
      const timer = setInterval(() => {
        const now = Date.now();
        if (!stopAsked && opts.signal?.stop) stopAsked = { at: now, why: "interrupted" };
        if (!stopAsked && now > deadline) stopAsked = { at: now, why: "time" };
        if (stopAsked) Atomics.store(ctl, CTL_STOP, 1);
        if (opts.onProgress && performance.now() - lastProgress >= every) {
          lastProgress = performance.now();
          const seconds = (performance.now() - t0) / 1000;
          opts.onProgress({
            states: prog[PROG_STATES]!,
            transitions: prog[PROG_TRANSITIONS]!,
            seconds,
            statesPerSecond: prog[PROG_STATES]! / Math.max(seconds, 1e-9),
            depth: prog[PROG_DEPTH]!,
            frontier: prog[PROG_FRONTIER]!,
            memoryBytes: prog[PROG_MEMORY]!,
          });
        }
        // asked to stop, silent since, and not building its report: a step that does not return
        const silent = now - Math.max(prog[PROG_HEARTBEAT]!, stopAsked?.at ?? Infinity);
        if (stopAsked && silent > GRACE_MS && ctl[CTL_PROBE] !== PROBE_REPORTING) {
          this.worker = undefined;
          w.off("exit", onExit);
          void w.terminate();
          finish({ killed: stopAsked.why });
        }
      }, 50);
    });
    const seconds = (performance.now() - t0) / 1000;
    if ("result" in reply) return unpackResult(reply.result);
    if ("crash" in reply) throw new Error(`search worker failed: ${reply.crash}`);
    const stuck = stuckStep(model, ctl[CTL_PROBE]!, ctl[CTL_PROBE + 1]!);
    const how = reply.oom
      ? `its code allocated past the worker's heap limit (${this.heap} MB)`
      : reply.killed === "time"
        ? `it was still running ${(GRACE_MS / 1000).toFixed(1)} s after --max-seconds ${opts.maxSeconds}`
        : `it was still running ${(GRACE_MS / 1000).toFixed(1)} s after the interrupt`;
    return {
      model: model.name,
      variant: model.variant,
      params: model.params,
      verdict: "incomplete",
      states: prog[PROG_STATES]!,
      transitions: prog[PROG_TRANSITIONS]!,
      seconds,
      maxDepth: prog[PROG_DEPTH]!,
      complete: false,
      stopReason: reply.killed,
      memoryBytes: prog[PROG_MEMORY]!,
      violations: [],
      stuck: `${stuck} did not return (${how}); its code may loop forever. Violations found before were lost with the search`,
    };
  }

  dispose(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }
}

let shared: SearchWorker | undefined;

/**
 * The process's search worker, started on first use and kept for the next commands (starting
 * one, with the TypeScript loader, costs about 0.4 s).
 */
export function searchWorker(): SearchWorker {
  return (shared ??= new SearchWorker());
}

/** The step, guard or property a probe names, in words with its file:line. */
export function stuckStep(model: CompiledModel, a: number, b: number): string {
  if (a === PROBE_INVARIANT) {
    const inv = model.invariants[b];
    return `invariant "${inv?.name ?? b}"${inv?.site ? ` (${inv.site()})` : ""}`;
  }
  if (a === PROBE_END_STATE) {
    const p = model.endStates[b];
    return `end-state property "${p?.name ?? b}"${p?.site ? ` (${p.site()})` : ""}`;
  }
  const th = model.threads[a];
  const node = th?.nodes[b];
  if (!th || !node) return "a step";
  const label =
    typeof node.label === "string"
      ? node.label
      : labelOf(model, a, node, model.init, undefined, 0).replace(/ -> .*$/, "");
  return `CPU${a} (${th.name}) step \`${label}\` at ${node.site}`;
}

function unpackResult(p: Packed): CheckResult {
  const { violations, error, ...rest } = p;
  return {
    ...rest,
    violations: violations.map(({ moves, ...v }) => ({ ...v, schedule: unpack(moves) })),
    ...(error
      ? { error: { ...(({ moves: _m, ...e }) => e)(error), schedule: unpack(error.moves) } }
      : {}),
  };
}
