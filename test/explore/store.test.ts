import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Packer, StateStore, bitsFor, hashWords } from "../../src/explore/store.ts";
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

  it("packs each field in the bits its range needs (booleans in one bit)", () => {
    const p = new Packer(
      layoutOf([
        [0, 1],
        [-1, 3],
        [0, 255],
      ]),
    );
    expect(p.bits).toBe(1 + 3 + 8);
    expect(p.words).toBe(1);
    // 32 booleans in one word, 33 in two
    expect(new Packer(layoutOf(Array.from({ length: 32 }, () => [0, 1] as const))).words).toBe(1);
    expect(new Packer(layoutOf(Array.from({ length: 33 }, () => [0, 1] as const))).words).toBe(2);
    // a constant field takes no bits
    expect(new Packer(layoutOf([[7, 7]])).bits).toBe(0);
    expect(new Packer(layoutOf([[0, 256]])).bits).toBe(9);
    expect(new Packer(layoutOf([[I32_MIN, I32_MAX]])).bits).toBe(32);
    // fields are never split across words: three 11-bit fields need two words
    expect(
      new Packer(
        layoutOf([
          [0, 2047],
          [0, 2047],
          [0, 2047],
        ]),
      ).words,
    ).toBe(2);
  });

  it("bitsFor gives the bits of 0..span", () => {
    expect([0, 1, 2, 3, 4, 255, 256, 2 ** 31, 2 ** 32 - 1].map(bitsFor)).toEqual([
      0, 1, 2, 2, 3, 8, 9, 32, 32,
    ]);
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
      expect(s.depthOf(i)).toBe(i);
      expect(s.hashOf(i)).toBe(hashWords(Int32Array.from([i, -i])));
      const [bytes, at] = s.bytesOf(i);
      expect(new Int32Array(bytes.buffer, at, 2)[0]).toBe(i);
    }
    const path = s.pathTo(10);
    expect(path).toEqual([1, 2, 3, 4, 0, 1, 2, 3, 4, 0]);
    expect(s.pathTo(0)).toEqual([]);
    expect(s.bytes).toBeGreaterThanOrEqual(N * 2 * 4);
  });
});

describe("StateStore compact parents (fingerprint mode)", () => {
  /** A BFS-shaped tree: state i's parent is floor((i - 1) / 3), moves i % 7. */
  function bfsTree(n: number, compact: boolean): StateStore {
    const s = new StateStore(1, { states: false, compactParents: compact });
    const v = new Int32Array(1);
    for (let i = 0; i < n; i++) {
      const parent = i === 0 ? -1 : Math.floor((i - 1) / 3);
      let d = 0;
      for (let k = i; k > 0; k = Math.floor((k - 1) / 3)) d++;
      s.add(v, 0, parent, i % 7, d);
    }
    return s;
  }

  it("rebuilds the same paths from children counts as from parent indices", () => {
    const n = 5000;
    const a = bfsTree(n, true);
    const b = bfsTree(n, false);
    for (const i of [0, 1, 2, 3, 4, 100, 1234, n - 1]) {
      expect(a.pathTo(i)).toEqual(b.pathTo(i));
      expect(a.parentOf(i)).toBe(b.parentOf(i));
      expect(a.depthOf(i)).toBe(b.depthOf(i));
    }
    // 1 byte of links and 1 of moves per state (arrays grown by 1.5x), no states
    expect(a.metaBytesPerState).toBe(2);
    expect(a.bytes).toBeGreaterThanOrEqual(2 * n);
    expect(a.bytes).toBeLessThanOrEqual(2 * 1.5 * n + 2048);
    expect(a.bytes).toBeLessThan(b.bytes);
  });

  it("switches to explicit parents when a parent comes out of order (DFS)", () => {
    const s = new StateStore(1, { states: false, compactParents: true });
    const v = new Int32Array(1);
    s.add(v, 0, -1, 0, 0); // 0
    s.add(v, 0, 0, 1, 1); // 1
    s.add(v, 0, 0, 2, 1); // 2
    s.add(v, 0, 2, 3, 2); // 3: DFS expands the last state first
    s.add(v, 0, 1, 4, 2); // 4: parent 1 < 2, out of order
    s.add(v, 0, 4, 5, 1); // 5: depth out of order as well (made-up)
    expect(s.pathTo(3)).toEqual([2, 3]);
    expect(s.pathTo(4)).toEqual([1, 4]);
    expect(s.pathTo(5)).toEqual([1, 4, 5]);
    expect(s.depthOf(3)).toBe(2);
    expect(s.depthOf(5)).toBe(1);
    expect(s.metaBytesPerState).toBe(4 + 1 + 4);
  });

  it("keeps more than 255 children of one state and more than 256 distinct moves", () => {
    const s = new StateStore(1, { states: false, compactParents: true });
    const v = new Int32Array(1);
    s.add(v, 0, -1, 0, 0);
    for (let i = 1; i <= 600; i++) s.add(v, 0, 0, i * 3, 1);
    s.add(v, 0, 599, 77, 2);
    expect(s.pathTo(600)).toEqual([1800]);
    expect(s.pathTo(601)).toEqual([599 * 3, 77]);
    expect(s.moveOf(300)).toBe(900);
  });
});
