// Symmetry reduction. A model declares interchangeable CPUs and objects (ModelBuilder.alike,
// model/alike.ts); the explorer then canonicalises every state before the visited lookup: within
// each declared set it sorts the members by their own words and renames every reference to them
// (list pointers to their nodes, pointers to them, lock owners naming a CPU), so that states
// which differ only by which member is which are stored once.
//
// The canonical form is sound, not always minimal: canon(s) is always s under some permutation
// of the declared members (so two states it maps to one representative are symmetric, and the
// verdict of symmetric properties is kept), but two symmetric states whose members tie on their
// own words (two folios alike but for their place on a list) may get different representatives:
// the search then stores both, as it would without the reduction.
//
// The search stores canonical states, and the moves that lead from one to the next. A
// counterexample is mapped back to the model's real CPUs and objects by replaying it from the
// initial state: at each step the concrete move whose successor canonicalises to the next stored
// state (concretise()).
//
// Allocation: canon() allocates nothing (scratch arrays are made once per model).

import type { CompiledModel } from "../model/model.ts";
import type { AlikeDecl } from "../model/alike.ts";
import { Violation } from "../rt/mem.ts";
import { choicesOf, execute, isEnabled, nextNode, type Move } from "../rt/machine.ts";

/** Kinds of the words of a member's block, for the sort key. */
const W_PLAIN = 0;
const W_NODE = 1;
const W_LOCK = 2;
const W_PTR = 3;

/** A reference to a member of the set being sorted reads as this (its identity is not a key). */
const MEMBER = -0x40000000;

interface Group {
  readonly decl: AlikeDecl;
  readonly cpus: boolean;
  /** Member ids: CPU numbers or element indices. */
  readonly members: Int32Array;
  readonly k: number;
  /** Words per member block. */
  readonly L: number;
  /** Block offsets: member position p's word s is at blocks[p * L + s]. */
  readonly blocks: Int32Array;
  /** Kind of each block word (W_*). */
  readonly kinds: Int8Array;
  /** Nodes of each member: member position p's node slot q is nodes[p * NQ + q]. */
  readonly nodes: Int32Array;
  readonly NQ: number;
  /** Offsets of the ptr fields that point into this group's array (objects). */
  readonly ptrOffs: Int32Array;
}

export interface SymmetryInfo {
  /** One line per declared set: "CPU1..CPU3 (folio_put)", "F1..F9". */
  readonly sets: readonly string[];
  /** The size of the group: how many states at most one stored state stands for. */
  readonly order: number;
}

export class Symmetry {
  readonly groups: readonly Group[];
  /** After canon(): canonical CPU j is the CPU cpuOf[j] of the state passed in. */
  readonly cpuOf: Int32Array;
  private readonly tmp: Int32Array;
  private readonly order: Int32Array;
  private readonly inv: Int32Array;
  /** Per node id: its group * 2^16 + position * 2^8 + slot, or -1. */
  private readonly nodeMember: Int32Array;
  /** Per CPU: its CPU group's position * ..., as nodeMember (slot 0), or -1. */
  private readonly cpuMember: Int32Array;
  /** Per element index of each objects group: position, or -1 (by group). */
  private readonly elemPos: Int32Array[];
  /** Offsets of every nodeptr word, every lock word. */
  private readonly nodeOffs: Int32Array;
  private readonly lockOffs: Int32Array;
  /** Per CPU, the concrete CPU it stood for, scratch for cpuOf. */
  private readonly cpuTmp: Int32Array;

  constructor(private readonly model: CompiledModel) {
    const lay = model.layout;
    const words = lay.words;
    this.tmp = new Int32Array(words);
    const T = model.threads.length;
    this.cpuOf = new Int32Array(T);
    this.cpuTmp = new Int32Array(T);
    this.nodeMember = new Int32Array(lay.nodes.length).fill(-1);
    this.cpuMember = new Int32Array(T).fill(-1);
    const nodeOffs: number[] = [];
    const lockOffs: number[] = [];
    for (const f of lay.fields) {
      if (f.kind === "nodeptr") nodeOffs.push(f.off);
      if (f.kind === "lock") lockOffs.push(f.off);
    }
    this.nodeOffs = Int32Array.from(nodeOffs);
    this.lockOffs = Int32Array.from(lockOffs);
    let maxK = 1;
    const groups: Group[] = [];
    this.elemPos = [];
    model.alike.forEach((d, gi) => {
      const k = d.members.length;
      maxK = Math.max(maxK, k);
      const blockOf = (m: number): number[] =>
        d.kind === "cpus"
          ? lay.fields.filter((f) => f.cpu === m).map((f) => f.off)
          : Array.from({ length: d.array.stride }, (_, s) => d.array.base + m * d.array.stride + s);
      const nodesOf = (m: number): number[] =>
        lay.nodes
          .filter((n) =>
            d.kind === "cpus"
              ? n.cpu === m
              : n.container?.array === d.array && n.container.index === m,
          )
          .map((n) => n.id);
      const b0 = blockOf(d.members[0]!);
      const L = b0.length;
      const NQ = nodesOf(d.members[0]!).length;
      const blocks = new Int32Array(k * L);
      const nodes = new Int32Array(k * NQ);
      d.members.forEach((m, p) => {
        blocks.set(blockOf(m), p * L);
        nodesOf(m).forEach((id, q) => {
          nodes[p * NQ + q] = id;
          this.nodeMember[id] = (gi << 16) | (p << 8) | q;
        });
        if (d.kind === "cpus") this.cpuMember[m] = (gi << 16) | (p << 8);
      });
      const kinds = new Int8Array(L);
      for (let s = 0; s < L; s++) {
        const f = lay.fields[b0[s]!]!;
        kinds[s] =
          f.kind === "nodeptr"
            ? W_NODE
            : f.kind === "lock"
              ? W_LOCK
              : f.kind === "ptr" &&
                  d.kind === "objects" &&
                  f.schema.kind === "ptr" &&
                  lay.arrayOfRecord.get(f.schema.target) === d.array
                ? W_PTR
                : W_PLAIN;
      }
      const ptrOffs: number[] = [];
      if (d.kind === "objects") {
        for (const f of lay.fields)
          if (
            f.kind === "ptr" &&
            f.schema.kind === "ptr" &&
            lay.arrayOfRecord.get(f.schema.target) === d.array
          )
            ptrOffs.push(f.off);
        const pos = new Int32Array(d.array.length).fill(-1);
        d.members.forEach((m, p) => (pos[m] = p));
        this.elemPos[gi] = pos;
      } else this.elemPos[gi] = new Int32Array(0);
      groups.push({
        decl: d,
        cpus: d.kind === "cpus",
        members: Int32Array.from(d.members),
        k,
        L,
        blocks,
        kinds,
        nodes,
        NQ,
        ptrOffs: Int32Array.from(ptrOffs),
      });
    });
    this.groups = groups;
    this.order = new Int32Array(maxK);
    this.inv = new Int32Array(maxK);
  }

  /** What was declared, for the output. */
  info(): SymmetryInfo {
    const model = this.model;
    let order = 1;
    const sets = this.groups.map((g) => {
      for (let i = 2; i <= g.k; i++) order *= i;
      const ms = [...g.members];
      if (g.decl.kind === "cpus")
        return `CPUs ${ms.map((c) => `CPU${c}`).join(", ")} (${model.threads[ms[0]!]!.name})`;
      const labels = g.decl.array.labels;
      return `objects ${ms.map((i) => labels[i]).join(", ")}`;
    });
    return { sets, order };
  }

  /**
   * The word of member position p's block slot s, as the sort key sees it: a reference to a
   * member of the same set is MEMBER (plus its slot), not its name.
   */
  private keyWord(b: Int32Array, g: Group, gi: number, p: number, s: number): number {
    const v = b[g.blocks[p * g.L + s]!]!;
    if (v < 0) return v;
    switch (g.kinds[s]) {
      case W_NODE: {
        const nm = this.nodeMember[v]!;
        return nm >= 0 && nm >>> 16 === gi ? MEMBER + (nm & 0xff) : v;
      }
      case W_LOCK:
        return g.cpus && this.cpuMember[v]! >= 0 && this.cpuMember[v]! >>> 16 === gi ? MEMBER : v;
      case W_PTR:
        return this.elemPos[gi]![v]! >= 0 ? MEMBER : v;
      default:
        return v;
    }
  }

  private compare(b: Int32Array, g: Group, gi: number, p: number, q: number): number {
    for (let s = 0; s < g.L; s++) {
      const x = this.keyWord(b, g, gi, p, s);
      const y = this.keyWord(b, g, gi, q, s);
      if (x !== y) return x - y;
    }
    return 0;
  }

  /** Rewrites b in place into its canonical form; cpuOf tells which CPU became which. */
  canon(b: Int32Array): void {
    const cpuOf = this.cpuOf;
    for (let t = 0; t < cpuOf.length; t++) cpuOf[t] = t;
    const groups = this.groups;
    const order = this.order;
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi]!;
      const k = g.k;
      // insertion sort of the positions by key (stable: ties keep their order)
      for (let p = 0; p < k; p++) order[p] = p;
      let moved = false;
      for (let i = 1; i < k; i++) {
        const x = order[i]!;
        let j = i - 1;
        while (j >= 0 && this.compare(b, g, gi, order[j]!, x) > 0) {
          order[j + 1] = order[j]!;
          j--;
        }
        if (j !== i - 1) moved = true;
        order[j + 1] = x;
      }
      if (moved) this.apply(b, gi, order);
    }
  }

  /**
   * Applies a permutation of group gi's members: the member at position order[j] moves to
   * position j, and every reference to it is renamed.
   */
  apply(b: Int32Array, gi: number, order: Int32Array): void {
    const g = this.groups[gi]!;
    const k = g.k;
    const L = g.L;
    const inv = this.inv;
    for (let j = 0; j < k; j++) inv[order[j]!] = j;
    const tmp = this.tmp;
    tmp.set(b);
    const blocks = g.blocks;
    for (let j = 0; j < k; j++) {
      const from = order[j]! * L;
      const to = j * L;
      for (let s = 0; s < L; s++) b[blocks[to + s]!] = tmp[blocks[from + s]!]!;
    }
    // rename the references to the members (wherever they are, moved blocks included)
    const NQ = g.NQ;
    if (NQ > 0) {
      const nodeOffs = this.nodeOffs;
      const nm = this.nodeMember;
      for (let i = 0; i < nodeOffs.length; i++) {
        const o = nodeOffs[i]!;
        const v = b[o]!;
        if (v < 0) continue;
        const e = nm[v]!;
        if (e < 0 || e >>> 16 !== gi) continue;
        b[o] = g.nodes[inv[(e >>> 8) & 0xff]! * NQ + (e & 0xff)]!;
      }
    }
    if (g.cpus) {
      const lockOffs = this.lockOffs;
      const cm = this.cpuMember;
      for (let i = 0; i < lockOffs.length; i++) {
        const o = lockOffs[i]!;
        const v = b[o]!;
        if (v < 0 || cm[v]! < 0 || cm[v]! >>> 16 !== gi) continue;
        b[o] = g.members[inv[(cm[v]! >>> 8) & 0xff]!]!;
      }
      const cpuOf = this.cpuOf;
      const ct = this.cpuTmp;
      ct.set(cpuOf);
      for (let j = 0; j < k; j++) cpuOf[g.members[j]!] = ct[g.members[order[j]!]!]!;
    } else {
      const ptrOffs = g.ptrOffs;
      const pos = this.elemPos[gi]!;
      for (let i = 0; i < ptrOffs.length; i++) {
        const o = ptrOffs[i]!;
        const v = b[o]!;
        if (v < 0 || pos[v]! < 0) continue;
        b[o] = g.members[inv[pos[v]!]!]!;
      }
    }
  }

  /** The generators of the declared group: per set, a swap of its first two members and a rotation. */
  generators(): { gi: number; order: Int32Array; text: string }[] {
    const out: { gi: number; order: Int32Array; text: string }[] = [];
    this.groups.forEach((g, gi) => {
      const name = (p: number): string =>
        g.decl.kind === "cpus" ? `CPU${g.members[p]}` : g.decl.array.labels[g.members[p]!]!;
      const swap = Int32Array.from({ length: g.k }, (_, p) => (p < 2 ? 1 - p : p));
      out.push({ gi, order: swap, text: `${name(0)} and ${name(1)} swapped` });
      if (g.k > 2) {
        const rot = Int32Array.from({ length: g.k }, (_, p) => (p + 1) % g.k);
        out.push({ gi, order: rot, text: `${name(0)}..${name(g.k - 1)} rotated` });
      }
    });
    return out;
  }
}

/** A model whose declared symmetry does not hold: what shows it. */
export class SymmetryBroken extends Error {
  override name = "SymmetryBroken";
}

function same(a: Int32Array, b: Int32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What a move does in a state: its successor, or how it fails. */
function stepOutcome(
  model: CompiledModel,
  cpu: number,
  choice: number,
  pre: Int32Array,
): { next: Int32Array; warns: string[] } | { thrown: string } {
  const next = pre.slice();
  const m = model.mem;
  try {
    execute(model, cpu, choice, next);
  } catch (e) {
    m.pending.length = 0;
    m.loNewLen = 0;
    return { thrown: e instanceof Violation ? `violation ${e.property}` : String(e) };
  }
  const warns = m.pending.map((v) => v.property).sort();
  m.pending.length = 0;
  m.loNewLen = 0;
  return { next, warns };
}

/** The moves enabled in b, in (cpu, choice) order. */
function movesIn(model: CompiledModel, b: Int32Array): Move[] {
  const out: Move[] = [];
  for (let t = 0; t < model.threads.length; t++) {
    if (!nextNode(model.threads[t]!, b)) continue;
    try {
      if (!isEnabled(model, t, b)) continue;
      const n = choicesOf(model, t, b);
      for (let c = 0; c < n; c++) out.push({ cpu: t, choice: c });
    } catch {
      out.push({ cpu: t, choice: 0 });
    }
  }
  return out;
}

/** A state's outcomes as text keys: each move's canonical successor or failure, and the properties. */
function successorKeys(model: CompiledModel, sym: Symmetry, b: Int32Array): Map<string, Move> {
  const keys = new Map<string, Move>();
  for (const mv of movesIn(model, b)) {
    const o = stepOutcome(model, mv.cpu, mv.choice, b);
    let k: string;
    if ("thrown" in o) k = o.thrown;
    else {
      sym.canon(o.next);
      k = `${o.next.join(",")}|${o.warns.join(",")}`;
    }
    if (!keys.has(k)) keys.set(k, mv);
  }
  return keys;
}

function propertyKey(model: CompiledModel, b: Int32Array): string {
  const m = model.mem;
  const saved = m.b;
  m.b = b;
  const parts: string[] = [];
  const T = model.threads.length;
  let done = true;
  for (let t = 0; t < T; t++) if (nextNode(model.threads[t]!, b)) done = false;
  try {
    const eval_ = (fn: (w: CompiledModel["world"]) => boolean | string): string => {
      try {
        return fn(model.world) === true ? "1" : "0";
      } catch (e) {
        return e instanceof Violation ? `!${e.property}` : "error";
      }
    };
    for (const inv of model.invariants) parts.push(`${inv.name}=${eval_(inv.fn)}`);
    if (done) for (const p of model.endStates) parts.push(`${p.name}=${eval_(p.fn)}`);
  } finally {
    m.b = saved;
  }
  return parts.join(";");
}

/**
 * Checks on the first `maxStates` states of the unreduced search that the declared symmetry
 * holds: for each generator g of the group and each state s, the properties have the same values
 * in s and g(s), and the canonical successors of s and of g(s) are the same (each move of one
 * has a mirror move in the other). Throws SymmetryBroken naming the first difference.
 */
export function checkSymmetry(model: CompiledModel, sym: Symmetry, maxStates = 200): void {
  const m = model.mem;
  const savedSeen = m.loSeen.slice();
  const gens = sym.generators();
  const seen = new Set<string>([model.init.join(",")]);
  const queue: { b: Int32Array; depth: number }[] = [{ b: model.init.slice(), depth: 0 }];
  try {
    for (let qi = 0; qi < queue.length && qi < maxStates; qi++) {
      const { b, depth } = queue[qi]!;
      const props = propertyKey(model, b);
      const succ = successorKeys(model, sym, b);
      for (const g of gens) {
        const gb = b.slice();
        sym.apply(gb, g.gi, g.order);
        const where = `in a state ${depth} steps from the start, with ${g.text}`;
        const gp = propertyKey(model, gb);
        if (gp !== props) {
          const a = props.split(";");
          const c = gp.split(";");
          const i = a.findIndex((x, j) => x !== c[j]);
          const name = (a[i] ?? "?").replace(/=.*$/, "");
          throw new SymmetryBroken(
            `property "${name}" does not give the same answer ${where}: it singles out a member of an alike() set`,
          );
        }
        const gsucc = successorKeys(model, sym, gb);
        for (const [k, mv] of succ) {
          if (gsucc.has(k)) continue;
          const th = model.threads[mv.cpu]!;
          const node = nextNode(th, b)!;
          const label = typeof node.label === "string" ? node.label : `step ${node.pc + 1}`;
          throw new SymmetryBroken(
            `CPU${mv.cpu} (${th.name})'s step \`${label}\` (${node.site}) has no mirror ${where}: the step singles out a CPU or object of an alike() set, or the members are not used alike`,
          );
        }
        if (gsucc.size !== succ.size)
          throw new SymmetryBroken(
            `the mirrored state has more moves than the state itself ${where}: the members are not used alike`,
          );
      }
      for (const mv of movesIn(model, b)) {
        const o = stepOutcome(model, mv.cpu, mv.choice, b);
        if ("thrown" in o) continue;
        const key = o.next.join(",");
        if (seen.has(key)) continue;
        seen.add(key);
        queue.push({ b: o.next, depth: depth + 1 });
      }
    }
  } finally {
    m.loSeen.set(savedSeen);
    m.loNewLen = 0;
    m.pending.length = 0;
  }
}

/** A concrete counterexample: its moves, and the state before the last one (or the end state). */
export interface Concrete {
  readonly schedule: Move[];
  /** The state the last move starts from, or the end state when there is no last move. */
  readonly pre: Int32Array;
}

/**
 * Maps a path of the reduced search back to the model's own CPUs and objects. `moves` lead from
 * canon(init) through canonical states (each move applied to the canonical state, the result
 * canonicalised); `last` (or -1) is one more move from the last of them, which may fail. Returns
 * the concrete schedule from the real initial state: at each step the concrete move whose
 * successor has the same canonical form (the one the permutation names first, else any).
 */
export function concretise(
  model: CompiledModel,
  sym: Symmetry,
  moves: readonly Move[],
  last: Move | undefined,
): Concrete {
  const m = model.mem;
  const savedSeen = m.loSeen.slice();
  try {
    const c = model.init.slice();
    sym.canon(c);
    let s: Int32Array = model.init.slice();
    const schedule: Move[] = [];
    const probe = new Int32Array(s.length);
    for (let i = 0; i <= moves.length; i++) {
      const mv = i < moves.length ? moves[i]! : last;
      if (mv === undefined) break;
      // what the move does on the canonical state
      const want = stepOutcome(model, mv.cpu, mv.choice, c);
      if ("next" in want) sym.canon(want.next);
      // which concrete CPU the canonical one stands for
      probe.set(s);
      sym.canon(probe);
      const hint = sym.cpuOf[mv.cpu]!;
      const cands = movesIn(model, s).sort(
        (a, b) =>
          Number(b.cpu === hint && b.choice === mv.choice) -
          Number(a.cpu === hint && a.choice === mv.choice),
      );
      let found: { mv: Move; next: Int32Array | undefined } | undefined;
      for (const cand of cands) {
        const got = stepOutcome(model, cand.cpu, cand.choice, s);
        if ("thrown" in want) {
          if ("thrown" in got && got.thrown === want.thrown) found = { mv: cand, next: undefined };
        } else if ("next" in got && got.warns.join() === want.warns.join()) {
          const n = got.next.slice();
          sym.canon(n);
          if (same(n, want.next)) found = { mv: cand, next: got.next };
        }
        if (found) break;
      }
      if (!found)
        throw new SymmetryBroken(
          `move ${i + 1} (CPU${mv.cpu}${mv.choice ? `:${mv.choice}` : ""}) of a counterexample found under symmetry has no concrete counterpart: the declared symmetry does not hold`,
        );
      schedule.push(found.mv);
      if (i === moves.length) return { schedule, pre: s };
      s = found.next!;
      if (!("next" in want)) break;
      c.set(want.next);
    }
    return { schedule, pre: s };
  } finally {
    m.loSeen.set(savedSeen);
    m.loNewLen = 0;
    m.pending.length = 0;
  }
}
