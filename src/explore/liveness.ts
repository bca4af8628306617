// Liveness under weak fairness: termination (every CPU eventually finishes) and the model's
// eventually / leadsTo properties, decided over the state graph the safety search built.
//
// During the search the explorer records, for each state it expands completely, its outgoing
// edges (target state, CPU) and the set of CPUs enabled in it (LivenessGraph: typed arrays,
// grown by doubling, no object per state or edge). Afterwards checkLiveness() finds the strongly
// connected components (Tarjan's algorithm, iterative, over Int32Arrays: graphlib's recursive
// objects-per-node tarjan does not fit millions of states) and, in each, whether it holds a
// weakly fair cycle: every fair CPU either moves on an edge inside the component or is disabled
// in some state of it (a cycle through all of the component then runs each fair CPU that stays
// enabled). That test needs no recursion into sub-components: a CPU enabled everywhere in a
// component with no move inside it is so in every cycle of the component too.
//
// A counterexample is a lasso: the shortest stem (BFS over the recorded edges) to the
// component, then a cycle through it that returns to the stem's last state, built greedily
// from breadth-first paths inside the component that cover each fairness requirement.
//
// States not expanded (an invariant broke there, a depth bound, a run stopped mid-state) have no
// recorded edges: they belong to no cycle and are no end state, so they cannot make a false
// lasso; the caller says "incomplete" for such runs unless a violation was found.

import type { CompiledModel } from "../model/model.ts";
import type { Packer, StateStore } from "./store.ts";
import { encodeMove, execute, labelOf, nextNode, waitingFor } from "../rt/machine.ts";
import { ModelError, Violation } from "../rt/mem.ts";

/** Most CPUs the liveness check handles: the enabled set is one 32-bit word per state. */
export const LIVENESS_MAX_CPUS = 32;

/**
 * Bytes per state the analysis may allocate after the search: Tarjan's numbers and low links,
 * marks, breadth-first parents, stamps and queue, and at worst (a depth-first path through every
 * state) its three stacks.
 */
export const ANALYSIS_BYTES_PER_STATE = 4 + 4 + 1 + 1 + 4 + 4 + 4 + 4 + 3 * 4;

/** The state graph, as the explorer records it. */
export class LivenessGraph {
  /** Per state: first edge + 1, or 0 when the state was not (completely) expanded. */
  start = new Int32Array(1024);
  /** Per state: one past its last edge. */
  end = new Int32Array(1024);
  /** Per state: the CPUs enabled in it, bit t for CPU t. */
  en = new Int32Array(1024);
  /** Per edge: the target state. */
  to = new Int32Array(4096);
  /** Per edge: the CPU that moves. */
  cpu = new Uint8Array(4096);
  /** Edges recorded (including those of a state whose expansion was cut short). */
  ne = 0;
  /** States committed. */
  committed = 0;

  edge(target: number, t: number): void {
    if (this.ne === this.to.length) this.growEdges();
    this.to[this.ne] = target;
    this.cpu[this.ne] = t;
    this.ne++;
  }

  /** State i was expanded completely: its edges are [e0, ne), `enabled` its enabled CPUs. */
  commit(i: number, e0: number, enabled: number): void {
    if (i >= this.start.length) this.growStates(i);
    this.start[i] = e0 + 1;
    this.end[i] = this.ne;
    this.en[i] = enabled;
    this.committed++;
  }

  get bytes(): number {
    return 3 * this.start.byteLength + this.to.byteLength + this.cpu.byteLength;
  }

  /** What the arrays may allocate while `states` more states (at most `count` so far) are added. */
  growthWithin(count: number, states: number): number {
    let g = 0;
    if (count + states > this.start.length) g += 6 * this.start.byteLength;
    const perState = count > 0 ? this.ne / count : 4;
    if (this.ne + Math.ceil(perState * states * 2) > this.to.length)
      g += 2 * (this.to.byteLength + this.cpu.byteLength);
    return g;
  }

  private growStates(i: number): void {
    let n = this.start.length * 2;
    while (n <= i) n *= 2;
    const g = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.start = g(this.start);
    this.end = g(this.end);
    this.en = g(this.en);
  }

  private growEdges(): void {
    const to = new Int32Array(this.to.length * 2);
    to.set(this.to);
    const cpu = new Uint8Array(this.cpu.length * 2);
    cpu.set(this.cpu);
    this.to = to;
    this.cpu = cpu;
  }
}

/** A liveness counterexample: the stem's moves, then the cycle's (empty: ends in an end state). */
export interface Lasso {
  readonly property: string;
  readonly message: string;
  /** Encoded moves (machine.ts encodeMove). */
  readonly stem: number[];
  /** Encoded moves that repeat forever; empty when the run ends in a state where no CPU can move. */
  readonly cycle: number[];
}

export interface LivenessInput {
  readonly model: CompiledModel;
  readonly store: StateStore;
  readonly packer: Packer;
  readonly graph: LivenessGraph;
}

/**
 * The one entry: every liveness property of the model (termination first, then eventually /
 * leadsTo in declaration order) that a reachable weakly fair cycle, or a run to an end state,
 * breaks, each with a lasso. Properties not listed hold over the recorded graph.
 */
export function checkLiveness(inp: LivenessInput): Lasso[] {
  const a = new Analysis(inp);
  const out: Lasso[] = [];
  const t = a.termination();
  if (t) out.push(t);
  for (const p of inp.model.livenessProps) {
    const l = a.leadsTo(p.name, p.p, p.q);
    if (l) out.push(l);
  }
  return out;
}

function after(steps: number): string {
  return steps === 0 ? "from the initial state" : `after ${steps} step${steps > 1 ? "s" : ""}`;
}

type Pred = (w: CompiledModel["world"]) => boolean | string;

/** Whether a target component or end state is what the property looks for. */
const IN_TARGET = 2;
const REACHES = 1;

class Analysis {
  private readonly n: number;
  private readonly model: CompiledModel;
  private readonly g: LivenessGraph;
  private readonly store: StateStore;
  private readonly packer: Packer;
  private readonly fairMask: number;
  private readonly endlessMask: number;
  private readonly vec: Int32Array;
  // Tarjan: num[s] > 0 while s is on the stack (its DFS number), -(component + 1) once assigned
  private readonly num: Int32Array;
  private readonly low: Int32Array;
  /** REACHES: can reach a target inside the subgraph; IN_TARGET: in a target itself. */
  private readonly mark: Uint8Array;
  /** Subgraph the current property looks at (1 = in). */
  private readonly inG: Uint8Array;
  // breadth-first searches: parent state, parent edge, a stamp per search
  private readonly parS: Int32Array;
  private readonly parE: Int32Array;
  private readonly seen: Int32Array;
  private readonly queue: Int32Array;
  private stamp = 0;

  constructor(inp: LivenessInput) {
    this.model = inp.model;
    this.g = inp.graph;
    this.store = inp.store;
    this.packer = inp.packer;
    this.n = inp.store.count;
    const T = this.model.threads.length;
    let fair = 0;
    let endless = 0;
    for (let t = 0; t < T; t++) {
      if (this.model.threads[t]!.fair) fair |= 1 << t;
      if (this.model.threads[t]!.endless) endless |= 1 << t;
    }
    this.fairMask = fair;
    this.endlessMask = endless;
    this.vec = new Int32Array(this.model.layout.words);
    const n = this.n;
    this.num = new Int32Array(n);
    this.low = new Int32Array(n);
    this.mark = new Uint8Array(n);
    this.inG = new Uint8Array(n);
    this.parS = new Int32Array(n);
    this.parE = new Int32Array(n);
    this.seen = new Int32Array(n);
    this.queue = new Int32Array(n);
  }

  private expanded(s: number): boolean {
    return s < this.g.start.length && this.g.start[s]! !== 0;
  }

  /** CPUs that have not finished in state s. */
  private unfinished(s: number): number {
    this.packer.unpackState(this.store, s, this.vec);
    let u = 0;
    const th = this.model.threads;
    for (let t = 0; t < th.length; t++) if (this.vec[th[t]!.pcOff] !== th[t]!.end) u |= 1 << t;
    return u;
  }

  /** Evaluates a predicate in every state: 1 where it holds. */
  private evalAll(p: Pred, name: string): Uint8Array {
    const out = new Uint8Array(this.n);
    const m = this.model.mem;
    const saved = m.b;
    try {
      for (let s = 0; s < this.n; s++) {
        this.packer.unpackState(this.store, s, this.vec);
        m.b = this.vec;
        let r: boolean | string;
        try {
          r = p(this.model.world);
        } catch (e) {
          if (e instanceof Violation) r = false;
          else {
            const err = e instanceof Error ? e : new Error(String(e));
            const w = new ModelError(
              "E_PROPERTY",
              `liveness property "${name}" threw: ${err.message}`,
              "fix the property function",
            );
            w.stack = err.stack;
            throw w;
          }
        }
        out[s] = r === true ? 1 : 0;
      }
    } finally {
      m.b = saved;
    }
    return out;
  }

  termination(): Lasso | undefined {
    this.inG.fill(1);
    const found = this.search(
      (moved) => {
        // called per fair component with its CPUs that moved inside it
        const u = this.unfinished(this.sccRep);
        return (u & ~this.endlessMask & (this.fairMask | moved)) !== 0;
      },
      false,
      [0],
    );
    if (!found) return undefined;
    const { stem, cycle, entry, moved } = found;
    const u = this.unfinished(entry);
    const witness = u & ~this.endlessMask & (this.fairMask | moved);
    const lines: string[] = [];
    const th = this.model.threads;
    this.packer.unpackState(this.store, entry, this.vec);
    for (let t = 0; t < th.length; t++) {
      if (!(witness & (1 << t))) continue;
      const who = `CPU${t} (${th[t]!.name})`;
      if (moved & (1 << t)) lines.push(`${who} runs forever without finishing`);
      else if (this.g.en[entry]! & (1 << t)) {
        const node = nextNode(th[t]!, this.vec)!;
        lines.push(
          `${who} never finishes: it is disabled somewhere on the cycle whenever it could run \`${labelOf(this.model, t, node, this.vec, undefined, 0)}\``,
        );
      } else lines.push(`${who} never finishes: ${waitingFor(this.model, t, this.vec)}`);
    }
    return {
      property: "termination",
      message:
        `termination: ${lines.join("; ")}; ${after(stem.length)} the ${cycle.length}-step cycle ` +
        `repeats forever, and every fair CPU that stays enabled on it runs (weak fairness)`,
      stem,
      cycle,
    };
  }

  leadsTo(name: string, p: Pred | undefined, q: Pred): Lasso | undefined {
    const qs = this.evalAll(q, name);
    for (let s = 0; s < this.n; s++) this.inG[s] = qs[s]! ^ 1;
    let sources: number[];
    if (p === undefined) sources = qs[0] ? [] : [0];
    else {
      const ps = this.evalAll(p, name);
      sources = [];
      for (let s = 0; s < this.n; s++) if (ps[s] && !qs[s]) sources.push(s);
    }
    if (sources.length === 0) return undefined;
    const found = this.search(() => true, true, sources);
    if (!found) return undefined;
    const { stem, cycle, sourceAt } = found;
    const what =
      p === undefined
        ? "it never holds"
        : `p held after step ${sourceAt}, and q never holds after that`;
    const how =
      cycle.length > 0
        ? `${after(stem.length)} the ${cycle.length}-step cycle repeats forever, and every fair CPU that stays enabled on it runs (weak fairness)`
        : `after step ${stem.length} no CPU can move`;
    return {
      property: name,
      message: `${name}: ${what}: ${how}`,
      stem,
      cycle,
    };
  }

  /** A representative state of the component being judged (for the termination witness). */
  private sccRep = 0;

  /**
   * Marks the components of the subgraph inG: IN_TARGET for a weakly fair cyclic component the
   * judge accepts (and, with `ends`, an expanded state where no CPU is enabled), REACHES for a
   * state that can reach one inside the subgraph. Then the lasso from the nearest source.
   */
  private search(
    judge: (moved: number) => boolean,
    ends: boolean,
    sources: number[],
  ):
    | { stem: number[]; cycle: number[]; entry: number; moved: number; sourceAt: number }
    | undefined {
    this.tarjan(judge, ends);
    if (!sources.some((s) => this.mark[s] !== 0)) return undefined;
    // the nearest source (from the initial state, over every recorded edge) that reaches a target
    const isSource = new Uint8Array(this.n);
    for (const s of sources) if (this.mark[s]) isSource[s] = 1;
    const r0 = this.bfs(
      [0],
      () => true,
      (s) => isSource[s] === 1,
    );
    if (r0 < 0) return undefined;
    const src = r0;
    const [stemStates, stemEdges] = this.pathTo(src);
    // from there, inside the subgraph, to the nearest target
    const r1 = this.bfs(
      [src],
      (s) => this.inG[s] === 1 && this.mark[s] !== 0,
      (s) => this.mark[s] === IN_TARGET,
    );
    if (r1 < 0) throw new Error("liveness: a marked source reaches no target (internal error)");
    const [, e1] = this.pathTo(r1);
    const stemE = [...stemEdges, ...e1];
    const stemS = [...stemStates, ...this.pathTo(r1)[0]];
    const sourceAt = stemEdges.length;
    const entry = r1;
    const stem = stemE.map((e, i) => this.moveOf(stemS[i]!, e));
    // an end state (no CPU enabled), or a state of a fair cyclic component
    if (this.g.en[entry] === 0) return { stem, cycle: [], entry, moved: 0, sourceAt };
    const moved = this.movedIn(entry);
    const cyc = this.cycleAt(entry, moved);
    if (cyc === undefined)
      throw new Error("liveness: no cycle in a fair component (internal error)");
    const cycle = cyc.edges.map((e, i) => this.moveOf(cyc.states[i]!, e));
    return { stem, cycle, entry, moved, sourceAt };
  }

  /** CPUs that move on an edge inside the component of s. */
  private movedIn(s: number): number {
    let moved = 0;
    const c = this.num[s]!;
    for (let v = 0; v < this.n; v++) {
      if (this.num[v] !== c) continue;
      for (let e = this.g.start[v]! - 1; e < this.g.end[v]!; e++)
        if (this.num[this.g.to[e]!] === c) moved |= 1 << this.g.cpu[e]!;
    }
    return moved;
  }

  /** Iterative Tarjan over the subgraph, marking targets and the states that reach them. */
  private tarjan(judge: (moved: number) => boolean, ends: boolean): void {
    const { num, low, mark, inG } = this;
    const { start, end, to, cpu, en } = this.g;
    const slen = start.length;
    num.fill(0);
    mark.fill(0);
    const n = this.n;
    let S = new Int32Array(1024);
    let sp = 0;
    let callN = new Int32Array(1024);
    let callE = new Int32Array(1024);
    let cp = 0;
    let counter = 0;
    let comp = 0;
    const edges0 = (s: number): number => (s < slen ? start[s]! - 1 : -1);
    const edges1 = (s: number): number => (s < slen ? end[s]! : -1);
    const push = (v: number): void => {
      counter++;
      num[v] = counter;
      low[v] = counter;
      if (sp === S.length) {
        const b = new Int32Array(S.length * 2);
        b.set(S);
        S = b;
      }
      S[sp++] = v;
      if (cp === callN.length) {
        const b = new Int32Array(callN.length * 2);
        b.set(callN);
        callN = b;
        const c = new Int32Array(callE.length * 2);
        c.set(callE);
        callE = c;
      }
      callN[cp] = v;
      callE[cp] = edges0(v);
      cp++;
    };
    for (let root = 0; root < n; root++) {
      if (num[root] !== 0 || !inG[root]) continue;
      push(root);
      while (cp > 0) {
        const v = callN[cp - 1]!;
        let e = callE[cp - 1]!;
        const e1 = edges1(v);
        let descended = false;
        while (e >= 0 && e < e1) {
          const w = to[e]!;
          e++;
          if (!inG[w]) continue;
          const nw = num[w]!;
          if (nw === 0) {
            callE[cp - 1] = e;
            push(w);
            descended = true;
            break;
          }
          if (nw > 0 && nw < low[v]!) low[v] = nw;
        }
        if (descended) continue;
        // v is done
        cp--;
        if (cp > 0) {
          const u = callN[cp - 1]!;
          if (low[v]! < low[u]!) low[u] = low[v]!;
        }
        if (low[v] !== num[v]) continue;
        // v roots a component: S[k..sp)
        let k = sp - 1;
        while (S[k] !== v) k--;
        const id = -++comp;
        for (let i = k; i < sp; i++) num[S[i]!] = id;
        let andEn = -1;
        let moved = 0;
        let cyclic = sp - k > 1;
        let reach = false;
        for (let i = k; i < sp; i++) {
          const s = S[i]!;
          andEn &= s < slen ? en[s]! : 0;
          const a = edges0(s);
          const b = edges1(s);
          for (let x = a; x >= 0 && x < b; x++) {
            const w = to[x]!;
            if (!inG[w]) continue;
            if (num[w] === id) {
              moved |= 1 << cpu[x]!;
              if (w === s) cyclic = true;
            } else if (mark[w] !== 0) reach = true;
          }
        }
        let target = false;
        if (cyclic && (this.fairMask & andEn & ~moved) === 0) {
          this.sccRep = v;
          target = judge(moved);
        } else if (!cyclic && ends && this.expanded(v) && en[v] === 0) target = true;
        const m = target ? IN_TARGET : reach ? REACHES : 0;
        if (m !== 0) for (let i = k; i < sp; i++) mark[S[i]!] = m;
        sp = k;
      }
    }
  }

  /**
   * Breadth-first from `from` over recorded edges into states `allowed` accepts; returns the
   * first state `goal` accepts (parents in parS/parE), or -1.
   */
  private bfs(
    from: number[],
    allowed: (s: number) => boolean,
    goal: (s: number) => boolean,
  ): number {
    const st = ++this.stamp;
    const { seen, parS, parE, queue } = this;
    let qh = 0;
    let qt = 0;
    for (const s of from) {
      if (seen[s] === st) continue;
      seen[s] = st;
      parS[s] = -1;
      parE[s] = -1;
      queue[qt++] = s;
    }
    const { start, end, to } = this.g;
    while (qh < qt) {
      const v = queue[qh++]!;
      if (goal(v)) return v;
      if (!this.expanded(v)) continue;
      for (let e = start[v]! - 1; e < end[v]!; e++) {
        const w = to[e]!;
        if (seen[w] === st || !allowed(w)) continue;
        seen[w] = st;
        parS[w] = v;
        parE[w] = e;
        queue[qt++] = w;
      }
    }
    return -1;
  }

  /** The states and edges from the last search's root to s. */
  private pathTo(s: number): [number[], number[]] {
    const states: number[] = [];
    const edges: number[] = [];
    for (let v = s; this.parS[v] !== -1; v = this.parS[v]!) {
      states.push(this.parS[v]!);
      edges.push(this.parE[v]!);
    }
    return [states.reverse(), edges.reverse()];
  }

  /**
   * A cycle from `entry` back to it inside its component, covering every fair CPU (a move of it,
   * or a state where it is disabled) and, for an unfair witness of termination, a move of it.
   */
  private cycleAt(entry: number, moved: number): { states: number[]; edges: number[] } | undefined {
    const c = this.num[entry]!;
    const inC = (s: number): boolean => this.num[s] === c;
    const { en, start, end, to, cpu } = this.g;
    const states: number[] = [];
    const edges: number[] = [];
    // the unfair CPUs that count as termination witnesses must move on the cycle
    let needMove = 0;
    {
      const u = this.unfinished(entry);
      const w = u & ~this.endlessMask;
      if ((w & this.fairMask) === 0) {
        const unfairMovers = w & moved & ~this.fairMask;
        if (unfairMovers !== 0) needMove = unfairMovers & -unfairMovers;
      }
    }
    let need = this.fairMask;
    need &= en[entry]!; // disabled at entry: satisfied
    let cur = entry;
    const follow = (target: number): void => {
      const [ps, pe] = this.pathTo(target);
      for (let i = 0; i < pe.length; i++) {
        const e = pe[i]!;
        states.push(ps[i]!);
        edges.push(e);
        need &= ~(1 << cpu[e]!);
        needMove &= ~(1 << cpu[e]!);
        need &= en[to[e]!]!;
      }
      cur = target;
    };
    while (need !== 0 || needMove !== 0) {
      const want = need | needMove;
      // nearest state where a needed CPU is disabled, or the source of an edge of a needed CPU
      let via = -1;
      const hit = this.bfs([cur], inC, (s) => {
        if (need & ~en[s]!) return true;
        for (let e = start[s]! - 1; e < end[s]!; e++) {
          if (inC(to[e]!) && want & (1 << cpu[e]!)) {
            via = e;
            return true;
          }
        }
        return false;
      });
      if (hit < 0) return undefined;
      follow(hit);
      if (via >= 0 && (need | needMove) & (1 << cpu[via]!)) {
        states.push(hit);
        edges.push(via);
        need &= ~(1 << cpu[via]!);
        needMove &= ~(1 << cpu[via]!);
        need &= en[to[via]!]!;
        cur = to[via]!;
      }
    }
    // back to the entry, by at least one move
    if (cur === entry && edges.length === 0) {
      let first = -1;
      for (let e = start[entry]! - 1; e < end[entry]!; e++)
        if (inC(to[e]!)) {
          first = e;
          break;
        }
      if (first < 0) return undefined;
      states.push(entry);
      edges.push(first);
      cur = to[first]!;
    }
    if (cur !== entry) {
      const back = this.bfs([cur], inC, (s) => s === entry);
      if (back < 0) return undefined;
      follow(back);
    }
    return { states, edges };
  }

  /** The move (CPU and choice) of edge e out of state s, found by re-executing the CPU's step. */
  private moveOf(s: number, e: number): number {
    const t = this.g.cpu[e]!;
    const w = this.g.to[e]!;
    const model = this.model;
    const th = model.threads[t]!;
    const pre = new Int32Array(model.layout.words);
    this.packer.unpackState(this.store, s, pre);
    const node = nextNode(th, pre);
    if (!node) throw new Error(`liveness: CPU${t} has finished in state ${s} (internal error)`);
    const m = model.mem;
    const saved = m.b;
    m.b = pre;
    m.cpu = t;
    let nch: number;
    try {
      nch = node.nchoices >= 0 ? node.nchoices : node.choicesFn!(th.ctx);
    } finally {
      m.b = saved;
    }
    const next = new Int32Array(pre.length);
    for (let c = 0; c < nch; c++) {
      next.set(pre);
      try {
        execute(model, t, c, next);
      } catch {
        continue;
      }
      this.packer.pack(next);
      if (this.store.equals(w, this.packer.out)) return encodeMove(t, c);
    }
    throw new Error(
      `liveness: no choice of CPU${t} leads from state ${s} to ${w} (internal error)`,
    );
  }
}
