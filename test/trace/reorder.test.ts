// The fewest-context-switch reordering: on every stored counterexample and on generated runs,
// the reordered schedule replays to the same violation and the same final state, with no more
// switches than the original; the greedy order is measured against the exhaustive optimum.
import { describe, it, expect } from "vitest";
import { fc, test as fcTest } from "@fast-check/vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { compileModel, type CompiledModel, type ModelDef } from "../../src/index.ts";
import { replay } from "../../src/trace/replay.ts";
import { parseSchedule } from "../../src/trace/schedule.ts";
import {
  contextSwitches,
  fewestSwitches,
  footprints,
  greedyOrder,
  happensBefore,
  optimalOrder,
  readableOrder,
} from "../../src/trace/reorder.ts";
import { runSchedule } from "../../src/fuzz/run.ts";
import type { Move } from "../../src/rt/machine.ts";
import flagLock from "../../models/classic/flag-lock.ts";
import peterson from "../../models/classic/peterson.ts";
import philosophers from "../../models/classic/philosophers.ts";
import putRace from "../fixtures/put-race.ts";
import deferredSplit from "../../models/deferred-split/deferred-split.ts";
import { Graph } from "@dagrejs/graphlib";

const ROOT = "counterexamples";
const files = readdirSync(ROOT, { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".json"))
  .map((f) => join(ROOT, f))
  .sort();

interface Cx {
  model: string;
  name: string;
  variant: string;
  params: Record<string, number | string>;
  property: string;
  schedule: string;
  cycle?: number;
  paths?: unknown[];
}

async function compileCx(cx: Cx): Promise<CompiledModel> {
  const mod = (await import(pathToFileURL(resolve(cx.model)).href)) as Record<string, unknown>;
  const def = Object.values(mod).find(
    (v) =>
      (v as ModelDef | undefined)?.kind === "interleave-model" && (v as ModelDef).name === cx.name,
  ) as ModelDef;
  return compileModel(def, cx.variant, cx.params);
}

/** The reordered schedule replays to the same outcome and state; returns the switch counts. */
function checkSame(model: CompiledModel, moves: readonly Move[], property?: string) {
  const before = replay(model, moves);
  const r = fewestSwitches(model, moves);
  expect(r.moves).toHaveLength(moves.length);
  // the same multiset of moves, each CPU's in its own order
  for (let c = 0; c < model.threads.length; c++)
    expect(r.moves.filter((m) => m.cpu === c)).toEqual(moves.filter((m) => m.cpu === c));
  const after = replay(model, r.moves);
  expect(after.infeasible).toBe(before.infeasible);
  expect([...after.final]).toEqual([...before.final]);
  expect(after.outcomes.map((o) => o.property)).toEqual(before.outcomes.map((o) => o.property));
  if (property) expect(after.outcomes.map((o) => o.property)).toContain(property);
  expect(r.switches).toBeLessThanOrEqual(contextSwitches(moves));
  expect(r.switches).toBe(contextSwitches(r.moves));
  if (r.optimalSwitches !== undefined) {
    expect(r.optimalSwitches).toBeLessThanOrEqual(r.greedySwitches);
    expect(r.switches).toBe(Math.min(r.optimalSwitches, r.originalSwitches));
  }
  return r;
}

describe("fewestSwitches on every stored counterexample", () => {
  it("there are stored counterexamples", () => expect(files.length).toBeGreaterThan(10));

  it("replays to the same violation and final state, never with more switches", async () => {
    let before = 0;
    let after = 0;
    let greedy = 0;
    let optimal = 0;
    let reordered = 0;
    for (const f of files) {
      const cx = JSON.parse(readFileSync(f, "utf8")) as Cx;
      const model = await compileCx(cx);
      const moves = parseSchedule(cx.schedule);
      if (cx.cycle !== undefined) {
        // a lasso is shown as found: its repeating part stays in one piece
        expect(readableOrder(model, moves, cx.property, cx.cycle).moves).toBe(moves);
        continue;
      }
      // lock-order shows only over all its acquisition paths together: the last path alone
      // keeps its final state, the property is checked over the paths by replay's own tests
      const r = checkSame(model, moves, cx.paths ? undefined : cx.property);
      before += r.originalSwitches;
      after += r.switches;
      greedy += r.greedySwitches;
      optimal += r.optimalSwitches ?? r.greedySwitches;
      if (r.switches < r.originalSwitches) reordered++;
    }
    // the stored traces come from BFS and from the fuzzer's shrinker: the BFS ones interleave
    expect(after).toBeLessThan(before);
    expect(reordered).toBeGreaterThan(0);
    expect(optimal).toBeLessThanOrEqual(greedy);
  });
});

describe("fewestSwitches on generated runs", () => {
  const models: [string, CompiledModel][] = [
    ["flag-lock", compileModel(flagLock, "test-then-set")],
    ["peterson", compileModel(peterson, "no-turn")],
    ["philosophers", compileModel(philosophers, "left-then-right")],
    ["put-race", compileModel(putRace, "open-coded")],
    ["deferred-split", compileModel(deferredSplit, "list-lru")],
    ["deferred-split", compileModel(deferredSplit, "private-list-no-prev")],
  ];
  fcTest.prop(
    [
      fc.integer({ min: 0, max: models.length - 1 }),
      fc.array(fc.nat({ max: 7 }), { minLength: 1, maxLength: 80 }),
    ],
    { numRuns: 150 },
  )("any run (violating or not) reorders to the same end", (which, picks) => {
    const model = models[which]![1];
    let i = 0;
    const run = runSchedule(
      model,
      {
        next: (v) => {
          if (i >= picks.length || v.enabled.length === 0) return undefined;
          const cpu = v.enabled[picks[i++]! % v.enabled.length]!;
          return { cpu, choice: 0 };
        },
      },
      { depth: picks.length },
    );
    if (run.end === "infeasible") return;
    checkSame(model, run.moves, run.violation?.property);
  });
});

describe("greedy against the optimum", () => {
  it("finds the optimum on a chain-free graph: all of one CPU, then the other", () => {
    const g = new Graph({ directed: true });
    [0, 1, 0, 1, 0, 1].forEach((c, i) => g.setNode(String(i), c));
    g.setEdge("0", "2");
    g.setEdge("2", "4");
    g.setEdge("1", "3");
    g.setEdge("3", "5");
    expect(contextSwitches(greedyOrder(g).map((i) => ({ cpu: i % 2 })))).toBe(1);
    expect(contextSwitches(optimalOrder(g)!.map((i) => ({ cpu: i % 2 })))).toBe(1);
  });

  it("respects every edge and is exhaustive-optimal on small random graphs", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 2 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.tuple(fc.nat({ max: 6 }), fc.nat({ max: 6 })), { maxLength: 12 }),
        (cpus, extra) => {
          const g = new Graph({ directed: true });
          cpus.forEach((c, i) => g.setNode(String(i), c));
          const last = new Map<number, number>();
          cpus.forEach((c, i) => {
            if (last.has(c)) g.setEdge(String(last.get(c)), String(i));
            last.set(c, i);
          });
          for (const [a, b] of extra) {
            if (a < b && b < cpus.length) g.setEdge(String(a), String(b));
          }
          const valid = (order: number[]): boolean => {
            const at = new Map(order.map((x, k) => [x, k]));
            return (
              order.length === cpus.length &&
              g.edges().every((e) => at.get(Number(e.v))! < at.get(Number(e.w))!)
            );
          };
          const sw = (o: number[]): number => contextSwitches(o.map((i) => ({ cpu: cpus[i]! })));
          const gr = greedyOrder(g);
          const op = optimalOrder(g)!;
          expect(valid(gr)).toBe(true);
          expect(valid(op)).toBe(true);
          // brute force over all topological orders
          let best = Infinity;
          const rec = (done: number[], left: Set<number>): void => {
            if (left.size === 0) {
              best = Math.min(best, sw(done));
              return;
            }
            for (const x of [...left]) {
              if (g.predecessors(String(x))!.every((p) => done.includes(Number(p)))) {
                left.delete(x);
                rec([...done, x], left);
                left.add(x);
              }
            }
          };
          rec([], new Set(cpus.map((_, i) => i)));
          expect(sw(op)).toBe(best);
          expect(sw(gr)).toBeGreaterThanOrEqual(best);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("footprints: a read and a write of one word order two steps; two reads do not", () => {
    const model = compileModel(putRace, "open-coded");
    const fp = footprints(model, parseSchedule("0 1 0 0 1 1"));
    const g = happensBefore(fp);
    // both CPUs read _refcount: independent; CPU0's write after CPU1's read: dependent
    expect(g.hasEdge("0", "1")).toBe(false);
    expect(g.hasEdge("1", "2")).toBe(true);
    const r = fewestSwitches(model, parseSchedule("0 1 0 0 1 1"));
    expect(r.originalSwitches).toBe(3);
    expect(r.switches).toBe(2);
  });
});
