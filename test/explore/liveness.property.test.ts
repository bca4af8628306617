// Differential test of the liveness check: on small random models (a shared counter, CPUs that
// set, test, wait for and branch on it, some unfair or endless), the explorer's verdicts for
// termination and for an eventually property agree with a brute-force reference written
// independently of it: the state graph rebuilt with machine.execute, strongly connected
// components from a boolean transitive closure, and, on the smallest graphs, every subset of
// states tried as a cycle's support (which also checks that weak fairness needs no recursion
// into sub-components). Each lasso found replays (the cycle closes and is fair), and its stem is
// as short as the reference's shortest path to a fair component.

import { describe, expect } from "vitest";
import { fc, test } from "@fast-check/vitest";
import {
  compileModel,
  defineModel,
  either,
  explore,
  goto_,
  int,
  label,
  ModelBuilder,
  type CompiledModel,
  type Stmt,
} from "../../src/index.ts";
import { choicesOf, execute, isEnabled, nextNode } from "../../src/rt/machine.ts";
import { livenessOutcome } from "../../src/trace/replay.ts";

type Instr =
  | { k: "set"; v: number }
  | { k: "inc" }
  | { k: "wait"; v: number }
  | { k: "br"; v: number; to: number }
  | { k: "choose"; to: number };

interface Cpu {
  prog: Instr[];
  fair: boolean;
  endless: boolean;
}

interface Spec {
  cpus: Cpu[];
  goal: number;
}

const K = 3;

const instr = (n: number): fc.Arbitrary<Instr> =>
  fc.oneof(
    fc.record({ k: fc.constant("set" as const), v: fc.integer({ min: 0, max: K - 1 }) }),
    fc.record({ k: fc.constant("inc" as const) }),
    fc.record({ k: fc.constant("wait" as const), v: fc.integer({ min: 0, max: K - 1 }) }),
    fc.record({
      k: fc.constant("br" as const),
      v: fc.integer({ min: 0, max: K - 1 }),
      to: fc.integer({ min: 0, max: n }),
    }),
    fc.record({ k: fc.constant("choose" as const), to: fc.integer({ min: 0, max: n }) }),
  );

const cpuArb: fc.Arbitrary<Cpu> = fc.integer({ min: 1, max: 3 }).chain((n) =>
  fc.record({
    prog: fc.array(instr(n), { minLength: n, maxLength: n }),
    fair: fc.integer({ min: 0, max: 4 }).map((x) => x !== 0),
    endless: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
  }),
);

const specArb: fc.Arbitrary<Spec> = fc.record({
  cpus: fc.array(cpuArb, { minLength: 1, maxLength: 3 }),
  goal: fc.integer({ min: 0, max: K - 1 }),
});

function build(spec: Spec): CompiledModel {
  const def = defineModel({
    name: "random-liveness",
    doc: "generated",
    params: {},
    variants: { only: { options: {}, expect: "holds" } },
    build: () => {
      const m = new ModelBuilder({ x: int(0, K - 1) }, { races: false });
      spec.cpus.forEach((c, i) => {
        m.thread(
          `cpu${i}`,
          {},
          ({ step, if_, when, wait_until }) => {
            const body: Stmt[] = [];
            c.prog.forEach((ins, j) => {
              body.push(label(`L${j}`));
              switch (ins.k) {
                case "set":
                  body.push(
                    step(`x = ${ins.v}`, ({ s }) => {
                      s.x = ins.v;
                    }),
                  );
                  break;
                case "inc":
                  body.push(
                    step("x++", ({ s }) => {
                      s.x = (s.x + 1) % K;
                    }),
                  );
                  break;
                case "wait":
                  body.push(wait_until(`x == ${ins.v}`, ({ s }) => s.x === ins.v));
                  break;
                case "br":
                  body.push(
                    if_(
                      when(`x == ${ins.v}`, ({ s }) => s.x === ins.v),
                      [goto_(`L${ins.to}`)],
                    ),
                  );
                  break;
                case "choose":
                  body.push(either("goto?", [goto_(`L${ins.to}`)], []));
                  break;
              }
            });
            body.push(label(`L${c.prog.length}`));
            return body;
          },
          { fair: c.fair, endless: c.endless },
        );
      });
      m.eventually("goal", ({ s }) => s.x === spec.goal);
      return m;
    },
  });
  return compileModel(def, "only");
}

interface Graph {
  states: Int32Array[];
  /** edges[s] = [target, cpu][] */
  edges: [number, number][][];
  en: number[];
  unfinished: number[];
}

function graphOf(model: CompiledModel): Graph {
  const key = (b: Int32Array): string => b.join(",");
  const id = new Map<string, number>([[key(model.init), 0]]);
  const g: Graph = { states: [model.init.slice()], edges: [], en: [], unfinished: [] };
  const T = model.threads.length;
  for (let s = 0; s < g.states.length; s++) {
    const b = g.states[s]!;
    const out: [number, number][] = [];
    let en = 0;
    let un = 0;
    for (let t = 0; t < T; t++) {
      if (!nextNode(model.threads[t]!, b)) continue;
      un |= 1 << t;
      if (!isEnabled(model, t, b)) continue;
      en |= 1 << t;
      for (let c = 0; c < choicesOf(model, t, b); c++) {
        const nb = b.slice();
        execute(model, t, c, nb);
        let w = id.get(key(nb));
        if (w === undefined) {
          w = g.states.length;
          id.set(key(nb), w);
          g.states.push(nb);
        }
        out.push([w, t]);
      }
    }
    g.edges.push(out);
    g.en.push(en);
    g.unfinished.push(un);
  }
  return g;
}

/** reach[a][b]: b is reachable from a by one or more edges inside `inG`. */
function closure(g: Graph, inG: (s: number) => boolean): boolean[][] {
  const n = g.states.length;
  const r = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
  for (let a = 0; a < n; a++)
    if (inG(a)) for (const [b] of g.edges[a]!) if (inG(b)) r[a]![b] = true;
  for (let k = 0; k < n; k++)
    for (let a = 0; a < n; a++)
      if (r[a]![k]) for (let b = 0; b < n; b++) if (r[k]![b]) r[a]![b] = true;
  return r;
}

interface Masks {
  fair: number;
  endless: number;
}

/** Whether the states of U (strongly connected) carry a weakly fair cycle meeting `want`. */
function fairOn(g: Graph, U: number[], m: Masks, termination: boolean): boolean {
  const inU = new Set(U);
  let moved = 0;
  let disabled = 0;
  let internal = false;
  for (const s of U) {
    disabled |= ~g.en[s]!;
    for (const [w, t] of g.edges[s]!)
      if (inU.has(w)) {
        moved |= 1 << t;
        internal = true;
      }
  }
  if (!internal) return false;
  if ((m.fair & ~moved & ~disabled) !== 0) return false;
  if (!termination) return true;
  const witness = g.unfinished[U[0]!]! & ~m.endless & (m.fair | moved);
  return witness !== 0;
}

/** Shortest distance from init, through states in `inG`, to a state `goal` accepts (or -1). */
function distance(g: Graph, inG: (s: number) => boolean, goal: (s: number) => boolean): number {
  if (!inG(0)) return -1;
  const dist = new Map([[0, 0]]);
  const q = [0];
  for (let i = 0; i < q.length; i++) {
    const s = q[i]!;
    if (goal(s)) return dist.get(s)!;
    for (const [w] of g.edges[s]!) {
      if (dist.has(w) || !inG(w)) continue;
      dist.set(w, dist.get(s)! + 1);
      q.push(w);
    }
  }
  return -1;
}

/**
 * The reference: states lying in a fair component of the subgraph (termination: with a CPU that
 * must finish and does not), or, for eventually, end states of the subgraph; -1 when none is
 * reachable through the subgraph, else the shortest distance to one.
 */
function reference(g: Graph, model: CompiledModel, termination: boolean, goal: number): number {
  const x = model.layout.fields.findIndex((f) => f.name === "x");
  const inG = termination ? () => true : (s: number) => g.states[s]![x] !== goal;
  const m: Masks = { fair: 0, endless: 0 };
  model.threads.forEach((t, i) => {
    if (t.fair) m.fair |= 1 << i;
    if (t.endless) m.endless |= 1 << i;
  });
  const n = g.states.length;
  const r = closure(g, inG);
  const target = new Array<boolean>(n).fill(false);
  for (let s = 0; s < n; s++) {
    if (!inG(s)) continue;
    if (!termination && g.en[s] === 0) target[s] = true;
    if (!r[s]![s]) continue;
    const comp = [];
    for (let w = 0; w < n; w++) if (w === s || (r[s]![w] && r[w]![s])) comp.push(w);
    if (fairOn(g, comp, m, termination)) target[s] = true;
  }
  // on the smallest graphs: any strongly connected set of states, not only maximal ones
  if (n <= 10) {
    const sub = new Array<boolean>(n).fill(false);
    for (let mask = 1; mask < 1 << n; mask++) {
      const U: number[] = [];
      for (let s = 0; s < n; s++) if (mask & (1 << s) && inG(s)) U.push(s);
      if (U.length !== popcount(mask)) continue;
      const strongly = U.every((a) => U.every((b) => a === b || r[a]![b]));
      // inside U only: the closure above is over the subgraph, so check U's own edges
      if (!strongly || !stronglyInside(g, U)) continue;
      if (fairOn(g, U, m, termination)) for (const s of U) sub[s] = true;
    }
    for (let s = 0; s < n; s++)
      if (sub[s] && !target[s])
        throw new Error(`reference: a fair subset outside every fair component at ${s}`);
  }
  return distance(g, inG, (s) => target[s]!);
}

function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

function stronglyInside(g: Graph, U: number[]): boolean {
  const inU = new Set(U);
  const reach = (from: number, rev: boolean): Set<number> => {
    const seen = new Set([from]);
    const q = [from];
    for (let i = 0; i < q.length; i++) {
      const s = q[i]!;
      for (const v of U) {
        const edge = rev ? g.edges[v]!.some(([w]) => w === s) : g.edges[s]!.some(([w]) => w === v);
        if (edge && inU.has(v) && !seen.has(v)) {
          seen.add(v);
          q.push(v);
        }
      }
    }
    return seen;
  };
  return reach(U[0]!, false).size === U.length && reach(U[0]!, true).size === U.length;
}

describe("liveness against a brute-force reference", () => {
  test.prop([specArb], { numRuns: 150, seed: 20261129 })(
    "termination and eventually: same verdict, a lasso that replays, the shortest stem",
    async (spec) => {
      const model = build(spec);
      const g = graphOf(model);
      for (const [property, termination] of [
        ["termination", true],
        ["goal", false],
      ] as const) {
        const want = reference(g, model, termination, spec.goal);
        for (const strategy of ["bfs", "dfs"] as const) {
          const r = await explore(model, { strategy });
          expect(r.states).toBe(g.states.length);
          const v = r.violations.find((x) => x.property === property);
          expect(v !== undefined, `${property} (${strategy}) reference distance ${want}`).toBe(
            want >= 0,
          );
          if (v === undefined) continue;
          const o = livenessOutcome(model, v.schedule, v.cycle, property);
          expect(typeof o === "string" ? o : "replays").toBe("replays");
          // the stem is the shortest path to a fair component (or, for eventually, an end state)
          expect(v.cycle ?? v.length, `${property} (${strategy})`).toBe(want);
        }
      }
    },
  );
});
