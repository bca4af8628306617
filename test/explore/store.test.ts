import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Packer, StateStore, hashWords } from "../../src/explore/store.ts";
import { Layout } from "../../src/model/layout.ts";
import { int, record } from "../../src/model/schema.ts";

/** A layout of int fields with the given [min, max] ranges. */
function layoutOf(ranges: readonly (readonly [number, number])[]): Layout {
  const fields: Record<string, ReturnType<typeof int>> = {};
  ranges.forEach(([lo, hi], i) => (fields[`f${i}`] = int(lo, hi, lo)));
  const lay = new Layout();
  lay.alloc(record(fields), "", -1, "");
  lay.finalize(0, []);
  return lay;
}

const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

const range = fc
  .tuple(fc.integer({ min: I32_MIN, max: I32_MAX }), fc.integer({ min: I32_MIN, max: I32_MAX }))
  .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
/** Spans at the edges of the 1-, 2- and 4-byte encodings. */
const edgeRange = fc.constantFrom(
  [0, 255] as const,
  [0, 256] as const,
  [-1, 254] as const,
  [-128, 128] as const,
  [0, 65_535] as const,
  [0, 65_536] as const,
  [-40_000, 25_535] as const,
  [I32_MIN, I32_MAX] as const,
  [0, I32_MAX] as const,
  [I32_MIN, 0] as const,
);
const smallRange = fc
  .tuple(fc.integer({ min: -300, max: 300 }), fc.integer({ min: 0, max: 255 }))
  .map(([lo, span]) => [lo, lo + span] as const);

describe("Packer", () => {
  it("round-trips any values of any layout (byte, short and word fields)", () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.oneof(range, smallRange, edgeRange), { minLength: 1, maxLength: 24 })
          .chain((ranges) =>
            fc.tuple(
              fc.constant(ranges),
              fc.tuple(...ranges.map(([lo, hi]) => fc.integer({ min: lo, max: hi }))),
            ),
          ),
        ([ranges, values]) => {
          const lay = layoutOf(ranges);
          const p = new Packer(lay);
          const v = Int32Array.from(values);
          const h = p.pack(v);
          const stored = p.out.slice();
          const back = new Int32Array(v.length);
          p.unpack(new Uint8Array(stored.buffer), 0, back);
          expect(Array.from(back)).toEqual(values);
          expect(h).toBe(hashWords(stored));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("needs at most one byte per field whose range spans fewer than 256 values", () => {
    expect(
      new Packer(
        layoutOf([
          [0, 1],
          [-1, 3],
          [0, 255],
        ]),
      ).bytes,
    ).toBeLessThanOrEqual(3);
    expect(new Packer(layoutOf([[0, 256]])).bytes).toBeLessThanOrEqual(2);
    expect(new Packer(layoutOf([[0, 70_000]])).bytes).toBeLessThanOrEqual(4);
    expect(
      new Packer(
        layoutOf([
          [0, 1],
          [0, 1],
          [0, 1],
          [0, 1],
          [0, 1],
        ]),
      ).words,
    ).toBeLessThanOrEqual(2);
  });

  it("packs different states differently (no two states share a packed form)", () => {
    const lay = layoutOf([
      [-3, 4],
      [0, 300],
      [-5, 70_000],
    ]);
    const p = new Packer(lay);
    const seen = new Set<string>();
    for (const a of [-3, 0, 4])
      for (const b of [0, 255, 256, 300])
        for (const c of [-5, -1, 0, 65_535, 65_536, 70_000]) {
          p.pack(Int32Array.from([a, b, c]));
          seen.add(Array.from(p.out).join(","));
        }
    expect(seen.size).toBe(3 * 4 * 6);
  });
});

describe("StateStore", () => {
  it("stores states past one chunk with parents, moves and depths, and rebuilds paths", () => {
    const s = new StateStore(2);
    const v = new Int32Array(2);
    const N = 70_000; // more than one chunk of 65536 states
    for (let i = 0; i < N; i++) {
      v[0] = i;
      v[1] = -i;
      s.add(v, i * 7, i - 1, i % 5, i);
    }
    expect(s.count).toBe(N);
    for (const i of [0, 1, 65_535, 65_536, N - 1]) {
      v[0] = i;
      v[1] = -i;
      expect(s.equals(i, v)).toBe(true);
      v[1] = 1 - i;
      expect(s.equals(i, v)).toBe(false);
      expect(s.depth[i]).toBe(i);
      expect(s.hash[i]).toBe(i * 7);
      const [bytes, at] = s.bytesOf(i);
      expect(new Int32Array(bytes.buffer, at, 2)[0]).toBe(i);
    }
    const path = s.pathTo(10);
    expect(path).toEqual([1, 2, 3, 4, 0, 1, 2, 3, 4, 0]);
    expect(s.pathTo(0)).toEqual([]);
    expect(s.bytes).toBeGreaterThanOrEqual(N * 2 * 4);
  });
});
