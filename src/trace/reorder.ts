// The fewest context switches: a counterexample found by breadth-first search is a shortest
// trace, but its steps come in the order the search happened to take them, often switching CPUs
// at every step. Two adjacent steps that are independent (different CPUs, no word of state that
// one writes and the other reads or writes) can be swapped without changing what either does or
// the state reached, so every topological order of the trace's happens-before graph is the same
// execution, written in another order (its Mazurkiewicz trace). Among these, we show the one
// with the fewest context switches: a person reads "CPU0 does this, then CPU1 does that" far
// more easily than a step-by-step alternation.
//
// Footprints come from a dry run of each step in the state it ran in, as the data-race check
// takes them (stepAccesses in replay.ts), plus the words its guard and its choice count read:
// whether a step can run at all (and how many ways) depends on those, so a write to them orders
// the two steps too. A step that throws (the last step of an assertion's trace) stays last.

import { Graph } from "@dagrejs/graphlib";
import { replay } from "./replay.ts";
import type { CompiledModel } from "../model/model.ts";
import { choicesOf, execute, isEnabled, nextNode, type Move } from "../rt/machine.ts";

/** Steps whose CPU differs from the previous step's. */
export function contextSwitches(moves: readonly { cpu: number }[]): number {
  let n = 0;
  for (let i = 1; i < moves.length; i++) if (moves[i]!.cpu !== moves[i - 1]!.cpu) n++;
  return n;
}

/** The words a step read and wrote (offsets into the state vector). */
export interface Footprint {
  readonly cpu: number;
  readonly reads: ReadonlySet<number>;
  readonly writes: ReadonlySet<number>;
  /** The step threw (a violation or a model error): it must stay the last one. */
  readonly threw: boolean;
}

/**
 * A view of state b that records which words are read and written through it. Steps, guards
 * and kernel primitives read the state both through Mem (which records only when tracking
 * accesses for the race check) and directly (a lock's guard reads its word as `m.b[off]`):
 * the proxy sees both.
 */
function recording(b: Int32Array, reads: Set<number>, writes: Set<number>): Int32Array {
  return new Proxy(b, {
    get(t, k) {
      if (typeof k === "string" && k.length > 0 && k.charCodeAt(0) <= 57 && /^\d+$/.test(k)) {
        reads.add(Number(k));
        return t[Number(k)];
      }
      const v = Reflect.get(t, k, t) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
    set(t, k, v) {
      if (typeof k === "string" && /^\d+$/.test(k)) {
        writes.add(Number(k));
        t[Number(k)] = v as number;
        return true;
      }
      return Reflect.set(t, k, v, t);
    },
  });
}

/**
 * Each step's footprint, replaying the schedule from the initial state. Stops at the first move
 * that cannot be taken (the schedule does not fit the model): the result is then shorter.
 */
export function footprints(model: CompiledModel, schedule: readonly Move[]): Footprint[] {
  const b = model.init.slice();
  const out: Footprint[] = [];
  for (const { cpu, choice } of schedule) {
    const th = model.threads[cpu];
    if (!th || !nextNode(th, b)) break;
    const reads = new Set<number>();
    const writes = new Set<number>();
    const guardReads = new Set<number>();
    const view = recording(b, reads, writes);
    const guardView = recording(b, guardReads, guardReads);
    let threw = false;
    let ok: boolean;
    try {
      ok = isEnabled(model, cpu, guardView);
    } catch {
      ok = true; // a guard that throws: replay shows the step failing there
      threw = true;
    }
    if (!ok) break;
    if (!threw) {
      let n: number;
      try {
        n = choicesOf(model, cpu, guardView);
      } catch {
        n = 1;
        threw = true;
      }
      if (choice >= n) break;
    }
    if (!threw) {
      const pre = b.slice();
      try {
        execute(model, cpu, choice, view);
      } catch {
        threw = true;
        b.set(pre);
      }
    }
    for (const r of guardReads) reads.add(r);
    out.push({ cpu, reads, writes, threw });
    if (threw) break;
  }
  return out;
}

function intersects(a: ReadonlySet<number>, b: ReadonlySet<number>): boolean {
  const [s, l] = a.size <= b.size ? [a, b] : [b, a];
  for (const x of s) if (l.has(x)) return true;
  return false;
}

/** Two steps that may not be swapped: same CPU, or a word one writes and the other touches. */
export function dependent(x: Footprint, y: Footprint): boolean {
  return (
    x.cpu === y.cpu ||
    intersects(x.writes, y.writes) ||
    intersects(x.writes, y.reads) ||
    intersects(x.reads, y.writes)
  );
}

/**
 * The happens-before graph of a trace: node "i" for step i, an edge i -> j (i < j) for every
 * dependent pair, and from every step to a last step that threw.
 */
export function happensBefore(fp: readonly Footprint[]): Graph {
  const g = new Graph({ directed: true });
  for (let i = 0; i < fp.length; i++) g.setNode(String(i), fp[i]!.cpu);
  for (let j = 0; j < fp.length; j++) {
    const last = j === fp.length - 1 && fp[j]!.threw;
    for (let i = 0; i < j; i++) {
      if (last || dependent(fp[i]!, fp[j]!)) g.setEdge(String(i), String(j));
    }
  }
  return g;
}

/**
 * A topological order of the happens-before graph that keeps running the current CPU while its
 * next step is ready. When it must switch, it goes to the ready CPU that can then run the
 * longest stretch on its own (ties: the earliest step of the original order).
 */
export function greedyOrder(g: Graph): number[] {
  const n = g.nodeCount();
  const indeg = new Int32Array(n);
  for (let i = 0; i < n; i++) indeg[i] = g.inEdges(String(i))!.length;
  const cpu = (i: number): number => g.node(String(i)) as number;
  const succ = (i: number): number[] => g.successors(String(i))!.map(Number);
  const ready = new Set<number>();
  for (let i = 0; i < n; i++) if (indeg[i] === 0) ready.add(i);
  // the steps of `c` that would run one after the other from here, with no other CPU moving
  const stretch = (c: number): number => {
    const deg = new Map<number, number>();
    let len = 0;
    let cur = [...ready].find((i) => cpu(i) === c);
    while (cur !== undefined) {
      len++;
      let next: number | undefined;
      for (const s of succ(cur)) {
        const d = (deg.get(s) ?? indeg[s]!) - 1;
        deg.set(s, d);
        if (d === 0 && cpu(s) === c) next = s;
      }
      cur = next;
    }
    return len;
  };
  const out: number[] = [];
  let last = -1;
  while (ready.size > 0) {
    let pick: number | undefined;
    for (const i of ready) if (cpu(i) === last && (pick === undefined || i < pick)) pick = i;
    if (pick === undefined) {
      let best = -1;
      for (const i of [...ready].sort((a, b) => a - b)) {
        const s = stretch(cpu(i));
        if (s > best) {
          best = s;
          pick = i;
        }
      }
    }
    const i = pick!;
    ready.delete(i);
    out.push(i);
    last = cpu(i);
    for (const s of succ(i)) if (--indeg[s]! === 0) ready.add(s);
  }
  if (out.length !== n) throw new Error("greedyOrder: the happens-before graph has a cycle");
  return out;
}

/**
 * The order with the fewest context switches among all topological orders, by dynamic
 * programming over how far each CPU has got (a set of executed steps closed under
 * happens-before is one prefix per CPU, since a CPU's steps are ordered). Undefined when that
 * space exceeds `maxStates` (the product of (steps of a CPU + 1) over CPUs, times CPUs).
 */
export function optimalOrder(g: Graph, maxStates = 500_000): number[] | undefined {
  const n = g.nodeCount();
  const cpuOf = Array.from({ length: n }, (_, i) => g.node(String(i)) as number);
  const cpus = [...new Set(cpuOf)].sort((a, b) => a - b);
  const lane = new Map(cpus.map((c, k) => [c, k]));
  const K = cpus.length;
  const seq: number[][] = cpus.map(() => []);
  const pos = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = lane.get(cpuOf[i]!)!;
    pos[i] = seq[k]!.length;
    seq[k]!.push(i);
  }
  let space = K;
  for (const s of seq) space *= s.length + 1;
  if (space > maxStates) return undefined;
  // need[i][k]: steps of lane k that must have run before step i
  const need = Array.from({ length: n }, () => new Int32Array(K));
  for (let i = 0; i < n; i++) {
    for (const p of g.predecessors(String(i))!.map(Number)) {
      const k = lane.get(cpuOf[p]!)!;
      need[i]![k] = Math.max(need[i]![k]!, pos[p]! + 1);
    }
  }
  // a state: counts per lane (mixed radix) and the lane that ran last; its cost the switches
  const radix = seq.map((s) => s.length + 1);
  const decode = (s: number, counts: Int32Array): number => {
    const lastLane = s % K;
    let x = (s - lastLane) / K;
    for (let k = 0; k < K; k++) {
      counts[k] = x % radix[k]!;
      x = (x - counts[k]!) / radix[k]!;
    }
    return lastLane;
  };
  const weight = radix.map((_, k) => radix.slice(0, k).reduce((a, r) => a * r, 1));
  const from = new Map<number, number>();
  let layer = new Map<number, number>();
  for (let k = 0; k < K; k++) {
    if (need[seq[k]![0]!]!.some((x) => x > 0)) continue;
    const s = weight[k]! * K + k;
    layer.set(s, 0);
    from.set(s, -1);
  }
  const counts = new Int32Array(K);
  for (let t = 1; t < n; t++) {
    const next = new Map<number, number>();
    for (const [s, base] of layer) {
      const lastLane = decode(s, counts);
      const at = s - lastLane; // the counts part, times K
      for (let k = 0; k < K; k++) {
        if (counts[k]! >= seq[k]!.length) continue;
        const step = seq[k]![counts[k]!]!;
        let ok = true;
        for (let q = 0; q < K && ok; q++) if (counts[q]! < need[step]![q]!) ok = false;
        if (!ok) continue;
        const s2 = at + weight[k]! * K + k;
        const v = base + (k === lastLane ? 0 : 1);
        const old = next.get(s2);
        if (old === undefined || v < old) {
          next.set(s2, v);
          from.set(s2, s);
        }
      }
    }
    layer = next;
  }
  let end: number | undefined;
  for (const [s, v] of layer) if (end === undefined || v < layer.get(end)!) end = s;
  if (end === undefined) return n === 0 ? [] : undefined;
  const lanesBack: number[] = [];
  for (let s = end; s !== -1; s = from.get(s)!) lanesBack.push(s % K);
  counts.fill(0);
  return lanesBack.reverse().map((k) => seq[k]![counts[k]!++]!);
}

export interface Reordered {
  /** The same moves, in the order with the fewest context switches found. */
  readonly moves: readonly Move[];
  readonly switches: number;
  readonly originalSwitches: number;
  /** Switches of the greedy order (the optimum's search may be skipped on large traces). */
  readonly greedySwitches: number;
  /** Switches of the optimum, when its search ran. */
  readonly optimalSwitches: number | undefined;
}

/**
 * The schedule with the fewest context switches among those equivalent to `schedule` (same
 * steps, independent ones swapped): the optimum when its search space is small enough, else the
 * greedy order; never one with more switches than the original. A schedule that does not fit
 * the model (or ends in a lasso, whose cycle must stay in one piece) is returned as it is.
 */
export function fewestSwitches(
  model: CompiledModel,
  schedule: readonly Move[],
  opts: { maxStates?: number } = {},
): Reordered {
  const originalSwitches = contextSwitches(schedule);
  const same: Reordered = {
    moves: schedule,
    switches: originalSwitches,
    originalSwitches,
    greedySwitches: originalSwitches,
    optimalSwitches: undefined,
  };
  const fp = footprints(model, schedule);
  if (fp.length !== schedule.length) return same;
  const g = happensBefore(fp);
  const greedy = greedyOrder(g).map((i) => schedule[i]!);
  const greedySwitches = contextSwitches(greedy);
  const opt = optimalOrder(g, opts.maxStates);
  const optimal = opt?.map((i) => schedule[i]!);
  const optimalSwitches = optimal ? contextSwitches(optimal) : undefined;
  let moves: readonly Move[] = schedule;
  let switches = originalSwitches;
  for (const cand of [optimal, greedy]) {
    if (!cand) continue;
    const s = contextSwitches(cand);
    if (s < switches) {
      moves = cand;
      switches = s;
    }
  }
  return { moves, switches, originalSwitches, greedySwitches, optimalSwitches };
}

/**
 * fewestSwitches for a counterexample, checked: the reordered schedule is kept only when its
 * replay ends in the same state and still shows `property` (else the original is returned).
 * A lasso (cycleStart set: a liveness counterexample) is returned as it is.
 */
export function readableOrder(
  model: CompiledModel,
  schedule: readonly Move[],
  property: string,
  cycleStart?: number,
): Reordered {
  if (cycleStart !== undefined) {
    // a lasso: its repeating part must stay in one piece, in its order
    const n = contextSwitches(schedule);
    return {
      moves: schedule,
      switches: n,
      originalSwitches: n,
      greedySwitches: n,
      optimalSwitches: undefined,
    };
  }
  const r = fewestSwitches(model, schedule);
  if (r.moves === schedule) return r;
  const a = replay(model, schedule);
  const b = replay(model, r.moves);
  const same =
    b.infeasible === undefined &&
    b.outcomes.some((o) => o.property === property) &&
    a.final.length === b.final.length &&
    a.final.every((v, i) => v === b.final[i]);
  return same ? r : { ...r, moves: schedule, switches: r.originalSwitches };
}
