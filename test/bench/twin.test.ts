// The benchmark twin (bench/TWIN.md): interleave and SPIN, with reductions off, must store the
// same number of states for the same model. SPIN runs live when spin and gcc are on PATH; without
// them the test compares with the counts recorded from SPIN in bench/twins/spin-counts.json
// (bench/record-spin-counts.ts). It never skips.

import { describe, it, expect } from "vitest";
import { compileModel, explore } from "../../src/index.ts";
import twin from "../../bench/twins/scan_private.ts";
import { readRecordedCounts, runSpin, spinTools, TEST_SIZES } from "../../bench/spin.ts";

const tools = spinTools();
const recorded = readRecordedCounts();

function spinCounts(N: number, P: number): { states: number; transitions: number } {
  if (tools.ok) {
    const r = runSpin(N, P, { opt: "-O0", dir: `test-N${N}-P${P}` });
    expect(r.errors).toBe(0);
    return r;
  }
  const c = recorded?.counts.find((x) => x.N === N && x.P === P);
  if (!c) {
    throw new Error(
      `no SPIN on PATH and no recorded count for N=${N} P=${P} in bench/twins/spin-counts.json; ` +
        "install spin (apt-get install spin) or run bench/record-spin-counts.ts",
    );
  }
  return c;
}

describe(`scan_private twin: interleave vs SPIN (${tools.ok ? `live, ${tools.version}` : `recorded, ${recorded?.spinVersion}`})`, () => {
  for (const { N, P } of TEST_SIZES) {
    it(`N=${N} folios, P=${P} putters: same states and transitions`, async () => {
      const spin = spinCounts(N, P);
      const r = await explore(compileModel(twin, "twin", { folios: N, putters: P }));
      expect(r.verdict).toBe("holds");
      expect(r.states).toBe(spin.states);
      // pan counts the initial state as a transition ("stored + matched")
      expect(r.transitions + 1).toBe(spin.transitions);
      // and the recorded counts (what the test uses without SPIN) say the same
      const rec = recorded?.counts.find((x) => x.N === N && x.P === P);
      expect(rec?.states).toBe(r.states);
    });
  }

  it("depth-first search stores the same states as breadth-first (N=5, P=2)", async () => {
    const model = compileModel(twin, "twin", { folios: 5, putters: 2 });
    const bfs = await explore(model);
    const dfs = await explore(compileModel(twin, "twin", { folios: 5, putters: 2 }), {
      strategy: "dfs",
    });
    expect(dfs.states).toBe(bfs.states);
    expect(dfs.transitions).toBe(bfs.transitions);
  });

  it("the recorded counts name the SPIN version and cover every size", () => {
    expect(recorded?.spinVersion).toMatch(/^Spin Version \d/);
    expect(recorded!.counts.map(({ N, P }) => `${N}x${P}`)).toEqual(
      TEST_SIZES.map(({ N, P }) => `${N}x${P}`),
    );
  });
});

describe("scan_private twin: the memory budget", () => {
  it("ends a run that needs more than --max-memory with incomplete, within the budget", async () => {
    const maxMemory = 8 * 2 ** 20; // the whole run (158,111 states) needs about 16 MiB
    const r = await explore(compileModel(twin, "twin", { folios: 6, putters: 3 }), { maxMemory });
    expect(r.verdict).toBe("incomplete");
    expect(r.stopReason).toBe("memory");
    expect(r.complete).toBe(false);
    expect(r.states).toBeGreaterThan(0);
    expect(r.states).toBeLessThan(158_111);
    expect(r.memoryBytes).toBeLessThanOrEqual(maxMemory);
  });
});
