// A generator of random small models for differential testing (test/explore/differential.test.ts):
// CPUs running short programs over shared words, spinlocks and a list, with branches,
// nondeterministic choices, waits (deadlocks), loops that may never end, assertions, invariants,
// end-state properties and unmarked accesses (data races).
//
// A model is plain data (ModelSpec), so fast-check can shrink a failing one and print it; build()
// turns it into a model definition through the ordinary DSL, as a person would write it.

import fc from "fast-check";
import {
  array,
  defineModel,
  ptr,
  record,
  int,
  listHead,
  listNode,
  ModelBuilder,
  spinlock,
  type Fields,
  type ModelDef,
  type Stmt,
} from "../../src/index.ts";
import { either, step, wait_until } from "../../src/model/dsl.ts";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.ts";
import { list_add_tail, list_del_init } from "../../src/kernel/list.ts";
import { Violation } from "../../src/rt/mem.ts";
import type { Ref } from "../../src/model/ref.ts";
import type { ArrayS, ListHeadS, LockS } from "../../src/model/schema.ts";
import type { Layout } from "../../src/model/layout.ts";

export type OpSpec =
  /** word = v (WRITE_ONCE when marked) */
  | { readonly k: "write"; readonly w: number; readonly v: number; readonly marked: boolean }
  /** word = (word + 1) mod (max + 1): a plain read and write in one step */
  | { readonly k: "inc"; readonly w: number; readonly marked: boolean }
  /** dst = src */
  | { readonly k: "copy"; readonly dst: number; readonly src: number }
  | { readonly k: "lock"; readonly l: number }
  | { readonly k: "unlock"; readonly l: number }
  /** if (word == eq) then else */
  | {
      readonly k: "if";
      readonly w: number;
      readonly eq: number;
      readonly then: readonly OpSpec[];
      readonly else: readonly OpSpec[];
    }
  /** wait_until(word == eq): may block forever (a deadlock) */
  | { readonly k: "await"; readonly w: number; readonly eq: number }
  /** either(a, b): a nondeterministic choice */
  | { readonly k: "either"; readonly a: readonly OpSpec[]; readonly b: readonly OpSpec[] }
  /**
   * word != ne, checked: BUG_ON (the path ends there) or WARN_ON (reported, the step goes on and
   * skips the rest of its work, as the kernel does)
   */
  | { readonly k: "assert"; readonly w: number; readonly ne: number; readonly warn: boolean }
  /** while (word != eq) body: may never end */
  | {
      readonly k: "while";
      readonly w: number;
      readonly eq: number;
      readonly body: readonly OpSpec[];
    }
  /** list_add_tail / list_del_init of node n on the list (under lock 0 when the list has one) */
  | { readonly k: "list_add" | "list_del"; readonly n: number }
  /** p = any object (a choice per object): the CPU's object pointer (objects only) */
  | { readonly k: "opick" }
  /** p->v = v; p->v++ (mod max + 1); p->v != ne checked (objects only, after an opick) */
  | { readonly k: "owrite"; readonly v: number }
  | { readonly k: "oinc" }
  | { readonly k: "oassert"; readonly ne: number; readonly warn: boolean }
  // CPU locals (partial-order reduction: steps that touch only their CPU's locals are local)
  /** local = v, or local = (local + 1) mod (max + 1) */
  | { readonly k: "lset"; readonly l: number; readonly v: number }
  | { readonly k: "linc"; readonly l: number }
  /** local = word (a shared read) */
  | { readonly k: "load"; readonly l: number; readonly w: number }
  /** word = min(local, word's max) (a shared write) */
  | { readonly k: "store"; readonly w: number; readonly l: number }
  /** if (local == eq) then else: a CPU-local branch */
  | {
      readonly k: "lif";
      readonly l: number;
      readonly eq: number;
      readonly then: readonly OpSpec[];
      readonly else: readonly OpSpec[];
    };

export interface ModelSpec {
  /** Each shared word's largest value (values run 0..max, start at 0). */
  readonly words: readonly number[];
  readonly locks: number;
  /** A list head and two nodes; `listLock`: the head is declared protected by lock 0. */
  readonly list: boolean;
  readonly listLock: boolean;
  readonly cpus: readonly (readonly OpSpec[])[];
  /** word w <= max in every state; a bug-severity one ends the path where it breaks */
  readonly invariants: readonly {
    readonly w: number;
    readonly max: number;
    readonly bug: boolean;
  }[];
  /** word w == eq once every CPU has finished */
  readonly endStates: readonly { readonly w: number; readonly eq: number }[];
  readonly races: boolean;
  /**
   * Symmetry (symModelSpec): `count` objects `{ v: 0..max }` in a shared array, each CPU with
   * a pointer `p` to one; objects with v > invMax break an invariant over all of them.
   */
  readonly objects?: { readonly count: number; readonly max: number; readonly invMax: number };
  /** CPUs declared alike (the same program each), and whether the objects are. */
  readonly alike?: { readonly cpus: readonly number[]; readonly objects: boolean };
  /** Each CPU's locals l0.. and their largest values (values run 0..max, start at 0). */
  readonly locals?: readonly number[];
  /**
   * CPU `cpu`'s local l <= max in every state, through `w.cpus` (an invariant that sees a
   * CPU's locals: the reduced search must notice and search again unreduced)
   */
  readonly localInvariants?: readonly {
    readonly cpu: number;
    readonly l: number;
    readonly max: number;
  }[];
}

/** Sizes of generated models (the defaults keep a model to at most a few thousand states). */
export interface GenOptions {
  readonly maxCpus?: number;
  readonly maxOps?: number;
  readonly maxDepth?: number;
}

export function modelSpec(o: GenOptions = {}): fc.Arbitrary<ModelSpec> {
  const maxCpus = o.maxCpus ?? 3;
  const maxOps = o.maxOps ?? 4;
  const maxDepth = o.maxDepth ?? 2;
  return fc
    .record({
      words: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
      locks: fc.integer({ min: 0, max: 2 }),
      list: fc.boolean(),
      listLock: fc.boolean(),
      ncpus: fc.integer({ min: 1, max: maxCpus }),
      races: fc.boolean(),
      locals: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 0, maxLength: 2 }),
    })
    .chain((base) => {
      const W = base.words.length;
      const word = fc.integer({ min: 0, max: W - 1 });
      const value = (w: number): fc.Arbitrary<number> =>
        fc.integer({ min: 0, max: base.words[w]! });
      const wordValue = word.chain((w) => value(w).map((v) => [w, v] as const));
      const ops = (depth: number): fc.Arbitrary<OpSpec[]> =>
        fc.array(op(depth), { minLength: 0, maxLength: depth === 0 ? maxOps : 2 });
      const op = (depth: number): fc.Arbitrary<OpSpec> => {
        const leaves: fc.Arbitrary<OpSpec>[] = [
          fc
            .tuple(wordValue, fc.boolean())
            .map(([[w, v], marked]) => ({ k: "write" as const, w, v, marked })),
          fc.tuple(word, fc.boolean()).map(([w, marked]) => ({ k: "inc" as const, w, marked })),
          fc.tuple(word, word).map(([dst, src]) => ({ k: "copy" as const, dst, src })),
          wordValue.map(([w, eq]) => ({ k: "await" as const, w, eq })),
          fc
            .tuple(wordValue, fc.boolean())
            .map(([[w, ne], warn]) => ({ k: "assert" as const, w, ne, warn })),
        ];
        if (base.locks > 0) {
          const l = fc.integer({ min: 0, max: base.locks - 1 });
          leaves.push(l.map((x) => ({ k: "lock" as const, l: x })));
          leaves.push(l.map((x) => ({ k: "unlock" as const, l: x })));
        }
        if (base.list) {
          const n = fc.integer({ min: 0, max: 1 });
          leaves.push(n.map((x) => ({ k: "list_add" as const, n: x })));
          leaves.push(n.map((x) => ({ k: "list_del" as const, n: x })));
        }
        const L = base.locals.length;
        const local = fc.integer({ min: 0, max: Math.max(0, L - 1) });
        const localValue = local.chain((l) =>
          fc.integer({ min: 0, max: base.locals[l] ?? 0 }).map((v) => [l, v] as const),
        );
        if (L > 0) {
          leaves.push(localValue.map(([l, v]) => ({ k: "lset" as const, l, v })));
          leaves.push(local.map((l) => ({ k: "linc" as const, l })));
          leaves.push(fc.tuple(local, word).map(([l, w]) => ({ k: "load" as const, l, w })));
          leaves.push(fc.tuple(word, local).map(([w, l]) => ({ k: "store" as const, w, l })));
        }
        if (depth >= maxDepth) return fc.oneof(...leaves);
        const inner = ops(depth + 1);
        const lif: { arbitrary: fc.Arbitrary<OpSpec>; weight: number }[] =
          L > 0
            ? [
                {
                  arbitrary: fc
                    .tuple(localValue, inner, inner)
                    .map(([[l, eq], then, els]) => ({ k: "lif" as const, l, eq, then, else: els })),
                  weight: 1,
                },
              ]
            : [];
        return fc.oneof(
          ...lif,
          { arbitrary: fc.oneof(...leaves), weight: 4 },
          {
            arbitrary: fc
              .tuple(wordValue, inner, inner)
              .map(([[w, eq], then, els]) => ({ k: "if" as const, w, eq, then, else: els })),
            weight: 1,
          },
          {
            arbitrary: fc.tuple(inner, inner).map(([a, b]) => ({ k: "either" as const, a, b })),
            weight: 1,
          },
          {
            arbitrary: fc
              .tuple(wordValue, inner)
              .map(([[w, eq], body]) => ({ k: "while" as const, w, eq, body })),
            weight: 1,
          },
        );
      };
      return fc.record({
        words: fc.constant(base.words),
        locks: fc.constant(base.locks),
        list: fc.constant(base.list),
        listLock: fc.constant(base.listLock && base.locks > 0),
        races: fc.constant(base.races),
        cpus: fc.array(ops(0), { minLength: base.ncpus, maxLength: base.ncpus }),
        invariants: fc.array(
          fc.tuple(wordValue, fc.boolean()).map(([[w, max], bug]) => ({ w, max, bug })),
          { maxLength: 2 },
        ),
        endStates: fc.array(
          wordValue.map(([w, eq]) => ({ w, eq })),
          { maxLength: 1 },
        ),
        locals: fc.constant(base.locals),
        // one model in five with locals has an invariant that reads them
        localInvariants:
          base.locals.length === 0
            ? fc.constant([])
            : fc.oneof(
                { arbitrary: fc.constant([]), weight: 4 },
                {
                  arbitrary: fc.array(
                    fc
                      .tuple(
                        fc.integer({ min: 0, max: base.ncpus - 1 }),
                        fc.integer({ min: 0, max: base.locals.length - 1 }),
                      )
                      .chain(([cpu, l]) =>
                        fc
                          .integer({ min: 0, max: base.locals[l]! })
                          .map((max) => ({ cpu, l, max })),
                      ),
                    { minLength: 1, maxLength: 1 },
                  ),
                  weight: 1,
                },
              ),
      });
    });
}

type Words = Record<string, number>;

/** The model a spec describes, as a one-variant definition (expected verdict: none declared). */
export function build(spec: ModelSpec, name = "generated"): ModelDef {
  return defineModel({
    name,
    doc: "a generated model (differential testing)",
    params: {},
    variants: { only: { options: {}, expect: "holds" } },
    build: () => {
      const shared: Record<string, unknown> = {};
      spec.words.forEach((max, i) => (shared[`w${i}`] = int(0, max, 0)));
      for (let l = 0; l < spec.locks; l++) shared[`l${l}`] = spinlock();
      if (spec.list) {
        shared.head = listHead(spec.listLock ? { lock: "l0" } : {});
        shared.n0 = listNode();
        shared.n1 = listNode();
      }
      const objs = spec.objects;
      const Obj = record({ v: int(0, objs?.max ?? 1, 0) }, "obj");
      if (objs) shared.obj = array(objs.count, Obj, { label: (i) => `O${i}` });
      const m = new ModelBuilder(shared as never, { races: spec.races });
      const refs = m.s as unknown as Record<string, unknown>;
      const lock = (l: number): Ref<LockS> => refs[`l${l}`] as Ref<LockS>;
      const node = (n: number): Ref<ListHeadS> => refs[`n${n}`] as Ref<ListHeadS>;
      const head = (): Ref<ListHeadS> => refs.head as Ref<ListHeadS>;
      const W = (c: { s: unknown }): Words => c.s as Words;
      const key = (w: number): string => `w${w}`;

      const stmts = (ops: readonly OpSpec[]): Stmt[] => ops.map(stmt);
      const stmt = (o: OpSpec): Stmt => {
        switch (o.k) {
          case "write":
            return step(`w${o.w} = ${o.v}`, (c) => {
              if (o.marked) c.m.setMarked(wordOff(c.m.layout, o.w), o.v);
              else W(c)[key(o.w)] = o.v;
            });
          case "inc": {
            const mod = spec.words[o.w]! + 1;
            return step(`w${o.w}++`, (c) => {
              if (o.marked) {
                const off = wordOff(c.m.layout, o.w);
                c.m.setMarked(off, (c.m.getMarked(off) + 1) % mod);
              } else W(c)[key(o.w)] = (W(c)[key(o.w)]! + 1) % mod;
            });
          }
          case "copy": {
            const max = spec.words[o.dst]!;
            return step(`w${o.dst} = w${o.src}`, (c) => {
              W(c)[key(o.dst)] = Math.min(max, W(c)[key(o.src)]!);
            });
          }
          case "lock":
            return spin_lock(lock(o.l));
          case "unlock":
            return spin_unlock(lock(o.l));
          case "if":
            return {
              kind: "if",
              cond: step(`w${o.w} == ${o.eq}`, (c) => W(c)[key(o.w)] === o.eq),
              then: stmts(o.then),
              else: stmts(o.else),
            };
          case "await":
            return wait_until(`w${o.w} == ${o.eq}`, (c) => W(c)[key(o.w)] === o.eq);
          case "either":
            return either("either", stmts(o.a), stmts(o.b));
          case "assert":
            return step(
              `assert w${o.w} != ${o.ne}`,
              (c) => {
                if (W(c)[key(o.w)] !== o.ne) return;
                if (o.warn) c.m.warn(`warn-w${o.w}`, `w${o.w} == ${o.ne}`);
                else throw new Violation(`assert-w${o.w}`, `w${o.w} == ${o.ne}`);
              },
              { raises: [o.warn ? `warn-w${o.w}` : `assert-w${o.w}`] },
            );
          case "while":
            return {
              kind: "while",
              cond: step(`w${o.w} != ${o.eq}`, (c) => W(c)[key(o.w)] !== o.eq),
              body: stmts(o.body),
            };
          case "list_add":
            return list_add_tail(node(o.n), head());
          case "list_del":
            return list_del_init(node(o.n));
          case "opick":
            return step("p = pick", (c, ch) => c.m.set(pOff(c), ch), {
              choices: objs!.count,
            });
          case "owrite":
            return step(`p->v = ${o.v}`, (c) => c.m.set(vOff(c), o.v));
          case "oinc":
            return step("p->v++", (c) =>
              c.m.set(vOff(c), (c.m.get(vOff(c)) + 1) % (objs!.max + 1)),
            );
          case "oassert":
            return step(
              `assert p->v != ${o.ne}`,
              (c) => {
                if (c.m.get(vOff(c)) !== o.ne) return;
                if (o.warn) c.m.warn("warn-obj", `p->v == ${o.ne}`);
                else throw new Violation("assert-obj", `p->v == ${o.ne}`);
              },
              { raises: [o.warn ? "warn-obj" : "assert-obj"] },
            );
          case "lset":
            return step(`l${o.l} = ${o.v}`, (c) => {
              L(c)[lkey(o.l)] = o.v;
            });
          case "linc": {
            const mod = (spec.locals ?? [])[o.l]! + 1;
            return step(`l${o.l}++`, (c) => {
              L(c)[lkey(o.l)] = (L(c)[lkey(o.l)]! + 1) % mod;
            });
          }
          case "load": {
            const max = (spec.locals ?? [])[o.l]!;
            return step(`l${o.l} = w${o.w}`, (c) => {
              L(c)[lkey(o.l)] = Math.min(max, W(c)[key(o.w)]!);
            });
          }
          case "store": {
            const max = spec.words[o.w]!;
            return step(`w${o.w} = l${o.l}`, (c) => {
              W(c)[key(o.w)] = Math.min(max, L(c)[lkey(o.l)]!);
            });
          }
          case "lif":
            return {
              kind: "if",
              cond: step(`l${o.l} == ${o.eq}`, (c) => L(c)[lkey(o.l)] === o.eq),
              then: stmts(o.then),
              else: stmts(o.else),
            };
        }
      };
      /** This CPU's object pointer, and the word of the object it points to. */
      const pOff = (c: { m: { layout: Layout }; cpu: number }): number =>
        c.m.layout.fieldByName.get(`CPU${c.cpu}.p`)!.off;
      const vOff = (c: { m: { layout: Layout; get(o: number): number }; cpu: number }): number =>
        c.m.layout.fieldByName.get(`O${c.m.get(pOff(c))}.v`)!.off;
      const L = (c: { l: unknown }): Words => c.l as Words;
      const lkey = (l: number): string => `l${l}`;
      const locals: Record<string, unknown> = objs ? { p: ptr(Obj) } : {};
      (spec.locals ?? []).forEach((max, i) => (locals[lkey(i)] = int(0, max, 0)));
      spec.cpus.forEach((ops, i) => m.thread(`cpu${i}`, locals as Fields, () => stmts(ops)));
      if (objs)
        m.invariant(`objects-v<=${objs.invMax}`, ({ m: mem }) => {
          for (let i = 0; i < objs.count; i++)
            if (mem.b[mem.layout.fieldByName.get(`O${i}.v`)!.off]! > objs.invMax) return false;
          return true;
        });
      if (spec.alike && spec.alike.cpus.length >= 2) m.alike({ cpus: spec.alike.cpus });
      if (spec.alike?.objects)
        m.alike({ objects: (m.s as unknown as Record<string, Ref>).obj as Ref<ArrayS> });
      spec.invariants.forEach(({ w, max, bug }, i) =>
        m.invariant(`inv${i}-w${w}<=${max}`, ({ s }) => (s as unknown as Words)[key(w)]! <= max, {
          severity: bug ? "bug" : "warn",
        }),
      );
      (spec.localInvariants ?? []).forEach(({ cpu, l, max }, i) =>
        m.invariant(
          `linv${i}-cpu${cpu}.l${l}<=${max}`,
          ({ cpus }) => (cpus[cpu]!.l as unknown as Words)[lkey(l)]! <= max,
        ),
      );
      spec.endStates.forEach(({ w, eq }, i) =>
        m.endState(`end${i}-w${w}==${eq}`, ({ s }) => (s as unknown as Words)[key(w)] === eq),
      );
      return m as never;
    },
  });
}

/** Offset of shared word w in the state vector. */
function wordOff(layout: { fieldByName: Map<string, { off: number }> }, w: number): number {
  return layout.fieldByName.get(`w${w}`)!.off;
}

/**
 * Models with symmetry (differential test of the symmetry reduction): a generated model whose
 * first CPU's program is run by k alike CPUs (2 or 3), the others as generated; and, in some,
 * alike objects each CPU may point to (`opick` first, then operations on the object), with an
 * invariant over all of them.
 */
export function symModelSpec(o: GenOptions = {}): fc.Arbitrary<ModelSpec> {
  return fc
    .record({
      base: modelSpec({ ...o, maxCpus: 2 }),
      k: fc.integer({ min: 2, max: 3 }),
      objects: fc.option(
        fc.record({
          count: fc.integer({ min: 2, max: 3 }),
          max: fc.integer({ min: 1, max: 2 }),
          invMax: fc.integer({ min: 0, max: 2 }),
          alike: fc.boolean(),
        }),
        { nil: undefined },
      ),
      objOps: fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 2 }), {
        minLength: 2,
        maxLength: 2,
      }),
    })
    .map(({ base, k, objects, objOps }) => {
      const objOp = (x: number): OpSpec =>
        x <= 1
          ? { k: "owrite", v: Math.min(x + 1, objects!.max) }
          : x <= 3
            ? { k: "oinc" }
            : { k: "oassert", ne: Math.min(x - 4, objects!.max), warn: x === 5 };
      const withObj = (ops: readonly OpSpec[], j: number): OpSpec[] =>
        objects && objOps[j]!.length > 0
          ? [{ k: "opick" }, ...objOps[j]!.map(objOp), ...ops]
          : [...ops];
      const template = withObj(base.cpus[0]!, 0);
      const others = base.cpus.slice(1).map((ops) => withObj(ops, 1));
      // an invariant over one CPU's locals would single out a member of the alike set
      const { localInvariants: _single, ...rest } = base;
      return {
        ...rest,
        cpus: [...Array.from({ length: k }, () => template), ...others],
        ...(objects
          ? {
              objects: {
                count: objects.count,
                max: objects.max,
                invMax: Math.min(objects.invMax, objects.max),
              },
            }
          : {}),
        alike: {
          cpus: Array.from({ length: k }, (_, i) => i),
          objects: objects !== undefined && objects.alike,
        },
      };
    });
}
