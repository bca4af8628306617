// Symmetry reduction (src/explore/symmetry.ts, ModelBuilder.alike): the declaration's checks,
// canonical forms (never merging states that are not symmetric, merging those that are), the
// mapping of counterexamples back to the model's own CPUs and objects, and verdicts equal to the
// unreduced search's on models with alike CPUs and objects.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  array,
  compileModel,
  defineModel,
  explore,
  int,
  ModelBuilder,
  record,
  type CompiledModel,
  type ModelDef,
} from "../../src/index.ts";
import { step } from "../../src/model/dsl.ts";
import { choicesOf, enabledCpus, execute } from "../../src/rt/machine.ts";
import { concretise, Symmetry } from "../../src/explore/symmetry.ts";
import { replays } from "./replays.ts";
import { counter, folios } from "./sym-models.ts";

const violated = (r: { violations: readonly { property: string }[] }): string[] =>
  r.violations.map((v) => v.property).sort();

const compile = (def: ModelDef): CompiledModel => compileModel(def, "only");

/** Every permutation of 0..k-1. */
function perms(k: number): Int32Array[] {
  if (k === 0) return [new Int32Array(0)];
  const out: Int32Array[] = [];
  for (const p of perms(k - 1))
    for (let at = 0; at <= p.length; at++) {
      const q = [...p];
      q.splice(at, 0, k - 1);
      out.push(Int32Array.from(q));
    }
  return out;
}

/** The orbit of b under the declared group (every combination of per-set permutations). */
function orbit(sym: Symmetry, b: Int32Array): Set<string> {
  let states: Int32Array[] = [b.slice()];
  sym.groups.forEach((g, gi) => {
    const next: Int32Array[] = [];
    for (const s of states)
      for (const p of perms(g.k)) {
        const x = s.slice();
        sym.apply(x, gi, p);
        next.push(x);
      }
    states = next;
  });
  return new Set(states.map((s) => s.join(",")));
}

/** The states reachable in the unreduced search (for canonical-form tests). */
function reachable(model: CompiledModel, max = 5000): Int32Array[] {
  const seen = new Map<string, Int32Array>([[model.init.join(","), model.init.slice()]]);
  const queue = [model.init.slice()];
  for (let i = 0; i < queue.length && seen.size < max; i++) {
    const b = queue[i]!;
    for (const t of enabledCpus(model, b))
      for (let c = 0, n = choicesOf(model, t, b); c < n; c++) {
        const x = b.slice();
        try {
          execute(model, t, c, x);
        } catch {
          continue;
        }
        model.mem.pending.length = 0;
        const k = x.join(",");
        if (!seen.has(k)) {
          seen.set(k, x);
          queue.push(x);
        }
      }
  }
  return [...seen.values()];
}

describe("alike(): what compiling checks", () => {
  it("accepts CPUs of the same code and objects that start alike", () => {
    expect(compile(counter(3, { locked: true })).alike.map((d) => d.members)).toEqual([[0, 1, 2]]);
    expect(compile(folios(3, 2, { refs: 1 })).alike.map((d) => [d.kind, d.members])).toEqual([
      ["cpus", [0, 1]],
      ["objects", [0, 1, 2]],
    ]);
  });

  const build = (f: (m: ModelBuilder<any>, cpus: number[]) => void): (() => CompiledModel) => {
    const def = defineModel({
      name: "bad",
      doc: "",
      params: {},
      variants: { only: { options: {}, expect: "holds" } },
      build: () => {
        const Obj = record({ v: int(0, 3, 0) }, "obj");
        const m = new ModelBuilder({ x: int(0, 3, 0), o: array(2, Obj) });
        const cpus = [0, 1].map((i) =>
          m.thread(`cpu${i}`, {}, () => [
            step(`x = ${i}`, (c) => {
              (c.s as { x: number }).x = i;
            }),
          ]),
        );
        f(m, cpus);
        return m;
      },
    });
    return () => compile(def);
  };

  it("rejects CPUs that run different code, naming the step (E_SYMMETRY)", () => {
    expect(build((m, cpus) => m.alike({ cpus }))).toThrow(
      /E_SYMMETRY|do not run the same code: step 1 \(`x = 0`\): labelled `x = 0` against `x = 1`/,
    );
    try {
      build((m, cpus) => m.alike({ cpus }))();
    } catch (e) {
      expect((e as { code: string }).code).toBe("E_SYMMETRY");
      expect((e as Error).message).toMatch(
        /CPU0 \(cpu0\) and CPU1 \(cpu1\) do not run the same code/,
      );
      expect((e as { hint: string }).hint).toMatch(/same code/);
    }
  });

  it("rejects a CPU that does not exist, a single member, objects that start differently", () => {
    expect(build((m) => m.alike({ cpus: [0, 5] }))).toThrow(/has no CPU5 \(it has 2\)/);
    expect(build((m) => m.alike({ cpus: [0] }))).toThrow(/at least two CPUs/);
    expect(
      build((m) => {
        m.init((s) => {
          (s as any).o[1].v = 2;
        });
        m.alike({ objects: (m.s as any).o });
      }),
    ).toThrow(/o\[0\] and o\[1\] start from different states: o\[0\]\.v = 0, o\[1\]\.v = 2/);
    expect(build((m) => m.alike({ objects: (m.s as any).x }))).toThrow(/alike\(\): give/);
  });

  it("the search rejects what compiling cannot see: an invariant naming F0, a step capturing its own constant", async () => {
    const r = await explore(compile(folios(3, 2, { refs: 1, namesF0: true })), {
      liveness: false,
    });
    expect(r.verdict).toBe("error");
    expect(r.error?.code).toBe("E_SYMMETRY");
    expect(r.error?.message).toMatch(/property "F0 is never freed" does not give the same answer/);
    // the same source text on both CPUs, different folios: `folio_put(F[i])` with i captured
    const def = defineModel({
      name: "captured",
      doc: "",
      params: {},
      variants: { only: { options: {}, expect: "holds" } },
      build: () => {
        const m = new ModelBuilder({ a: int(0, 3, 0), b: int(0, 3, 0) });
        const cpus = ["a", "b"].map((w) =>
          m.thread("put", {}, () => [
            step("put", (c) => {
              (c.s as Record<string, number>)[w]!++;
            }),
          ]),
        );
        m.alike({ cpus });
        return m;
      },
    });
    const r2 = await explore(compile(def), { liveness: false });
    expect(r2.verdict).toBe("error");
    expect(r2.error?.code).toBe("E_SYMMETRY");
    expect(r2.error?.message).toMatch(/step `put` .* has no mirror/);
    // --no-symmetry searches it as it is
    const r3 = await explore(compile(def), { liveness: false, symmetry: false });
    expect(r3.verdict).toBe("holds");
    expect(r3.symmetry).toEqual({
      used: false,
      sets: ["CPUs CPU0, CPU1 (put)"],
      note: "off (--no-symmetry)",
    });
  });
});

describe("canonical forms", () => {
  const model = compile(folios(3, 2, { refs: 1 }));
  const sym = new Symmetry(model);
  const states = reachable(model);

  it("canon(s) is s under a permutation of the declared members (never a state outside its orbit)", () => {
    expect(states.length).toBeGreaterThan(200);
    for (const s of states) {
      const c = s.slice();
      sym.canon(c);
      expect(orbit(sym, s).has(c.join(","))).toBe(true);
    }
  });

  it("maps every state of an orbit to one representative (CPUs alike: always; folios on a list: mostly)", () => {
    const perfect = (m: CompiledModel): number => {
      const sy = new Symmetry(m);
      const all = reachable(m);
      let ok = 0;
      for (const s of all) {
        const c = s.slice();
        sy.canon(c);
        const reps = new Set<string>();
        for (const x of orbit(sy, s)) {
          const y = Int32Array.from(x.split(",").map(Number));
          sy.canon(y);
          reps.add(y.join(","));
        }
        expect(reps.has(c.join(","))).toBe(true);
        if (reps.size === 1) ok++;
      }
      return ok / all.length;
    };
    expect(perfect(compile(counter(3, { locked: true })))).toBe(1);
    expect(perfect(compile(counter(3, { locked: false })))).toBe(1);
    expect(perfect(model)).toBeGreaterThan(0.9);
  });

  it("renames list links, node and folio pointers and lock owners with the members", () => {
    const b = model.init.slice();
    const lay = model.layout;
    const off = (n: string): number => lay.fieldByName.get(n)!.off;
    // putter CPU1 holds the lock, picked F2, which is freed (refcount 0)
    b[off("l")] = 1;
    b[off("CPU1.f")] = 2;
    b[off("CPU1.pc")] = 2;
    b[off("F2.refcount")] = 0;
    const c = b.slice();
    sym.canon(c);
    const folioOf = (cpu: number): number => c[off(`CPU${cpu}.f`)]!;
    // whichever CPU holds the lock picked the freed folio
    const holder = c[off("l")]!;
    expect(c[off(`CPU${holder}.pc`)]).toBe(2);
    expect(c[off(`F${folioOf(holder)}.refcount`)]).toBe(0);
    // the queue still runs through the three folios in the order F0 F1 F2 had, renamed
    const order: string[] = [];
    for (let x = c[off("queue.next")]!; x !== 0; x = c[lay.nodes[x]!.nextOff]!)
      order.push(lay.nodeName(x));
    const freed = `F${folioOf(holder)}.lru`;
    expect(order).toHaveLength(3);
    expect(order[2]).toBe(freed);
    // the same situation with the CPUs' and the folios' roles exchanged has the same form
    const d = model.init.slice();
    d[off("l")] = 0;
    d[off("CPU0.f")] = 2;
    d[off("CPU0.pc")] = 2;
    d[off("F2.refcount")] = 0;
    sym.canon(d);
    expect(d.join(",")).toBe(c.join(","));
  });
});

describe("counterexamples mapped back to the model's CPUs and objects", () => {
  it("a random walk through canonical states maps to a concrete schedule reaching the same class", () => {
    const model = compile(folios(3, 2, { refs: 2 }));
    const sym = new Symmetry(model);
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 12 }), (picks) => {
        const c = model.init.slice();
        sym.canon(c);
        const moves: { cpu: number; choice: number }[] = [];
        for (const p of picks) {
          const all = enabledCpus(model, c).flatMap((t) =>
            Array.from({ length: choicesOf(model, t, c) }, (_, ch) => ({ cpu: t, choice: ch })),
          );
          if (all.length === 0) break;
          const mv = all[p % all.length]!;
          execute(model, mv.cpu, mv.choice, c);
          sym.canon(c);
          moves.push(mv);
        }
        const conc = concretise(model, sym, moves, undefined);
        expect(conc.schedule.length).toBe(moves.length);
        const s = model.init.slice();
        for (const mv of conc.schedule) execute(model, mv.cpu, mv.choice, s);
        expect(s.join(",")).toBe(conc.pre.join(","));
        expect(orbit(sym, s).has(c.join(","))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("use-after-free found under symmetry replays on the real CPUs, with the real folio in its message", async () => {
    const model = compile(folios(3, 2, { refs: 1 }));
    const sym = await explore(model, { liveness: false });
    const ref = await explore(model, { liveness: false, symmetry: false });
    expect(sym.symmetry?.used).toBe(true);
    expect(violated(sym)).toEqual(violated(ref));
    expect(violated(sym)).toContain("use-after-free");
    expect(sym.states).toBeLessThan(ref.states);
    for (const v of sym.violations) expect(replays(model, v), v.property).toBe(true);
    // BFS over the classes: counterexamples as short as the unreduced search's
    for (const v of ref.violations)
      expect(sym.violations.find((x) => x.property === v.property)!.length).toBe(v.length);
  });
});

describe("verdicts under symmetry equal the unreduced search's", () => {
  const cases: [string, ModelDef, number][] = [
    ["counter, locked, 4 CPUs", counter(4, { locked: true }), 4 * 3 * 2],
    ["counter, unlocked, 3 CPUs", counter(3, { locked: false }), 0],
    ["folios 3 x 2 putters, one ref each", folios(3, 2, { refs: 1 }), 0],
    ["folios 3 x 2 putters, two refs each", folios(3, 2, { refs: 2 }), 0],
    ["folios 4 x 3 putters, folios only alike", folios(4, 3, { refs: 2, alikeCpus: false }), 0],
    ["folios 3 x 3 putters, putters only alike", folios(3, 3, { refs: 1, alikeFolios: false }), 0],
  ];
  for (const [name, def, minRatio] of cases) {
    for (const fingerprint of [false, true]) {
      it(`${name}${fingerprint ? " (fingerprint)" : ""}`, async () => {
        const model = compile(def);
        const ref = await explore(model, { liveness: false, symmetry: false });
        const r = await explore(model, { liveness: false, fingerprint });
        expect(r.symmetry?.used).toBe(true);
        expect(r.verdict).toBe(ref.verdict);
        expect(violated(r)).toEqual(violated(ref));
        expect(r.states).toBeLessThanOrEqual(ref.states);
        if (minRatio > 0) expect(ref.states / r.states).toBeGreaterThan(minRatio / 2);
        for (const v of r.violations) {
          expect(replays(model, v), v.property).toBe(true);
          const rv = ref.violations.find((x) => x.property === v.property)!;
          expect(v.length).toBe(rv.length);
        }
      });
    }
  }

  it("DFS too", async () => {
    const model = compile(folios(3, 2, { refs: 1 }));
    const ref = await explore(model, { liveness: false, symmetry: false, strategy: "dfs" });
    const r = await explore(model, { liveness: false, strategy: "dfs" });
    expect(violated(r)).toEqual(violated(ref));
    for (const v of r.violations) expect(replays(model, v), v.property).toBe(true);
  });

  it("is off while liveness is checked, and says so", async () => {
    const model = compile(counter(3, { locked: true }));
    const r = await explore(model);
    const ref = await explore(model, { symmetry: false });
    expect(r.liveness).toBe(true);
    expect(r.symmetry?.used).toBe(false);
    expect(r.symmetry?.note).toMatch(/liveness/);
    expect(r.states).toBe(ref.states);
  });
});
