// The parallel exhaustive search: worker threads (parallel-worker.ts) expand each BFS level
// together over shared tables (parallel-core.ts: a visited table with compare-and-swap
// insertion, the packed states, parent links), and this thread runs the levels: it hands out
// the level, grows the tables when they fill, puts each finished level in the serial
// explorer's order, and builds the result as the serial explorer does (traces from the parent
// links, lockdep's cycle, the liveness check over the recorded graph). The result is the serial
// BFS's: same states, transitions, verdict, violations and counterexamples (tested in
// test/explore/parallel.test.ts and the differential test).
//
// Not in parallel (the serial explorer runs instead, and the result says so): DFS, fingerprint
// mode. The liveness check runs here, after the parallel search, on the graph the workers
// recorded (as the serial explorer runs it after its search).

import { Worker } from "node:worker_threads";
import { getHeapStatistics } from "node:v8";
import type { CompiledModel } from "../model/model.ts";
import { ModelError, Violation } from "../rt/mem.ts";
import { decodeMove, execute, labelOf, type Move } from "../rt/machine.ts";
import { PROBE_END_STATE, PROBE_INVARIANT, PROBE_WORDS } from "../rt/probe.ts";
import {
  DEFAULT_MAX_MEMORY,
  explore,
  TRACE_BYTES_PER_STEP,
  type ExploreOptions,
} from "./explorer.ts";
import type { CheckResult, StopReason, ViolationKind, ViolationReport } from "./result.ts";
import { levelOf, Packer, StateStore } from "./store.ts";
import { LockOrder } from "./lockorder.ts";
import {
  ANALYSIS_BYTES_PER_STATE,
  checkLiveness,
  LIVENESS_MAX_CPUS,
  LivenessGraph,
  type Lasso,
} from "./liveness.ts";
import {
  before,
  C_COUNT,
  C_CURSOR,
  C_GROW_AT,
  C_LIMIT,
  C_LIMIT_MEMORY,
  C_NEXT,
  C_PAUSE,
  C_STOP,
  C_STOP_SERIAL,
  CTL_WORDS,
  fromWire,
  invariantEvents,
  Keeper,
  pathTo,
  STOP_INTERRUPTED,
  STOP_MEMORY,
  STOP_OVERFLOW,
  STOP_STATES,
  STOP_TIME,
  Views,
  workSize,
  rest,
  type Found,
  type LockNote,
  type Shared,
} from "./parallel-core.ts";
import type { FromWorker, ToWorker } from "./parallel-worker.ts";
import type { ModelSource } from "./parallel-source.ts";

export type { ModelSource } from "./parallel-source.ts";

/**
 * Why a search with these options runs on one thread even when more are asked for, or
 * undefined when it can run in parallel.
 */
export function serialOnly(opts: ExploreOptions, model?: CompiledModel): string | undefined {
  return opts.strategy === "dfs"
    ? "DFS is serial (the parallel search is breadth-first)"
    : opts.fingerprint === true
      ? "fingerprint mode is serial"
      : model !== undefined &&
          model.alike.length > 0 &&
          opts.symmetry !== false &&
          opts.liveness === false &&
          model.lockOrder !== "instance"
        ? "the symmetry reduction runs on one thread"
        : opts.liveness === false && opts.reduce !== false
          ? "partial-order reduction runs on one thread (--no-reduce for the parallel search)"
          : undefined;
}

/** A worker's heap for a memory budget: the budget, at least 256 MB, at most this thread's. */
export function workerHeapMb(maxMemory: number): number {
  const own = getHeapStatistics().heap_size_limit / 2 ** 20;
  return Math.round(Math.min(own, Math.max(256, maxMemory / 2 ** 20)));
}

/**
 * The default number of workers: one. Measured on the 2-core machine this project is built on,
 * two workers took 1.28x the CPU time of one and were slower by the clock too (the 9 x 4 twin,
 * see the README's "Parallel search"); `--workers N` asks for more.
 */
export const defaultWorkers = (): number => 1;

export interface ParallelOptions extends ExploreOptions {
  /** Worker threads (1: the serial explorer, in this thread). */
  readonly workers: number;
}

/** The tables grow when the states fill this fraction of the slots. */
const GROW_LOAD = 0.5;
const INITIAL_BITS = 12;
/** A level with fewer states than this per worker runs on one worker. */
const SOLO_PER_WORKER = 200;
/** How long a worker may go without answering after a bound or an interrupt. */
const GRACE_MS = 1500;
/** Heap of a worker: its model, its events and liveness edges (the tables are shared). */
const WORKER_HEAP_MB = 1024;

/** Bytes a state costs in the shared tables (arena words apart), as a budget estimate. */
const TABLE_BYTES_PER_STATE =
  4 +
  4 +
  4 +
  8 +
  4 / GROW_LOAD +
  8 / GROW_LOAD; /* parent, move, order, level keys, table, grown table */
/** Liveness: bytes per state of the recorded edges (about 3 a state, 8 bytes each) and headers. */
const LIVENESS_BYTES_PER_STATE = 3 * 8 + 12;

type Reply =
  | FromWorker
  | { readonly t: "exit"; readonly code: number }
  | { readonly t: "crash"; readonly error: Error };

/** A pool of search workers, kept between runs (tests run many small models on one pool). */
export class ExplorePool {
  private readonly workers: Worker[] = [];
  private readonly inbox: Reply[][] = [];
  private readonly waiting: (((r: Reply) => void) | undefined)[] = [];
  readonly probes: SharedArrayBuffer;
  private closed = false;

  /**
   * `heapMb`: each worker's JavaScript heap (a step that allocates without end stops there, and
   * the run is "incomplete", naming it).
   */
  constructor(
    readonly size: number,
    readonly heapMb = WORKER_HEAP_MB,
  ) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`workers ${size}: expected an integer >= 1`);
    this.probes = new SharedArrayBuffer(4 * PROBE_WORDS * size);
    for (let w = 0; w < size; w++) this.start(w);
  }

  private start(w: number): void {
    const worker = new Worker(new URL("./parallel-boot.mjs", import.meta.url), {
      workerData: { index: w },
      resourceLimits: { maxOldGenerationSizeMb: this.heapMb },
    });
    this.workers[w] = worker;
    this.inbox[w] = [];
    this.waiting[w] = undefined;
    const deliver = (r: Reply): void => {
      const f = this.waiting[w];
      if (f) {
        this.waiting[w] = undefined;
        f(r);
      } else this.inbox[w]!.push(r);
    };
    worker.on("message", (m: FromWorker) => deliver(m));
    worker.on("error", (e: Error) => deliver({ t: "crash", error: e }));
    worker.on("exit", (code) => deliver({ t: "exit", code }));
    worker.unref();
  }

  post(w: number, m: ToWorker): void {
    this.workers[w]!.postMessage(m);
  }

  /** The next reply of worker w. */
  next(w: number): Promise<Reply> {
    const q = this.inbox[w]!;
    if (q.length > 0) return Promise.resolve(q.shift()!);
    return new Promise((r) => (this.waiting[w] = r));
  }

  /** Posts `m(w)` to every worker and waits for every answer. */
  async all(m: (w: number) => ToWorker): Promise<Reply[]> {
    for (let w = 0; w < this.size; w++) this.post(w, m(w));
    return Promise.all(Array.from({ length: this.size }, (_, w) => this.next(w)));
  }

  /** Whether the workers keep the process alive (while a search runs). */
  hold(on: boolean): void {
    for (const w of this.workers)
      if (on) w.ref();
      else w.unref();
  }

  /** Ends every worker (a stuck one too); the pool is then unusable. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/**
 * Explores `model` with `opts.workers` worker threads, each compiling the model from `source`
 * (the same definition, variant and parameters). One worker, DFS or fingerprint mode: the serial
 * explorer (the result's `parallel` says why).
 */
export async function exploreParallel(
  model: CompiledModel,
  source: ModelSource,
  opts: ParallelOptions,
  pool?: ExplorePool,
): Promise<CheckResult> {
  const n = opts.workers;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`workers ${n}: expected an integer >= 1`);
  const why = n === 1 ? undefined : serialOnly(opts, model);
  if (n === 1 || why !== undefined) {
    const r = await explore(model, opts);
    return { ...r, parallel: { workers: 1, ...(why ? { note: `${why}: ran on 1 thread` } : {}) } };
  }
  const own = pool === undefined;
  const p = pool ?? new ExplorePool(n);
  p.hold(true);
  try {
    return await new ParallelSearch(model, source, opts, p).run();
  } finally {
    if (own) await p.close();
    else p.hold(false);
  }
}

class ParallelSearch {
  private readonly packer: Packer;
  private readonly words: number;
  private shared!: Shared;
  private v!: Views;
  private readonly k: Keeper;
  private stop: StopReason | undefined;
  private stuck: string | undefined;
  /** First index (= serial number) of each level. */
  private readonly levelStart: number[] = [0];
  private readonly t0 = performance.now();
  private readonly deadline: number;
  private readonly maxMemory: number;
  private readonly liveness: boolean;
  private readonly iw: number;
  private lockNotes: LockNote[] = [];
  private edges: Int32Array[] = [];
  private maxLevel = 0;

  constructor(
    private readonly model: CompiledModel,
    private readonly source: ModelSource,
    private readonly opts: ParallelOptions,
    private readonly pool: ExplorePool,
  ) {
    this.packer = new Packer(model.layout);
    this.words = this.packer.words;
    this.deadline = opts.maxSeconds !== undefined ? this.t0 + opts.maxSeconds * 1000 : Infinity;
    this.maxMemory = opts.maxMemory ?? DEFAULT_MAX_MEMORY;
    this.liveness = (opts.liveness ?? model.liveness) && model.threads.length <= LIVENESS_MAX_CPUS;
    this.k = new Keeper(model, this.packer, opts.stopAtFirst === true);
    this.iw = this.k.iw;
  }

  private bytesPerState(): number {
    return (
      this.words * 4 +
      TABLE_BYTES_PER_STATE +
      this.iw * 4 +
      (this.liveness ? LIVENESS_BYTES_PER_STATE : 0)
    );
  }

  private alloc(bits: number, ctl?: SharedArrayBuffer): Shared {
    const cap = 1 << bits;
    return {
      ctl: ctl ?? new SharedArrayBuffer(4 * CTL_WORDS),
      table: new SharedArrayBuffer(4 * cap),
      bits,
      cap,
      arena: new SharedArrayBuffer(4 * cap * this.words),
      parent: new SharedArrayBuffer(4 * cap),
      move: new SharedArrayBuffer(4 * cap),
      order: new SharedArrayBuffer(4 * cap),
      pkey: new SharedArrayBuffer(4 * cap),
      ev: new SharedArrayBuffer(4 * cap),
      iw: this.iw,
      inv: new SharedArrayBuffer(4 * cap * this.iw),
      probes: this.pool.probes,
    };
  }

  private memoryBytes(): number {
    const count = this.v.ctl[C_COUNT]!;
    return (
      this.shared.table.byteLength +
      count * (this.words * 4 + 12) +
      this.maxLevel * (8 + 4 * this.iw) +
      this.edges.reduce((a, e) => a + e.byteLength, 0)
    );
  }

  async run(): Promise<CheckResult> {
    const model = this.model;
    this.shared = this.alloc(INITIAL_BITS);
    this.v = new Views(this.shared);
    const ctl = this.v.ctl;
    const statesByMemory = Math.floor(this.maxMemory / this.bytesPerState());
    const maxStates = Math.min(this.opts.maxStates ?? Infinity, 2 ** 30);
    ctl[C_LIMIT] = Math.min(maxStates, statesByMemory);
    ctl[C_LIMIT_MEMORY] = statesByMemory < maxStates ? 1 : 0;
    ctl[C_STOP_SERIAL] = 0x7fffffff;
    ctl[C_GROW_AT] = Math.floor(this.shared.cap * GROW_LOAD);
    // the initial state, with its invariants (in this thread)
    model.mem.resetLockOrder();
    const h = this.packer.pack(model.init);
    this.v.table[h >>> (32 - this.shared.bits)] = (h << this.shared.bits) | 1;
    this.v.arena.set(this.packer.out, 0);
    this.v.parent[0] = -1;
    this.v.move[0] = 0;
    ctl[C_COUNT] = 1;
    const init = invariantEvents(model, model.init);
    init.events.forEach((e, k) => this.k.take({ ...e, state: 0, lastMove: -1, key: -1, sub: k }));
    if (init.error) {
      this.k.error = {
        key: -1,
        sub: 0,
        state: 0,
        lastMove: -1,
        where: init.error.where,
        error: { name: "ModelError", message: "", stack: undefined },
      };
      return this.result(init.error.error);
    }
    this.v.order[0] = init.ok ? 0 : ~0;
    const loaded = await this.pool.all(() => ({
      t: "load",
      source: this.source,
      variant: model.variant,
      params: model.params,
      opts: {
        races: this.opts.races ?? model.races,
        liveness: this.liveness,
        stopAtFirst: this.opts.stopAtFirst === true,
        maxDepth: this.opts.maxDepth ?? Infinity,
      },
      shared: this.shared,
    }));
    for (const r of loaded) this.expectReply(r, "loaded");
    const timer = setInterval(() => this.tick(), 50);
    try {
      await this.levels();
      if (this.pool.isClosed) return this.result(undefined);
      const fin = await this.pool.all(() => ({ t: "finish" }));
      for (const r of fin) {
        const f = this.expectReply(r, "finished");
        this.lockNotes.push(...f.lockNotes);
        this.edges.push(f.edges);
      }
    } finally {
      clearInterval(timer);
    }
    return this.result(undefined);
  }

  /** A worker's answer, of the kind expected; anything else ends the run with its error. */
  private expectReply<T extends FromWorker["t"]>(r: Reply, t: T): Extract<FromWorker, { t: T }> {
    if (r.t === t) return r as Extract<FromWorker, { t: T }>;
    if (r.t === "failed") throw fromWire(r.error);
    if (r.t === "crash") throw r.error;
    if (r.t === "exit") throw new Error(`a search worker exited (code ${r.code}) before answering`);
    throw new Error(`a search worker answered ${r.t} instead of ${t}`);
  }

  private lastProgress = performance.now();

  /** Every 50 ms during a phase: bounds, interrupts, progress, a stuck worker. */
  private tick(): void {
    const ctl = this.v.ctl;
    const now = performance.now();
    if (Atomics.load(ctl, C_STOP) === 0) {
      if (this.opts.signal?.stop) Atomics.compareExchange(ctl, C_STOP, 0, STOP_INTERRUPTED);
      else if (now > this.deadline) Atomics.compareExchange(ctl, C_STOP, 0, STOP_TIME);
      else if (this.memoryBytes() > this.maxMemory)
        Atomics.compareExchange(ctl, C_STOP, 0, STOP_MEMORY);
    }
    if (this.opts.onProgress && now - this.lastProgress >= (this.opts.progressEveryMs ?? 1000)) {
      this.lastProgress = now;
      const seconds = (now - this.t0) / 1000;
      const states = Atomics.load(ctl, C_COUNT);
      this.opts.onProgress({
        states,
        transitions: this.k.transitions,
        seconds,
        statesPerSecond: states / Math.max(seconds, 1e-9),
        depth: this.levelStart.length - 1,
        frontier: states - this.levelStart[this.levelStart.length - 1]!,
        memoryBytes: this.memoryBytes(),
      });
    }
  }

  /** Waits for every worker's answer to a phase; ends stuck workers after a stop. */
  private async phase(m: (w: number) => ToWorker, only?: number): Promise<Reply[]> {
    const n = only !== undefined ? 1 : this.pool.size;
    const answered = new Array<boolean>(this.pool.size).fill(true);
    for (let w = 0; w < n; w++) answered[only ?? w] = false;
    for (let w = 0; w < n; w++) this.pool.post(only ?? w, m(only ?? w));
    const answers = Promise.all(
      Array.from({ length: n }, (_, k) => only ?? k).map((w) =>
        this.pool.next(w).then((r) => {
          answered[w] = true;
          return r;
        }),
      ),
    );
    const ctl = this.v.ctl;
    let stopSeen = 0;
    for (;;) {
      const r = await Promise.race([
        answers,
        new Promise<undefined>((res) => setTimeout(() => res(undefined), 100)),
      ]);
      if (r !== undefined) {
        const oom = r.find(
          (x) =>
            x.t === "crash" && (x.error as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY",
        );
        if (oom !== undefined) {
          Atomics.store(ctl, C_STOP, STOP_MEMORY);
          this.stuck =
            `${this.stuckNames(r.indexOf(oom))} did not return (its code allocated past the worker's ` +
            `heap limit (${this.pool.heapMb} MB))`;
          await this.pool.close();
          throw new StuckError();
        }
        return r;
      }
      if (
        Atomics.load(ctl, C_STOP) === STOP_TIME ||
        Atomics.load(ctl, C_STOP) === STOP_INTERRUPTED
      ) {
        stopSeen ||= performance.now();
        if (performance.now() - stopSeen > GRACE_MS) {
          this.stuck = this.stuckSteps(answered);
          await this.pool.close();
          throw new StuckError();
        }
      }
    }
  }

  /** The steps the workers run (worker `only`, or those that have not answered). */
  private stuckNames(only?: number, answered?: readonly boolean[]): string {
    const pr = new Int32Array(this.pool.probes);
    const names: string[] = [];
    for (let w = 0; w < this.pool.size; w++) {
      if (only !== undefined && w !== only) continue;
      if (answered?.[w] === true) continue;
      const a = pr[w * PROBE_WORDS]!;
      const b = pr[w * PROBE_WORDS + 1]!;
      names.push(stepName(this.model, a, b));
    }
    return [...new Set(names)].join(" or ");
  }

  private stuckSteps(answered: readonly boolean[]): string {
    const after =
      Atomics.load(this.v.ctl, C_STOP) === STOP_TIME
        ? `--max-seconds ${this.opts.maxSeconds}`
        : "the interrupt";
    return (
      `${this.stuckNames(undefined, answered)} did not return (a worker was still running ` +
      `${(GRACE_MS / 1000).toFixed(1)} s after ${after}); its code may loop forever`
    );
  }

  private async levels(): Promise<void> {
    const ctl = this.v.ctl;
    /** What is left of level `depth` after a worker running it alone paused (to grow). */
    let resume: number[] | undefined;
    for (let depth = 0; ; depth++) {
      const start = this.levelStart[depth]!;
      const next = resume !== undefined ? ctl[C_NEXT]! : Atomics.load(ctl, C_COUNT);
      if (next === start) break;
      this.maxLevel = Math.max(this.maxLevel, next - start);
      if (resume === undefined && next - start < SOLO_PER_WORKER * this.pool.size) {
        // a small level: one worker runs it, and the small levels after it, alone (a round
        // trip per level to every worker would cost more than the level)
        ctl[C_NEXT] = next;
        ctl[C_PAUSE] = 0;
        let replies: Reply[];
        try {
          replies = await this.phase(
            () => ({
              t: "solo",
              depth,
              work: [start, next],
              shared: this.shared,
              soloMax: SOLO_PER_WORKER * this.pool.size,
            }),
            0,
          );
        } catch (e) {
          if (e instanceof StuckError) {
            this.stop = stopReason(Atomics.load(ctl, C_STOP));
            return;
          }
          throw e;
        }
        const s = this.expectReply(replies[0]!, "solo").report;
        this.k.absorb(s.keeper);
        for (const x of s.starts) this.levelStart.push(x);
        this.orderedTo = s.orderedTo;
        if (s.ended) {
          this.stopOn(Atomics.load(ctl, C_STOP));
          return;
        }
        if (s.work !== undefined) {
          await this.grow();
          resume = s.work;
        }
        depth = s.depth - 1;
        continue;
      }
      if (resume === undefined) ctl[C_NEXT] = next;
      let work: number[] = resume ?? [start, next];
      resume = undefined;
      for (;;) {
        ctl[C_CURSOR] = 0;
        ctl[C_PAUSE] = 0;
        let replies: Reply[];
        try {
          replies = await this.phase(() => ({ t: "expand", depth, work, shared: this.shared }));
        } catch (e) {
          if (e instanceof StuckError) {
            this.stop = stopReason(Atomics.load(ctl, C_STOP));
            return;
          }
          throw e;
        }
        const reports = replies.map((r) => this.expectReply(r, "expanded").report);
        const cursor = Math.min(ctl[C_CURSOR]!, workSize(work));
        const leftover = reports.flatMap((r) => r.leftover);
        this.k.merge(reports);
        if (ctl[C_PAUSE] === 0 || Atomics.load(ctl, C_STOP) !== 0) break;
        // the tables are full enough to grow: grow, then go on with what is left of the level
        await this.grow();
        work = [...leftover, ...rest(work, cursor)];
        if (workSize(work) === 0) break;
      }
      this.k.finishLevel(this.v, start, next);
      this.orderedTo = Atomics.load(ctl, C_COUNT);
      const grew = Atomics.load(ctl, C_COUNT) > next;
      if (grew) this.levelStart.push(next);
      const stopCode = Atomics.load(ctl, C_STOP);
      if (stopCode !== 0) {
        this.stopOn(stopCode);
        return;
      }
      if (this.k.error !== undefined) return;
      if (this.opts.stopAtFirst === true && this.k.found.size > 0) return;
      if (!grew) return;
    }
  }

  private stopOn(stopCode: number): void {
    if (stopCode === 0) return;
    this.stop = stopReason(stopCode);
    if (stopCode === STOP_OVERFLOW)
      throw new Error(
        "parallel search: the tables filled within one level phase (a state with very many successors); run with --workers 1",
      );
  }

  private async grow(): Promise<void> {
    const count = Atomics.load(this.v.ctl, C_COUNT);
    // by 4: each growth rehashes every state (a cache miss each), so fewer growths
    let bits = this.shared.bits + 2;
    while (count >= (1 << bits) * GROW_LOAD) bits++;
    if (bits > 30) {
      Atomics.store(this.v.ctl, C_STOP, STOP_MEMORY);
      return;
    }
    const old = this.shared;
    const ov = this.v;
    const s = this.alloc(bits, old.ctl);
    const nv = new Views(s);
    const next = ov.ctl[C_NEXT]!;
    nv.arena.set(ov.arena.subarray(0, count * this.words));
    nv.parent.set(ov.parent.subarray(0, count));
    nv.move.set(ov.move.subarray(0, count));
    nv.order.set(ov.order.subarray(0, next));
    nv.pkey.set(ov.pkey.subarray(0, count - next));
    nv.ev.set(ov.ev.subarray(0, count - next));
    nv.inv.set(ov.inv.subarray(0, (count - next) * this.iw));
    nv.ctl[C_CURSOR] = 0;
    const replies = await this.pool.all(() => ({
      t: "rehash",
      old: old.table,
      oldBits: old.bits,
      shared: s,
      words: this.words,
    }));
    for (const r of replies) this.expectReply(r, "rehashed");
    this.shared = s;
    this.v = nv;
    nv.ctl[C_GROW_AT] = Math.floor(s.cap * GROW_LOAD);
  }

  private stateAt(i: number): Int32Array {
    const b = new Int32Array(this.model.layout.words);
    this.packer.unpack32(this.v.arena, i * this.words, b);
    return b;
  }

  private depthOf(i: number): number {
    return levelOf(this.levelStart, i);
  }

  private scheduleOf(state: number, lastMove: number): Move[] {
    const moves = pathTo(this.v, state);
    if (lastMove >= 0) moves.push(lastMove);
    return moves.map(decodeMove);
  }

  /** The liveness check on the recorded graph, numbered as the serial explorer numbers it. */
  private livenessCheck(): Lasso[] {
    if (!this.liveness || this.k.error !== undefined || this.stuck !== undefined) return [];
    if (this.opts.stopAtFirst === true && this.k.found.size > 0) return [];
    const v = this.v;
    const count = Atomics.load(v.ctl, C_COUNT);
    const need = this.memoryBytes() + (ANALYSIS_BYTES_PER_STATE + this.words * 4 + 16) * count;
    if (need > this.maxMemory) {
      this.stop ??= "memory";
      return [];
    }
    // serial numbers: the ordered levels, and the last (unordered) one as it is
    const serialOf = new Int32Array(count);
    const idxOf = new Int32Array(count);
    for (let s = 0; s < count; s++) {
      const o = s < this.orderedTo ? v.order[s]! : s;
      const i = o < 0 ? ~o : o;
      idxOf[s] = i;
      serialOf[i] = s;
    }
    const store = new StateStore(this.words);
    const packed = new Int32Array(this.words);
    for (let s = 0; s < count; s++) {
      const i = idxOf[s]!;
      packed.set(v.arena.subarray(i * this.words, (i + 1) * this.words));
      const p = v.parent[i]!;
      store.add(packed, 0, p < 0 ? -1 : serialOf[p]!, v.move[i]!, this.depthOf(i));
    }
    const g = new LivenessGraph();
    for (const e of this.edges) {
      for (let k = 0; k < e.length;) {
        const i = e[k]!;
        const en = e[k + 1]!;
        const ne = e[k + 2]!;
        const e0 = g.ne;
        for (let x = 0; x < ne; x++) g.edge(serialOf[e[k + 3 + 2 * x]!]!, e[k + 4 + 2 * x]!);
        g.commit(serialOf[i]!, e0, en);
        k += 3 + 2 * ne;
      }
    }
    try {
      return checkLiveness({ model: this.model, store, packer: this.packer, graph: g });
    } catch (e) {
      if (!(e instanceof ModelError)) throw e;
      this.livenessError = e;
      return [];
    }
  }

  /** States [0, orderedTo) have their serial order in `order` (the last level may not). */
  private orderedTo = 1;
  private livenessError: ModelError | undefined;

  private result(initError: Error | undefined): CheckResult {
    const model = this.model;
    const v = this.v;
    const count = Atomics.load(v.ctl, C_COUNT);
    const tl = performance.now();
    const cl = process.cpuUsage();
    const lassos = initError ? [] : this.livenessCheck();
    const livenessSeconds = (performance.now() - tl) / 1000;
    const cpu = process.cpuUsage(cl);
    const livenessCpuSeconds = (cpu.user + cpu.system) / 1e6;
    if (
      this.k.error === undefined &&
      initError === undefined &&
      this.livenessError === undefined &&
      !(this.opts.stopAtFirst && this.k.found.size > 0)
    ) {
      const lo = new LockOrder();
      const m = model.mem;
      for (const n of [...this.lockNotes].sort((a, b) => a.key - b.key)) {
        m.loNew[0] = n.edge;
        m.loNewLen = 1;
        lo.note(m, n.state, n.move);
      }
      m.loNewLen = 0;
      const cyc = lo.cycle(
        model,
        (state, move) => this.scheduleOf(state, move),
        (state) => this.stateAt(state),
      );
      if (cyc) {
        this.k.found.set("lock-order", {
          property: "lock-order",
          kind: "lock-order",
          severity: model.mem.severities.get("lock-order"),
          message: cyc.message,
          state: cyc.state,
          lastMove: cyc.move,
          key: Infinity,
          sub: 0,
          paths: cyc.paths,
        });
      }
    }
    const seconds = (performance.now() - this.t0) / 1000;
    const found = [...this.k.found.values()].sort((a, b) =>
      before(a, b) ? -1 : before(b, a) ? 1 : 0,
    );
    const len = (f: Found): number => this.depthOf(f.state) + (f.lastMove >= 0 ? 1 : 0);
    const heap = getHeapStatistics();
    const room = Math.min(
      this.maxMemory - this.memoryBytes(),
      (heap.heap_size_limit - heap.used_heap_size) / 2,
    );
    let need = found.reduce((a, f) => a + len(f) * TRACE_BYTES_PER_STEP, 0);
    const omit = new Set<Found>();
    for (const f of [...found].sort((a, b) => len(b) - len(a))) {
      if (need <= room) break;
      omit.add(f);
      need -= len(f) * TRACE_BYTES_PER_STEP;
    }
    const violations: ViolationReport[] = found.map((f) => {
      const sev = f.severity === undefined ? {} : { severity: f.severity };
      if (omit.has(f)) {
        const length = len(f);
        return {
          property: f.property,
          kind: f.kind,
          ...sev,
          message: f.message,
          schedule: [],
          length,
          traceOmitted:
            `its ${length} steps would take about ${mb(length * TRACE_BYTES_PER_STEP)} MB, past the ` +
            `memory budget (${mb(this.maxMemory)} MB, of which the search used ${mb(this.memoryBytes())} MB); ` +
            `raise --max-memory to get it`,
        };
      }
      const schedule = this.scheduleOf(f.state, f.lastMove);
      return {
        property: f.property,
        kind: f.kind,
        ...sev,
        message: f.message,
        schedule,
        length: schedule.length,
        ...(f.paths ? { paths: f.paths } : {}),
      };
    });
    for (const l of lassos) {
      const schedule = [...l.stem, ...l.cycle].map(decodeMove);
      violations.push({
        property: l.property,
        kind: "liveness",
        message: l.message,
        schedule,
        length: schedule.length,
        ...(l.cycle.length > 0 ? { cycle: l.stem.length } : {}),
      });
    }
    const err =
      initError ?? this.livenessError ?? (this.k.error ? fromWire(this.k.error.error) : undefined);
    const complete = this.stop === undefined && !this.k.depthCut && err === undefined;
    const base = {
      model: model.name,
      variant: model.variant,
      params: model.params,
      states: count,
      transitions: this.k.transitions,
      seconds,
      maxDepth: this.depthOf(count - 1),
      complete,
      stopReason: this.stop ?? (this.k.depthCut ? ("depth" as const) : undefined),
      memoryBytes: this.memoryBytes(),
      violations,
      liveness: this.liveness,
      livenessSeconds,
      livenessCpuSeconds,
      parallel: { workers: this.pool.size },
      ...(this.stuck !== undefined ? { stuck: this.stuck } : {}),
    };
    if (err !== undefined) {
      const me = this.k.error ?? { state: 0, lastMove: -1, where: undefined };
      const e = me.lastMove >= 0 ? this.withStack(err, me.state, me.lastMove) : err;
      const schedule = this.scheduleOf(me.state, me.lastMove);
      let where = me.where ?? "";
      if (me.lastMove >= 0) {
        const mv = decodeMove(me.lastMove);
        const th = model.threads[mv.cpu]!;
        const pre = this.stateAt(me.state);
        const node = th.nodes[pre[th.pcOff]!]!;
        where = `CPU${mv.cpu} (${th.name}) step \`${labelOf(model, mv.cpu, node, pre, undefined, mv.choice)}\` at ${node.site}`;
      }
      return {
        ...base,
        verdict: "error",
        error: {
          code: e instanceof ModelError ? e.code : "E_STEP",
          message: e.message,
          hint: e instanceof ModelError ? e.hint : "a step of the model threw; see the stack below",
          where,
          stack: e instanceof ModelError ? undefined : e.stack,
          schedule,
          stepFailed: me.lastMove >= 0,
        },
      };
    }
    const verdict = violations.length > 0 ? "violated" : complete ? "holds" : "incomplete";
    return { ...base, verdict };
  }

  /** The error a step threw in a worker, with its stack here: the step is run again. */
  private withStack(err: Error, state: number, move: number): Error {
    if (err instanceof ModelError || err instanceof Violation) return err;
    const { cpu, choice } = decodeMove(move);
    try {
      execute(this.model, cpu, choice, this.stateAt(state));
    } catch (e) {
      if (e instanceof Error && e.message === err.message) return e;
    }
    return err;
  }
}

class StuckError extends Error {}

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);

function stopReason(code: number): StopReason {
  return code === STOP_STATES
    ? "states"
    : code === STOP_TIME
      ? "time"
      : code === STOP_INTERRUPTED
        ? "interrupted"
        : "memory";
}

/** The step a probe names (rt/probe.ts). */
function stepName(model: CompiledModel, a: number, b: number): string {
  if (a === PROBE_INVARIANT) return `invariant "${model.invariants[b]?.name ?? b}"`;
  if (a === PROBE_END_STATE) return `end-state property "${model.endStates[b]?.name ?? b}"`;
  const th = model.threads[a];
  const node = th?.nodes[b];
  if (!th || !node) return "a step";
  const label =
    typeof node.label === "string"
      ? node.label
      : labelOf(model, a, node, model.init, undefined, 0).replace(/ -> .*$/, "");
  return `CPU${a} (${th.name}) step \`${label}\` at ${node.site}`;
}

export type { ViolationKind };
