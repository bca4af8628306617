// Partial-order reduction (src/explore/por.ts): which words are private, which steps are local,
// and scenarios built so that a wrong reduction would miss a violation (each checked against the
// unreduced search). The generated models of differential.test.ts test the rest.
import { describe, it, expect } from "vitest";
import {
  bool,
  explore,
  int,
  listHead,
  spinlock,
  spin_lock,
  spin_unlock,
  type CheckResult,
  type CompiledModel,
} from "../../src/index.ts";
import { privacyBreaches, privateWords } from "../../src/explore/por.ts";
import { tiny } from "../helpers.ts";
import { replays } from "./replays.ts";

const props = (r: CheckResult): string[] => r.violations.map((v) => v.property).sort();

/** Both searches, with the same verdict and violated properties; returns [unreduced, reduced]. */
async function both(model: CompiledModel, opts = {}): Promise<[CheckResult, CheckResult]> {
  const full = await explore(model, { liveness: false, reduce: false, ...opts });
  const red = await explore(model, { liveness: false, ...opts });
  expect(red.verdict).toBe(full.verdict);
  expect(props(red)).toEqual(props(full));
  for (const v of red.violations) expect(replays(model, v), v.property).toBe(true);
  return [full, red];
}

describe("partial-order reduction", () => {
  it("private words: each CPU's pc and scalar locals; not list heads, not shared words", () => {
    const model = tiny({ w: int(0, 1) }, (m) => {
      m.thread("a", { x: int(0, 3), flag: bool(), list: listHead() }, ({ step }) => [
        step("x = 1", ({ l }) => {
          l.x = 1;
        }),
      ]);
      m.thread("b", { y: int(0, 1) }, ({ step }) => [step("nop", () => {})]);
    });
    const own = privateWords(model);
    const f = (name: string): number => model.layout.fieldByName.get(name)!.off;
    expect(own[f("w")]).toBe(-1);
    expect(own[f("CPU0.pc")]).toBe(0);
    expect(own[f("CPU0.x")]).toBe(0);
    expect(own[f("CPU0.flag")]).toBe(0);
    // another CPU's list_del() may write a private list head through its neighbours' pointers
    expect(own[f("CPU0.list.next")]).toBe(-1);
    expect(own[f("CPU0.list.prev")]).toBe(-1);
    expect(own[f("CPU1.pc")]).toBe(1);
    expect(own[f("CPU1.y")]).toBe(1);
  });

  it("CPU-local steps are followed alone: fewer states, the same verdict", async () => {
    // each CPU counts to 3 in its locals, then publishes its count
    const model = tiny({ a: int(0, 3), b: int(0, 3) }, (m) => {
      for (const w of ["a", "b"] as const)
        m.thread(`count_${w}`, { n: int(0, 3) }, ({ step }) => [
          step("n++", ({ l }) => void l.n++),
          step("n++", ({ l }) => void l.n++),
          step("n++", ({ l }) => void l.n++),
          step(`${w} = n`, ({ s, l }) => {
            s[w] = l.n;
          }),
        ]);
      m.endState("both-published", ({ s }) => (s.a === 3 && s.b === 3) || "lost a count");
    });
    const [full, red] = await both(model);
    expect(full.verdict).toBe("holds");
    expect(full.states).toBe(25);
    // the local steps of each CPU run first, one CPU at a time, then the two publications
    expect(red.states).toBeLessThan(full.states);
    expect(red.states).toBe(10);
    expect(red.reduction).toMatchObject({ on: true, reducedStates: 6 });
    expect(full.reduction).toMatchObject({ on: false, why: "turned off (--no-reduce)" });
  });

  it("a step that reads shared memory raw (c.m.b[off]) is not local: the race is found", async () => {
    // CPU0 copies w into a local with a raw read, then BUG_ON(copy == 1). Taken as local, the
    // copy would always run before CPU1's write, and the BUG would never be reached.
    for (const where of ["run", "guard"] as const) {
      const model = tiny({ w: int(0, 1) }, (m) => {
        const w = m.s.w;
        m.thread("reader", { copy: int(0, 1) }, ({ step }) => [
          where === "run"
            ? step("copy = w", (c) => {
                c.l.copy = c.m.b[w.$off(c.m.b)]!;
              })
            : step(
                "copy = 1",
                (c) => {
                  c.l.copy = 1;
                },
                { guard: (c) => c.m.b[w.$off(c.m.b)] === 1 },
              ),
          step("BUG_ON(copy == 1)", (c) => {
            if (c.l.copy === 1) c.m.bug("saw-one", "copy is 1");
          }),
        ]);
        m.thread("writer", {}, ({ step }) => [step("w = 1", ({ s }) => void (s.w = 1))]);
      });
      const [full] = await both(model);
      expect(props(full), where).toEqual(["saw-one"]);
    }
  });

  it("an invariant that reads CPU locals through w.cpus: searched again unreduced", async () => {
    // CPU0: a = 1 (local); CPU1: x = 1. The invariant !(x == 1 && a == 0) reads a only once
    // x == 1: in the initial state it reads x alone, yet the local write is visible to it later.
    const model = tiny({ x: int(0, 1) }, (m) => {
      m.thread("local", { a: int(0, 1) }, ({ step }) => [step("a = 1", ({ l }) => void (l.a = 1))]);
      m.thread("shared", {}, ({ step }) => [step("x = 1", ({ s }) => void (s.x = 1))]);
      m.invariant("x-before-a", ({ s, cpus }) => {
        if (s.x !== 1) return true;
        return (cpus[0]!.l as unknown as { a: number }).a !== 0 || "x is 1 before a";
      });
    });
    const [full, red] = await both(model);
    expect(props(full)).toEqual(["x-before-a"]);
    expect(red.states).toBe(full.states);
    expect(red.reduction?.on).toBe(false);
    expect(red.reduction?.why).toMatch(/w\.cpus/);
  });

  it("the cycle proviso: an endless local loop does not hide the other CPU's steps", async () => {
    // CPU0 spins on its own locals forever (n = 0, 1, 0, 1, ...); CPU1 breaks an invariant
    const model = tiny({ w: int(0, 1) }, (m) => {
      m.thread(
        "spin",
        { n: int(0, 1) },
        ({ step, while_, when }) => [
          while_(
            when("true", () => true),
            [step("n ^= 1", ({ l }) => void (l.n ^= 1))],
          ),
        ],
        { endless: true },
      );
      m.thread("writer", {}, ({ step }) => [step("w = 1", ({ s }) => void (s.w = 1))]);
      m.invariant("w-zero", ({ s }) => s.w === 0 || "w was written");
    });
    for (const strategy of ["bfs", "dfs"] as const) {
      const [full, red] = await both(model, { strategy });
      expect(props(full), strategy).toEqual(["w-zero"]);
      expect(red.complete, strategy).toBe(true);
    }
  });

  it("data races between two CPUs while a third runs local steps", async () => {
    const model = tiny(
      { w: int(0, 2) },
      (m) => {
        m.thread("local", { n: int(0, 3) }, ({ step }) => [
          step("n++", ({ l }) => void l.n++),
          step("n++", ({ l }) => void l.n++),
          step("n++", ({ l }) => void l.n++),
        ]);
        m.thread("w1", {}, ({ step }) => [step("w = 1", ({ s }) => void (s.w = 1))]);
        m.thread("w2", {}, ({ step }) => [step("w = 2", ({ s }) => void (s.w = 2))]);
      },
      { races: true },
    );
    const [full, red] = await both(model);
    expect(props(full)).toEqual(["data-race"]);
    expect(red.states).toBeLessThan(full.states);
  });

  it("deadlock, end state and lock order between CPUs that also run local steps", async () => {
    const model = tiny({ A: spinlock(), B: spinlock(), done: int(0, 2) }, (m) => {
      const { A, B } = m.s;
      for (const [x, y] of [
        [A, B],
        [B, A],
      ] as const)
        m.thread("ab", { n: int(0, 2) }, ({ step }) => [
          step("n++", ({ l }) => void l.n++),
          spin_lock(x),
          step("n++", ({ l }) => void l.n++),
          spin_lock(y),
          step("done++", ({ s }) => void s.done++),
          spin_unlock(y),
          spin_unlock(x),
        ]);
      m.endState("both-done", ({ s }) => s.done === 2 || "a CPU did not finish");
    });
    const [full, red] = await both(model);
    expect(props(full)).toEqual(["deadlock", "lock-order"]);
    expect(red.states).toBeLessThan(full.states);
  });

  it("with the liveness check on, the reduction is off (and says why)", async () => {
    const model = tiny({ w: int(0, 1) }, (m) => {
      m.thread("a", { n: int(0, 1) }, ({ step }) => [step("n = 1", ({ l }) => void (l.n = 1))]);
      m.thread("b", {}, ({ step }) => [step("w = 1", ({ s }) => void (s.w = 1))]);
    });
    const r = await explore(model);
    expect(r.liveness).toBe(true);
    expect(r.reduction).toEqual({
      on: false,
      why: "the liveness check needs every edge of the state graph (--no-liveness to reduce)",
    });
  });
});

describe("the privacy the reduction relies on (privacyBreaches)", () => {
  it("holds in every bundled variant (first 3000 states of each, breadth-first)", async () => {
    const { loadModels } = await import("../../src/cli/load.ts");
    const { compileModel } = await import("../../src/index.ts");
    const { join } = await import("node:path");
    const loaded = await loadModels([join(import.meta.dirname, "..", "..", "models")]);
    let variants = 0;
    for (const { def } of loaded)
      for (const v of Object.keys(def.variants)) {
        expect(privacyBreaches(compileModel(def, v), 3000), `${def.name}/${v}`).toEqual([]);
        variants++;
      }
    expect(variants).toBeGreaterThan(20);
  }, 120_000);

  it("finds a step that reads another CPU's local, and an invariant that reads one raw", () => {
    const model = tiny({ w: int(0, 1) }, (m) => {
      const a = m.thread("a", { x: int(0, 1) }, ({ step }) => [
        step("x = 1", ({ l }) => void (l.x = 1)),
      ]);
      void a;
      const xOff = (): number => m.layout.fieldByName.get("CPU0.x")!.off;
      m.thread("b", {}, ({ step }) => [
        // reaching into CPU0's locals by layout arithmetic: what a model must not do
        step("w = CPU0.x", (c) => {
          c.s.w = c.m.b[xOff()]!;
        }),
      ]);
      m.invariant("raw-local", (w) => w.m.b[xOff()]! <= 1);
    });
    const found = privacyBreaches(model);
    expect(found).toContain('invariant "raw-local" reads CPU0.x without w.cpus');
    expect(found).toContain("CPU1 (b) step `w = CPU0.x` touches CPU0.x");
  });
});

describe("check: the reduction on the command line", () => {
  it("says what it did, that a trace may be longer, and --no-reduce turns it off", async () => {
    const { cli } = await import("../helpers.ts");
    const on = await cli("check", "test/fixtures/put-race.ts", "--no-save", "--no-liveness");
    expect(on.code).toBe(1);
    expect(on.stdout).toMatch(/put-race\s+open-coded\s+violated\s+ok\s+23\s+24\s/);
    expect(on.stdout).toContain(
      "Partial-order reduction: 8 of 29 states expanded with one CPU-local step; a trace may be longer than the shortest (--no-reduce gives the shortest).",
    );
    const off = await cli(
      "check",
      "test/fixtures/put-race.ts",
      "--no-save",
      "--no-liveness",
      "--no-reduce",
    );
    expect(off.stdout).toMatch(/put-race\s+open-coded\s+violated\s+ok\s+32\s+44\s/);
    expect(off.stdout).not.toContain("Partial-order reduction");
    const live = await cli("check", "test/fixtures/put-race.ts", "--no-save");
    expect(live.stdout).toMatch(/put-race\s+open-coded\s+violated\s+ok\s+32\s+44\s/);
    expect(live.stdout).toContain(
      "Partial-order reduction off for every variant: the liveness check needs every edge of the state graph (--no-liveness to reduce).",
    );
    const json = await cli(
      "check",
      "test/fixtures/put-race.ts",
      "--no-save",
      "--no-liveness",
      "--json",
    );
    const results = (JSON.parse(json.stdout) as { results: { reduction: unknown }[] }).results;
    expect(results[0]!.reduction).toMatchObject({ on: true, reducedStates: 8 });
  }, 60_000);
});
