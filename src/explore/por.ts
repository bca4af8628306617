// Partial-order reduction for the exhaustive search: ample sets of one CPU-local step.
//
// At a state s, if some CPU t's next step α touches nothing but t's *private* words (its program
// counter and its scalar locals), the search may follow α alone instead of every CPU's step
// (Clarke, Grumberg, Peled, "Model Checking", ch. 10, ample sets; Godefroid's persistent sets).
// Why each condition holds here:
//
// C0/C1 (α is independent of everything the other CPUs can do before it): the private words of t
//   are words no other CPU's step ever reads or writes (see privateWords(): scalars of t's locals
//   and pc, which no pointer can reach; the DSL hands a step only its own CPU's `l`). α's
//   complete footprint at s -- its guard, its choices and its run, every read and write,
//   including raw `m.b[off]` reads -- is recorded by running it on a recording Proxy of the
//   state (RecordingState). A step is a deterministic function of what it reads: if everything
//   it read at s was private to t, it reads and writes the same words with the same values in
//   every state that agrees with s on t's private words, i.e. in every state the other CPUs can
//   reach from s before t moves. So α stays enabled, does the same thing, and commutes with every
//   step of another CPU. The verdict "local or not" is a function of t's private words only (the
//   first non-private access, if any, comes at the same point), so it is memoised per CPU on
//   their values: the recording run happens once per distinct local state, not once per state.
//
// C2 (α is invisible): α writes only private words; an invariant reading one of them would see
//   the change. Invariants see CPU locals and program counters through `w.cpus` only: the
//   reduced search hands invariants a world whose `cpus` getter raises a flag, and a run in
//   which any invariant touched it is thrown away and redone unreduced (explorer.ts). The flag
//   is complete evidence: an invariant's evaluation is deterministic, so up to its first use of
//   `w.cpus` it cannot depend on private words, and it uses `w.cpus` in a state iff it does in
//   the states that differ from it only in private words (those the reduction merges).
//   End-state properties and deadlock are checked in states where nothing is enabled: the
//   reduced search visits every such state of the full search (persistent sets preserve
//   deadlocks, Godefroid 1996, thm. 6.14), so they need no visibility condition.
//   Assertions (a step that throws or warns), lockdep (a step that takes a lock) and model
//   errors: a local step raises nothing and takes no lock (the recording run says so; a lock
//   word is shared), and every other CPU's step runs, in the reduced graph, in a state that
//   differs from the full graph's only in other CPUs' private words, which it does not read:
//   it raises and records the same. Data races: a local step races with nobody; the pairs of
//   other CPUs' steps enabled together at s are still enabled together, with the same accesses,
//   at the next fully expanded state on the reduced path (the race check runs there).
//
// C3 (the cycle proviso, for BFS and DFS alike): the reduced expansion is kept only when α's
//   successor is a state not seen before, or one first reached at depth d + 1 (d: the depth of
//   s, its distance from the initial state along the search's tree); otherwise s is expanded in
//   full. Every edge a reduced expansion makes then goes from depth d to depth d + 1, and no
//   cycle is made of such edges alone (the depth would grow all around it): every cycle of the
//   reduced graph has a fully expanded state, so no CPU's step is postponed forever. (Fingerprint
//   mode does not know the depth of a seen state: there, only a new successor is kept.)
//
// Liveness (termination under weak fairness, eventually/leadsTo) needs the full graph's edges
// and fairness: the explorer turns the reduction off when the liveness check runs.
//
// What it costs per state: one memo lookup per CPU tried (a hash of its few private words).

import type { CompiledModel } from "../model/model.ts";
import { ACTION, BRANCH } from "../model/compile.ts";
import { successorPc } from "../rt/machine.ts";
import { stepProbe } from "../rt/probe.ts";

/**
 * Per word, the CPU it is private to, or -1: a CPU's program counter and the scalar words of its
 * locals (int, bool, enum, flags, ptr, nodeptr values). Not private: list_head words (other CPUs
 * reach them through list pointers), locks, and the elements of an array a ptr() may point into.
 */
export function privateWords(model: CompiledModel): Int32Array {
  const lay = model.layout;
  const own = new Int32Array(lay.words).fill(-1);
  const targets = new Uint8Array(lay.words);
  for (const a of lay.arrayOfRecord.values())
    for (let o = a.base; o < a.base + a.stride * a.length; o++) targets[o] = 1;
  lay.fields.forEach((f, off) => {
    if (f === undefined || f.cpu < 0 || f.node !== -1 || targets[off] === 1) return;
    if (f.kind === "lock") return;
    own[off] = f.cpu;
  });
  for (const t of model.threads) own[t.pcOff] = t.cpu;
  return own;
}

/** A node found not local in this many local states, and local in none, is not tried again. */
const GIVE_UP = 8;

const UNKNOWN = 0;
const LOCAL = 1;
const NOT_LOCAL = 2;

/**
 * A memo of verdicts keyed by the values of one CPU's private words: open addressing over a
 * flat Int32Array of keys (grown by doubling; no allocation per lookup).
 */
class LocalMemo {
  private keys: Int32Array;
  private vals: Uint8Array;
  private cap: number;
  private n = 0;
  constructor(private readonly width: number) {
    this.cap = 64;
    this.keys = new Int32Array(this.cap * width);
    this.vals = new Uint8Array(this.cap);
  }

  /** The slot of the key held in `b` at `offs` (its value: UNKNOWN when absent). */
  find(b: Int32Array, offs: Int32Array): number {
    const w = this.width;
    let h = 0x811c9dc5;
    for (let i = 0; i < w; i++) h = Math.imul(h ^ b[offs[i]!]!, 0x01000193);
    const mask = this.cap - 1;
    let s = (h ^ (h >>> 15)) & mask;
    for (;;) {
      if (this.vals[s] === UNKNOWN) return s;
      const k = s * w;
      let eq = true;
      for (let i = 0; i < w; i++)
        if (this.keys[k + i] !== b[offs[i]!]) {
          eq = false;
          break;
        }
      if (eq) return s;
      s = (s + 1) & mask;
    }
  }

  get(slot: number): number {
    return this.vals[slot]!;
  }

  /** Stores a verdict at the slot find() gave for the key in `b`. */
  set(slot: number, b: Int32Array, offs: Int32Array, v: number): void {
    const w = this.width;
    for (let i = 0; i < w; i++) this.keys[slot * w + i] = b[offs[i]!]!;
    this.vals[slot] = v;
    if (++this.n * 2 > this.cap) this.grow(offs);
  }

  get size(): number {
    return this.n;
  }

  get bytes(): number {
    return this.keys.byteLength + this.vals.byteLength;
  }

  private grow(offs: Int32Array): void {
    const w = this.width;
    const oldK = this.keys;
    const oldV = this.vals;
    const oldCap = this.cap;
    this.cap *= 2;
    this.keys = new Int32Array(this.cap * w);
    this.vals = new Uint8Array(this.cap);
    this.n = 0;
    const tmp = new Int32Array(offs.length === 0 ? 0 : Math.max(...offs) + 1);
    for (let s = 0; s < oldCap; s++) {
      if (oldV[s] === UNKNOWN) continue;
      for (let i = 0; i < w; i++) tmp[offs[i]!] = oldK[s * w + i]!;
      const slot = this.find(tmp, offs);
      for (let i = 0; i < w; i++) this.keys[slot * w + i] = oldK[s * w + i]!;
      this.vals[slot] = oldV[s]!;
      this.n++;
    }
  }
}

/**
 * A state vector whose every access is recorded: a Proxy over a copy of the state, handed to a
 * step as `m.b` (so raw `c.m.b[off]` reads in guards and kernel primitives are seen too, not only
 * the accesses made through Mem). It only notes whether a word outside what is allowed was
 * touched: CPU `cpu`'s private words, and the shared words when `sharedOk`. Any access that is
 * not an element read or write (a method, the buffer) is counted as touching everything.
 */
class RecordingState {
  readonly buf: Int32Array;
  readonly proxy: Int32Array;
  cpu = -1;
  sharedOk = false;
  foreign = false;
  /** The first word touched that was not allowed (for messages), or -1. */
  first = -1;
  constructor(words: number, own: Int32Array) {
    this.buf = new Int32Array(words);
    const buf = this.buf;
    const isIndex = (k: string | symbol): boolean =>
      typeof k === "string" && k.length > 0 && k.charCodeAt(0) >= 48 && k.charCodeAt(0) <= 57;
    this.proxy = new Proxy(buf, {
      get: (target, k) => {
        if (isIndex(k)) {
          const i = Number(k as string);
          if (own[i] !== this.cpu) this.touch(own[i]!, i);
          return target[i];
        }
        if (k === "length") return target.length;
        this.foreign = true;
        const v: unknown = Reflect.get(target, k);
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
      set: (target, k, v: number) => {
        if (isIndex(k)) {
          const i = Number(k as string);
          if (own[i] !== this.cpu) this.touch(own[i]!, i);
          target[i] = v;
          return true;
        }
        this.foreign = true;
        return Reflect.set(target, k, v);
      },
      has: (target, k) => {
        this.foreign = true;
        return Reflect.has(target, k);
      },
      ownKeys: (target) => {
        this.foreign = true;
        return Reflect.ownKeys(target);
      },
      getOwnPropertyDescriptor: (target, k) => {
        this.foreign = true;
        return Reflect.getOwnPropertyDescriptor(target, k);
      },
    }) as Int32Array;
  }

  private touch(owner: number, i: number): void {
    if (owner < 0 && this.sharedOk) return;
    if (!this.foreign) this.first = i;
    this.foreign = true;
  }

  reset(b: Int32Array, cpu: number, sharedOk: boolean): void {
    this.buf.set(b);
    this.cpu = cpu;
    this.sharedOk = sharedOk;
    this.foreign = false;
    this.first = -1;
  }
}

/**
 * Runs `fn` with `m.b` pointing at the recording state, leaving no trace in the Mem: no access
 * recording, no pending warning, no lockdep edge (a lock taken here must be new to the real run).
 */
function recording<T>(model: CompiledModel, rec: RecordingState, fn: () => T): T {
  const m = model.mem;
  const saved = m.b;
  const pending = m.pending.length;
  const lo = m.loNewLen;
  const trk = m.trk;
  m.trk = false;
  m.b = rec.proxy;
  try {
    return fn();
  } finally {
    m.ld = false;
    m.trk = trk;
    m.b = saved;
    m.pending.length = pending;
    for (let i = lo; i < m.loNewLen; i++) m.loSeen[m.loNew[i]!] = 0;
    m.loNewLen = lo;
  }
}

/** What the reduction did in one search (CheckResult.reduction). */
export interface ReductionStats {
  /** States expanded with one CPU-local step instead of every CPU's. */
  readonly reducedStates: number;
  /** States with a local step whose successor was seen already, expanded in full (C3). */
  readonly provisoFull: number;
  /** Distinct (CPU, private words) valuations whose next step was classified. */
  readonly classified: number;
  /** Of those, steps found CPU-local. */
  readonly localSteps: number;
}

export class PartialOrder {
  /** Per word, the CPU it is private to, or -1. */
  readonly own: Int32Array;
  private readonly offs: Int32Array[];
  private readonly memo: LocalMemo[];
  private readonly rec: RecordingState;
  /**
   * Per CPU and pc: 1 when the node is not tried any more: it has more than one choice, or it
   * was found not local in GIVE_UP local states and local in none (a heuristic: not trying a
   * step only reduces less).
   */
  private readonly never: Uint8Array[];
  /** Per CPU and pc: local states in which the node was found local, and not local. */
  private readonly nLocal: Int32Array[];
  private readonly nForeign: Int32Array[];
  reducedStates = 0;
  localSteps = 0;
  /** States with a local step whose successor was seen already: expanded in full (C3). */
  provisoFull = 0;

  constructor(private readonly model: CompiledModel) {
    this.own = privateWords(model);
    const T = model.threads.length;
    this.offs = [];
    this.memo = [];
    this.never = [];
    this.nLocal = [];
    this.nForeign = [];
    for (let t = 0; t < T; t++) {
      const th = model.threads[t]!;
      const o: number[] = [th.pcOff];
      this.own.forEach((c, off) => {
        if (c === t && off !== th.pcOff) o.push(off);
      });
      this.offs.push(Int32Array.from(o));
      this.memo.push(new LocalMemo(o.length));
      const nv = new Uint8Array(th.nodes.length + 1);
      th.nodes.forEach((n, pc) => {
        if (n.nchoices !== 1 || (n.kind !== ACTION && n.kind !== BRANCH)) nv[pc] = 1;
      });
      nv[th.end] = 1;
      this.never.push(nv);
      this.nLocal.push(new Int32Array(th.nodes.length + 1));
      this.nForeign.push(new Int32Array(th.nodes.length + 1));
    }
    this.rec = new RecordingState(model.layout.words, this.own);
  }

  /**
   * The CPU whose next step in state `b` is CPU-local (an ample set of one step), or -1. The
   * lowest such CPU is taken. `m.b` is left pointing at `b`.
   */
  ample(b: Int32Array): number {
    const threads = this.model.threads;
    for (let t = 0; t < threads.length; t++) {
      const pc = b[threads[t]!.pcOff]!;
      if (this.never[t]![pc] === 1) continue;
      const memo = this.memo[t]!;
      const offs = this.offs[t]!;
      const slot = memo.find(b, offs);
      let v = memo.get(slot);
      if (v === UNKNOWN) {
        v = this.classify(t, b) ? LOCAL : NOT_LOCAL;
        if (v === LOCAL) {
          this.localSteps++;
          this.nLocal[t]![pc]++;
        } else if (
          // a CPU whose only private word is its pc has one local state per node
          (offs.length === 1 || ++this.nForeign[t]![pc]! >= GIVE_UP) &&
          this.nLocal[t]![pc] === 0
        )
          this.never[t]![pc] = 1;
        memo.set(slot, b, offs, v);
      }
      if (v === LOCAL) return t;
    }
    return -1;
  }

  /**
   * Runs CPU t's next step from state `b` on the recording state: local when its guard holds,
   * it has one choice, and guard and run touch only t's private words, raise nothing, take no
   * lock and do not throw.
   */
  private classify(t: number, b: Int32Array): boolean {
    const model = this.model;
    const m = model.mem;
    const th = model.threads[t]!;
    const node = th.nodes[b[th.pcOff]!]!;
    const rec = this.rec;
    rec.reset(b, t, false);
    const pending = m.pending.length;
    const lo = m.loNewLen;
    m.cpu = t;
    stepProbe[0] = t;
    stepProbe[1] = node.pc;
    return recording(model, rec, () => {
      try {
        if (node.guard !== undefined && !node.guard(th.ctx)) return false;
        m.ld = model.lockdep;
        const r = node.run(th.ctx, 0);
        rec.buf[th.pcOff] = successorPc(node, r, 0);
        return !rec.foreign && m.pending.length === pending && m.loNewLen === lo;
      } catch {
        return false;
      }
    });
  }

  get stats(): ReductionStats {
    return {
      reducedStates: this.reducedStates,
      provisoFull: this.provisoFull,
      classified: this.memo.reduce((n, x) => n + x.size, 0),
      localSteps: this.localSteps,
    };
  }

  get bytes(): number {
    return this.memo.reduce((n, x) => n + x.bytes, 0);
  }
}

/**
 * Checks, in every state reachable within `maxStates` (breadth-first, unreduced), the promise the
 * reduction rests on: no CPU's step (guard, choices, run) touches a word private to another CPU,
 * and no invariant reads a private word without going through `w.cpus` (which the explorer
 * watches). Returns one message per breach found, at most `maxBreaches` (empty: none). For tests
 * over the bundled and generated models; costs a recorded run of every step.
 */
export function privacyBreaches(
  model: CompiledModel,
  maxStates = 100_000,
  maxBreaches = 10,
): string[] {
  const own = privateWords(model);
  const rec = new RecordingState(model.layout.words, own);
  const m = model.mem;
  const out: string[] = [];
  const name = (off: number): string => model.layout.fields[off]?.name ?? `word ${off}`;
  const used = { cpus: false };
  const w = model.world;
  const world = {
    s: w.s,
    m: w.m,
    get cpus() {
      used.cpus = true;
      return w.cpus;
    },
  };
  const seen = new Set<string>([model.init.join()]);
  let layer: Int32Array[] = [model.init.slice()];
  while (layer.length > 0 && out.length < maxBreaches) {
    const next: Int32Array[] = [];
    for (const b of layer) {
      for (const inv of model.invariants) {
        rec.reset(b, -2, true);
        used.cpus = false;
        recording(model, rec, () => {
          try {
            inv.fn(world as typeof w);
          } catch {
            // an invariant that throws is the explorer's to report
          }
        });
        if (rec.foreign && !used.cpus)
          out.push(`invariant "${inv.name}" reads ${name(rec.first)} without w.cpus`);
      }
      for (let t = 0; t < model.threads.length; t++) {
        const th = model.threads[t]!;
        const node = th.nodes[b[th.pcOff]!];
        if (node === undefined) continue;
        m.cpu = t;
        rec.reset(b, t, true);
        let n = 0;
        recording(model, rec, () => {
          try {
            if (node.guard === undefined || node.guard(th.ctx))
              n = node.nchoices >= 0 ? node.nchoices : node.choicesFn!(th.ctx);
          } catch {
            n = 0;
          }
        });
        const breach = (what: string): void => {
          out.push(
            `CPU${t} (${th.name}) ${what} \`${String(node.label)}\` touches ${name(rec.first)}`,
          );
        };
        if (rec.foreign) {
          breach("guard of");
          continue;
        }
        for (let c = 0; c < n; c++) {
          rec.reset(b, t, true);
          let r: unknown;
          let ok = true;
          recording(model, rec, () => {
            m.ld = model.lockdep;
            try {
              r = node.run(th.ctx, c);
            } catch {
              ok = false;
            }
          });
          if (rec.foreign) breach("step");
          if (!ok) continue;
          rec.buf[th.pcOff] = successorPc(node, r, c);
          const nb = rec.buf.slice();
          const k = nb.join();
          if (!seen.has(k) && seen.size < maxStates) {
            seen.add(k);
            next.push(nb);
          }
        }
      }
    }
    layer = next;
  }
  return out.slice(0, maxBreaches);
}
