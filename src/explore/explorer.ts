// The explicit-state explorer: one loop over a frontier (queue: BFS, stack: DFS) and a visited
// set, checking every property as it goes. The inner loop allocates nothing per state: states
// are packed into the store's chunks, moves and parents are Int32Arrays.

import type { CompiledModel } from "../model/model.ts";
import {
  ACC_MARKED,
  ACC_RACY,
  ACC_SHIFT,
  ACC_WRITE,
  ModelError,
  Violation,
  type Severity,
} from "../rt/mem.ts";
import {
  decodeMove,
  encodeMove,
  execute,
  labelOf,
  successorPc,
  waitingFor,
  type Move,
} from "../rt/machine.ts";
import { PackedQueue, PackedStack, Queue, Stack, type Frontier } from "./frontier.ts";
import { Packer, StateStore } from "./store.ts";
import { FingerprintSet, HashTable, type VisitedSet } from "./visited.ts";
import {
  ANALYSIS_BYTES_PER_STATE,
  checkLiveness,
  LIVENESS_MAX_CPUS,
  LivenessGraph,
  type Lasso,
} from "./liveness.ts";
import { LockOrder } from "./lockorder.ts";
import { checkSymmetry, concretise, Symmetry, SymmetryBroken, type Concrete } from "./symmetry.ts";
import { PartialOrder } from "./por.ts";
import type { World } from "../model/model.ts";
import type {
  LockPath,
  CheckResult,
  Progress,
  ViolationKind,
  ViolationReport,
  StopReason,
} from "./result.ts";
import { totalmem } from "node:os";
import { match } from "ts-pattern";
import { PROBE_END_STATE, PROBE_INVARIANT, PROBE_REPORTING, stepProbe } from "../rt/probe.ts";
import { getHeapStatistics } from "node:v8";

export interface ExploreOptions {
  strategy?: "bfs" | "dfs";
  maxStates?: number;
  maxDepth?: number;
  maxSeconds?: number;
  /** Budget for the explorer's own tables, in bytes. */
  maxMemory?: number;
  /** Stop at the first violation of any property (default: go on to find every property's first). */
  stopAtFirst?: boolean;
  /** Override the model's data-race check. */
  races?: boolean;
  /**
   * Override the model's liveness check (termination under weak fairness, eventually, leadsTo;
   * default on): the search then keeps every edge of the state graph.
   */
  liveness?: boolean;
  onProgress?: (p: Progress) => void;
  progressEveryMs?: number;
  /** Set `stop` to true (e.g. from a SIGINT handler) to end the run with "incomplete". */
  signal?: { stop: boolean };
  /**
   * Fingerprint mode: the visited set keeps a 64-bit fingerprint per state instead of the state
   * (as TLC does), the store only parent links and moves, and the frontier the states still to
   * expand. A collision of two states' fingerprints would hide the second one: the result gives
   * the probability of that (CheckResult.fingerprint). No liveness check in this mode (it needs
   * the stored states and edges): CheckResult.liveness is false.
   */
  fingerprint?: boolean;
  /**
   * Symmetry reduction over the CPUs and objects the model declares alike (default on where
   * declared; explore/symmetry.ts). Off while the liveness check runs (it needs the unreduced
   * graph) and with lockdep keyed by lock instance: CheckResult.symmetry says which.
   */
  symmetry?: boolean;
  /**
   * Partial-order reduction (explore/por.ts; default on): a state whose CPU has a CPU-local next
   * step is expanded with that step alone. Off while the liveness check runs (it needs every
   * edge). A BFS counterexample may then be longer than the shortest: `reduce: false` for that.
   */
  reduce?: boolean;
}

/**
 * States that 128 expansions (the interval between two budget checks) may add, at most, in any
 * model we bundle: the budget check counts the growth of the tables within this many states.
 */
const GROWTH_WINDOW = 1 << 15;

/**
 * What one step of a counterexample costs while it is built, handed over, replayed and saved:
 * the move in the tables' path, its { cpu, choice } object and array slot, copies in transit.
 */
export const TRACE_BYTES_PER_STEP = 64;

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);

export const DEFAULT_MAX_MEMORY = Math.min(8 * 2 ** 30, Math.floor(totalmem() * 0.5));

interface Found {
  property: string;
  kind: ViolationKind;
  severity: Severity | undefined;
  message: string;
  /** State whose path leads to the violation, plus an optional last move. */
  state: number;
  lastMove: number;
  paths?: readonly LockPath[];
}

export async function explore(
  model: CompiledModel,
  opts: ExploreOptions = {},
): Promise<CheckResult> {
  const ex = new Explorer(model, opts);
  const r = await ex.run();
  // an invariant looked at CPU locals or program counters (w.cpus), which the reduction treats
  // as invisible: that run proves nothing, the search is done again unreduced (see por.ts)
  if (ex.porInvisibleBroken) {
    const again = await new Explorer(model, { ...opts, reduce: false }).run();
    return {
      ...again,
      reduction: {
        on: false,
        why: "an invariant reads CPU locals or program counters (w.cpus): searched again unreduced",
      },
    };
  }
  return r;
}

class Explorer {
  private readonly packer: Packer;
  private readonly store: StateStore;
  private readonly visited: VisitedSet;
  private readonly frontier: Frontier;
  /** Fingerprint mode: the frontier holds the packed states (the store does not). */
  private readonly packedFrontier: PackedQueue | PackedStack | null;
  private readonly cur: Int32Array;
  private readonly next: Int32Array;
  private readonly races: boolean;
  /** The state graph for the liveness check, or null when it is off. */
  private readonly lv: LivenessGraph | null;
  private readonly found = new Map<string, Found>();
  /** lockdep's lock-order edges, each with the state and move that first took it. */
  private readonly lockOrder = new LockOrder();
  private transitions = 0;
  private maxDepthSeen = 0;
  private depthCut = false;
  private stop: StopReason | undefined;
  private modelError: { error: Error; state: number; lastMove: number; where?: string } | undefined;
  private readonly t0 = performance.now();
  // data-race bookkeeping: per CPU, the accesses of its enabled step in the current state
  private readonly accBuf: Int32Array[];
  private readonly accLen: Int32Array;
  private readonly accRes: unknown[];
  /** Offsets of the lock words (a race needs the two accesses not both inside one lock). */
  private readonly lockOffs: Int32Array;
  private readonly maxStates: number;
  private readonly maxDepth: number;
  private readonly maxMemory: number;
  private readonly deadline: number;
  /** Symmetry reduction (canonical states), or null when off. */
  private readonly sym: Symmetry | null;
  private readonly symNote: string | undefined;
  /** The concrete form of the last path scheduleOf() mapped back (symmetry only). */
  private lastConcrete: Concrete | undefined;
  /** A data race found by findRace(): CPU a's access x and CPU b's access y. */
  private raceA = 0;
  private raceX = 0;
  private raceB = 0;
  private raceY = 0;
  /** findRace()'s scratch: a, x, b, y. */
  private readonly race = new Int32Array(4);
  /** checkEndStates()'s scratch: what broke or threw. */
  private readonly endFail: EndStateFailure = { message: "", error: undefined, where: undefined };
  /** checkInvariants()'s scratch: what broke or threw. */
  private readonly invFail = invariantFailure();
  /** Partial-order reduction, or null when it is off (explore/por.ts). */
  private readonly por: PartialOrder | null;
  /** The world invariants are given: under reduction, one whose `cpus` getter is watched. */
  private readonly invWorld: World;
  /** Set when an invariant used `w.cpus` in a reduced search: its result is thrown away. */
  porInvisibleBroken = false;

  constructor(
    private readonly model: CompiledModel,
    private readonly opts: ExploreOptions,
  ) {
    this.packer = new Packer(model.layout);
    const dfs = opts.strategy === "dfs";
    if (opts.fingerprint === true) {
      this.store = new StateStore(this.packer.words, { states: false, compactParents: true });
      this.visited = new FingerprintSet();
      const out = this.packer.out;
      this.packedFrontier = dfs
        ? new PackedStack(out, this.packer.words)
        : new PackedQueue(out, this.packer.words);
      this.frontier = this.packedFrontier;
    } else {
      this.store = new StateStore(this.packer.words);
      this.visited = new HashTable(this.store);
      this.packedFrontier = null;
      this.frontier = dfs ? new Stack() : new Queue();
    }
    this.cur = new Int32Array(model.layout.words);
    this.next = new Int32Array(model.layout.words);
    this.races = opts.races ?? model.races;
    const n = model.threads.length;
    // liveness walks the stored states and edges: not in fingerprint mode, which stores neither
    this.lv =
      opts.fingerprint !== true && (opts.liveness ?? model.liveness) && n <= LIVENESS_MAX_CPUS
        ? new LivenessGraph()
        : null;
    this.accBuf = Array.from({ length: n }, () => new Int32Array(64));
    this.accLen = new Int32Array(n);
    this.accRes = new Array<unknown>(n);
    this.lockOffs = lockOffsets(model);
    this.maxStates = opts.maxStates ?? Infinity;
    this.maxDepth = opts.maxDepth ?? Infinity;
    this.maxMemory = opts.maxMemory ?? DEFAULT_MAX_MEMORY;
    this.deadline = opts.maxSeconds !== undefined ? this.t0 + opts.maxSeconds * 1000 : Infinity;
    // symmetry: on where declared, unless turned off or unsound for what this run checks
    const declared = model.alike.length > 0;
    this.symNote =
      !declared || opts.symmetry === false
        ? declared
          ? "off (--no-symmetry)"
          : undefined
        : this.lv !== null
          ? "off: the liveness check needs the unreduced state graph (--no-liveness to use the reduction)"
          : model.lockOrder === "instance"
            ? "off: lockdep keyed by lock instance names the members' own locks"
            : undefined;
    this.sym = declared && this.symNote === undefined ? new Symmetry(model) : null;
    this.por = opts.reduce !== false && this.lv === null ? new PartialOrder(model) : null;
    const w = model.world;
    const broken = (): void => {
      this.porInvisibleBroken = true;
    };
    this.invWorld =
      this.por === null
        ? w
        : {
            s: w.s,
            m: w.m,
            get cpus() {
              broken();
              return w.cpus;
            },
          };
  }

  async run(): Promise<CheckResult> {
    const m = this.model.mem;
    m.resetLockOrder();
    if (this.sym !== null) {
      try {
        checkSymmetry(this.model, this.sym);
      } catch (e) {
        if (!(e instanceof SymmetryBroken)) throw e;
        this.modelError = {
          error: symmetryError(e),
          state: 0,
          lastMove: -1,
          where: this.symWhere(),
        };
        return this.result();
      }
    }
    // the initial state (its canonical form, under symmetry)
    const init = this.model.init.slice();
    if (this.sym !== null) this.sym.canon(init);
    const h = this.packer.pack(init);
    const slot0 = this.visited.findOrSlot(this.packer.out, h);
    const i0 = this.store.add(this.packer.out, h, -1, 0, 0);
    this.visited.insertAt(-1 - slot0, i0, h);
    m.b = this.model.init;
    if (this.checkInvariants(i0)) this.frontier.push(i0);

    let lastProgress = performance.now();
    const every = this.opts.progressEveryMs ?? 1000;
    while (this.frontier.size > 0 && this.stop === undefined && this.modelError === undefined) {
      // Steps that raise a Violation throw an Error each time: without a stack to capture
      // that costs little. A step that throws anything else is run again in result() for its
      // stack.
      const stackLimit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        this.slice(performance.now() + 50);
      } catch (e) {
        // the budget is checked ahead of every growth, so this is the machine refusing memory
        // below the budget: end the run as incomplete, never with a crash
        if (!(e instanceof RangeError) || !/alloc|length/i.test(e.message)) throw e;
        this.stop = "memory";
      } finally {
        Error.stackTraceLimit = stackLimit;
      }
      const now = performance.now();
      if (this.opts.onProgress && now - lastProgress >= every) {
        lastProgress = now;
        this.opts.onProgress(this.progress());
      }
      // let signal handlers and timers run
      await new Promise<void>((r) => setImmediate(r));
      if (this.opts.signal?.stop) this.stop = "interrupted";
    }
    return this.result();
  }

  private progress(): Progress {
    const seconds = (performance.now() - this.t0) / 1000;
    return {
      states: this.store.count,
      transitions: this.transitions,
      seconds,
      statesPerSecond: this.store.count / Math.max(seconds, 1e-9),
      depth: this.maxDepthSeen,
      frontier: this.frontier.size,
      memoryBytes: this.memoryBytes(),
    };
  }

  private memoryBytes(): number {
    return (
      this.store.bytes +
      this.visited.bytes +
      this.frontier.bytes +
      (this.lv ? this.lv.bytes : 0) +
      (this.por ? this.por.bytes : 0)
    );
  }

  /** What the tables may allocate while `states` more states are added (growth is by doubling). */
  private growthWithin(states: number): number {
    const f = this.frontier.size + states > this.frontier.bytes / 4 ? 2 * this.frontier.bytes : 0;
    const g = this.lv ? this.lv.growthWithin(this.store.count, states) : 0;
    return this.store.growthWithin(states) + this.visited.growthWithin(states) + f + g;
  }

  /** Expands states until the deadline (checked every few states) or a stop. */
  private slice(until: number): void {
    const model = this.model;
    const threads = model.threads;
    const T = threads.length;
    const m = model.mem;
    const cur = this.cur;
    const next = this.next;
    const packer = this.packer;
    const store = this.store;
    const visited = this.visited;
    const frontier = this.frontier;
    const pf = this.packedFrontier;
    const races = this.races && !this.found.has("data-race");
    const stopAtFirst = this.opts.stopAtFirst === true;
    const hasInvariants = model.invariants.length > 0;
    const lv = this.lv;
    const lockdep = model.lockdep;
    const sym = this.sym;
    const por = this.por;
    // which step runs, for a watchdog (rt/probe.ts): two stores per step
    const probe = stepProbe;
    let k = 0;
    while (frontier.size > 0) {
      if ((++k & 127) === 0) {
        const now = performance.now();
        if (now > until) return;
        if (now > this.deadline) {
          this.stop = "time";
          return;
        }
        if (this.memoryBytes() + this.growthWithin(GROWTH_WINDOW) > this.maxMemory) {
          this.stop = "memory";
          return;
        }
      }
      const idx = frontier.pop();
      if (pf !== null) packer.unpack32(pf.buf, pf.at, cur);
      else packer.unpackState(store, idx, cur);
      const depth = store.depthOf(idx);
      if (depth >= this.maxDepth) {
        this.depthCut = true;
        continue;
      }
      // partial-order reduction: one CPU-local step, when its successor is new (por.ts)
      if (por !== null) {
        const t = por.ample(cur);
        if (t >= 0 && this.expandLocal(idx, t, depth)) {
          if (this.stop !== undefined || this.modelError || this.porInvisibleBroken) return;
          if (stopAtFirst && this.found.size > 0) return;
          continue;
        }
      }
      let enabled = 0;
      let live = 0;
      // liveness: the enabled CPUs, where this state's edges start, whether a guard failed
      let enMask = 0;
      let guardThrew = false;
      const e0 = lv !== null ? lv.ne : 0;
      for (let t = 0; t < T; t++) {
        const th = threads[t]!;
        const pc = cur[th.pcOff]!;
        if (pc === th.end) continue;
        // an endless CPU (a kthread loop) blocked with every other CPU done is an end state
        if (!th.endless) live++;
        const node = th.nodes[pc]!;
        m.b = cur;
        m.cpu = t;
        probe[0] = t;
        probe[1] = pc;
        let nch = node.nchoices;
        try {
          if (node.guard !== undefined && !node.guard(th.ctx)) continue;
          if (nch < 0) nch = node.choicesFn!(th.ctx);
        } catch (e) {
          guardThrew = true;
          this.stepThrew(e, idx, encodeMove(t, 0));
          if (this.modelError) return;
          continue;
        }
        enabled++;
        enMask |= 1 << t;
        for (let c = 0; c < nch; c++) {
          next.set(cur);
          m.b = next;
          const track = races && c === 0;
          if (track) {
            m.trk = true;
            m.nacc = 0;
          }
          let r: unknown;
          m.ld = lockdep;
          try {
            r = node.run(th.ctx, c);
          } catch (e) {
            m.ld = false;
            m.trk = false;
            if (track) this.accLen[t] = -1;
            this.stepThrew(e, idx, encodeMove(t, c));
            if (this.modelError || (stopAtFirst && this.found.size > 0)) return;
            continue;
          }
          m.ld = false;
          if (m.loNewLen !== 0) this.lockOrder.note(m, idx, encodeMove(t, c));
          if (track) {
            m.trk = false;
            this.saveAccesses(t, r);
          }
          if (m.pending.length > 0) {
            // warn-severity violations of this step: reported, and the step's state is kept
            this.takeWarnings(idx, encodeMove(t, c));
            if (stopAtFirst) return;
          }
          next[th.pcOff] = successorPc(node, r, c);
          this.transitions++;
          if (sym !== null) sym.canon(next);
          const h = packer.pack(next);
          const slot = visited.findOrSlot(packer.out, h);
          if (slot >= 0) {
            if (lv !== null) lv.edge(slot, t);
            continue;
          }
          if (store.count >= this.maxStates) {
            this.stop = "states";
            return;
          }
          const ni = store.add(packer.out, h, idx, encodeMove(t, c), depth + 1);
          visited.insertAt(-1 - slot, ni, h);
          if (lv !== null) lv.edge(ni, t);
          if (depth + 1 > this.maxDepthSeen) this.maxDepthSeen = depth + 1;
          if (hasInvariants) {
            m.b = next;
            if (this.checkInvariants(ni)) frontier.push(ni);
            if (this.modelError || (stopAtFirst && this.found.size > 0)) return;
          } else frontier.push(ni);
        }
      }
      m.b = cur;
      if (lv !== null && !guardThrew) lv.commit(idx, e0, enMask);
      if (enabled === 0) {
        if (live > 0) this.deadlock(idx);
        else this.checkEndStates(idx);
        if (this.modelError || (stopAtFirst && this.found.size > 0)) return;
      } else if (races && enabled > 1) {
        this.checkRaces(idx);
        if (stopAtFirst && this.found.size > 0) return;
      }
      if (races) this.accLen.fill(0);
    }
  }

  /**
   * Expands state `idx` (unpacked in `cur`) with CPU t's next step alone, a CPU-local step (see
   * por.ts), when it leads to a state not seen before or first seen at depth + 1; returns false,
   * having added nothing, otherwise (the cycle proviso: the state is then expanded in full).
   */
  private expandLocal(idx: number, t: number, depth: number): boolean {
    const model = this.model;
    const m = model.mem;
    const th = model.threads[t]!;
    const node = th.nodes[this.cur[th.pcOff]!]!;
    const next = this.next;
    next.set(this.cur);
    m.b = next;
    m.cpu = t;
    stepProbe[0] = t;
    stepProbe[1] = node.pc;
    // the recording run showed it: no guard failure, no throw, no warning, no lock taken
    const r = node.run(th.ctx, 0);
    next[th.pcOff] = successorPc(node, r, 0);
    if (this.sym !== null) this.sym.canon(next);
    const h = this.packer.pack(next);
    const slot = this.visited.findOrSlot(this.packer.out, h);
    m.b = this.cur;
    if (slot >= 0) {
      // seen already: kept only if it was first reached one level below this state (then no
      // cycle can be made of such edges alone: the depth would grow all around it); fingerprint
      // mode knows no depth of a seen state
      if (this.packedFrontier === null && this.store.depthOf(slot) === depth + 1) {
        this.transitions++;
        this.por!.reducedStates++;
        return true;
      }
      this.por!.provisoFull++;
      return false;
    }
    this.transitions++;
    if (this.store.count >= this.maxStates) {
      this.stop = "states";
      return true;
    }
    const ni = this.store.add(this.packer.out, h, idx, encodeMove(t, 0), depth + 1);
    this.visited.insertAt(-1 - slot, ni, h);
    if (depth + 1 > this.maxDepthSeen) this.maxDepthSeen = depth + 1;
    this.por!.reducedStates++;
    m.b = next;
    const ok = model.invariants.length === 0 || this.checkInvariants(ni);
    m.b = this.cur;
    if (ok) this.frontier.push(ni);
    return true;
  }

  private saveAccesses(t: number, r: unknown): void {
    saveAccesses(this.model.mem, this.accBuf, this.accLen, this.accRes, t, r);
  }

  /**
   * The LKMM / KCSAN rule: two enabled steps of different CPUs touch the same word, one of them
   * writes, at least one of the two accesses is plain (not marked), neither is inside
   * data_race(), and no lock is held by both CPUs at their accesses (a CPU inside a critical
   * section keeps the other out of it; a step may take the lock itself before its access).
   */
  private checkRaces(idx: number): void {
    if (this.findRace()) this.reportRace(idx, this.raceA, this.raceX, this.raceB, this.raceY);
  }

  /** Whether the saved accesses race (the pair in raceA/X/B/Y). */
  private findRace(): boolean {
    const r = this.race;
    if (!findRace(this.lockOffs, this.cur, this.accLen, this.accBuf, r)) return false;
    this.raceA = r[0]!;
    this.raceX = r[1]!;
    this.raceB = r[2]!;
    this.raceY = r[3]!;
    return true;
  }

  private reportRace(idx: number, a: number, x: number, b: number, y: number): void {
    this.record({
      property: "data-race",
      kind: "data-race",
      severity: "warn",
      message: this.raceText(a, x, b, y),
      state: idx,
      lastMove: -1,
    });
  }

  private raceText(a: number, x: number, b: number, y: number): string {
    return raceText(this.model, this.cur, this.accRes, a, x, b, y);
  }

  /** The warn-severity violations the step just run left in mem.pending, for transition (idx, move). */
  private takeWarnings(idx: number, move: number): void {
    const p = this.model.mem.pending;
    for (const v of p) {
      this.record({
        property: v.property,
        kind: "assertion",
        severity: "warn",
        message: v.message,
        state: idx,
        lastMove: move,
      });
    }
    p.length = 0;
  }

  /**
   * Checks every invariant in state idx (mem.b); false when a bug-severity one is broken (the
   * state is not expanded). A broken warn-severity invariant is reported and the state expanded.
   */
  private checkInvariants(idx: number): boolean {
    const model = this.model;
    const f = this.invFail;
    let ok = true;
    for (
      let i = brokenInvariant(model, this.invWorld, 0, f, true);
      i >= 0;
      i = brokenInvariant(model, this.invWorld, i + 1, f, true)
    ) {
      if (f.error !== undefined) {
        this.modelError = { error: f.error, state: idx, lastMove: -1, where: f.where };
        return false;
      }
      const severity = model.invariants[i]!.severity;
      if (severity === "bug") ok = false;
      this.record({
        property: f.property,
        kind: f.kind,
        severity,
        message: f.message,
        state: idx,
        lastMove: -1,
      });
    }
    return ok;
  }

  private checkEndStates(idx: number): void {
    const model = this.model;
    const f = this.endFail;
    for (let i = brokenEndState(model, 0, f); i >= 0; i = brokenEndState(model, i + 1, f)) {
      if (f.error !== undefined) {
        this.modelError = { error: f.error, state: idx, lastMove: -1, where: f.where };
        return;
      }
      this.record({
        property: model.endStates[i]!.name,
        kind: "end-state",
        severity: undefined,
        message: f.message,
        state: idx,
        lastMove: -1,
      });
    }
  }

  private deadlock(idx: number): void {
    if (this.found.has("deadlock")) return;
    this.record({
      property: "deadlock",
      kind: "deadlock",
      severity: undefined,
      message: deadlockMessage(this.model, this.cur),
      state: idx,
      lastMove: -1,
    });
  }

  private stepThrew(e: unknown, idx: number, move: number): void {
    // what the step reported before it threw is reported too
    if (this.model.mem.pending.length > 0) this.takeWarnings(idx, move);
    if (e instanceof Violation) {
      // a thrown violation ends the path: bug, whatever it was declared
      this.record({
        property: e.property,
        kind: "assertion",
        severity: "bug",
        message: e.message,
        state: idx,
        lastMove: move,
      });
      return;
    }
    this.modelError = {
      error: e instanceof Error ? e : new Error(String(e)),
      state: idx,
      lastMove: move,
    };
  }

  private record(f: Found): void {
    if (!this.found.has(f.property)) this.found.set(f.property, f);
  }

  private scheduleOf(state: number, lastMove: number): Move[] {
    if (this.sym !== null) {
      // the stored path runs through canonical states: map it back to the model's own CPUs
      this.lastConcrete = concretise(
        this.model,
        this.sym,
        this.store.pathTo(state).map(decodeMove),
        lastMove >= 0 ? decodeMove(lastMove) : undefined,
      );
      return this.lastConcrete.schedule;
    }
    const moves = this.store.pathTo(state);
    if (lastMove >= 0) moves.push(lastMove);
    return moves.map(decodeMove);
  }

  /** The liveness properties, over the graph the search recorded (lassos of those broken). */
  private liveness(): Lasso[] {
    if (this.lv === null || this.modelError !== undefined) return [];
    if (this.opts.stopAtFirst === true && this.found.size > 0) return [];
    // the analysis's own arrays must fit in the budget too; if not, nothing is claimed
    const need = this.memoryBytes() + ANALYSIS_BYTES_PER_STATE * this.store.count;
    if (need > this.maxMemory) {
      this.stop ??= "memory";
      return [];
    }
    try {
      return checkLiveness({
        model: this.model,
        store: this.store,
        packer: this.packer,
        graph: this.lv,
      });
    } catch (e) {
      // a liveness predicate that throws is the model's error, as an invariant's is
      if (!(e instanceof ModelError)) throw e;
      this.modelError = { error: e, state: 0, lastMove: -1 };
      return [];
    }
  }

  /**
   * The violations whose traces are not built: building, rendering and saving a trace counts
   * against the memory budget (TRACE_BYTES_PER_STEP per step, beside the tables, and within
   * what the JavaScript heap has left), the longest traces given up first.
   */
  private tracesOverBudget(): Set<Found> {
    const all = [...this.found.values()];
    const len = (f: Found): number => this.store.depthOf(f.state) + (f.lastMove >= 0 ? 1 : 0);
    const heap = getHeapStatistics();
    const room = Math.min(
      this.maxMemory - this.memoryBytes(),
      (heap.heap_size_limit - heap.used_heap_size) / 2,
    );
    let need = all.reduce((n, f) => n + len(f) * TRACE_BYTES_PER_STEP, 0);
    const omit = new Set<Found>();
    for (const f of all.sort((a, b) => len(b) - len(a))) {
      if (need <= room) break;
      omit.add(f);
      need -= len(f) * TRACE_BYTES_PER_STEP;
    }
    return omit;
  }

  private result(): CheckResult {
    stepProbe[0] = PROBE_REPORTING;
    const model = this.model;
    const tl = performance.now();
    const cl = process.cpuUsage();
    const lassos = this.liveness();
    const livenessSeconds = (performance.now() - tl) / 1000;
    const cpu = process.cpuUsage(cl);
    const livenessCpuSeconds = (cpu.user + cpu.system) / 1e6;
    const seconds = (performance.now() - this.t0) / 1000;
    if (this.modelError === undefined && !(this.opts.stopAtFirst && this.found.size > 0)) {
      const cyc = this.symCall(() =>
        this.lockOrder.cycle(
          model,
          (state, move) => this.scheduleOf(state, move),
          // under symmetry: the concrete state before the move scheduleOf() just mapped back
          (state) => (this.sym !== null ? this.lastConcrete!.pre : this.stateAt(state)),
        ),
      );
      if (cyc) {
        this.record({
          property: "lock-order",
          kind: "lock-order",
          severity: this.model.mem.severities.get("lock-order"),
          message: cyc.message,
          state: cyc.state,
          lastMove: cyc.move,
          paths: cyc.paths,
        });
      }
    }
    const omit = this.tracesOverBudget();
    // under symmetry: each trace mapped back to the model's CPUs and objects, its message
    // computed again in the concrete state (a canonical state's CPU numbers are not the trace's)
    const concrete = new Map<Found, { schedule: Move[]; message: string }>();
    if (this.sym !== null && this.modelError === undefined)
      this.symCall(() => {
        for (const f of this.found.values()) if (!omit.has(f)) concrete.set(f, this.concreteOf(f));
      });
    const violations: ViolationReport[] = [...this.found.values()].map((f) => {
      const length = this.store.depthOf(f.state) + (f.lastMove >= 0 ? 1 : 0);
      if (omit.has(f))
        return {
          property: f.property,
          kind: f.kind,
          ...(f.severity === undefined ? {} : { severity: f.severity }),
          message: f.message,
          schedule: [],
          length,
          traceOmitted:
            `its ${length} steps would take about ${mb(length * TRACE_BYTES_PER_STEP)} MB, past the ` +
            `memory budget (${mb(this.maxMemory)} MB, of which the search used ${mb(this.memoryBytes())} MB); ` +
            `raise --max-memory to get it`,
        };
      const c = concrete.get(f);
      const schedule = c?.schedule ?? this.scheduleOf(f.state, f.lastMove);
      return {
        property: f.property,
        kind: f.kind,
        ...(f.severity === undefined ? {} : { severity: f.severity }),
        message: c?.message ?? f.message,
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
    if (this.opts.signal?.stop && this.stop === undefined && this.frontier.size > 0)
      this.stop = "interrupted";
    const complete = this.stop === undefined && !this.depthCut && this.modelError === undefined;
    const base = {
      model: model.name,
      variant: model.variant,
      params: model.params,
      states: this.store.count,
      transitions: this.transitions,
      seconds,
      maxDepth: this.maxDepthSeen,
      complete,
      stopReason: this.stop ?? (this.depthCut ? ("depth" as const) : undefined),
      memoryBytes: this.memoryBytes(),
      violations,
      liveness: this.lv !== null,
      reduction: this.reductionReport(),
      livenessSeconds,
      livenessCpuSeconds,
      ...(this.opts.fingerprint === true
        ? { fingerprint: fingerprintOdds(this.store.count, this.transitions + 1) }
        : {}),
      ...(model.alike.length > 0
        ? {
            symmetry: {
              used: this.sym !== null,
              sets: new Symmetry(model).info().sets,
              ...(this.symNote !== undefined ? { note: this.symNote } : {}),
            },
          }
        : {}),
    };
    if (this.modelError) {
      const me = this.modelError;
      const err = me.lastMove >= 0 ? this.withStack(me.error, me.state, me.lastMove) : me.error;
      let schedule: Move[] = [];
      try {
        schedule = this.scheduleOf(me.state, me.lastMove);
      } catch (e) {
        if (!(e instanceof SymmetryBroken)) throw e;
        this.lastConcrete = undefined;
      }
      let where = me.where ?? "";
      if (me.lastMove >= 0 && (this.sym === null || this.lastConcrete !== undefined)) {
        const mv = this.sym !== null ? schedule[schedule.length - 1]! : decodeMove(me.lastMove);
        const th = model.threads[mv.cpu]!;
        const pre = this.sym !== null ? this.lastConcrete!.pre : this.stateAt(me.state);
        const node = th.nodes[pre[th.pcOff]!]!;
        where = `CPU${mv.cpu} (${th.name}) step \`${labelOf(model, mv.cpu, node, pre, undefined, mv.choice)}\` at ${node.site}`;
      }
      return {
        ...base,
        verdict: "error",
        error: {
          code: err instanceof ModelError ? err.code : "E_STEP",
          message: err.message,
          hint:
            err instanceof ModelError ? err.hint : "a step of the model threw; see the stack below",
          where,
          stack: err instanceof ModelError ? undefined : err.stack,
          schedule,
          stepFailed: me.lastMove >= 0,
        },
      };
    }
    const verdict = violations.length > 0 ? "violated" : complete ? "holds" : "incomplete";
    return { ...base, verdict };
  }

  private reductionReport(): CheckResult["reduction"] {
    if (this.por !== null) return { on: true, ...this.por.stats };
    return {
      on: false,
      why:
        this.opts.reduce === false
          ? "turned off (--no-reduce)"
          : "the liveness check needs every edge of the state graph (--no-liveness to reduce)",
    };
  }

  /**
   * The error a step threw, with its stack: the search ran without stack traces, so the step is
   * run again from its state (it throws the same way: steps are deterministic).
   */
  private withStack(err: Error, state: number, move: number): Error {
    if (err instanceof ModelError || err instanceof Violation) return err;
    const { cpu, choice } = decodeMove(move);
    try {
      execute(this.model, cpu, choice, this.stateAt(state));
    } catch (e) {
      if (e instanceof Error && e.constructor === err.constructor && e.message === err.message)
        return e;
    }
    return err;
  }

  /** The full state `idx` (fingerprint mode: rebuilt by replaying its path from the start). */
  private stateAt(idx: number): Int32Array {
    const v = new Int32Array(this.model.layout.words);
    if (this.store.hasStates) {
      const [src8, at8] = this.store.bytesOf(idx);
      this.packer.unpack(src8, at8, v);
      return v;
    }
    v.set(this.model.init);
    // under symmetry the stored moves lead through canonical states
    this.sym?.canon(v);
    for (const mv of this.store.pathTo(idx)) {
      const { cpu, choice } = decodeMove(mv);
      execute(this.model, cpu, choice, v);
      this.sym?.canon(v);
    }
    return v;
  }

  /** Where the symmetry was declared, for an E_SYMMETRY error. */
  private symWhere(): string {
    return `alike() declared at ${this.model.alike.map((d) => d.site).join(", ")}`;
  }

  /**
   * Runs f; a declared symmetry found not to hold while mapping a trace back ends the run as an
   * E_SYMMETRY error (and f's result is undefined).
   */
  private symCall<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof SymmetryBroken)) throw e;
      this.modelError ??= {
        error: symmetryError(e),
        state: 0,
        lastMove: -1,
        where: this.symWhere(),
      };
      return undefined;
    }
  }

  /**
   * A violation found under symmetry, on the model's own CPUs and objects: its trace mapped back
   * (symmetry.ts concretise) and its message computed again in the concrete state, as the search
   * computed it in the canonical one. Throws SymmetryBroken when the concrete trace does not show
   * the violation.
   */
  private concreteOf(f: Found): { schedule: Move[]; message: string } {
    const schedule = this.scheduleOf(f.state, f.lastMove);
    const pre = this.lastConcrete!.pre;
    const model = this.model;
    const m = model.mem;
    const missing = (): never => {
      throw new SymmetryBroken(
        `${f.property} shows in the reduced search but not on its trace mapped back to the model's CPUs and objects: the declared symmetry does not hold`,
      );
    };
    const saved = m.b;
    try {
      if (f.lastMove >= 0) {
        // the violation is the last move's: run it again on the concrete state
        const mv = schedule[schedule.length - 1]!;
        const b = pre.slice();
        try {
          execute(model, mv.cpu, mv.choice, b);
        } catch (e) {
          m.pending.length = 0;
          if (e instanceof Violation && e.property === f.property)
            return { schedule, message: e.message };
          if (!(e instanceof Violation) && f.kind !== "assertion")
            return { schedule, message: f.message };
          return missing();
        }
        const w = m.pending.find((v) => v.property === f.property);
        m.pending.length = 0;
        if (f.kind === "lock-order") return { schedule, message: f.message };
        return w ? { schedule, message: w.message } : missing();
      }
      m.b = pre;
      const text = (r: boolean | string, dflt: string): string =>
        r === true ? missing() : typeof r === "string" ? r : dflt;
      return match(f.kind)
        .with("invariant", () => {
          const inv = model.invariants.find((i) => i.name === f.property) ?? missing();
          return {
            schedule,
            message: text(inv.fn(model.world), `invariant "${inv.name}" does not hold`),
          };
        })
        .with("assertion", () => {
          // an invariant that threw a violation
          for (const inv of model.invariants) {
            try {
              inv.fn(model.world);
            } catch (e) {
              if (e instanceof Violation && e.property === f.property)
                return { schedule, message: e.message };
            }
          }
          return missing();
        })
        .with("end-state", () => {
          const p = model.endStates.find((x) => x.name === f.property) ?? missing();
          return {
            schedule,
            message: text(p.fn(model.world), `at quiescence, "${p.name}" does not hold`),
          };
        })
        .with("deadlock", () => ({ schedule, message: deadlockMessage(model, pre) }))
        .with("data-race", () => ({ schedule, message: this.raceIn(pre) ?? missing() }))
        .with("lock-order", "liveness", () => ({ schedule, message: f.message }))
        .exhaustive();
    } finally {
      m.b = saved;
    }
  }

  /** The data race in state b (the explorer's check, on the enabled steps' dry runs), if any. */
  private raceIn(b: Int32Array): string | undefined {
    const model = this.model;
    const m = model.mem;
    this.cur.set(b);
    this.accLen.fill(0);
    // a dry run: it takes no lock for lockdep's lock order
    const lo = m.lo;
    m.lo = false;
    for (let t = 0; t < model.threads.length; t++) {
      const th = model.threads[t]!;
      const pc = b[th.pcOff]!;
      if (pc === th.end) continue;
      const node = th.nodes[pc]!;
      m.b = b;
      m.cpu = t;
      try {
        if (node.guard !== undefined && !node.guard(th.ctx)) continue;
      } catch {
        continue;
      }
      this.next.set(b);
      m.b = this.next;
      m.trk = true;
      m.nacc = 0;
      try {
        this.saveAccesses(t, node.run(th.ctx, 0));
      } catch {
        this.accLen[t] = -1;
      } finally {
        m.trk = false;
        m.pending.length = 0;
        m.loNewLen = 0;
      }
    }
    m.b = b;
    m.lo = lo;
    const found = this.findRace();
    const out = found ? this.raceText(this.raceA, this.raceX, this.raceB, this.raceY) : undefined;
    this.accLen.fill(0);
    return out;
  }
}

/**
 * How likely a 64-bit fingerprint collision hid a state, after `states` distinct states were
 * stored out of `generated` (the initial state plus every transition's target):
 * - the birthday bound n(n-1)/2^65, the chance that any two of the n states share a fingerprint;
 * - TLC's "optimistic" estimate d(g-d)/2^64 (d distinct states, g generated; M. Kuppe, tlaplus
 *   list, 2019-02-22, https://discuss.tlapl.us/msg02600.html): each of the g-d lookups that found
 *   a known fingerprint could have been a different state, with probability d/2^64 each.
 */
export function fingerprintOdds(
  states: number,
  generated: number,
): { bits: 64; collisionProbability: number; optimistic: number } {
  const n = states;
  return {
    bits: 64,
    collisionProbability: Math.min(1, (n * (n - 1)) / 2 ** 65),
    optimistic: Math.min(1, (n * Math.max(0, generated - n)) / 2 ** 64),
  };
}

/** The offsets of the model's lock words (spinlock_t and the like), for orderedByLock(). */
export function lockOffsets(model: CompiledModel): Int32Array {
  const out: number[] = [];
  model.layout.fields.forEach((f, off) => {
    if (f?.kind === "lock") out.push(off);
  });
  return Int32Array.from(out);
}

/**
 * Whether CPU a's access A[i] and CPU b's access B[j] (from their enabled steps in state `pre`)
 * are both made holding one same lock: the lock words each CPU holds in `pre`, each toggled by
 * the CPU's writes to it in its step before that access (a write to a free lock word takes it, a
 * write to a held one releases it).
 */
export function orderedByLock(
  locks: Int32Array,
  pre: Int32Array,
  a: number,
  A: Int32Array,
  i: number,
  b: number,
  B: Int32Array,
  j: number,
): boolean {
  for (let k = 0; k < locks.length; k++) {
    const L = locks[k]!;
    if (heldAt(L, pre[L] === a, A, i) && heldAt(L, pre[L] === b, B, j)) return true;
  }
  return false;
}

function heldAt(L: number, held: boolean, acc: Int32Array, upto: number): boolean {
  for (let k = 0; k < upto; k++) {
    const x = acc[k]!;
    if (x >> ACC_SHIFT === L && x & ACC_WRITE) held = !held;
  }
  return held;
}

/** One side of a data race, for its message. */
export interface RaceSide {
  readonly cpu: number;
  /** The access: `off << ACC_SHIFT | ACC_*` flags. */
  readonly acc: number;
  readonly label: string;
  readonly site: string;
}

/**
 * A data race's message: the word, each CPU's access (read or write, plain or marked, in which
 * step), and which access is plain (the one to mark, or to put under the common lock).
 */
export function raceMessage(model: CompiledModel, a: RaceSide, b: RaceSide): string {
  const field = model.layout.fields[a.acc >> ACC_SHIFT]!.name;
  const what = (s: RaceSide): string =>
    `CPU${s.cpu} ${s.acc & ACC_MARKED ? "marked " : "plain "}${s.acc & ACC_WRITE ? "writes" : "reads"} ${field} in \`${s.label}\` (${s.site})`;
  const plainA = (a.acc & ACC_MARKED) === 0;
  const plainB = (b.acc & ACC_MARKED) === 0;
  const which =
    plainA && plainB
      ? "both accesses are plain"
      : `the plain access is CPU${plainA ? a.cpu : b.cpu}'s ${(plainA ? a.acc : b.acc) & ACC_WRITE ? "write" : "read"} (the other is marked: a marked access does not make a plain one safe)`;
  return (
    `data race on ${field}: ${what(a)}, while ${what(b)}; ${which}, and no common lock orders ` +
    `them (mark both with READ_ONCE()/WRITE_ONCE() or atomics, take the lock, or say data_race() if the race is intended)`
  );
}

/**
 * Saves the accesses CPU t's step just made (mem.acc, mem.nacc) and its result r into
 * accBuf[t] / accLen[t] / accRes[t], for findRace() (the buffer grows only when too short).
 */
export function saveAccesses(
  m: CompiledModel["mem"],
  accBuf: Int32Array[],
  accLen: Int32Array,
  accRes: unknown[],
  t: number,
  r: unknown,
): void {
  let buf = accBuf[t]!;
  if (buf.length < m.nacc) {
    buf = new Int32Array(m.nacc * 2);
    accBuf[t] = buf;
  }
  buf.set(m.acc.subarray(0, m.nacc));
  accLen[t] = m.nacc;
  accRes[t] = r;
}

/**
 * The LKMM / KCSAN rule on the accesses saved for state `cur`'s enabled steps: the first pair
 * of two CPUs' accesses to one word, one of them a write, at least one plain, neither inside
 * data_race(), not both under one lock. True with the pair in out (a, x, b, y).
 */
export function findRace(
  locks: Int32Array,
  cur: Int32Array,
  accLen: Int32Array,
  accBuf: Int32Array[],
  out: Int32Array,
): boolean {
  const T = accBuf.length;
  for (let a = 0; a < T; a++) {
    const na = accLen[a]!;
    if (na <= 0) continue;
    const A = accBuf[a]!;
    for (let b = a + 1; b < T; b++) {
      const nb = accLen[b]!;
      if (nb <= 0) continue;
      const B = accBuf[b]!;
      for (let i = 0; i < na; i++) {
        const x = A[i]!;
        if (x & ACC_RACY) continue;
        for (let j = 0; j < nb; j++) {
          const y = B[j]!;
          if (y & ACC_RACY) continue;
          if (x >> ACC_SHIFT !== y >> ACC_SHIFT) continue;
          if (((x | y) & ACC_WRITE) === 0) continue;
          if (x & y & ACC_MARKED) continue;
          if (orderedByLock(locks, cur, a, A, i, b, B, j)) continue;
          out[0] = a;
          out[1] = x;
          out[2] = b;
          out[3] = y;
          return true;
        }
      }
    }
  }
  return false;
}

/** The message of the race findRace() found in state `cur` (accRes: the steps' results). */
export function raceText(
  model: CompiledModel,
  cur: Int32Array,
  accRes: readonly unknown[],
  a: number,
  x: number,
  b: number,
  y: number,
): string {
  const label = (t: number): { label: string; site: string } => {
    const th = model.threads[t]!;
    const node = th.nodes[cur[th.pcOff]!]!;
    return { label: labelOf(model, t, node, cur, accRes[t], 0), site: node.site };
  };
  return raceMessage(model, { cpu: a, acc: x, ...label(a) }, { cpu: b, acc: y, ...label(b) });
}

/** What brokenInvariant() found: the broken invariant's event, or the error one threw. */
export interface InvariantFailure {
  /** "assertion": the invariant threw a Violation (property: the violation's). */
  kind: "assertion" | "invariant";
  property: string;
  message: string;
  error: Error | undefined;
  where: string | undefined;
}

/** A fresh InvariantFailure, for brokenInvariant(). */
export function invariantFailure(): InvariantFailure {
  return { kind: "invariant", property: "", message: "", error: undefined, where: undefined };
}

/**
 * Evaluates the model's invariants from index `from` on, on `world` (in the state mem.b is on):
 * the index of the first that does not hold (its event in out) or throws an error that is no
 * Violation (out.error, and the search must stop), -1 when all hold. `probe`: announce each in
 * stepProbe (the search does; reporting afterwards does not).
 */
export function brokenInvariant(
  model: CompiledModel,
  world: World,
  from: number,
  out: InvariantFailure,
  probe: boolean,
): number {
  const invs = model.invariants;
  for (let i = from; i < invs.length; i++) {
    const inv = invs[i]!;
    if (probe) {
      stepProbe[0] = PROBE_INVARIANT;
      stepProbe[1] = i;
    }
    let r: boolean | string;
    try {
      r = inv.fn(world);
    } catch (e) {
      if (e instanceof Violation) {
        out.error = undefined;
        out.kind = "assertion";
        out.property = e.property;
        out.message = e.message;
        return i;
      }
      out.error = wrapError(e, `invariant "${inv.name}" threw`);
      out.where = `invariant "${inv.name}" declared at ${inv.site?.() ?? "?"}`;
      return i;
    }
    if (r !== true) {
      out.error = undefined;
      out.kind = "invariant";
      out.property = inv.name;
      out.message = typeof r === "string" ? r : `invariant "${inv.name}" does not hold`;
      return i;
    }
  }
  return -1;
}

/** What brokenEndState() found: the message of a broken property, or the error one threw. */
export interface EndStateFailure {
  message: string;
  error: Error | undefined;
  where: string | undefined;
}

/**
 * Evaluates the model's end-state properties from index `from` on, in the state mem.b is on:
 * the index of the first that does not hold (its message in out) or throws (out.error, and the
 * search must stop), -1 when all hold.
 */
export function brokenEndState(model: CompiledModel, from: number, out: EndStateFailure): number {
  const ps = model.endStates;
  for (let i = from; i < ps.length; i++) {
    const p = ps[i]!;
    stepProbe[0] = PROBE_END_STATE;
    stepProbe[1] = i;
    let r: boolean | string;
    try {
      r = p.fn(model.world);
    } catch (e) {
      out.error = wrapError(e, `end-state property "${p.name}" threw`);
      out.where = `end-state property "${p.name}" declared at ${p.site?.() ?? "?"}`;
      return i;
    }
    if (r !== true) {
      out.error = undefined;
      out.message = typeof r === "string" ? r : `at quiescence, "${p.name}" does not hold`;
      return i;
    }
  }
  return -1;
}

/** The deadlock message for state b: what each CPU that has not finished waits for. */
export function deadlockMessage(model: CompiledModel, b: Int32Array): string {
  const waits: string[] = [];
  for (let t = 0; t < model.threads.length; t++) {
    const th = model.threads[t]!;
    if (b[th.pcOff] === th.end) continue;
    waits.push(`CPU${t} (${th.name}) ${waitingFor(model, t, b)}`);
  }
  return `deadlock: no CPU can make progress; ${waits.join("; ")}`;
}

function symmetryError(e: SymmetryBroken): ModelError {
  return new ModelError(
    "E_SYMMETRY",
    `the model's alike() declaration does not hold: ${e.message}`,
    "make the alike members interchangeable (no step, invariant or property may name one of them), " +
      "declare fewer of them alike, or run with --no-symmetry",
  );
}

export function wrapError(e: unknown, context: string): Error {
  if (e instanceof ModelError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const w = new ModelError("E_PROPERTY", `${context}: ${err.message}`, "fix the property function");
  w.stack = err.stack;
  return w;
}
