// The CLI and symmetry reduction: on by default where a model declares alike CPUs or objects
// (and the liveness check is off), said in the output and the JSON; --no-symmetry; saved
// counterexamples name the model's own CPUs and replay.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../helpers.ts";

const M = "test/fixtures/alike-putters.ts";

describe("check with symmetry", () => {
  it("is used with --no-liveness, and says so; the verdicts are as declared", async () => {
    const r = await cli("check", M, "--no-liveness", "--no-save", "--expect");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "alike-putters / one-ref: symmetry reduction used over objects F0, F1, F2; CPUs CPU0, CPU1, CPU2 (folio_put)",
    );
  });

  it("is off while liveness is checked, and off with --no-symmetry: the output says why", async () => {
    const r = await cli("check", M, "--variant", "one-ref", "--no-save");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /symmetry reduction over .* off: the liveness check needs the unreduced state graph/,
    );
    const j = await cli("check", M, "--no-liveness", "--no-symmetry", "--no-save", "--json");
    const results = (
      JSON.parse(j.stdout) as { results: { states: number; symmetry: unknown; verdict: string }[] }
    ).results;
    expect(results.map((x) => x.symmetry)).toEqual([
      {
        used: false,
        sets: ["objects F0, F1, F2", "CPUs CPU0, CPU1, CPU2 (folio_put)"],
        note: "off (--no-symmetry)",
      },
      {
        used: false,
        sets: ["objects F0, F1, F2", "CPUs CPU0, CPU1, CPU2 (folio_put)"],
        note: "off (--no-symmetry)",
      },
    ]);
    const on = await cli("check", M, "--no-liveness", "--no-save", "--json");
    const onResults = (
      JSON.parse(on.stdout) as {
        results: { states: number; symmetry: { used: boolean }; verdict: string }[];
      }
    ).results;
    expect(onResults.map((x) => x.verdict)).toEqual(results.map((x) => x.verdict));
    expect(onResults.every((x) => x.symmetry.used)).toBe(true);
    // 3 putters x 3 folios: at least 3! fewer states on the holding variant
    expect(results[1]!.states / onResults[1]!.states).toBeGreaterThan(6);
  });

  it("saves a counterexample on the model's own CPUs that `replay` reproduces", async () => {
    const dir = mkdtempSync(join(tmpdir(), "interleave-sym-"));
    try {
      const c = await cli("check", M, "--variant", "one-ref", "--no-liveness", "--save", dir);
      expect(c.code).toBe(1);
      const file = join(dir, "alike-putters", "one-ref", "use-after-free.json");
      const cx = JSON.parse(readFileSync(file, "utf8")) as { schedule: string; message: string };
      expect(cx.message).toBe("put of a freed folio (refcount 0)");
      const r = await cli("replay", file);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("use-after-free");
      expect(r.stdout).not.toMatch(/infeasible|no longer fits/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
