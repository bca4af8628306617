// The linear check for a data race among the CPUs' next steps agrees with the pairwise search.
import { describe, expect, it } from "vitest";
import * as fc from "fast-check";
import { anyRace } from "../../src/trace/replay.ts";
import { ACC_MARKED, ACC_WRITE } from "../../src/rt/mem.ts";

/** Two CPUs' unmarked accesses to one word, one a write (the explorer's definition). */
function pairwise(acc: readonly { t: number; list: Int32Array }[]): boolean {
  for (let i = 0; i < acc.length; i++)
    for (let j = i + 1; j < acc.length; j++)
      for (const x of acc[i]!.list)
        for (const y of acc[j]!.list)
          if (!(x & ACC_MARKED) && !(y & ACC_MARKED) && x >> 2 === y >> 2 && (x | y) & ACC_WRITE)
            return true;
  return false;
}

describe("anyRace", () => {
  it("agrees with the pairwise search, and leaves its scratch clean", () => {
    const access = fc
      .record({ word: fc.nat(5), write: fc.boolean(), marked: fc.boolean() })
      .map((a) => a.word * 4 + (a.write ? ACC_WRITE : 0) + (a.marked ? ACC_MARKED : 0));
    fc.assert(
      fc.property(
        fc
          .uniqueArray(fc.nat(4), { maxLength: 4 })
          .chain((cpus) =>
            fc.tuple(
              ...cpus.map((t) =>
                fc.array(access, { maxLength: 5 }).map((l) => ({ t, list: Int32Array.from(l) })),
              ),
            ),
          ),
        (acc) => {
          expect(anyRace(6, acc)).toBe(pairwise(acc));
          expect(anyRace(6, acc)).toBe(pairwise(acc)); // the same again: nothing left over
        },
      ),
      { numRuns: 2000, seed: 3 },
    );
    // a CPU's own read and write of a word is no race
    expect(
      anyRace(6, [
        { t: 0, list: Int32Array.of(8, 8 + ACC_WRITE) },
        { t: 1, list: Int32Array.of(4) },
      ]),
    ).toBe(false);
    expect(
      anyRace(6, [
        { t: 0, list: Int32Array.of(8) },
        { t: 1, list: Int32Array.of(8 + ACC_WRITE) },
      ]),
    ).toBe(true);
  });
});
