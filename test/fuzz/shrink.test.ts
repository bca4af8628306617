// Shrinking: the result replays (library replay and `interleave replay` on the saved file),
// is no longer than what was found, groups steps by CPU, and smaller scenarios are preferred.
import { describe, expect, it, vi } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as fc from "fast-check";
import flagLock from "../../models/classic/flag-lock.ts";
import philosophers from "../../models/classic/philosophers.ts";
import deviceMigration from "../../models/device-migration-split/device-migration-split.ts";
import { compileModel, resolveParams } from "../../src/model/model.ts";
import { formatFailure } from "../../src/fuzz/report.ts";
import { fuzzModel, scheduleProperty } from "../../src/fuzz/index.ts";
import { contextSwitches, shrinkSchedule, _internals as S } from "../../src/fuzz/shrink.ts";
import { replay } from "../../src/trace/replay.ts";
import { parseSchedule } from "../../src/trace/schedule.ts";
import { main } from "../../src/cli/main.ts";

const mv = (cpus: string) => [...cpus].map((c) => ({ cpu: Number(c), choice: 0 }));

describe("shrinking", () => {
  it("counts context switches and blocks", () => {
    expect(contextSwitches(mv("0011010"))).toBe(4);
    expect(S.blocks(mv("00110"))).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    expect(
      S.relocate(mv("0011220"), 6, 7, 2)
        .map((m) => m.cpu)
        .join(""),
    ).toBe("0001122");
    expect(
      S.relocate(mv("0011220"), 0, 2, 6)
        .map((m) => m.cpu)
        .join(""),
    ).toBe("1122000");
  });

  it("unshrunk deadlock traces shrink to one fork grab per philosopher, grouped", async () => {
    for (const seed of [1, 2, 3, 4]) {
      const r = await fuzzModel(philosophers, {
        variant: "left-then-right",
        property: "deadlock",
        strategy: "random",
        runs: 500,
        seed,
        params: { n: 4 },
        shrink: false,
        confirm: false,
      });
      const found = r.counterexample!.found.moves;
      const model = compileModel(philosophers, "left-then-right", { n: 4 });
      const sh = shrinkSchedule(model, found, "deadlock");
      expect(sh.moves.length).toBe(4);
      expect(contextSwitches(sh.moves)).toBe(3);
      expect(sh.moves.length).toBeLessThanOrEqual(found.length);
      expect(replay(model, sh.moves).outcomes.map((o) => o.property)).toContain("deadlock");
    }
  });

  it("a schedule that does not break the property is refused", () => {
    const model = compileModel(philosophers, "left-then-right", { n: 2 });
    expect(() => shrinkSchedule(model, parseSchedule("0 0 0 0"), "deadlock")).toThrow(
      /does not break deadlock/,
    );
  });

  it("shrunk counterexamples replay, are no longer than found, and no more interleaved", async () => {
    for (const strategy of ["random", "pct", "preempt", "pos", "mix"] as const) {
      for (const seed of [1, 2, 3]) {
        const r = await fuzzModel(flagLock, {
          variant: "test-then-set",
          strategy,
          runs: 3000,
          seed,
          confirm: false,
        });
        const cx = r.counterexample!;
        expect(cx.shrunk.length).toBeLessThanOrEqual(cx.found.length);
        if (cx.shrunk.length === cx.found.length)
          expect(cx.shrunk.switches).toBeLessThanOrEqual(cx.found.switches);
        const rep = replay(
          compileModel(flagLock, "test-then-set", cx.shrunk.params),
          cx.shrunk.moves,
        );
        expect(rep.infeasible).toBeUndefined();
        expect(rep.outcomes.map((o) => o.property)).toContain("mutual-exclusion");
        // the scenario shrinks to two CPUs: the fewest the race needs
        expect(cx.shrunk.params.cpus).toBe(2);
      }
    }
  });

  it("the shrunk trace is within 2x of the BFS shortest", async () => {
    const r = await fuzzModel(philosophers, {
      variant: "left-then-right",
      property: "deadlock",
      strategy: "random",
      runs: 500,
      seed: 9,
      params: { n: 5 },
    });
    const cx = r.counterexample!;
    expect(cx.bfs?.shortest).toBe(5);
    expect(cx.shrunk.length).toBeLessThanOrEqual(2 * cx.bfs!.shortest!);
    expect(cx.shrunk.params.n).toBe(5); // held fixed
  });

  it("when the explorer's trace is shorter than the shrunk one, that trace is shown and saved", async () => {
    // measured: seed 3 (mix: run 1, arm preempt k=2) shrinks this stale-migration-entry to 19 steps;
    // BFS's shortest is 13
    const dir = mkdtempSync(join(tmpdir(), "fuzz-short-"));
    const variant = "unmap-then-split-with-flag";
    const r = await fuzzModel(deviceMigration, {
      variant,
      seed: 3,
      runs: 500,
      params: resolveParams(deviceMigration, variant),
      saveTo: dir,
      file: "models/device-migration-split/device-migration-split.ts",
    });
    const cx = r.counterexample!;
    expect(cx.shrunk.length).toBeGreaterThan(cx.bfs!.shortest!);
    expect(cx.shortest?.length).toBe(cx.bfs!.shortest);
    const rep = replay(cx.model, cx.shortest!.moves);
    expect(rep.outcomes.map((o) => o.property)).toContain(cx.property);
    expect(cx.diagram).toContain(`=> ${cx.property}`);
    expect(formatFailure(r)).toMatch(
      new RegExp(`shown:  the explorer's shortest trace, ${cx.bfs!.shortest} steps`),
    );
    const saved = JSON.parse(readFileSync(cx.file!, "utf8")) as {
      length: number;
      schedule: string;
      fuzz: { shown: string; shrunk: { length: number } };
    };
    expect(saved.length).toBe(cx.bfs!.shortest);
    expect(saved.fuzz.shown).toBe("bfs-shortest");
    expect(saved.fuzz.shrunk.length).toBe(cx.shrunk.length);
    expect(parseSchedule(saved.schedule)).toEqual(cx.shortest!.moves);
  });

  it("a saved fuzz counterexample replays with `interleave replay`", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fuzz-cx-"));
    const r = await fuzzModel(philosophers, {
      variant: "left-then-right",
      property: "deadlock",
      strategy: "pct",
      runs: 500,
      seed: 5,
      saveTo: dir,
      file: "models/classic/philosophers.ts",
    });
    const file = r.counterexample!.file!;
    expect(file).toBe(join(dir, "philosophers", "left-then-right", "fuzz", "deadlock.json"));
    const saved = JSON.parse(readFileSync(file, "utf8")) as {
      schedule: string;
      fuzz: { seed: number };
    };
    expect(saved.fuzz.seed).toBe(r.counterexample!.seed);
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      expect(await main(["replay", file])).toBe(1); // 1: the violation is reproduced
      expect(log.mock.calls.flat().join("\n")).toMatch(/reproduced: deadlock/);
    } finally {
      log.mockRestore();
    }
  });

  it("a property failing under test.prop reports the diagram and the replay command", () => {
    const dir = mkdtempSync(join(tmpdir(), "fuzz-prop-"));
    const p = scheduleProperty(flagLock, {
      variant: "test-then-set",
      file: "models/classic/flag-lock.ts",
      saveTo: dir,
    });
    let msg = "";
    try {
      fc.assert(
        fc.property(...p.arbitraries, (params, data) => p.holds(params, data)),
        { seed: 1, numRuns: 200, includeErrorInReport: true },
      );
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/mutual-exclusion violated/);
    expect(msg).toMatch(/CPU0 \(flag_lock0\)\s+CPU1 \(flag_lock1\)/);
    expect(msg).toMatch(/=> mutual-exclusion: 2 CPUs in the critical section/);
    expect(msg).not.toMatch(/CPU2 \(flag_lock2\)/); // reduced to the two CPUs the race needs
    expect(msg).toMatch(/replay: npx interleave replay .*fuzz\/mutual-exclusion\.json/);
    expect(msg).toMatch(/seed/); // fast-check's own seed and path
  });
});
