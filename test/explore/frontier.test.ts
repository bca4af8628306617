import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Queue, Stack } from "../../src/explore/frontier.ts";

describe("Queue (BFS frontier)", () => {
  it("pops in FIFO order", () => {
    const q = new Queue();
    for (const x of [5, 3, 9, 0]) q.push(x);
    expect(q.size).toBe(4);
    expect([q.pop(), q.pop(), q.pop(), q.pop()]).toEqual([5, 3, 9, 0]);
    expect(q.size).toBe(0);
  });

  it("grows past its initial buffer and keeps the order", () => {
    const q = new Queue();
    const before = q.bytes;
    for (let i = 0; i < 5000; i++) q.push(i);
    expect(q.bytes).toBeGreaterThan(before);
    const got = Array.from({ length: 5000 }, () => q.pop());
    expect(got).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it("wraps around the ring, then grows while wrapped", () => {
    const q = new Queue();
    // move the head to the middle of the 1024-slot ring
    for (let i = 0; i < 700; i++) q.push(i);
    for (let i = 0; i < 700; i++) expect(q.pop()).toBe(i);
    // now fill across the end of the buffer, and beyond its capacity
    for (let i = 0; i < 3000; i++) q.push(1000 + i);
    expect(q.size).toBe(3000);
    const got = Array.from({ length: 3000 }, () => q.pop());
    expect(got).toEqual(Array.from({ length: 3000 }, (_, i) => 1000 + i));
  });

  it("matches an array model under any push/pop sequence", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 1e6 }), fc.constant(-1)), { maxLength: 3000 }),
        (ops) => {
          const q = new Queue();
          const ref: number[] = [];
          for (const op of ops) {
            if (op < 0) {
              if (ref.length === 0) continue;
              expect(q.pop()).toBe(ref.shift());
            } else {
              q.push(op);
              ref.push(op);
            }
            expect(q.size).toBe(ref.length);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("refuses to pop when empty", () => {
    expect(() => new Queue().pop()).toThrow(/empty/);
  });
});

describe("Stack (DFS frontier)", () => {
  it("pops in LIFO order", () => {
    const s = new Stack();
    for (const x of [5, 3, 9]) s.push(x);
    expect([s.pop(), s.pop(), s.pop()]).toEqual([9, 3, 5]);
    expect(s.size).toBe(0);
  });

  it("grows past its initial buffer", () => {
    const s = new Stack();
    const before = s.bytes;
    for (let i = 0; i < 4000; i++) s.push(i);
    expect(s.bytes).toBeGreaterThan(before);
    for (let i = 3999; i >= 0; i--) expect(s.pop()).toBe(i);
    expect(() => s.pop()).toThrow(/empty/);
  });

  it("matches an array model under any push/pop sequence", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1, max: 1e6 }), { maxLength: 3000 }), (ops) => {
        const s = new Stack();
        const ref: number[] = [];
        for (const op of ops) {
          if (op < 0) {
            if (ref.length === 0) continue;
            expect(s.pop()).toBe(ref.pop());
          } else {
            s.push(op);
            ref.push(op);
          }
        }
        expect(s.size).toBe(ref.length);
      }),
      { numRuns: 60 },
    );
  });
});
