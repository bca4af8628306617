// Models with alike CPUs and objects, for the symmetry tests (symmetry.test.ts) and the bench.

import {
  array,
  defineModel,
  int,
  listHead,
  listNode,
  nodeptr,
  ModelBuilder,
  ptr,
  record,
  spinlock,
  type ModelDef,
} from "../../src/index.ts";
import { step } from "../../src/model/dsl.ts";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.ts";
import { Violation } from "../../src/rt/mem.ts";

/** k CPUs incrementing a counter, under a lock (holds) or not (lost update, data race). */
export function counter(k: number, opts: { locked: boolean; alike?: boolean }): ModelDef {
  return defineModel({
    name: "counter",
    doc: "k alike CPUs increment a counter",
    params: {},
    variants: { only: { options: {}, expect: "holds" } },
    build: () => {
      const m = new ModelBuilder({ n: int(0, 9, 0), l: spinlock() });
      const cpus: number[] = [];
      for (let i = 0; i < k; i++)
        cpus.push(
          m.thread("inc", { t: int(0, 9) }, (t) => [
            ...(opts.locked ? [spin_lock(m.s.l)] : []),
            t.step("t = n", (c) => {
              c.l.t = c.s.n;
            }),
            t.step("n = t + 1", (c) => {
              c.s.n = c.l.t + 1;
            }),
            ...(opts.locked ? [spin_unlock(m.s.l)] : []),
          ]),
        );
      m.endState("n == k", ({ s }) => s.n === k || `n is ${s.n}`);
      if (opts.alike !== false) m.alike({ cpus });
      return m;
    },
  });
}

/**
 * Folios on a queue (alike objects) put by alike putters that pick any folio (a choice), and a
 * scanner taking the first queued folio off the queue: list links, a node pointer and a folio
 * pointer in CPU locals, and lock owners are all renamed by the permutations.
 */
export function folios(
  K: number,
  P: number,
  opts: { refs: number; alikeCpus?: boolean; alikeFolios?: boolean; namesF0?: boolean },
): ModelDef {
  return defineModel({
    name: "folios",
    doc: "alike folios and putters",
    params: {},
    variants: { only: { options: {}, expect: "holds" } },
    build: () => {
      const Folio = record({ lru: listNode(), refcount: int(0, 3, opts.refs) }, "folio");
      const m = new ModelBuilder(
        { queue: listHead(), l: spinlock(), folio: array(K, Folio, { label: (i) => `F${i}` }) },
        { races: false },
      );
      m.init((_s, w) => {
        const lay = w.m.layout;
        const b = w.m.b;
        const q = lay.fieldByName.get("queue.next")!.off;
        // queue <-> F0 <-> ... <-> F(K-1): node ids: queue 0, Fi is node i + 1
        const node = (i: number): number => (i < 0 || i === K ? 0 : i + 1);
        b[q] = node(0);
        b[q + 1] = node(K - 1);
        for (let i = 0; i < K; i++) {
          const o = lay.fieldByName.get(`F${i}.lru.next`)!.off;
          b[o] = node(i + 1);
          b[o + 1] = node(i - 1);
        }
      });
      const putters: number[] = [];
      for (let p = 0; p < P; p++)
        putters.push(
          m.thread("putter", { f: ptr(Folio) }, (t) => [
            step("f = pick", (c, ch) => c.m.set(t.l.f.$off(c.m.b), ch), { choices: K }),
            spin_lock(m.s.l),
            step(
              "folio_put(f)",
              (c) => {
                const f = (c.s as any).folio[c.m.get(t.l.f.$off(c.m.b))];
                if (f.refcount === 0) throw new Violation("use-after-free", "put of a freed folio");
                f.refcount--;
              },
              { raises: ["use-after-free"] },
            ),
            spin_unlock(m.s.l),
          ]),
        );
      m.thread("scanner", { pos: nodeptr() }, (t) => [
        spin_lock(m.s.l),
        step("pos = queue.next; list_del_init(pos)", (c) => {
          const lay = c.m.layout;
          const q = lay.nodes[0]!;
          const first = c.m.get(q.nextOff);
          c.m.set(t.l.pos.$off(c.m.b), first);
          if (first === 0) return;
          const n = lay.nodes[first]!;
          const nx = c.m.get(n.nextOff);
          const pv = c.m.get(n.prevOff);
          c.m.set(lay.nodes[nx]!.prevOff, pv);
          c.m.set(lay.nodes[pv]!.nextOff, nx);
          c.m.set(n.nextOff, first);
          c.m.set(n.prevOff, first);
        }),
        spin_unlock(m.s.l),
      ]);
      m.endState("freed folios are off the queue", ({ s, m: mem }) => {
        for (let i = 0; i < K; i++) {
          const n = mem.layout.nodes[i + 1]!;
          if ((s as any).folio[i].refcount === 0 && mem.b[n.nextOff] !== i + 1)
            return `F${i} is freed but queued`;
        }
        return true;
      });
      if (opts.namesF0)
        m.invariant("F0 is never freed", ({ s }) => (s as any).folio[0].refcount > 0);
      if (opts.alikeCpus !== false) m.alike({ cpus: putters });
      if (opts.alikeFolios !== false) m.alike({ objects: m.s.folio });
      return m;
    },
  });
}
