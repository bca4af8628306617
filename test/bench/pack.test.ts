// The explorer's packed state form: the word-at-a-time pack and unpack generated for a layout
// (src/explore/store.ts) must round-trip every value of every field, whatever the field widths
// and however the fields straddle word boundaries.

import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Packer, StateStore, hashWords } from "../../src/explore/store.ts";
import { Layout } from "../../src/model/layout.ts";
import { int, record } from "../../src/model/schema.ts";

function layoutOf(ranges: readonly (readonly [number, number])[]): Layout {
  const fields: Record<string, ReturnType<typeof int>> = {};
  ranges.forEach(([lo, hi], i) => (fields[`f${i}`] = int(lo, hi, lo)));
  const lay = new Layout();
  lay.alloc(record(fields), "", -1, "");
  lay.finalize(0, []);
  return lay;
}

const range = fc
  .oneof(
    fc.tuple(fc.integer({ min: -300, max: 300 }), fc.integer({ min: 0, max: 255 })),
    fc.tuple(fc.integer({ min: -70_000, max: 70_000 }), fc.integer({ min: 256, max: 65_535 })),
    fc.tuple(
      fc.integer({ min: -(2 ** 31), max: 0 }),
      fc.integer({ min: 65_536, max: 2 ** 31 - 1 }),
    ),
  )
  .map(([lo, span]) => [lo, lo + span] as const);

describe("Packer: states stored in the store and read back", () => {
  it("round-trips through StateStore (unpackState) for mixed byte, short and word fields", () => {
    fc.assert(
      fc.property(
        fc.array(range, { minLength: 1, maxLength: 30 }).chain((ranges) =>
          fc.tuple(
            fc.constant(ranges),
            fc.array(fc.tuple(...ranges.map(([lo, hi]) => fc.integer({ min: lo, max: hi }))), {
              minLength: 1,
              maxLength: 4,
            }),
          ),
        ),
        ([ranges, states]) => {
          const p = new Packer(layoutOf(ranges));
          const store = new StateStore(p.words);
          for (const values of states) {
            const h = p.pack(Int32Array.from(values));
            expect(h).toBe(hashWords(p.out));
            store.add(p.out, h, -1, 0, 0);
          }
          states.forEach((values, i) => {
            const back = new Int32Array(values.length);
            p.unpackState(store, i, back);
            expect(Array.from(back)).toEqual(values);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
