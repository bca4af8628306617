// The parallel search's shared memory and the expansion each worker runs (parallel.ts drives it,
// parallel-worker.ts is the worker's entry). No worker_threads here: the main thread uses the
// same layout and helpers.
//
// Shared memory (SharedArrayBuffers, fixed size; the main thread replaces them by larger copies
// between two phases when they fill up):
// - the visited table: open addressing, linear probing, one Int32 a slot as in HashTable
//   (visited.ts): the state's index + 1 in the low `bits` bits, the hash's low bits above as a
//   tag. An empty slot is claimed with a compare-and-swap to BUSY (low bits 0, not 0); the winner
//   takes the next index, writes the state's packed words (store.ts's Packer) into the arena, and
//   publishes the slot with its index. A thread that finds BUSY waits the few instructions that
//   takes: the words it compares against are always complete.
// - the arena: the packed words of state i at i * words; parent[i] (index, -1 for the initial
//   state) and move[i] (encodeMove) beside it.
// - order: the serial explorer's numbering. The search is level-synchronous: level d+1 is
//   everything the expansion of level d adds, so indices and serial numbers cover the same range
//   per level. Within a level the serial BFS numbers a state by its first discovery, (serial of
//   the parent, position of the move in the parent's expansion); the workers keep exactly that
//   parent per new state (an atomic minimum, pkey/ev, below), and after the level the main
//   thread sorts the new states by it: order[serial] = index (~index: not to be expanded, a
//   bug-severity invariant broke there). Workers claim serial numbers, so the search explores,
//   and reports, what the serial BFS would: the same first counterexample for every property.
// - pkey[i - next], ev[i - next] for the states of the level being built: the parent's serial
//   << 1 (bit 0: a lock while a thread lowers it) and the event position of the move in the
//   parent's expansion; inv[(i - next) * iw ..]: the invariants state i breaks (bits).

import type { CompiledModel } from "../model/model.ts";
import { ModelError, Violation, type Severity } from "../rt/mem.ts";
import { encodeMove, successorPc } from "../rt/machine.ts";
import { stepProbe } from "../rt/probe.ts";
import { Packer } from "./store.ts";
import {
  brokenEndState,
  brokenInvariant,
  deadlockMessage,
  findRace,
  lockOffsets,
  raceText,
  saveAccesses,
  type EndStateFailure,
  invariantFailure,
} from "./explorer.ts";
import type { LockPath, ViolationKind } from "./result.ts";

// Int32 slots of the control buffer. The two written all the time (the state count, by every new
// state, and the claim cursor) have a cache line (64 bytes) each; the flags every state reads
// share the first line, written only to stop or pause.
/** Next state index (the number of states). */
export const C_COUNT = 16;
/** Claim cursor: the next work position (see Work). */
export const C_CURSOR = 32;
/** Why the workers stop: one of the STOP_* codes (0: go on). */
export const C_STOP = 2;
/** No state of a serial number above this is expanded (a model error or --stop-first). */
export const C_STOP_SERIAL = 3;
/** Set when the tables are full enough to grow: the workers hand back what they have left. */
export const C_PAUSE = 4;
/** The state count at which the tables grow. */
export const C_GROW_AT = 5;
/** States allowed in all (--max-states, the memory budget). */
export const C_LIMIT = 6;
/** C_LIMIT comes from the memory budget (1) or --max-states (0). */
export const C_LIMIT_MEMORY = 7;
/** First index of the level being built. */
export const C_NEXT = 8;
export const CTL_WORDS = 48;

export const STOP_STATES = 1;
export const STOP_MEMORY = 2;
export const STOP_TIME = 3;
export const STOP_INTERRUPTED = 4;
/** The tables filled past their size within one phase (a state with very many successors). */
export const STOP_OVERFLOW = 5;

/** Event positions of one expansion stay below this (keys are serial * EV_SPAN + position). */
export const EV_SPAN = 2 ** 21;

/** The shared buffers of a search. Plain data: it crosses to the workers. */
export interface Shared {
  readonly ctl: SharedArrayBuffer;
  /** 2^bits slots. */
  readonly table: SharedArrayBuffer;
  readonly bits: number;
  /** States the per-state buffers hold. */
  readonly cap: number;
  readonly arena: SharedArrayBuffer;
  readonly parent: SharedArrayBuffer;
  readonly move: SharedArrayBuffer;
  readonly order: SharedArrayBuffer;
  readonly pkey: SharedArrayBuffer;
  readonly ev: SharedArrayBuffer;
  /** Int32 words of invariant bits per state (0: the model has no invariant). */
  readonly iw: number;
  readonly inv: SharedArrayBuffer;
  /** A probe (rt/probe.ts) per worker, 2 Int32 each: which step it runs, for the watchdog. */
  readonly probes: SharedArrayBuffer;
}

/** Typed views of Shared. */
export class Views {
  readonly ctl: Int32Array;
  readonly table: Int32Array;
  readonly mask: number;
  readonly arena: Int32Array;
  readonly parent: Int32Array;
  readonly move: Int32Array;
  readonly order: Int32Array;
  readonly pkey: Int32Array;
  readonly ev: Int32Array;
  readonly inv: Int32Array;

  constructor(readonly s: Shared) {
    this.ctl = new Int32Array(s.ctl);
    this.table = new Int32Array(s.table);
    this.mask = (1 << s.bits) - 1;
    this.arena = new Int32Array(s.arena);
    this.parent = new Int32Array(s.parent);
    this.move = new Int32Array(s.move);
    this.order = new Int32Array(s.order);
    this.pkey = new Int32Array(s.pkey);
    this.ev = new Int32Array(s.ev);
    this.inv = new Int32Array(s.inv);
  }
}

/**
 * What a phase works on: serial numbers in ranges [from, to), claimed in chunks through
 * C_CURSOR over their concatenation.
 */
export type Work = readonly number[];

/** A property broken, as a worker saw it: ordered by (key, sub) as the serial search meets them. */
export interface Event {
  readonly property: string;
  readonly kind: ViolationKind;
  readonly severity: Severity | undefined;
  readonly message: string;
  /** State whose path leads to it (an index), and an optional last move (-1: none). */
  readonly state: number;
  readonly lastMove: number;
  /** serial * EV_SPAN + event position in the expansion of state `serial` (-1: the initial state). */
  readonly key: number;
  readonly sub: number;
}

/** An error of the model (not a property): what the serial search reports as verdict "error". */
export interface ErrorEvent {
  readonly key: number;
  readonly sub: number;
  readonly state: number;
  readonly lastMove: number;
  readonly where: string | undefined;
  readonly error: WireError;
  /**
   * Thrown by an invariant in a state this level added (`state`): its key is that state's first
   * discovery, which the main thread knows once the level is done.
   */
  readonly atNew?: number;
}

/** An Error, as data. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  /** Set for a ModelError: its code and hint. */
  readonly code?: string;
  readonly hint?: string;
}

export function toWire(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    name: err.name,
    message: err.message,
    stack: err.stack,
    ...(err instanceof ModelError
      ? { code: err.code, ...(err.hint ? { hint: err.hint } : {}) }
      : {}),
  };
}

export function fromWire(w: WireError): Error {
  if (w.code !== undefined) {
    const e = new ModelError(w.code, w.message, w.hint);
    if (w.stack !== undefined) e.stack = w.stack;
    return e;
  }
  const e = new Error(w.message);
  e.name = w.name;
  e.stack = w.stack;
  return e;
}

/** Whether event a comes before b in the serial search. */
export function before(a: { key: number; sub: number }, b: { key: number; sub: number }): boolean {
  return a.key < b.key || (a.key === b.key && a.sub < b.sub);
}

/** A lockdep edge the first time a worker saw it. */
export interface LockNote {
  readonly edge: number;
  readonly key: number;
  readonly state: number;
  readonly move: number;
}

/** A worker's report of one phase. */
export interface PhaseReport {
  readonly transitions: number;
  readonly events: Event[];
  readonly error: ErrorEvent | undefined;
  /** Invariants some new state broke (their indices): the main thread finds each one's first. */
  readonly invariantsHit: number[];
  /** Serial numbers claimed and not expanded because of a pause: [from, to) or empty. */
  readonly leftover: number[];
  /** States at level >= maxDepth that would have been expanded. */
  readonly depthCut: boolean;
}

/** Work position p, as a serial number (work is a list of [from, to) ranges). */
function serialAt(work: Work, p: number): number {
  for (let k = 0; k < work.length; k += 2) {
    const n = work[k + 1]! - work[k]!;
    if (p < n) return work[k]! + p;
    p -= n;
  }
  return -1;
}

export function workSize(work: Work): number {
  let n = 0;
  for (let k = 0; k < work.length; k += 2) n += work[k + 1]! - work[k]!;
  return n;
}

/** The packed words of state i equal `out`. */
function equalsAt(arena: Int32Array, i: number, out: Int32Array, w: number): boolean {
  const at = i * w;
  for (let k = 0; k < w; k++) if (arena[at + k] !== out[k]) return false;
  return true;
}

/** Claims an empty slot: any value with zero index bits that is not 0. */
const busyOf = (mask: number): number => ~mask;

/**
 * Inserts the state in slot order (no equality check: every state is there once) into a new
 * table: rehashing after growth.
 */
export function rehashRange(
  oldTable: Int32Array,
  oldMask: number,
  from: number,
  to: number,
  table: Int32Array,
  bits: number,
  arena: Int32Array,
  words: number,
  hashAt: (src: Int32Array, at: number, words: number) => number,
): void {
  const mask = (1 << bits) - 1;
  const shift = 32 - bits;
  for (let k = from; k < to; k++) {
    const v = oldTable[k]!;
    if (v === 0) continue;
    const i = (v & oldMask) - 1;
    const h = hashAt(arena, i * words, words);
    const e = (h << bits) | (i + 1);
    for (let p = h >>> shift; ; p = (p + 1) & mask) {
      if (Atomics.compareExchange(table, p, 0, e) === 0) break;
    }
  }
}

/**
 * The serial order of the level just built, [next, count): by parent serial (a counting sort),
 * then by event position in the parent's expansion. Writes order[next..count) (~index for a
 * state a bug-severity invariant broke) and returns how many states it has.
 */
export function orderLevel(
  v: Views,
  levelStart: number,
  next: number,
  count: number,
  bugMask: Int32Array,
): void {
  const n = count - next;
  const L = next - levelStart;
  const start = new Int32Array(L + 1);
  const pk = v.pkey;
  for (let j = 0; j < n; j++) start[(pk[j]! >>> 1) - levelStart + 1]!++;
  for (let r = 0; r < L; r++) start[r + 1]! += start[r]!;
  const pos = start.slice(0, L);
  const tmp = new Int32Array(n);
  for (let j = 0; j < n; j++) tmp[pos[(pk[j]! >>> 1) - levelStart]!++] = j;
  const ev = v.ev;
  // within a parent, by event position (few children each: insertion sort)
  for (let r = 0; r < L; r++) {
    const a = start[r]!;
    const b = start[r + 1]!;
    for (let x = a + 1; x < b; x++) {
      const j = tmp[x]!;
      const e = ev[j]!;
      let y = x - 1;
      while (y >= a && ev[tmp[y]!]! > e) {
        tmp[y + 1] = tmp[y]!;
        y--;
      }
      tmp[y + 1] = j;
    }
  }
  const iw = v.s.iw;
  const inv = v.inv;
  for (let x = 0; x < n; x++) {
    const j = tmp[x]!;
    let bug = false;
    for (let k = 0; k < iw; k++) if ((inv[j * iw + k]! & bugMask[k]!) !== 0) bug = true;
    v.order[next + x] = bug ? ~(next + j) : next + j;
  }
}

/** The moves from the initial state to index i, by the parent links. */
export function pathTo(v: Views, i: number): number[] {
  const moves: number[] = [];
  for (let k = i; v.parent[k]! >= 0; k = v.parent[k]!) moves.push(v.move[k]!);
  return moves.reverse();
}

/** Options a worker's expansion takes (plain data). */
export interface ExpandOptions {
  readonly races: boolean;
  readonly liveness: boolean;
  readonly stopAtFirst: boolean;
  readonly maxDepth: number;
}

/**
 * One worker's search: expands the states of a level it claims, as the serial explorer's
 * slice() does (same checks, same order within a state), into the shared tables.
 */
export class Expander {
  private readonly packer: Packer;
  private readonly cur: Int32Array;
  private readonly next: Int32Array;
  private readonly words: number;
  private v!: Views;
  private transitions = 0;
  private events = new Map<string, Event>();
  private error: ErrorEvent | undefined;
  private invHit = new Set<number>();
  private readonly accBuf: Int32Array[];
  private readonly accLen: Int32Array;
  private readonly accRes: unknown[];
  /** checkRaces()'s scratch: the race findRace() found (a, x, b, y). */
  private readonly race = new Int32Array(4);
  /** checkEndStates()'s scratch: what broke or threw. */
  private readonly endFail: EndStateFailure = { message: "", error: undefined, where: undefined };
  /** checkInvariants()'s scratch: what broke or threw. */
  private readonly invFail = invariantFailure();
  private readonly lockOffs: Int32Array;
  private readonly lockNotes = new Map<number, LockNote>();
  /** Liveness: per expanded state [index, enabled mask, edges n, (target, cpu) x n]. */
  private lv: Int32Array;
  private lvLen = 0;
  /** Key of the first data race this worker found: no need to look for one after it. */
  private raceKey = Infinity;
  // the state being expanded
  private serial = 0;
  private ev = 0;
  private sub = 0;

  constructor(
    private readonly model: CompiledModel,
    private readonly opts: ExpandOptions,
  ) {
    this.packer = new Packer(model.layout);
    this.words = this.packer.words;
    this.cur = new Int32Array(model.layout.words);
    this.next = new Int32Array(model.layout.words);
    const n = model.threads.length;
    this.accBuf = Array.from({ length: n }, () => new Int32Array(64));
    this.accLen = new Int32Array(n);
    this.accRes = new Array<unknown>(n);
    this.lockOffs = lockOffsets(model);
    this.lv = new Int32Array(opts.liveness ? 4096 : 0);
    model.mem.resetLockOrder();
  }

  setShared(s: Shared): void {
    if (this.v?.s !== s) this.v = new Views(s);
  }

  /** Expands the states of level `depth` in `work` until done, a pause or a stop. */
  expand(depth: number, work: Work): PhaseReport {
    const v = this.v;
    const ctl = v.ctl;
    const total = workSize(work);
    const chunk = Math.max(1, Math.min(64, Math.floor(total / 64)));
    const leftover: number[] = [];
    let depthCut = false;
    const stackLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      claims: for (;;) {
        const p0 = Atomics.add(ctl, C_CURSOR, chunk);
        if (p0 >= total) break;
        const p1 = Math.min(total, p0 + chunk);
        for (let p = p0; p < p1; p++) {
          const s = serialAt(work, p);
          if (Atomics.load(ctl, C_STOP) !== 0) break claims;
          if (s > Atomics.load(ctl, C_STOP_SERIAL)) break claims;
          if (Atomics.load(ctl, C_PAUSE) !== 0) {
            for (let q = p; q < p1; q++) {
              const x = serialAt(work, q);
              if (leftover.length > 0 && leftover[leftover.length - 1] === x)
                leftover[leftover.length - 1] = x + 1;
              else leftover.push(x, x + 1);
            }
            break claims;
          }
          const o = v.order[s]!;
          if (o < 0) continue;
          if (depth >= this.opts.maxDepth) {
            depthCut = true;
            continue;
          }
          if (!this.expandOne(o, s)) break claims;
        }
      }
    } catch (e) {
      // the machine refusing memory below the budget: the run ends as incomplete
      if (!(e instanceof RangeError) || !/alloc|length/i.test(e.message)) throw e;
      Atomics.compareExchange(ctl, C_STOP, 0, STOP_MEMORY);
    } finally {
      Error.stackTraceLimit = stackLimit;
    }
    const report: PhaseReport = {
      transitions: this.transitions,
      events: [...this.events.values()],
      error: this.error,
      invariantsHit: [...this.invHit],
      leftover,
      depthCut,
    };
    this.transitions = 0;
    this.events = new Map();
    this.error = undefined;
    this.invHit = new Set();
    return report;
  }

  /** The lockdep notes and liveness edges of the whole search (once, at its end). */
  finish(): { lockNotes: LockNote[]; edges: Int32Array } {
    return { lockNotes: [...this.lockNotes.values()], edges: this.lv.slice(0, this.lvLen) };
  }

  /** Lowers C_STOP_SERIAL to the current state: states after it are not expanded. */
  private stopAfterThis(): void {
    const ctl = this.v.ctl;
    for (;;) {
      const c = Atomics.load(ctl, C_STOP_SERIAL);
      if (this.serial >= c || Atomics.compareExchange(ctl, C_STOP_SERIAL, c, this.serial) === c)
        return;
    }
  }

  private record(
    property: string,
    kind: ViolationKind,
    severity: Severity | undefined,
    message: string,
    state: number,
    lastMove: number,
  ): void {
    const e: Event = {
      property,
      kind,
      severity,
      message,
      state,
      lastMove,
      key: this.serial * EV_SPAN + this.ev,
      sub: this.sub++,
    };
    const old = this.events.get(property);
    if (old === undefined || before(e, old)) this.events.set(property, e);
    if (this.opts.stopAtFirst) this.stopAfterThis();
  }

  private modelError(
    error: unknown,
    state: number,
    lastMove: number,
    where?: string,
    atNew?: number,
  ): void {
    const e: ErrorEvent = {
      key: this.serial * EV_SPAN + this.ev,
      sub: this.sub++,
      state,
      lastMove,
      where,
      error: toWire(error),
      ...(atNew !== undefined ? { atNew } : {}),
    };
    if (this.error === undefined || before(e, this.error)) this.error = e;
    this.stopAfterThis();
  }

  /**
   * Expands state `idx` (serial number `serial`); false when the search must stop (a bound, an
   * error in this state).
   */
  private expandOne(idx: number, serial: number): boolean {
    const lv0 = this.lvLen;
    const ok = this.expandState(idx, serial);
    // a state left half-expanded has no liveness record
    if (!ok) this.lvLen = lv0;
    return ok;
  }

  private expandState(idx: number, serial: number): boolean {
    const model = this.model;
    const threads = model.threads;
    const T = threads.length;
    const m = model.mem;
    const cur = this.cur;
    const next = this.next;
    const packer = this.packer;
    const v = this.v;
    const races = this.opts.races && serial * EV_SPAN < this.raceKey;
    const lockdep = model.lockdep;
    const lv = this.opts.liveness;
    const probe = stepProbe;
    this.serial = serial;
    this.ev = 0;
    this.sub = 0;
    packer.unpack32(v.arena, idx * this.words, cur);
    let enabled = 0;
    let live = 0;
    let enMask = 0;
    let guardThrew = false;
    // liveness: this state's record, filled in as its edges come
    let lv0 = 0;
    if (lv) {
      lv0 = this.lvLen;
      this.lvReserve(3);
      this.lvLen += 3;
    }
    for (let t = 0; t < T; t++) {
      const th = threads[t]!;
      const pc = cur[th.pcOff]!;
      if (pc === th.end) continue;
      if (!th.endless) live++;
      const node = th.nodes[pc]!;
      m.b = cur;
      m.cpu = t;
      probe[0] = t;
      probe[1] = pc;
      let nch = node.nchoices;
      this.ev++;
      this.sub = 0;
      try {
        if (node.guard !== undefined && !node.guard(th.ctx)) continue;
        if (nch < 0) nch = node.choicesFn!(th.ctx);
      } catch (e) {
        guardThrew = true;
        if (!this.stepThrew(e, idx, encodeMove(t, 0))) return false;
        continue;
      }
      enabled++;
      enMask |= 1 << t;
      for (let c = 0; c < nch; c++) {
        this.ev++;
        this.sub = 0;
        if (this.ev >= EV_SPAN)
          throw new Error(`parallel search: a state with more than ${EV_SPAN} moves`);
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
          if (!this.stepThrew(e, idx, encodeMove(t, c))) return false;
          continue;
        }
        m.ld = false;
        const mv = encodeMove(t, c);
        if (m.loNewLen !== 0) this.noteLocks(idx, mv);
        if (track) {
          m.trk = false;
          this.saveAccesses(t, r);
        }
        if (m.pending.length > 0) this.takeWarnings(idx, mv);
        next[th.pcOff] = successorPc(node, r, c);
        this.transitions++;
        const target = this.insert(idx, mv);
        if (target < 0) return false;
        if (lv) {
          this.lvReserve(2);
          this.lv[this.lvLen++] = target;
          this.lv[this.lvLen++] = t;
        }
        if (this.error !== undefined && this.error.key <= serial * EV_SPAN + this.ev) return false;
      }
    }
    m.b = cur;
    if (lv) {
      if (guardThrew) this.lvLen = lv0;
      else {
        this.lv[lv0] = idx;
        this.lv[lv0 + 1] = enMask;
        this.lv[lv0 + 2] = (this.lvLen - lv0 - 3) >> 1;
      }
    }
    this.ev++;
    this.sub = 0;
    if (enabled === 0) {
      if (live > 0) this.deadlock(idx);
      else this.checkEndStates(idx);
      if (this.error !== undefined) return false;
    } else if (races && enabled > 1) this.checkRaces(idx);
    if (races) this.accLen.fill(0);
    return true;
  }

  private lvReserve(n: number): void {
    if (this.lvLen + n <= this.lv.length) return;
    const b = new Int32Array(Math.max(this.lv.length * 2, this.lvLen + n));
    b.set(this.lv.subarray(0, this.lvLen));
    this.lv = b;
  }

  /**
   * Looks the successor (packed from this.next) up in the shared table, adding it when new;
   * returns its index, or -1 when a bound stops the search.
   */
  private insert(parent: number, mv: number): number {
    const v = this.v;
    const ctl = v.ctl;
    const h = this.packer.pack(this.next);
    const out = this.packer.out;
    const table = v.table;
    const mask = v.mask;
    const bits = v.s.bits;
    const tag = h << bits;
    const busy = busyOf(mask);
    const w = this.words;
    const arena = v.arena;
    const nextStart = ctl[C_NEXT]!;
    let spins = 0;
    for (let p = h >>> (32 - bits); ;) {
      const s = Atomics.load(table, p);
      if (s === 0) {
        if (Atomics.compareExchange(table, p, 0, busy) !== 0) continue;
        const i = this.allocate();
        if (i < 0) {
          Atomics.store(table, p, 0);
          return -1;
        }
        const at = i * w;
        for (let k = 0; k < w; k++) arena[at + k] = out[k]!;
        v.parent[i] = parent;
        v.move[i] = mv;
        const j = i - nextStart;
        v.pkey[j] = this.serial << 1;
        v.ev[j] = this.ev;
        const iw = v.s.iw;
        for (let k = 0; k < iw; k++) v.inv[j * iw + k] = 0;
        Atomics.store(table, p, tag | (i + 1));
        if (this.model.invariants.length > 0) this.checkInvariants(i, j);
        return i;
      }
      if ((s & mask) === 0) {
        // another thread is writing this slot's state
        if (++spins > 1e9) throw new Error("parallel search: a table slot stayed busy");
        continue;
      }
      if ((s & ~mask) === tag && equalsAt(arena, (s & mask) - 1, out, w)) {
        const i = (s & mask) - 1;
        if (i >= nextStart) this.lowerParent(i - nextStart, i, parent, mv);
        return i;
      }
      p = (p + 1) & mask;
    }
  }

  /**
   * State i (j in the level) was reached again: keep the first discovery in serial order (the
   * lowest parent serial; from one parent, the first move, which comes first here).
   */
  private lowerParent(j: number, i: number, parent: number, mv: number): void {
    const pk = this.v.pkey;
    const mine = this.serial << 1;
    for (;;) {
      const k = Atomics.load(pk, j);
      if (k & 1) continue; // another thread is lowering it
      if (k <= mine) return;
      if (Atomics.compareExchange(pk, j, k, k | 1) !== k) continue;
      this.v.parent[i] = parent;
      this.v.move[i] = mv;
      this.v.ev[j] = this.ev;
      Atomics.store(pk, j, mine);
      return;
    }
  }

  /** The next state index, or -1 at the state limit (the stop reason set). */
  private allocate(): number {
    const ctl = this.v.ctl;
    const limit = Atomics.load(ctl, C_LIMIT);
    for (;;) {
      const c = Atomics.load(ctl, C_COUNT);
      if (c >= limit) {
        Atomics.compareExchange(
          ctl,
          C_STOP,
          0,
          Atomics.load(ctl, C_LIMIT_MEMORY) ? STOP_MEMORY : STOP_STATES,
        );
        return -1;
      }
      if (c >= this.v.s.cap - 1 || c >= this.v.mask - 1) {
        Atomics.compareExchange(ctl, C_STOP, 0, STOP_OVERFLOW);
        return -1;
      }
      if (Atomics.compareExchange(ctl, C_COUNT, c, c + 1) === c) {
        // the tables are full enough to grow: every worker stops at its next state
        if (c + 1 >= ctl[C_GROW_AT]! && Atomics.load(ctl, C_PAUSE) === 0)
          Atomics.store(ctl, C_PAUSE, 1);
        return c;
      }
    }
  }

  private noteLocks(state: number, move: number): void {
    const m = this.model.mem;
    const key = this.serial * EV_SPAN + this.ev;
    for (let i = 0; i < m.loNewLen; i++) {
      const e = m.loNew[i]!;
      const old = this.lockNotes.get(e);
      if (old === undefined || key < old.key) this.lockNotes.set(e, { edge: e, key, state, move });
    }
    m.loNewLen = 0;
  }

  private saveAccesses(t: number, r: unknown): void {
    saveAccesses(this.model.mem, this.accBuf, this.accLen, this.accRes, t, r);
  }

  private checkRaces(idx: number): void {
    const r = this.race;
    if (!findRace(this.lockOffs, this.cur, this.accLen, this.accBuf, r)) return;
    this.raceKey = Math.min(this.raceKey, this.serial * EV_SPAN + this.ev);
    const text = raceText(this.model, this.cur, this.accRes, r[0]!, r[1]!, r[2]!, r[3]!);
    this.record("data-race", "data-race", "warn", text, idx, -1);
  }

  private takeWarnings(idx: number, move: number): void {
    const p = this.model.mem.pending;
    for (const w of p) this.record(w.property, "assertion", "warn", w.message, idx, move);
    p.length = 0;
  }

  /** A step (or guard) threw; false when it was the model's error (the search stops). */
  private stepThrew(e: unknown, idx: number, move: number): boolean {
    if (this.model.mem.pending.length > 0) this.takeWarnings(idx, move);
    if (e instanceof Violation) {
      this.record(e.property, "assertion", "bug", e.message, idx, move);
      return true;
    }
    this.modelError(e, idx, move);
    return false;
  }

  /**
   * The invariants in new state i (j in its level): the bits of those broken (the main thread
   * reports the first state of each in serial order, which it evaluates again for the message).
   */
  private checkInvariants(i: number, j: number): void {
    const model = this.model;
    const m = model.mem;
    const v = this.v;
    const iw = v.s.iw;
    const saved = m.b;
    m.b = this.next;
    try {
      const f = this.invFail;
      for (
        let k = brokenInvariant(model, model.world, 0, f, true);
        k >= 0;
        k = brokenInvariant(model, model.world, k + 1, f, true)
      ) {
        if (f.error !== undefined) {
          this.modelError(f.error, i, -1, f.where, i);
          return;
        }
        v.inv[j * iw + (k >>> 5)]! |= 1 << (k & 31);
        this.invHit.add(k);
      }
    } finally {
      m.b = saved;
    }
  }

  private checkEndStates(idx: number): void {
    const model = this.model;
    const f = this.endFail;
    for (let i = brokenEndState(model, 0, f); i >= 0; i = brokenEndState(model, i + 1, f)) {
      if (f.error !== undefined) {
        this.modelError(f.error, idx, -1, f.where);
        return;
      }
      this.record(model.endStates[i]!.name, "end-state", undefined, f.message, idx, -1);
    }
  }

  private deadlock(idx: number): void {
    const old = this.events.get("deadlock");
    if (old !== undefined && old.key < this.serial * EV_SPAN) return;
    this.record("deadlock", "deadlock", undefined, deadlockMessage(this.model, this.cur), idx, -1);
  }
}

/**
 * The invariant events of a state (serial explorer's checkInvariants): what broke, in order, and
 * whether a bug-severity one did (the state is then not expanded). Evaluated on `b`.
 */
export function invariantEvents(
  model: CompiledModel,
  b: Int32Array,
): {
  events: {
    property: string;
    kind: ViolationKind;
    severity: Severity;
    message: string;
    inv: number;
  }[];
  ok: boolean;
  error?: { error: Error; where: string };
} {
  const m = model.mem;
  const saved = m.b;
  m.b = b;
  const events: {
    property: string;
    kind: ViolationKind;
    severity: Severity;
    message: string;
    inv: number;
  }[] = [];
  let ok = true;
  const f = invariantFailure();
  try {
    for (
      let i = brokenInvariant(model, model.world, 0, f, false);
      i >= 0;
      i = brokenInvariant(model, model.world, i + 1, f, false)
    ) {
      if (f.error !== undefined)
        return { events, ok: false, error: { error: f.error, where: f.where! } };
      const severity = model.invariants[i]!.severity;
      events.push({ property: f.property, kind: f.kind, severity, message: f.message, inv: i });
      if (severity === "bug") ok = false;
    }
  } finally {
    m.b = saved;
  }
  return { events, ok };
}

/** A violation kept for the result: an event, or lockdep's cycle with its paths. */
export type Found = Event & { readonly paths?: readonly LockPath[] };

/** What a Keeper holds, as data (a worker that ran levels alone hands it over). */
export interface KeeperState {
  readonly found: Found[];
  readonly error: ErrorEvent | undefined;
  readonly transitions: number;
  readonly depthCut: boolean;
}

/**
 * The results of the levels run so far: each property's first violation in serial order, the
 * first model error, and the bookkeeping that ends a level (finishLevel). The main thread keeps
 * one; a worker running small levels alone keeps its own and hands it over.
 */
export class Keeper {
  readonly found = new Map<string, Found>();
  error: ErrorEvent | undefined;
  transitions = 0;
  depthCut = false;
  private readonly pendingErrors: ErrorEvent[] = [];
  private readonly invHit = new Set<number>();
  /** Int32 words of invariant bits per state, and those of the bug-severity invariants. */
  readonly iw: number;
  readonly bugMask: Int32Array;

  constructor(
    private readonly model: CompiledModel,
    private readonly packer: Packer,
    private readonly stopAtFirst: boolean,
  ) {
    this.iw = Math.ceil(model.invariants.length / 32);
    this.bugMask = new Int32Array(this.iw);
    model.invariants.forEach((inv, k) => {
      if (inv.severity === "bug") this.bugMask[k >>> 5]! |= 1 << (k & 31);
    });
  }

  take(e: Found): void {
    const old = this.found.get(e.property);
    if (old === undefined || before(e, old)) this.found.set(e.property, e);
  }

  merge(reports: readonly PhaseReport[]): void {
    for (const r of reports) {
      this.transitions += r.transitions;
      if (r.depthCut) this.depthCut = true;
      for (const e of r.events) this.take(e);
      if (r.error && (this.error === undefined || before(r.error, this.error))) {
        if (r.error.atNew === undefined) this.error = r.error;
        else this.pendingErrors.push(r.error);
      }
      for (const k of r.invariantsHit) this.invHit.add(k);
    }
  }

  state(): KeeperState {
    return {
      found: [...this.found.values()],
      error: this.error,
      transitions: this.transitions,
      depthCut: this.depthCut,
    };
  }

  /** Adds another keeper's results (levels after those this one has). */
  absorb(s: KeeperState): void {
    this.transitions += s.transitions;
    if (s.depthCut) this.depthCut = true;
    for (const f of s.found) this.take(f);
    if (s.error && (this.error === undefined || before(s.error, this.error))) this.error = s.error;
  }

  /**
   * After level [start, next) was expanded: its invariant events and errors at their first
   * discovery, what the serial search would not have seen past an error (or past the first
   * violation with --stop-first), and the new level's serial order.
   */
  finishLevel(v: Views, start: number, next: number): void {
    const count = Atomics.load(v.ctl, C_COUNT);
    const iw = this.iw;
    const keyOf = (i: number): number => (v.pkey[i - next]! >>> 1) * EV_SPAN + v.ev[i - next]!;
    // an invariant that threw in a new state: at that state's first discovery
    for (const e of this.pendingErrors) {
      const r = { ...e, key: keyOf(e.atNew!), sub: EV_SPAN };
      if (this.error === undefined || before(r, this.error)) this.error = r;
    }
    this.pendingErrors.length = 0;
    // each invariant broken in this level: its first state in serial order, evaluated again
    for (const k of this.invHit) {
      let best = -1;
      let bestKey = Infinity;
      for (let i = next; i < count; i++) {
        if ((v.inv[(i - next) * iw + (k >>> 5)]! & (1 << (k & 31))) === 0) continue;
        const key = keyOf(i);
        if (key < bestKey) {
          bestKey = key;
          best = i;
        }
      }
      if (best < 0) continue;
      const b = new Int32Array(this.model.layout.words);
      this.packer.unpack32(v.arena, best * this.packer.words, b);
      const r = invariantEvents(this.model, b);
      r.events.forEach((e, j) => {
        if (e.inv === k)
          this.take({ ...e, state: best, lastMove: -1, key: bestKey, sub: EV_SPAN + j });
      });
    }
    this.invHit.clear();
    if (this.error !== undefined) {
      // what the serial search would have found before the error
      for (const [p, f] of this.found) if (!before(f, this.error)) this.found.delete(p);
    }
    if (this.stopAtFirst && this.found.size > 0) {
      const first = [...this.found.values()].reduce((a, b) => (before(b, a) ? b : a));
      for (const [p, f] of this.found) if (f.key !== first.key) this.found.delete(p);
    }
    orderLevel(v, start, next, count, this.bugMask);
  }
}

/** Work positions from `p` on, as ranges. */
export function rest(work: readonly number[], p: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < work.length; k += 2) {
    const a = work[k]!;
    const b = work[k + 1]!;
    const n = b - a;
    if (p >= n) {
      p -= n;
      continue;
    }
    out.push(a + p, b);
    p = 0;
  }
  return out;
}

/** What a worker that ran levels alone hands back. */
export interface SoloReport {
  readonly keeper: KeeperState;
  /** First index of each level it added. */
  readonly starts: number[];
  /** The level to run next (or, with `work`, the one to finish). */
  readonly depth: number;
  /** What is left of level `depth` (the tables must grow first); undefined: start it afresh. */
  readonly work: number[] | undefined;
  /** States with their serial order in `order`. */
  readonly orderedTo: number;
  /** The search is over (a bound, an error, --stop-first, no new state). */
  readonly ended: boolean;
}

/**
 * Runs levels alone from level `depth` ([work] its states) while they stay below `soloMax`
 * states: what a round trip to every worker per level would cost more than it saves.
 */
export function runSolo(
  ex: Expander,
  keeper: Keeper,
  v: Views,
  depth: number,
  work: number[],
  soloMax: number,
  stopAtFirst: boolean,
): SoloReport {
  const ctl = v.ctl;
  const starts: number[] = [];
  let start = work[0]!;
  for (;;) {
    const next = ctl[C_NEXT]!;
    ctl[C_CURSOR] = 0;
    const rep = ex.expand(depth, work);
    keeper.merge([rep]);
    if (Atomics.load(ctl, C_PAUSE) !== 0 && Atomics.load(ctl, C_STOP) === 0) {
      const cursor = Math.min(ctl[C_CURSOR]!, workSize(work));
      return {
        keeper: keeper.state(),
        starts,
        depth,
        work: [...rep.leftover, ...rest(work, cursor)],
        orderedTo: next,
        ended: false,
      };
    }
    keeper.finishLevel(v, start, next);
    const count = Atomics.load(ctl, C_COUNT);
    const grew = count > next;
    if (grew) starts.push(next);
    const ended =
      Atomics.load(ctl, C_STOP) !== 0 ||
      keeper.error !== undefined ||
      (stopAtFirst && keeper.found.size > 0) ||
      !grew;
    if (ended || count - next >= soloMax)
      return {
        keeper: keeper.state(),
        starts,
        depth: depth + 1,
        work: undefined,
        orderedTo: count,
        ended,
      };
    depth++;
    start = next;
    ctl[C_NEXT] = count;
    work = [next, count];
  }
}
