// Fingerprint mode (--fingerprint): 64-bit fingerprints instead of states, compact parent links,
// packed states in the frontier. It must give the exact search's states, verdicts and
// counterexamples (the same BFS order, so the same shortest traces), and its traces must replay.

import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { join } from "node:path";
import { compileModel, explore } from "../../src/index.ts";
import { fingerprintOdds } from "../../src/explore/explorer.ts";
import { FingerprintSet } from "../../src/explore/visited.ts";
import { PackedQueue, PackedStack } from "../../src/explore/frontier.ts";
import { loadModels } from "../../src/cli/load.ts";
import stepThrows from "../fixtures/step-throws.ts";
import twin from "../../bench/twins/scan_private.ts";
import { replays } from "./replays.ts";

const ROOT = join(import.meta.dirname, "..", "..");

describe("fingerprint mode against the exact search", () => {
  it("every bundled variant (BFS): same states, transitions, verdict and counterexamples, which replay", async () => {
    const loaded = await loadModels([join(ROOT, "models")]);
    let variants = 0;
    let replayed = 0;
    for (const { def } of loaded) {
      for (const v of Object.keys(def.variants)) {
        const a = await explore(compileModel(def, v), {
          maxStates: 300_000,
          liveness: false,
          reduce: false,
        });
        const model = compileModel(def, v);
        const b = await explore(model, {
          maxStates: 300_000,
          fingerprint: true,
          reduce: false,
        });
        const what = `${def.name}/${v}`;
        expect(b.states, what).toBe(a.states);
        expect(b.transitions, what).toBe(a.transitions);
        expect(b.verdict, what).toBe(a.verdict);
        expect(b.maxDepth, what).toBe(a.maxDepth);
        expect(
          b.violations.map((x) => [x.property, x.schedule]),
          what,
        ).toEqual(a.violations.map((x) => [x.property, x.schedule]));
        expect(a.fingerprint, what).toBeUndefined();
        expect(b.fingerprint?.bits, what).toBe(64);
        for (const viol of b.violations) {
          expect(replays(model, viol), `${what}: ${viol.property}`).toBe(true);
          replayed++;
        }
        variants++;
      }
    }
    expect(variants).toBeGreaterThan(20);
    expect(replayed).toBeGreaterThan(10);
  }, 60_000);

  it("DFS: the same states and verdicts as the exact DFS (explicit parent links)", async () => {
    const loaded = await loadModels([
      join(ROOT, "models", "classic"),
      join(ROOT, "models", "migration-requeue"),
    ]);
    for (const { def } of loaded) {
      for (const v of Object.keys(def.variants)) {
        const a = await explore(compileModel(def, v), {
          strategy: "dfs",
          liveness: false,
          reduce: false,
        });
        const model = compileModel(def, v);
        const b = await explore(model, {
          strategy: "dfs",
          fingerprint: true,
          reduce: false,
        });
        const what = `${def.name}/${v}`;
        expect(b.states, what).toBe(a.states);
        expect(b.verdict, what).toBe(a.verdict);
        expect(
          b.violations.map((x) => [x.property, x.schedule]),
          what,
        ).toEqual(a.violations.map((x) => [x.property, x.schedule]));
      }
    }
  }, 30_000);

  it("the 6x3 twin: SPIN's state count, in about 16 bytes a state or less", async () => {
    const r = await explore(compileModel(twin, "twin", { folios: 6, putters: 3 }), {
      fingerprint: true,
      reduce: false,
    });
    expect(r.states).toBe(158_111);
    expect(r.verdict).toBe("holds");
    expect(r.memoryBytes / r.states).toBeLessThanOrEqual(16);
    // no liveness check in fingerprint mode (it walks stored states and edges)
    expect(r.liveness).toBe(false);
    const exact = await explore(compileModel(twin, "twin", { folios: 6, putters: 3 }), {
      liveness: false,
      reduce: false,
    });
    expect(r.memoryBytes).toBeLessThan(exact.memoryBytes / 2);
  });

  it("a step that throws: the error names the step, from a state rebuilt by replay", async () => {
    const r = await explore(compileModel(stepThrows, "only"), { fingerprint: true });
    expect(r.verdict).toBe("error");
    expect(r.error?.where).toMatch(/look at nothing/);
    expect(r.error?.schedule.length).toBe(2);
  });
});

describe("fingerprintOdds", () => {
  it("is the birthday bound n(n-1)/2^65 and TLC's d(g-d)/2^64", () => {
    const o = fingerprintOdds(145_000_000, 600_000_000);
    expect(o.collisionProbability).toBeCloseTo((145e6 * (145e6 - 1)) / 2 ** 65, 12);
    expect(o.optimistic).toBeCloseTo((145e6 * 455e6) / 2 ** 64, 12);
    expect(fingerprintOdds(1, 1)).toEqual({ bits: 64, collisionProbability: 0, optimistic: 0 });
    expect(fingerprintOdds(2 ** 40, 2 ** 41).collisionProbability).toBe(1);
  });
});

describe("FingerprintSet", () => {
  const words = (a: number, b: number): Int32Array => Int32Array.from([a, b]);

  it("finds every fingerprint inserted, through its growth, and no other", () => {
    const set = new FingerprintSet(16);
    const h = (k: number): number => Math.imul(k, 0x9e3779b1) ^ (k >>> 3);
    for (let k = 0; k < 20_000; k++) {
      const slot = set.findOrSlot(words(k, 1), h(k));
      expect(slot).toBeLessThan(0);
      set.insertAt(-1 - slot, k, h(k));
    }
    expect(set.size).toBe(20_000);
    let wrong = 0;
    for (let k = 0; k < 20_000; k++) {
      if (set.find(words(k, 1), h(k)) < 0) wrong++;
      if (set.find(words(k, 2), h(k)) >= 0) wrong++; // same first half, other second half
    }
    expect(wrong).toBe(0);
    // between 69 % and 90 % full: at most 11.6 bytes a fingerprint
    expect(set.bytes / set.size).toBeLessThanOrEqual(11.6);
  });

  it("tells apart states whose first hashes collide, and keeps the fingerprint (0, 0)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer(), { minLength: 1, maxLength: 300 }), (ks) => {
        const set = new FingerprintSet(16);
        for (const k of ks) {
          const slot = set.findOrSlot(words(k, k), 0); // every first hash 0
          expect(slot).toBeLessThan(0);
          set.insertAt(-1 - slot, 0, 0);
        }
        for (const k of ks) expect(set.find(words(k, k), 0)).toBe(0);
      }),
      { numRuns: 50 },
    );
  });
});

describe("packed frontiers", () => {
  it("PackedQueue: FIFO of (index, words) across wrap-around and growth", () => {
    const src = new Int32Array(3);
    const q = new PackedQueue(src, 3);
    const push = (i: number): void => {
      src.set([i, -i, i * 7]);
      q.push(i);
    };
    let next = 0;
    for (let i = 0; i < 700; i++) push(i);
    for (; next < 600; next++) expect(q.pop()).toBe(next);
    for (let i = 700; i < 5000; i++) push(i);
    for (; next < 5000; next++) {
      expect(q.pop()).toBe(next);
      expect(Array.from(q.buf.subarray(q.at, q.at + 3))).toEqual([next, -next, next * 7]);
    }
    expect(q.size).toBe(0);
  });

  it("PackedStack: LIFO of (index, words)", () => {
    const src = new Int32Array(2);
    const s = new PackedStack(src, 2);
    for (let i = 0; i < 3000; i++) {
      src.set([i, i + 1]);
      s.push(i);
    }
    for (let i = 2999; i >= 0; i--) {
      expect(s.pop()).toBe(i);
      expect([s.buf[s.at], s.buf[s.at + 1]]).toEqual([i, i + 1]);
    }
  });
});
