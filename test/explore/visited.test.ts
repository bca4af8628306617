import { describe, it, expect } from "vitest";
import { HashTable } from "../../src/explore/visited.ts";
import { StateStore } from "../../src/explore/store.ts";

/** A store of one-word states and a table over it; `h` decides each state's hash. */
function setup(h: (v: number) => number, initialCapacity?: number) {
  const store = new StateStore(1);
  // the table rehashes from the store when it grows: it must get the same hash back
  const table = new HashTable(store, initialCapacity, (i) => h(store.chunk(i)[store.at32(i)]!));
  const packed = new Int32Array(1);
  const add = (v: number): number => {
    packed[0] = v;
    const i = store.add(packed, h(v), -1, 0, 0);
    table.insert(i, h(v));
    return i;
  };
  const find = (v: number): number => {
    packed[0] = v;
    return table.find(packed, h(v));
  };
  return { store, table, add, find };
}

describe("HashTable (visited set)", () => {
  it("finds what was inserted and nothing else", () => {
    const { add, find, table } = setup((v) => Math.imul(v, 0x9e3779b1));
    const idx = [10, 20, 30].map(add);
    expect(idx).toEqual([0, 1, 2]);
    expect(find(20)).toBe(1);
    expect(find(10)).toBe(0);
    expect(find(31)).toBe(-1);
    expect(table.size).toBe(3);
  });

  it("grows and still finds every state", () => {
    const { add, find, table } = setup((v) => Math.imul(v, 0x9e3779b1) ^ (v >>> 7), 1024);
    const before = table.bytes;
    for (let v = 0; v < 20_000; v++) add(v * 3);
    expect(table.bytes).toBeGreaterThan(before);
    expect(table.size).toBe(20_000);
    let wrong = 0;
    for (let v = 0; v < 20_000; v++) {
      if (find(v * 3) !== v) wrong++;
      if (find(v * 3 + 1) !== -1) wrong++;
    }
    expect(wrong).toBe(0);
  });

  it("tells states apart by content when every hash collides", () => {
    const { add, find } = setup(() => 42, 1024);
    for (let v = 0; v < 3000; v++) add(1000 - v);
    let wrong = 0;
    for (let v = 0; v < 3000; v++) if (find(1000 - v) !== v) wrong++;
    expect(wrong).toBe(0);
    expect(find(5000)).toBe(-1);
  });

  it("handles negative hashes and hashes that differ only in high bits", () => {
    const { add, find } = setup((v) => (v << 20) | 0x80000000);
    for (let v = 0; v < 2048; v++) add(v);
    for (let v = 0; v < 2048; v++) expect(find(v)).toBe(v);
    expect(find(4096)).toBe(-1);
  });
});
