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
import { hashWords } from "./store.ts";
import { hash2 } from "./visited.ts";

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
  /**
   * The words that can name a member (list pointers to its nodes, pointers to it, lock owners
   * naming it), for the refinement of the sort key: offset, kind (W_*), and the position of the
   * member whose block holds the word (-1: outside every member) with its slot there.
   */
  readonly refOff: Int32Array;
  /** 1 for a block word that is a reference of any kind (list pointer, pointer, lock owner). */
  readonly refish: Int8Array;
  readonly refKind: Int8Array;
  readonly refOwner: Int32Array;
  readonly refSlot: Int32Array;
}

export interface SymmetryInfo {
  /** One line per declared set: "CPU1..CPU3 (folio_put)", "F1..F9". */
  readonly sets: readonly string[];
  /** The size of the group: how many states at most one stored state stands for. */
  readonly order: number;
}

export class Symmetry {
  readonly groups: readonly Group[];
  private readonly tmp: Int32Array;
  private readonly order: Int32Array;
  /** Per position: the refined signature (sig), the next round's (nsig), the own words' hash. */
  private readonly sig: Int32Array;
  private readonly nsig: Int32Array;
  private readonly own: Int32Array;
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

  constructor(private readonly model: CompiledModel) {
    const lay = model.layout;
    const words = lay.words;
    this.tmp = new Int32Array(words);
    const T = model.threads.length;
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
    // objects first: a CPU's sort key then reads the objects it points to by their canonical
    // names (an object's key reads the CPUs pointing to it by their own words, not names)
    const decls = [...model.alike].sort(
      (x, y) => Number(x.kind === "cpus") - Number(y.kind === "cpus"),
    );
    decls.forEach((d, gi) => {
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
        refish: Int8Array.from(b0, (o) => {
          const k = lay.fields[o]!.kind;
          return k === "nodeptr" || k === "ptr" || k === "lock" ? 1 : 0;
        }),
        ...refWords(
          d.kind === "cpus",
          blocks,
          L,
          NQ > 0 ? this.nodeOffs : new Int32Array(0),
          ptrOffs,
          d.kind === "cpus" ? this.lockOffs : new Int32Array(0),
        ),
      });
    });
    // a word naming a member from inside a member of another set is told apart by that member's
    // own words (its name is not invariant: the other set is permuted too)
    for (const g of groups) {
      for (let i = 0; i < g.refOff.length; i++) {
        if (g.refOwner[i]! !== -1) continue;
        groups.forEach((h, hi) => {
          const at = h.blocks.indexOf(g.refOff[i]!);
          if (h === g || at < 0) return;
          g.refOwner[i] = -2 - ((hi << 8) | Math.floor(at / h.L));
          g.refSlot[i] = 100000 * (hi + 1) + (at % h.L);
        });
      }
    }
    this.groups = groups;
    this.order = new Int32Array(maxK);
    this.sig = new Int32Array(maxK);
    this.nsig = new Int32Array(maxK);
    this.own = new Int32Array(maxK);
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

  /** The position of the member word `v` of kind `kind` names in set gi, or -1. */
  private memberAt(gi: number, kind: number, v: number): number {
    if (v < 0) return -1;
    if (kind === W_NODE) {
      const e = this.nodeMember[v]!;
      return e >= 0 && e >>> 16 === gi ? (e >>> 8) & 0xff : -1;
    }
    if (kind === W_PTR) return this.elemPos[gi]![v]!;
    const e = this.cpuMember[v]!;
    return e >= 0 && e >>> 16 === gi ? (e >>> 8) & 0xff : -1;
  }

  /**
   * Signatures of set gi's members that do not depend on their names: a hash of their own words
   * (references to members abstracted), refined k - 1 times by who names them (a word outside
   * every member, by its offset; a word of another member, by its slot and that member's
   * signature of the round before), as colour refinement does. Members alike in their own words
   * but at different places of a list get different signatures.
   */
  private signatures(b: Int32Array, g: Group, gi: number): void {
    const k = g.k;
    const own = this.own;
    const sig = this.sig;
    const nsig = this.nsig;
    for (let p = 0; p < k; p++) {
      let h = 0x3c6ef372;
      for (let s = 0; s < g.L; s++)
        h = Math.imul(h ^ this.keyWord(b, g, gi, p, s), 0x9e3779b1) ^ (h >>> 15);
      own[p] = h;
      sig[p] = h;
    }
    const n = g.refOff.length;
    if (n === 0) return;
    // members already told apart by their own words need no refinement (whether they are is
    // itself the same for every permutation, so the key stays a function of the class)
    let ties = false;
    for (let p = 1; p < k && !ties; p++)
      for (let q = 0; q < p; q++) if (own[p] === own[q]) ties = true;
    if (!ties) return;
    for (let round = 1; round < k; round++) {
      for (let p = 0; p < k; p++) nsig[p] = own[p]!;
      for (let i = 0; i < n; i++) {
        const v = b[g.refOff[i]!]!;
        const kind = g.refKind[i]!;
        const t = this.memberAt(gi, kind, v);
        if (t < 0) continue;
        const q = g.refOwner[i]!;
        // which of the target's nodes is named matters too (its slot)
        const slot = kind === W_NODE ? this.nodeMember[v]! & 0xff : 0;
        let c = Math.imul(g.refSlot[i]! * 31 + slot + 7, 0x85ebca6b);
        if (q >= 0) c = Math.imul(c ^ sig[q]!, 0xc2b2ae35);
        else if (q < -1)
          c = Math.imul(c ^ this.plainHash(b, (-2 - q) >>> 8, (-2 - q) & 0xff), 0xc2b2ae35);
        c ^= c >>> 13;
        nsig[t] = (nsig[t]! + c) | 0;
      }
      for (let p = 0; p < k; p++) sig[p] = nsig[p]!;
    }
  }

  /** A hash of the words of set h's member at position q, every reference read as MEMBER. */
  private plainHash(b: Int32Array, h: number, q: number): number {
    const g = this.groups[h]!;
    let x = 0x1b873593;
    for (let s = 0; s < g.L; s++) {
      const v = b[g.blocks[q * g.L + s]!]!;
      const w = g.refish[s] === 1 && v >= 0 ? MEMBER : v;
      x = Math.imul(x ^ w, 0x9e3779b1) ^ (x >>> 15);
    }
    return x;
  }

  private compare(b: Int32Array, g: Group, gi: number, p: number, q: number): number {
    const sp = this.sig[p]!;
    const sq = this.sig[q]!;
    if (sp !== sq) return sp < sq ? -1 : 1;
    for (let s = 0; s < g.L; s++) {
      const x = this.keyWord(b, g, gi, p, s);
      const y = this.keyWord(b, g, gi, q, s);
      if (x !== y) return x - y;
    }
    return 0;
  }

  /**
   * Rewrites b in place into its canonical form. With `track`, track[gi] gets the permutation
   * applied to set gi (as apply() takes it: position j got the member at position track[gi][j]).
   */
  canon(b: Int32Array, track?: readonly Int32Array[]): void {
    const groups = this.groups;
    const order = this.order;
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi]!;
      const k = g.k;
      this.signatures(b, g, gi);
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
      if (track !== undefined) track[gi]!.set(order.subarray(0, k));
    }
  }

  /** Identity permutations, one per set (for canon's `track`). */
  identity(): Int32Array[] {
    return this.groups.map((g) => Int32Array.from({ length: g.k }, (_, p) => p));
  }

  /** The CPU that CPU `cpu` is under permutation `perm` (per set: position j holds perm[j]). */
  cpuUnder(perm: readonly Int32Array[], cpu: number): number {
    const e = this.cpuMember[cpu]!;
    if (e < 0) return cpu;
    const gi = e >>> 16;
    return this.groups[gi]!.members[perm[gi]![(e >>> 8) & 0xff]!]!;
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

/** The words that can name a member of a set, for Group (see refOff). */
function refWords(
  cpus: boolean,
  blocks: Int32Array,
  L: number,
  nodeOffs: Int32Array,
  ptrOffs: readonly number[],
  lockOffs: Int32Array,
): { refOff: Int32Array; refKind: Int8Array; refOwner: Int32Array; refSlot: Int32Array } {
  const where = new Map<number, [number, number]>();
  blocks.forEach((o, i) => where.set(o, [Math.floor(i / L), i % L]));
  const off: number[] = [];
  const kind: number[] = [];
  const owner: number[] = [];
  const slot: number[] = [];
  const add = (o: number, k: number): void => {
    const w = where.get(o);
    off.push(o);
    kind.push(k);
    owner.push(w ? w[0] : -1);
    // a word outside every member is told apart by its offset, one inside by its slot
    slot.push(w ? w[1] : 1000 + o);
  };
  for (const o of nodeOffs) add(o, W_NODE);
  for (const o of ptrOffs) add(o, W_PTR);
  if (cpus) for (const o of lockOffs) add(o, W_LOCK);
  return {
    refOff: Int32Array.from(off),
    refKind: Int8Array.from(kind),
    refOwner: Int32Array.from(owner),
    refSlot: Int32Array.from(slot),
  };
}

/** A 53-bit key of a state (two hashes): for the check's sets, where a collision only weakens it. */
function stateKey(b: Int32Array): number {
  return (hashWords(b) >>> 0) * 2 ** 21 + (hash2(b) & 0x1fffff);
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
): { next: Int32Array; warns: string } | { thrown: string } {
  const next = pre.slice();
  const m = model.mem;
  try {
    execute(model, cpu, choice, next);
  } catch (e) {
    m.pending.length = 0;
    m.loNewLen = 0;
    return { thrown: e instanceof Violation ? `violation ${e.property}` : "model error" };
  }
  const warns = m.pending
    .map((v) => v.property)
    .sort()
    .join(",");
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

/** Applies a whole permutation (one per set) to b. */
function applyAll(sym: Symmetry, b: Int32Array, perm: readonly Int32Array[]): void {
  for (let gi = 0; gi < perm.length; gi++) sym.apply(b, gi, perm[gi]!);
}

/**
 * A state's outcomes as text keys: each move's successor (with `perm` applied to it, when given)
 * or failure, with the warnings it raised; and one of the moves giving each.
 */
function successorKeys(
  model: CompiledModel,
  sym: Symmetry,
  b: Int32Array,
  perm: { gi: number; order: Int32Array } | undefined,
): Map<string | number, Move> {
  const keys = new Map<string | number, Move>();
  for (const mv of movesIn(model, b)) {
    const o = stepOutcome(model, mv.cpu, mv.choice, b);
    let k: string | number;
    if ("thrown" in o) k = o.thrown;
    else {
      if (perm) sym.apply(o.next, perm.gi, perm.order);
      k = o.warns === "" ? stateKey(o.next) : `${stateKey(o.next)}|${o.warns}`;
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
  let done = true;
  for (const th of model.threads) if (nextNode(th, b)) done = false;
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
 * in s and g(s), and the successors of g(s) are exactly the images under g of the successors of
 * s (each move of one has a mirror move in the other). Throws SymmetryBroken naming the first
 * difference. (Past those states a broken symmetry may still show when a counterexample is
 * mapped back, as E_SYMMETRY, or not at all: see README "Symmetry".)
 */
export function checkSymmetry(model: CompiledModel, sym: Symmetry, maxStates = 300): void {
  // a compiled model does not change: one check serves every search of it
  if ((checked.get(model) ?? 0) >= maxStates) return;
  const m = model.mem;
  const savedSeen = m.loSeen.slice();
  const gens = sym.generators();
  const seen = new Set<number>([stateKey(model.init)]);
  const queue: { b: Int32Array; depth: number }[] = [{ b: model.init.slice(), depth: 0 }];
  try {
    for (let qi = 0; qi < queue.length && qi < maxStates; qi++) {
      const { b, depth } = queue[qi]!;
      const props = propertyKey(model, b);
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
        const mirrored = successorKeys(model, sym, b, g);
        const gsucc = successorKeys(model, sym, gb, undefined);
        for (const [k, mv] of mirrored) {
          if (gsucc.has(k)) continue;
          const th = model.threads[mv.cpu]!;
          const node = nextNode(th, b)!;
          const label = typeof node.label === "string" ? node.label : `step ${node.pc + 1}`;
          throw new SymmetryBroken(
            `CPU${mv.cpu} (${th.name})'s step \`${label}\` (${node.site}) has no mirror ${where}: the step singles out a CPU or object of an alike() set, or the members are not used alike`,
          );
        }
        if (gsucc.size !== mirrored.size)
          throw new SymmetryBroken(
            `the mirrored state has more outcomes than the state itself ${where}: the members are not used alike`,
          );
      }
      for (const mv of movesIn(model, b)) {
        const o = stepOutcome(model, mv.cpu, mv.choice, b);
        if ("thrown" in o) continue;
        const key = stateKey(o.next);
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
  checked.set(model, maxStates);
}

/** Models whose symmetry checkSymmetry() found holding, on how many states. */
const checked = new WeakMap<CompiledModel, number>();

/** A concrete counterexample: its moves, and the state before the last one (or the end state). */
export interface Concrete {
  readonly schedule: Move[];
  /** The state the last move starts from, or the end state when there is no last move. */
  readonly pre: Int32Array;
}

/**
 * Maps a path of the reduced search back to the model's own CPUs and objects. `moves` lead from
 * canon(init) through canonical states (each move applied to the canonical state, the result
 * canonicalised); `last` (or undefined) is one more move from the last of them, which may fail.
 * Returns the schedule from the real initial state: the concrete state s and the canonical one c
 * are kept with the permutation P such that P(s) = c; each canonical move is taken by the CPU
 * P names (checked: P of its successor must be the canonical move's successor; else any move
 * that gives it), and P is composed with what canon() applies next.
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
    // P(s) = c, P kept as one order per set (apply() form)
    let perm = sym.identity();
    const step = sym.identity();
    const c = model.init.slice();
    sym.canon(c, perm);
    let s: Int32Array = model.init.slice();
    const schedule: Move[] = [];
    for (let i = 0; i <= moves.length; i++) {
      const mv = i < moves.length ? moves[i]! : last;
      if (mv === undefined) break;
      // what the move does on the canonical state (before canonicalising its successor)
      const want = stepOutcome(model, mv.cpu, mv.choice, c);
      // the concrete CPU P maps onto the canonical one: position j of c holds position perm[j] of s
      const hint = sym.cpuUnder(perm, mv.cpu);
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
        } else if ("next" in got && got.warns === want.warns) {
          const img = got.next.slice();
          applyAll(sym, img, perm);
          if (same(img, want.next)) found = { mv: cand, next: got.next };
        }
        if (found) break;
      }
      if (!found)
        throw new SymmetryBroken(
          `move ${i + 1} (CPU${mv.cpu}${mv.choice ? `:${mv.choice}` : ""}) of a counterexample found under symmetry has no concrete counterpart: the declared symmetry does not hold`,
        );
      schedule.push(found.mv);
      if (i === moves.length || !("next" in want)) return { schedule, pre: s };
      s = found.next!;
      // c' = canon(want.next) applies sigma: P' = sigma after P
      sym.canon(want.next, step);
      perm = perm.map((p, gi) => {
        const o = step[gi]!;
        return Int32Array.from(o, (x) => p[x]!);
      });
      c.set(want.next);
    }
    return { schedule, pre: s };
  } finally {
    m.loSeen.set(savedSeen);
    m.loNewLen = 0;
    m.pending.length = 0;
  }
}
