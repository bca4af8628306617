// lockdep's lock-order check over a whole search (Documentation/locking/lockdep-design.rst):
// every time a CPU takes lock B while holding lock A, the edge A -> B is recorded; a cycle in
// the graph of edges is a possible deadlock, reported even when no state of the search
// deadlocks (lockdep reports an AB-BA inversion the first time it has seen both orders, not when
// it hangs). The spinlock primitives record acquisitions into Mem's preallocated edge matrix
// (rt/mem.ts); the explorer attaches to each edge, the first time it is seen, the state and the
// move that took it (so that its acquisition path can be printed), and the graph is built with
// graphlib only at the end.
//
// Nodes are lock classes (`deferred_split.split_queue_lock`), as in lockdep, with subclasses for
// spin_lock_nested(); or lock instances when the model asks for `lockdep: { order: "instance" }`
// (see Mem and ModelOptions.lockdep).

import { alg, Graph } from "@dagrejs/graphlib";
import type { CompiledModel } from "../model/model.ts";
import type { Mem } from "../rt/mem.ts";
import { LOCKDEP_SUBCLASSES } from "../rt/mem.ts";
import { decodeMove, labelOf, type Move } from "../rt/machine.ts";
import type { LockPath } from "./result.ts";

export interface LockCycle {
  readonly message: string;
  /** The witness of the edge shown as the main schedule: its state and move. */
  readonly state: number;
  readonly move: number;
  readonly paths: readonly LockPath[];
}

/** The name of lock-order node `n` of a model's Mem (a class, `class/subclass`, or a lock). */
export function lockNodeName(m: Mem, n: number): string {
  if (m.loInstances) return m.layout.locks[n]?.name ?? `lock#${n}`;
  const cls = Math.floor(n / LOCKDEP_SUBCLASSES);
  const sub = n % LOCKDEP_SUBCLASSES;
  const name = classNames(m)[cls] ?? `class#${cls}`;
  return sub === 0 ? name : `${name}/${sub}`;
}

const namesCache = new WeakMap<Mem, string[]>();
function classNames(m: Mem): string[] {
  let names = namesCache.get(m);
  if (!names) {
    names = [];
    for (const l of m.layout.locks) {
      const c = m.loNode[l.off]! / LOCKDEP_SUBCLASSES;
      names[c] ??= l.cls;
    }
    namesCache.set(m, names);
  }
  return names;
}

/** The edges of a Mem's matrix whose ids are in `edges`, as a graphlib graph keyed by name. */
export function lockGraph(m: Mem, edges: Iterable<number>): Graph {
  const g = new Graph({ directed: true });
  const N = m.loN;
  for (const e of edges) {
    const from = lockNodeName(m, Math.floor(e / N));
    const to = lockNodeName(m, e % N);
    g.setEdge(from, to, e);
  }
  return g;
}

/**
 * A shortest cycle of `g` through some strongly connected component (alg.findCycles: the
 * components with more than one node, or one node with an edge to itself), as its edge ids in
 * order; undefined when the graph has no cycle.
 */
export function findLockCycle(g: Graph): number[] | undefined {
  const sccs = alg.findCycles(g);
  let best: number[] | undefined;
  for (const scc of sccs) {
    const inScc = new Set(scc);
    for (const s of scc) {
      const self = g.edge(s, s) as number | undefined;
      if (self !== undefined) return [self];
      // the shortest way back to s from each of its successors inside the component
      for (const v of g.successors(s) ?? []) {
        if (!inScc.has(v)) continue;
        const d = alg.dijkstra(g, v, undefined, undefined);
        if (!Number.isFinite(d[s]?.distance ?? Infinity)) continue;
        const nodes = [s];
        for (let x = s; x !== v; x = d[x]!.predecessor) nodes.push(d[x]!.predecessor);
        nodes.push(s);
        nodes.reverse(); // s, v, ..., s
        const ids: number[] = [];
        for (let i = 0; i + 1 < nodes.length; i++)
          ids.push(g.edge(nodes[i]!, nodes[i + 1]!) as number);
        if (!best || ids.length < best.length) best = ids;
      }
    }
  }
  return best;
}

export class LockOrder {
  /** Per edge id, the state and the move that took it first. */
  private readonly first = new Map<number, { state: number; move: number }>();

  /** Takes the edges the last step added (Mem.loNew), with the state and move that took them. */
  note(m: Mem, state: number, move: number): void {
    for (let i = 0; i < m.loNewLen; i++) {
      const e = m.loNew[i]!;
      if (!this.first.has(e)) this.first.set(e, { state, move });
    }
    m.loNewLen = 0;
  }

  get size(): number {
    return this.first.size;
  }

  /**
   * The cycle to report, if the edges seen have one: each edge with its acquisition path
   * (`scheduleOf(state, move)`) and the step that took it (labelled in `preState(state)`).
   */
  cycle(
    model: CompiledModel,
    scheduleOf: (state: number, move: number) => Move[],
    preState: (state: number) => Int32Array,
  ): LockCycle | undefined {
    if (model.lockOrder === false || this.first.size === 0) return undefined;
    const m = model.mem;
    const ids = findLockCycle(lockGraph(m, this.first.keys()));
    if (!ids) return undefined;
    const N = m.loN;
    const paths: LockPath[] = [];
    const parts: string[] = [];
    let main = { state: -1, move: -1, len: -1 };
    for (const e of ids) {
      const w = this.first.get(e)!;
      const schedule = scheduleOf(w.state, w.move);
      const from = lockNodeName(m, Math.floor(e / N));
      const to = lockNodeName(m, e % N);
      paths.push({ from, to, schedule });
      const mv = decodeMove(w.move);
      const th = model.threads[mv.cpu]!;
      const pre = preState(w.state);
      const node = th.nodes[pre[th.pcOff]!]!;
      const lbl = labelOf(model, mv.cpu, node, pre, undefined, mv.choice);
      parts.push(
        `CPU${mv.cpu} (${th.name}) takes ${to} while holding ${from}: \`${lbl}\` (path ${paths.length}, ${schedule.length} steps)`,
      );
      if (schedule.length > main.len) main = { ...w, len: schedule.length };
    }
    const names = paths.map((p) => p.from);
    const what =
      ids.length === 1
        ? `possible recursive locking: ${names[0]} taken while a lock of the same ${m.loInstances ? "instance" : "class"} is held` +
          (m.loInstances ? "" : " (spin_lock_nested() says which nesting is intended)")
        : `possible circular locking dependency: ${[...names, names[0]].join(" -> ")}`;
    return {
      message:
        `${what}; ${parts.join("; ")}. lockdep reports it once both orders have been seen, ` +
        `whether or not a run deadlocks`,
      state: main.state,
      move: main.move,
      paths,
    };
  }
}
