// PCT priority logic, the preemption bound, uniform random's interpretation of its data.
import { describe, expect, it } from "vitest";
import * as fc from "fast-check";
import philosophers from "../../models/classic/philosophers.ts";
import flagLock from "../../models/classic/flag-lock.ts";
import { compileModel, resolveParams, type CompiledModel } from "../../src/model/model.ts";
import { execute, isEnabled, type Move } from "../../src/rt/machine.ts";
import { estimateSteps, runSchedule } from "../../src/fuzz/run.ts";
import { SPAN, stateHash } from "../../src/fuzz/strategy.ts";
import { pct, _internals as P } from "../../src/fuzz/pct.ts";
import { preempt } from "../../src/fuzz/preempt.ts";
import { random, _internals as R } from "../../src/fuzz/random.ts";
import { replaySchedule } from "../../src/fuzz/replay.ts";
import {
  DEFAULT_OPENING,
  DEFAULT_WEIGHTS,
  cycleOf,
  defaultArms,
  describeArms,
  describeLayout,
  layout,
  mix,
  seedArm,
  withArm,
} from "../../src/fuzz/mix.ts";
import { pos, _internals as POS } from "../../src/fuzz/pos.ts";
import { ACC_WRITE } from "../../src/rt/mem.ts";
import listLruSplit from "../../models/list-lru-split/list-lru-split.ts";
import { fuzzModel } from "../../src/fuzz/fuzz.ts";
import { formatFailure } from "../../src/fuzz/report.ts";
import migrationRequeue from "../../models/migration-requeue/migration-requeue.ts";
import type { SchedView } from "../../src/fuzz/strategy.ts";

function view(enabled: number[], step: number, last: number, nch = 1): SchedView {
  return {
    model: undefined as unknown as CompiledModel,
    state: Int32Array.of(step), // a new state at every step: no CPU spins
    enabled,
    step,
    last,
    choices: () => nch,
  };
}

/**
 * Switches away from a CPU that could still have run the next step, unless that CPU was
 * spinning (its move led back to a state already seen in the run: a busy-wait, which yields).
 */
function preemptions(model: CompiledModel, moves: readonly Move[]): number {
  const b = model.init.slice();
  const seen = new Set<string>();
  let n = 0;
  for (let i = 0; i < moves.length; i++) {
    const prev = i > 0 ? moves[i - 1]!.cpu : -1;
    const key = b.join(",");
    const spinning = seen.has(key);
    seen.add(key);
    if (prev >= 0 && !spinning && moves[i]!.cpu !== prev && isEnabled(model, prev, b)) n++;
    execute(model, moves[i]!.cpu, moves[i]!.choice, b);
  }
  return n;
}

describe("PCT (Burckhardt et al., ASPLOS 2010)", () => {
  it("initial priorities are the distinct values d..d+n-1, in key order, ties to the lower CPU", () => {
    expect(P.initialPriorities([5, 1, 9], 3, 3)).toEqual([4, 3, 5]);
    expect(P.initialPriorities([0, 0, 0, 0], 4, 2)).toEqual([5, 4, 3, 2]);
    fc.assert(
      fc.property(
        fc.array(fc.nat(100), { maxLength: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 5 }),
        (keys, n, d) => {
          const prio = P.initialPriorities(keys, n, d);
          expect([...prio].sort((a, b) => a - b)).toEqual(
            Array.from({ length: n }, (_, i) => d + i),
          );
          for (let a = 0; a < n; a++)
            for (let b = 0; b < n; b++)
              if ((keys[a] ?? 0) > (keys[b] ?? 0)) expect(prio[a]).toBeGreaterThan(prio[b]!);
        },
      ),
    );
  });

  it("d-1 distinct change points, among steps 1..k when they do not collide", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(1000), { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 10, max: 50 }),
        (ch, d, k) => {
          const at = P.changePoints(ch, k, d);
          expect(at.size).toBe(d - 1);
          expect([...at.values()].sort()).toEqual(Array.from({ length: d - 1 }, (_, i) => i + 1));
          for (const s of at.keys()) expect(s).toBeGreaterThanOrEqual(1);
        },
      ),
    );
    expect([...P.changePoints([0, 0], 10, 3).entries()]).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });

  it("always runs the highest-priority enabled CPU; the i-th change point lowers it to i", () => {
    // keys: CPU2 > CPU0 > CPU1; d = 3: priorities CPU2=5, CPU0=4, CPU1=3; change points at steps 3, 8
    const s = P.pctScheduler({ keys: [5, 1, 9], changes: [2, 7], choices: [] }, 10, 3, 3);
    expect(s.state.prio).toEqual([4, 3, 5]);
    expect(s.next(view([0, 1, 2], 0, -1))!.cpu).toBe(2);
    expect(s.next(view([0, 1], 1, 2))!.cpu).toBe(0); // CPU2 blocked: next highest
    expect(s.next(view([0, 1, 2], 2, 0))!.cpu).toBe(0); // step 3 is change point 1: CPU2 would run...
    expect(s.state.prio[2]).toBe(1); // ...and drops to 1, below every initial priority
    expect(s.next(view([1, 2], 3, 0))!.cpu).toBe(1);
    expect(s.next(view([2], 4, 1))!.cpu).toBe(2);
    expect(s.next(view([0, 1], 5, 2))!.cpu).toBe(0);
    expect(s.next(view([0, 1], 6, 0))!.cpu).toBe(0);
    expect(s.next(view([0, 1, 2], 7, 0))!.cpu).toBe(1); // step 8, change point 2: CPU0 drops to 2
    expect(s.state.prio).toEqual([2, 3, 1]);
    // lowered at the later change point, CPU0 now ranks above CPU2 (the paper's order, not d-i)
    expect(s.next(view([0, 2], 8, 1))!.cpu).toBe(0);
  });

  it("change points are uniform over [1, k] and stay inside it when they collide", () => {
    // SPAN is a multiple of k for k <= 16: every step of [1, k] gets exactly SPAN/k draws
    for (const k of [1, 7, 16]) {
      const count = new Array<number>(k + 1).fill(0);
      for (let v = 0; v < SPAN; v += 1) count[[...P.changePoints([v], k, 2).keys()][0]!]!++;
      expect(count.slice(1)).toEqual(new Array<number>(k).fill(SPAN / k));
    }
    // a collision at the last step wraps to step 1, not past k
    expect([...P.changePoints([9, 9], 10, 3).entries()]).toEqual([
      [10, 1],
      [1, 2],
    ]);
    // more change points than steps: each of the k steps gets one
    const at = P.changePoints([0, 0, 0, 0], 2, 5);
    expect([...at.keys()].sort()).toEqual([1, 2]);
  });

  it("k is the length of a whole run, not of one cut short by the bug", () => {
    // test-then-set: a round-robin run breaks mutual exclusion after a few steps
    const model = compileModel(flagLock, "test-then-set", { cpus: 2 });
    const rr = runSchedule(
      model,
      { next: (v) => ({ cpu: v.enabled.find((t) => t > v.last) ?? v.enabled[0]!, choice: 0 }) },
      { depth: 500 },
    );
    expect(rr.end).toBe("violation");
    // each CPU running to completion in turn does not break it, and is longer
    const serial = runSchedule(
      model,
      { next: (v) => ({ cpu: v.enabled.includes(v.last) ? v.last : v.enabled[0]!, choice: 0 }) },
      { depth: 500 },
    );
    expect(serial.end).toBe("done");
    const k = estimateSteps(model, 500);
    expect(k).toBeGreaterThan(rr.moves.length);
    expect(k).toBeGreaterThanOrEqual(serial.moves.length);
    expect(estimateSteps(model, 3)).toBeLessThanOrEqual(3);
  });

  it("on a model: each move is the highest-priority enabled CPU at that point", () => {
    const model = compileModel(philosophers, "ordered", { n: 4 });
    fc.assert(
      fc.property(pct(3).arbitrary({ depth: 100 }), (data) => {
        const sched = P.pctScheduler(data, 20, 3, 4);
        const r = runSchedule(
          model,
          {
            next: (v) => {
              const mv = sched.next(v)!;
              const best = Math.max(...v.enabled.map((t) => sched.state.prio[t]!));
              expect(sched.state.prio[mv.cpu]).toBe(best);
              return mv;
            },
          },
          { depth: 100 },
        );
        expect(r.end).toBe("done");
      }),
      { numRuns: 50, seed: 3 },
    );
  });

  it("a CPU spinning on a lock yields: no run is starved into the depth bound", () => {
    // test-then-set spins on `locked`; a lock holder lowered below the spinners used to stay
    // starved until the depth bound
    const model = compileModel(flagLock, "test-then-set", { cpus: 3 });
    for (const d of [2, 3, 5]) {
      fc.assert(
        fc.property(pct(d).arbitrary({ depth: 300 }), (data) => {
          const r = runSchedule(model, pct(d).scheduler(data, { k: 15, depth: 300 }), {
            depth: 300,
          });
          expect(r.end).not.toBe("depth");
          expect(r.moves.length).toBeLessThan(60);
        }),
        { numRuns: 100, seed: 5 },
      );
    }
  });

  it("rejects a depth below 1", () => {
    expect(() => pct(0)).toThrow(/PCT depth 0/);
  });
});

describe("bounded preemption", () => {
  for (const bound of [0, 1, 2, 3]) {
    it(`never preempts more than ${bound} time(s)`, () => {
      const model = compileModel(flagLock, "test-then-set", { cpus: 3 });
      const st = preempt(bound);
      let most = 0;
      fc.assert(
        fc.property(st.arbitrary({ depth: 200 }), (data) => {
          const r = runSchedule(model, st.scheduler(data, { k: 12, depth: 200 }), { depth: 200 });
          const n = preemptions(model, r.moves);
          most = Math.max(most, n);
          expect(n).toBeLessThanOrEqual(bound);
        }),
        { numRuns: 150, seed: 11 },
      );
      if (bound > 0) expect(most).toBeGreaterThan(0); // the bound is reached, not avoided
    });
  }
});

describe("uniform random", () => {
  it("preference 0 keeps the CPU that ran last; j counts enabled CPUs after it, cyclically", () => {
    expect(R.relativeCpu({ enabled: [0, 1, 2], last: 1 }, 0)).toBe(1);
    expect(R.relativeCpu({ enabled: [0, 1, 2], last: 1 }, 1)).toBe(2);
    expect(R.relativeCpu({ enabled: [0, 1, 2], last: 1 }, 2)).toBe(0);
    expect(R.relativeCpu({ enabled: [0, 2], last: 1 }, 0)).toBe(2); // last one blocked: the next one
    expect(R.relativeCpu({ enabled: [0, 2], last: -1 }, 0)).toBe(0);
  });

  it("picks among enabled CPUs evenly", () => {
    const counts = [0, 0, 0];
    for (const prefs of fc.sample(random.arbitrary({ depth: 1 }), { seed: 5, numRuns: 3000 })) {
      counts[random.scheduler(prefs, { k: 1, depth: 1 }).next(view([0, 1, 2], 0, 1))!.cpu]!++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(900); // 1000 expected each
  });

  it("any data, including shrunk data, gives a feasible schedule", () => {
    const model = compileModel(philosophers, "left-then-right", { n: 3 });
    fc.assert(
      fc.property(fc.array(fc.record({ d: fc.nat(), c: fc.nat() }), { maxLength: 30 }), (prefs) => {
        const r = runSchedule(model, random.scheduler(prefs, { k: 1, depth: 50 }), { depth: 50 });
        expect(r.end).not.toBe("infeasible");
        const again = runSchedule(
          model,
          replaySchedule(r.moves).scheduler(r.moves, { k: 1, depth: 50 }),
          { depth: 50 },
        );
        expect(again.moves).toEqual(r.moves);
        expect(again.violation).toEqual(r.violation);
      }),
      { numRuns: 200, seed: 8 },
    );
  });

  it("replay stops with 'infeasible' when a move cannot be taken", () => {
    const model = compileModel(philosophers, "left-then-right", { n: 2 });
    const moves = [
      { cpu: 0, choice: 0 },
      { cpu: 1, choice: 0 },
      { cpu: 0, choice: 0 },
    ];
    const r = runSchedule(model, replaySchedule(moves).scheduler(moves, { k: 1, depth: 10 }), {
      depth: 10,
    });
    expect(r.end).toBe("violation"); // deadlock after two moves: the third is never asked for
    const bad = [{ cpu: 5, choice: 0 }];
    expect(
      runSchedule(model, replaySchedule(bad).scheduler(bad, { k: 1, depth: 10 }), { depth: 10 })
        .end,
    ).toBe("infeasible");
  });
});

describe("mix (a portfolio of strategies)", () => {
  const arms = defaultArms();

  it("draws each arm in proportion to its weight (default: the fitted DEFAULT_WEIGHTS)", () => {
    const total = DEFAULT_WEIGHTS.reduce((x, y) => x + y, 0);
    const counts = arms.map(() => 0);
    const n = 4000;
    for (const d of fc.sample(mix().arbitrary({ depth: 20 }), { seed: 3, numRuns: n }))
      counts[d.arm]!++;
    counts.forEach((c, i) => {
      const expected = (n * DEFAULT_WEIGHTS[i]!) / total;
      expect(Math.abs(c - expected)).toBeLessThan(4 * Math.sqrt(expected) + 5);
    });
    // arms given without weights are drawn equally often
    const eq = [0, 0];
    for (const d of fc.sample(mix([arms[0]!, arms[5]!]).arbitrary({ depth: 20 }), {
      seed: 3,
      numRuns: 2000,
    }))
      eq[d.arm]!++;
    for (const c of eq) expect(c).toBeGreaterThan(900);
    expect(() => mix([arms[0]!], [0])).toThrow(/positive integer weight/);
    expect(() => mix([arms[0]!], [1, 2])).toThrow(/one positive integer weight per arm/);
  });

  it("a run is scheduled by its arm alone: the same moves as that arm with the same data", () => {
    const model = compileModel(philosophers, "left-then-right", { n: 3 });
    const k = estimateSteps(model, 60);
    const m = mix();
    for (const d of fc.sample(m.arbitrary({ depth: 60 }), { seed: 4, numRuns: 60 })) {
      const viaMix = runSchedule(model, m.scheduler(d, { k, depth: 60 }), { depth: 60 });
      const arm = arms[d.arm]!;
      const direct = runSchedule(model, arm.scheduler(d.data, { k, depth: 60 }), { depth: 60 });
      expect(viaMix.moves).toEqual(direct.moves);
      expect(m.describe!(d)).toBe(arm.label ?? arm.name);
    }
  });

  it("a session follows its layout: the opening, then every arm weights[i] times per cycle", () => {
    const total = DEFAULT_WEIGHTS.reduce((x, y) => x + y, 0);
    const armOf = layout(DEFAULT_WEIGHTS, DEFAULT_OPENING);
    DEFAULT_OPENING.forEach((a, i) => expect(armOf(i)).toBe(a));
    for (const start of [DEFAULT_OPENING.length, DEFAULT_OPENING.length + 3 * total + 7]) {
      const counts = arms.map(() => 0);
      for (let i = start; i < start + total; i++) counts[armOf(i)]!++;
      // every strategy is drawn, each as often as its weight says
      expect(counts).toEqual([...DEFAULT_WEIGHTS]);
    }
    expect(describeLayout()).toBe(
      "runs 1-4: preempt k=2, random, pct d=3, pos; then every 25 runs: 1 random, 1 pct d=2, " +
        "3 pct d=3, 5 pct d=5, 1 preempt k=2, 14 pos",
    );
  });

  it("a cycle holds each arm its weight's times, spread evenly", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 8 }),
        (w) => {
          const c = cycleOf(w);
          const total = w.reduce((x, y) => x + y, 0);
          expect(c.length).toBe(total);
          w.forEach((wi, i) => {
            const at = c.flatMap((a, j) => (a === i ? [j] : []));
            expect(at.length).toBe(wi);
            // the longest wait for arm i, cyclically, is at most twice its even share
            const gaps = at.map((j, k) => (k + 1 < at.length ? at[k + 1]! : at[0]! + total) - j);
            expect(Math.max(...gaps)).toBeLessThanOrEqual(2 * Math.ceil(total / wi));
          });
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it("a run's seed names its arm: run i of a session, and the same seed as a session of its own", () => {
    const m = mix();
    const armOf = layout(DEFAULT_WEIGHTS, DEFAULT_OPENING);
    for (const seed of [0, 7, 7919, 123_456, 2 ** 27 - 1]) {
      // a seed without an arm in it starts the layout
      expect(m.plan!.runSeed(seed, 0)).toBe(seed);
      expect(m.plan!.arbitraryFor(seed, { depth: 20 }).key).toBe(DEFAULT_OPENING[0]);
      for (let i = 1; i < 80; i++) {
        const s = m.plan!.runSeed(seed, i);
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThanOrEqual(0x7fffffff);
        expect(seedArm(s, arms.length)).toBe(armOf(i));
        expect(m.plan!.arbitraryFor(s, { depth: 20 }).key).toBe(armOf(i));
        // the same again: a seed gives the same session
        expect(m.plan!.runSeed(seed, i)).toBe(s);
      }
    }
    // runs of one session have distinct seeds
    const seeds = new Set(Array.from({ length: 2000 }, (_, i) => m.plan!.runSeed(99, i)));
    expect(seeds.size).toBe(2000);
    // any seed names at most one arm, and an arm written in a seed is read back
    fc.assert(
      fc.property(fc.nat(0x7fffffff), fc.nat(arms.length - 1), (s, a) => {
        expect(seedArm(withArm(s, a), arms.length)).toBe(a);
        expect(withArm(s, a) & ((1 << 27) - 1)).toBe(s & ((1 << 27) - 1));
      }),
      { seed: 1, numRuns: 500 },
    );
    // a tag past the arms names none (the layout's first arm then)
    expect(seedArm(withArm(5, 9), arms.length)).toBeUndefined();
  });

  it("a mix run is its arm's run with the same seed (the failure replays under that arm too)", async () => {
    for (const seed of [5, 6, 7]) {
      const r = await fuzzModel(flagLock, {
        variant: "test-then-set",
        strategy: "mix",
        runs: 300,
        seed,
        confirm: false,
        shrink: false,
      });
      const cx = r.counterexample!;
      expect(cx).toBeDefined();
      const arm = arms[seedArm(cx.seed, arms.length) ?? DEFAULT_OPENING[0]!]!;
      expect(cx.arm).toBe(arm.label ?? arm.name);
      const alone = await fuzzModel(flagLock, {
        variant: "test-then-set",
        strategy: arm,
        runs: 1,
        seed: cx.seed,
        confirm: false,
        shrink: false,
      });
      expect(alone.counterexample?.found.moves).toEqual(cx.found.moves);
    }
  });

  it("names its arms, and rejects an arm that does not exist or cannot be one", () => {
    expect(describeArms()).toBe("random, pct d=2, pct d=3, pct d=5, preempt k=2, pos");
    expect(() => mix().scheduler({ arm: 9, data: null }, { k: 1, depth: 1 })).toThrow(
      /arm 9 does not exist \(6 arms\)/,
    );
    expect(() => mix([])).toThrow(/at least one/);
    expect(() => mix([replaySchedule([])])).toThrow(/cannot be replay/);
    expect(() => mix([arms[0]!], [1], [1])).toThrow(/opening run names an arm that does not exist/);
    expect(() => mix(Array.from({ length: 16 }, () => arms[0]!))).toThrow(/at most 15 arms/);
  });

  it("finds both a bug PCT misses and one random misses, within the same budget", async () => {
    // flag-lock's test-then-set: random finds it in a few runs, PCT d=3 in tens; migration-requeue's
    // v1-private-list (bench:fuzz): PCT in 2, random in over a thousand.
    const r = await fuzzModel(flagLock, {
      variant: "test-then-set",
      strategy: "mix",
      runs: 200,
      seed: 5,
      confirm: false,
      shrink: false,
    });
    expect(r.counterexample).toBeDefined();
    const mr = await fuzzModel(migrationRequeue, {
      variant: "v1-private-list",
      strategy: "mix",
      runs: 200,
      seed: 5,
      params: resolveParams(migrationRequeue, "v1-private-list"),
      confirm: false,
      shrink: false,
    });
    expect(mr.counterexample, formatFailure(mr)).toBeDefined();
  });
});

describe("stateHash (the spin checks' key)", () => {
  it("equal states hash equal; 50,000 distinct small states do not collide", () => {
    expect(stateHash(Int32Array.of(1, 2, 3))).toBe(stateHash(Int32Array.of(1, 2, 3)));
    expect(stateHash(Int32Array.of(1, 2, 3))).not.toBe(stateHash(Int32Array.of(3, 2, 1)));
    const seen = new Set<number>();
    for (let i = 0; i < 50_000; i++) {
      const h = stateHash(Int32Array.of(i & 7, (i >> 3) & 7, (i >> 6) & 7, i >> 9, -1));
      expect(Number.isSafeInteger(h) && h >= 0).toBe(true);
      seen.add(h);
    }
    expect(seen.size).toBe(50_000);
  });
});

describe("POS (partial order sampling, Yuan et al., CAV 2018)", () => {
  it("two steps conflict when they touch one word and one of them writes", () => {
    const w = (word: number, write = false) => word * 4 + (write ? ACC_WRITE : 0);
    expect(POS.conflicts(Int32Array.of(w(1)), Int32Array.of(w(1, true)))).toBe(true);
    expect(POS.conflicts(Int32Array.of(w(1)), Int32Array.of(w(1)))).toBe(false); // two reads
    expect(POS.conflicts(Int32Array.of(w(1, true)), Int32Array.of(w(2, true)))).toBe(false);
  });

  it("any seed gives a feasible schedule, and the same seed the same one", () => {
    const model = compileModel(philosophers, "left-then-right", { n: 3 });
    fc.assert(
      fc.property(fc.nat(), (seed) => {
        const a = runSchedule(model, pos.scheduler(seed, { k: 1, depth: 50 }), { depth: 50 });
        const b = runSchedule(model, pos.scheduler(seed, { k: 1, depth: 50 }), { depth: 50 });
        expect(a.end).not.toBe("infeasible");
        expect(b.moves).toEqual(a.moves);
      }),
      { numRuns: 200, seed: 8 },
    );
  });

  it("finds the list-lru-split use-after-free that PCT d=3 misses in 1000 runs", async () => {
    // bench:fuzz: POS needs a median of about 20 runs; random 150; PCT d=3 > 1000
    const variant = "lock-then-freeze";
    const r = await fuzzModel(listLruSplit, {
      variant,
      strategy: "pos",
      runs: 300,
      seed: 1,
      params: resolveParams(listLruSplit, variant),
      property: "use-after-free",
      confirm: false,
      shrink: false,
    });
    expect(r.counterexample?.property, formatFailure(r)).toBe("use-after-free");
  });
});
