// Build-time references to places in the state. A thread body names what each statement works
// on with refs (`l.folio._deferred_list`, `s.ds_queue.split_queue_lock`); a ref resolves, in a
// given state, to a word offset (and, for a list_head, to its node id).

import type { ArrayS, BitS, FlagsS, IntS, PtrS, RecordS, Schema } from "./schema.ts";
import { flagMask } from "./schema.ts";
import type { Layout } from "./layout.ts";
import { BOGUS, NULL, relOffsets, sizeOf } from "./layout.ts";
import { Violation } from "../rt/mem.ts";

export type OffFn = (b: Int32Array) => number;
export type NameFn = (b: Int32Array) => string;

export class Ref<S extends Schema = Schema> {
  constructor(
    readonly $schema: S,
    readonly $lay: Layout,
    /** Offset of the value (of `next` for a list_head, of the first word for a record). */
    readonly $off: OffFn,
    /** Name in the model's terms, in state `b` (e.g. `F2._deferred_list`). */
    readonly $name: NameFn,
    /** The offset when it does not depend on the state, else -1. */
    readonly $static: number,
    /** How the ref was written (`l.folio->refcount`): for labels and messages. */
    readonly $text: string,
  ) {}

  /** Node id of a list_head ref. */
  $node(b: Int32Array): number {
    return this.$lay.nodeAtOff[this.$off(b)]!;
  }
}

/**
 * A ref whose place is chosen in each state by `at` (e.g. the queue or sublist whose index a CPU
 * local holds); `sample` is any of the places it can resolve to, for the schema and layout.
 */
export function refVia<S extends Schema>(
  sample: Ref<S>,
  at: (b: Int32Array) => Ref<S>,
  text: string,
): Ref<S> {
  return new Ref<S>(
    sample.$schema,
    sample.$lay,
    (b) => at(b).$off(b),
    (b) => at(b).$name(b),
    -1,
    text,
  );
}

/**
 * One named bit of a flags word (`F1.flags.PG_locked`, or a bitOf() alias such as
 * `F1.partially_mapped`). It is not a Ref: code reaching for a raw offset has to say which
 * word it means (`$word.$off(b)`) and use `$mask`, so that no caller reads the whole word as if
 * it were the bit.
 */
export class BitRef {
  constructor(
    /** The flags word holding the bit. */
    readonly $word: Ref<FlagsS>,
    /** The bit's kernel name, e.g. `PG_locked`. */
    readonly $bit: string,
    /** Its mask in the packed word. */
    readonly $mask: number,
    /** How it was written, for labels. */
    readonly $text: string,
  ) {}
  /** `F1.flags:PG_locked` in state b. */
  $name(b: Int32Array): string {
    return `${this.$word.$name(b)}:${this.$bit}`;
  }
  /** Whether the bit is set in state b (a ghost read: no access recorded). */
  $test(b: Int32Array): boolean {
    return (b[this.$word.$off(b)]! & this.$mask) !== 0;
  }
  /** Sets or clears the bit in state b directly (for init code: no access recorded). */
  $put(b: Int32Array, v: boolean): void {
    const o = this.$word.$off(b);
    b[o] = v ? b[o]! | this.$mask : b[o]! & ~this.$mask;
  }
}

export type FlagsRef<S extends FlagsS> = Ref<S> & {
  readonly [K in S extends FlagsS<infer B> ? B : never]: BitRef;
};

type FieldRefs<F> = { readonly [K in keyof F]: F[K] extends Schema ? RefOf<F[K]> : never };

export type RecordRef<S extends RecordS> = Ref<S> & FieldRefs<S["fields"]>;
export type ArrayRef<S extends ArrayS> = Ref<S> & {
  readonly [i: number]: RefOf<S["elem"]>;
  /** Element at a run-time index held in an int or ptr ref. */
  at(index: Ref<IntS> | Ref<PtrS>): RefOf<S["elem"]>;
  readonly length: number;
};
export type PtrRef<S extends PtrS> = Ref<S> & FieldRefs<S["target"]["fields"]>;

export type RefOf<S extends Schema> = S extends BitS
  ? BitRef
  : S extends FlagsS
    ? FlagsRef<S>
    : S extends RecordS
      ? RecordRef<S>
      : S extends ArrayS
        ? ArrayRef<S>
        : S extends PtrS
          ? PtrRef<S>
          : Ref<S>;

const EMPTY = new Int32Array(0);

const constant =
  (k: number): OffFn =>
  () =>
    k;
const constName =
  (n: string): NameFn =>
  () =>
    n;

/** Makes the ref tree of a value placed at `base` (see Layout.alloc). */
export function makeRef<S extends Schema>(
  lay: Layout,
  s: S,
  base: number,
  name: string,
  text: string,
): RefOf<S> {
  return build(lay, s, constant(base), constName(name), base, text) as RefOf<S>;
}

/** The BitRef of alias `k` (bitOf) of record `s`, whose fields' refs are in `bag`. */
function aliasRef(s: RecordS, k: string, bag: Record<string, unknown>, text: string): BitRef {
  const a = s.fields[k] as BitS;
  const word = bag[a.word] as Ref<FlagsS>;
  return new BitRef(word, a.bit, flagMask(word.$schema, a.bit, word.$text), text);
}

function build(lay: Layout, s: Schema, off: OffFn, name: NameFn, stat: number, text: string): Ref {
  const r = new Ref(s, lay, off, name, stat, text);
  const bag = r as unknown as Record<string | number, unknown>;
  switch (s.kind) {
    case "flags": {
      const w = r as Ref<FlagsS>;
      for (const b of s.order) bag[b] = new BitRef(w, b, flagMask(s, b), `${text}.${b}`);
      return r;
    }
    case "record": {
      const rel = relOffsets(s);
      const join = (p: string, k: string): string => (p === "" ? k : `${p}.${k}`);
      for (const k of Object.keys(s.fields)) {
        if (s.fields[k]!.kind === "bit") continue;
        const ro = rel.get(k)!;
        const sub = `${text}.${k}`;
        bag[k] =
          stat >= 0
            ? build(
                lay,
                s.fields[k]!,
                constant(stat + ro),
                constName(join(name(EMPTY), k)),
                stat + ro,
                sub,
              )
            : build(
                lay,
                s.fields[k]!,
                (b) => off(b) + ro,
                (b) => join(name(b), k),
                -1,
                sub,
              );
      }
      for (const k of Object.keys(s.fields))
        if (s.fields[k]!.kind === "bit") bag[k] = aliasRef(s, k, bag, `${text}.${k}`);
      return r;
    }
    case "array": {
      const stride = sizeOf(s.elem);
      const info = lay.arrays.find((a) => a.base === stat && a.elem === s.elem);
      for (let i = 0; i < s.length; i++) {
        const label = info?.labels[i] ?? `${text}[${i}]`;
        bag[i] =
          stat >= 0
            ? build(
                lay,
                s.elem,
                constant(stat + i * stride),
                constName(label),
                stat + i * stride,
                `${text}[${i}]`,
              )
            : build(
                lay,
                s.elem,
                (b) => off(b) + i * stride,
                (b) => `${name(b)}[${i}]`,
                -1,
                `${text}[${i}]`,
              );
      }
      Object.defineProperty(r, "length", { value: s.length });
      Object.defineProperty(r, "at", {
        value: (index: Ref<IntS> | Ref<PtrS>) => {
          const len = s.length;
          const idx = (b: Int32Array): number => {
            const i = b[index.$off(b)]!;
            if (i < 0 || i >= len) {
              throw new Violation(
                i === NULL && index.$schema.kind === "ptr" ? "null-deref" : "out-of-bounds",
                `${text}[${index.$text}]: index ${i} is outside 0..${len - 1}`,
              );
            }
            return i;
          };
          return build(
            lay,
            s.elem,
            (b) => off(b) + idx(b) * stride,
            (b) => info?.labels[idx(b)] ?? `${name(b)}[${idx(b)}]`,
            -1,
            `${text}[${index.$text}]`,
          );
        },
      });
      return r;
    }
    case "ptr": {
      const target = s.target;
      const rel = relOffsets(target);
      for (const k of Object.keys(target.fields)) {
        const ro = rel.get(k)!;
        const fk = target.fields[k]!;
        if (fk.kind === "bit") {
          Object.defineProperty(r, k, {
            get: () => {
              const v = aliasRef(target, k, bag as Record<string, unknown>, `${text}->${k}`);
              Object.defineProperty(r, k, { value: v });
              return v;
            },
            configurable: true,
          });
          continue;
        }
        Object.defineProperty(r, k, {
          get: () => {
            const arr = lay.arrayOfRecord.get(target);
            if (!arr) throw new Error(`${text}: no shared array holds the pointed-to record type`);
            const deref = (b: Int32Array): number => {
              const i = b[off(b)]!;
              if (i === NULL)
                throw new Violation("null-deref", `NULL pointer dereference: ${text}->${k}`);
              if (i === BOGUS) {
                throw new Violation(
                  "bogus-entry",
                  `${text}->${k}: ${text} is container_of() of a list head, not an object ` +
                    `(list_first_entry() on an empty list?)`,
                );
              }
              return arr.base + i * arr.stride;
            };
            const v = build(
              lay,
              target.fields[k]!,
              (b) => deref(b) + ro,
              (b) => {
                const i = b[off(b)]!;
                return i === NULL ? `${text}->${k}` : `${arr.labels[i]}.${k}`;
              },
              -1,
              `${text}->${k}`,
            );
            Object.defineProperty(r, k, { value: v });
            return v;
          },
          configurable: true,
        });
      }
      return r;
    }
    default:
      return r;
  }
}
