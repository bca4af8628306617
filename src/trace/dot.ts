// A lock-order graph in Graphviz dot: one node per lock class, an edge A -> B when some CPU took
// B while holding A, with where it happened. Edges on a cycle (a possible ABBA deadlock) are
// drawn red. The graph comes as a list of edges, so any lock-order check can hand it over.

import { Graph, alg } from "@dagrejs/graphlib";

export interface LockOrderEdge {
  /** The lock held. */
  readonly from: string;
  /** The lock taken while holding it. */
  readonly to: string;
  /** Where (e.g. "CPU0 deferred_split_scan: spin_lock(&F1.lock)"), shown as the edge label. */
  readonly where?: string;
}

/** A dot string literal: backslashes and double quotes escaped, newlines as \n. */
export function dotString(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r?\n/g, "\\n")}"`;
}

/** The edges that lie on a cycle of the graph. */
export function cycleEdges(edges: readonly LockOrderEdge[]): Set<string> {
  const g = new Graph({ directed: true, multigraph: false });
  for (const e of edges) g.setEdge(e.from, e.to);
  const comp = new Map<string, number>();
  alg.tarjan(g).forEach((c, i) => c.forEach((n) => comp.set(n, i)));
  const on = new Set<string>();
  for (const e of edges) {
    // in one strongly connected component: there is a path back (a self-loop is one too)
    if (e.from === e.to || comp.get(e.from) === comp.get(e.to)) on.add(`${e.from}\0${e.to}`);
  }
  return on;
}

export function lockOrderDot(edges: readonly LockOrderEdge[], name = "lock_order"): string {
  const cyc = cycleEdges(edges);
  const nodes = [...new Set(edges.flatMap((e) => [e.from, e.to]))].sort();
  const out = [
    `digraph ${dotString(name)} {`,
    "  rankdir=LR;",
    '  node [shape=box, fontname="monospace"];',
  ];
  for (const n of nodes) out.push(`  ${dotString(n)};`);
  for (const e of edges) {
    const attrs: string[] = [];
    if (e.where) attrs.push(`label=${dotString(e.where)}`);
    if (cyc.has(`${e.from}\0${e.to}`)) attrs.push("color=red", "penwidth=2");
    out.push(
      `  ${dotString(e.from)} -> ${dotString(e.to)}${attrs.length ? ` [${attrs.join(", ")}]` : ""};`,
    );
  }
  out.push("}");
  return out.join("\n");
}
