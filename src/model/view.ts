// Run-time views: objects built once per compiled model whose properties read and write the
// current state vector through Mem (range checks, access recording). Step code written by a
// model author uses them: `s.ds_queue.split_queue_len--`, `l.removed++`.
// All records of one type share one prototype, so property access stays monomorphic.

import type {
  ArrayS,
  BitS,
  FlagsS,
  BoolS,
  EnumS,
  IntS,
  ListHeadS,
  LockS,
  NodePtrS,
  PtrS,
  RecordS,
  Schema,
} from "./schema.ts";
import { relOffsets, sizeOf } from "./layout.ts";
import { ModelError, type Mem } from "../rt/mem.ts";
import type { Ref } from "./ref.ts";

export interface ListView {
  /** The node id of this list_head. */
  readonly id: number;
  next: number;
  prev: number;
}

/**
 * A flags word seen by step code: one boolean per named bit (`f.flags.PG_locked = true`, a
 * plain read-modify-write of the word), and `word`, the packed value.
 */
export type FlagsView<B extends string> = { [K in B]: boolean } & { word: number };

export type ViewOf<S extends Schema> =
  S extends FlagsS<infer B>
    ? FlagsView<B>
    : S extends BitS
      ? boolean
      : S extends IntS | EnumS | PtrS | NodePtrS
        ? number
        : S extends BoolS
          ? boolean
          : S extends LockS
            ? number
            : S extends ListHeadS
              ? ListView
              : S extends RecordS<infer F>
                ? { -readonly [K in keyof F]: ViewOf<F[K]> }
                : S extends ArrayS<infer E>
                  ? ViewOf<E>[]
                  : never;

interface Inst {
  $m: Mem;
  $o: number;
}

// Undeclared fields. A misspelt field (`s.F1._refcnt`) would read `undefined` and a write to one
// would add a property nobody reads: the verdict flips silently. Each record view's prototype
// chain ends in a Proxy, which only a lookup that found nothing reaches (declared fields are
// own properties or accessors higher up, so a declared access never touches the Proxy), and an
// assignment to a name that is not declared does too (an ordinary [[Set]] walks the prototype
// chain): the Proxy throws a ModelError naming the field, the record and the declared fields.
// The explorer adds the step (CPU, label, site) to the error.

/** Names some libraries probe on any object (printing, promises, JSON, test matchers). */
const PROBED = new Set([
  "then",
  "toJSON",
  "asymmetricMatch",
  "nodeType",
  "constructor",
  "length",
  "inspect",
]);

function probe(key: string | symbol): boolean {
  return (
    typeof key === "symbol" ||
    key in Object.prototype ||
    PROBED.has(key) ||
    key.startsWith("$") ||
    key.startsWith("@@") ||
    key.startsWith("__")
  );
}

/** The record's name in the model (`F1`, `ds_queue`, `CPU0`) from the layout, at view offset o. */
function recordName(mem: Mem, r: RecordS, o: number): string {
  if (r === LIST_HEAD_RECORD)
    return (mem.layout.fields[o]?.name ?? "list_head").replace(/\.next$/, "");
  let first: Schema = r;
  let suffix = "";
  while (first.kind === "record" || first.kind === "array" || first.kind === "list_head") {
    if (first.kind === "list_head") {
      suffix += ".next";
      break;
    }
    if (first.kind === "array") {
      if (first.length === 0) return "(record)";
      first = first.elem;
      suffix = "";
      continue;
    }
    const k: string | undefined = Object.keys(first.fields)[0];
    if (k === undefined) return "(record)";
    suffix += `.${k}`;
    first = first.fields[k]!;
  }
  const f = mem.layout.fields[o];
  if (!f) return "(record)";
  const name = f.name.endsWith(suffix) ? f.name.slice(0, f.name.length - suffix.length) : f.name;
  return name === "" ? "s" : name.replace(/^shared$/, "s");
}

function declared(r: RecordS): string[] {
  return Object.keys(r.fields).filter((k) => !k.startsWith("__"));
}

function undeclared(mem: Mem, r: RecordS, o: number, key: string, write: boolean): ModelError {
  const where = recordName(mem, r, o);
  const names = declared(r);
  const near = names.find((n) => n.toLowerCase() === key.toLowerCase() || closeTo(n, key));
  return new ModelError(
    "E_FIELD",
    `${write ? "write to" : "read of"} ${where}.${key}: ${where === "s" ? "the shared state" : where} has no field "${key}"`,
    `${near !== undefined ? `did you mean "${near}"? ` : ""}its declared fields are: ${names.join(", ") || "(none)"}`,
  );
}

/** Whether two names are at most two edits apart (a misspelling): Levenshtein distance. */
function closeTo(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 2) return false;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length]! <= 2;
}

/** The Proxy that ends a record type's prototype chain (see above). */
function guardFor(r: RecordS): object {
  return new Proxy(Object.prototype, {
    get(target, key, receiver: Inst) {
      if (probe(key)) return Reflect.get(target, key, receiver) as unknown;
      throw undeclared(receiver.$m, r, receiver.$o, String(key), false);
    },
    set(target, key, value, receiver: Inst) {
      if (probe(key)) {
        Object.defineProperty(receiver, key, {
          value,
          writable: true,
          configurable: true,
          enumerable: false,
        });
        return true;
      }
      throw undeclared(receiver.$m, r, receiver.$o, String(key), true);
    },
  });
}

/** An array view: an index outside it is an error, not `undefined`. */
function guardArray(name: () => string, length: number): object {
  return new Proxy(Array.prototype, {
    get(target, key, receiver) {
      if (typeof key === "string" && /^\d+$/.test(key)) {
        throw new ModelError(
          "E_FIELD",
          `read of ${name()}[${key}]: the array has ${length} element(s)`,
          `use an index in 0..${length - 1}`,
        );
      }
      return Reflect.get(target, key, receiver) as unknown;
    },
    set(target, key, value, receiver) {
      if (typeof key === "string" && /^\d+$/.test(key)) {
        throw new ModelError(
          "E_FIELD",
          `write to ${name()}[${key}]: the array has ${length} element(s)`,
          `use an index in 0..${length - 1}`,
        );
      }
      return Reflect.set(target, key, value, receiver);
    },
  });
}

export class ViewBuilder {
  private readonly protos = new Map<RecordS, object>();
  private readonly flagProtos = new Map<FlagsS, object>();
  private readonly listProto: object;

  constructor(private readonly mem: Mem) {
    const p = Object.create(guardFor(LIST_HEAD_RECORD)) as object;
    Object.defineProperty(p, "next", {
      get(this: Inst) {
        return this.$m.get(this.$o);
      },
      set(this: Inst, v: number) {
        this.$m.set(this.$o, v);
      },
    });
    Object.defineProperty(p, "prev", {
      get(this: Inst) {
        return this.$m.get(this.$o + 1);
      },
      set(this: Inst, v: number) {
        this.$m.set(this.$o + 1, v);
      },
    });
    this.listProto = p;
  }

  build<S extends Schema>(s: S, off: number): ViewOf<S> {
    return this.make(s, off) as ViewOf<S>;
  }

  private make(s: Schema, off: number): unknown {
    switch (s.kind) {
      case "record": {
        const o = Object.create(this.proto(s)) as Inst & Record<string, unknown>;
        own(o, "$m", this.mem);
        own(o, "$o", off);
        const rel = relOffsets(s);
        for (const k of Object.keys(s.fields)) {
          const f = s.fields[k]!;
          if (f.kind === "record" || f.kind === "array" || f.kind === "list_head") {
            own(o, k, this.make(f, off + rel.get(k)!), true);
          } else if (f.kind === "flags") own(o, k, this.flagsView(f, off + rel.get(k)!), true);
        }
        return o;
      }
      case "list_head": {
        const o = Object.create(this.listProto) as Inst & { id: number };
        own(o, "$m", this.mem);
        own(o, "$o", off);
        own(o, "id", this.mem.layout.nodeAtOff[off]!, true);
        return o;
      }
      case "array": {
        const stride = sizeOf(s.elem);
        const arr: unknown[] = [];

        const e = s.elem;
        if (e.kind === "record" || e.kind === "array" || e.kind === "list_head") {
          for (let i = 0; i < s.length; i++) arr.push(this.make(e, off + i * stride));
        } else {
          const mem = this.mem;
          for (let i = 0; i < s.length; i++) {
            const at = off + i * stride;
            Object.defineProperty(
              arr,
              i,
              scalarAccessor(e, () => at, mem),
            );
          }
        }
        const lay = this.mem.layout;
        Object.setPrototypeOf(
          arr,
          guardArray(
            () => lay.arrays.find((a) => a.base === off && a.elem === s.elem)?.name || "array",
            s.length,
          ),
        );
        return arr;
      }
      default:
        throw new Error(`view of a bare ${s.kind}`);
    }
  }

  private flagsView(f: FlagsS, off: number): object {
    let p = this.flagProtos.get(f);
    if (!p) {
      p = {};
      Object.defineProperty(p, "word", {
        get(this: Inst) {
          return this.$m.get(this.$o);
        },
        set(this: Inst, v: number) {
          this.$m.set(this.$o, v);
        },
      });
      f.order.forEach((b, i) => Object.defineProperty(p, b, bitAccessor(0, 1 << i)));
      this.flagProtos.set(f, p);
    }
    const o = Object.create(p) as Inst;
    o.$m = this.mem;
    o.$o = off;
    return o;
  }

  private proto(r: RecordS): object {
    let p = this.protos.get(r);
    if (p) return p;
    p = Object.create(guardFor(r)) as object;
    const rel = relOffsets(r);
    for (const k of Object.keys(r.fields)) {
      const f = r.fields[k]!;
      if (f.kind === "record" || f.kind === "array" || f.kind === "list_head") continue;
      if (f.kind === "flags") continue;
      if (f.kind === "bit") {
        const w = r.fields[f.word] as FlagsS;
        Object.defineProperty(p, k, bitAccessor(rel.get(f.word)!, 1 << w.order.indexOf(f.bit)));
        continue;
      }
      const ro = rel.get(k)!;
      Object.defineProperty(p, k, protoAccessor(f, ro));
    }
    this.protos.set(r, p);
    return p;
  }
}

/** A bit of the word at `$o + ro` as a boolean: a plain read, or a plain read-modify-write. */
function bitAccessor(ro: number, mask: number): PropertyDescriptor {
  return {
    get(this: Inst) {
      return (this.$m.get(this.$o + ro) & mask) !== 0;
    },
    set(this: Inst, v: boolean) {
      const w = this.$m.get(this.$o + ro);
      this.$m.set(this.$o + ro, v ? w | mask : w & ~mask);
    },
    enumerable: true,
  };
}

/** Defines an own data property (without going through the prototype chain's guard). */
function own(o: object, k: string, value: unknown, enumerable = false): void {
  Object.defineProperty(o, k, { value, writable: true, configurable: true, enumerable });
}

/** The fields of a list_head view, for its guard's messages. */
const LIST_HEAD_RECORD: RecordS = {
  kind: "record",
  fields: {
    id: { kind: "int", min: 0, max: 0, init: 0 },
    next: { kind: "nodeptr" },
    prev: { kind: "nodeptr" },
  },
  typeName: "list_head",
};

// ---------------------------------------------------------------------------------------------
// Marked accesses from step code: READ_ONCE(s.F1, "_refcount"), WRITE_ONCE(s.F1, "mapped", false),
// data_race(s, () => s.q.split_queue_len). Each runs the view's own accessor (range checks
// included) with the accesses recorded as marked, which the data-race check never reports.

/** Any view (record or list_head) with the Mem behind it. */
type AnyView = object;

function memOf(v: AnyView, fn: string): Mem {
  const m = (v as Partial<Inst>).$m;
  if (m === undefined) {
    throw new ModelError(
      "E_ARG",
      `${fn}(): the first argument is not a view of the model's state`,
      `pass a record of the state, e.g. ${fn}(s.F1, "_refcount")`,
    );
  }
  return m;
}

/**
 * READ_ONCE: a marked read (never the plain side of a data race). Two forms: on a view,
 * `READ_ONCE(s.F1, "_refcount")`; on a ref from step code, `READ_ONCE(c, f._refcount)`.
 */
export function READ_ONCE<V extends AnyView, K extends keyof V & string>(view: V, key: K): V[K];
export function READ_ONCE(c: { m: Mem }, x: Ref): number;
export function READ_ONCE(a: object, b: string | Ref): unknown {
  if (typeof b !== "string") {
    const m = (a as { m: Mem }).m;
    return m.getMarked(b.$off(m.b));
  }
  const m = memOf(a, "READ_ONCE");
  m.marked++;
  try {
    return (a as Record<string, unknown>)[b];
  } finally {
    m.marked--;
  }
}

/** WRITE_ONCE: a marked write; `WRITE_ONCE(s.F1, "mapped", false)` or `WRITE_ONCE(c, ref, v)`. */
export function WRITE_ONCE<V extends AnyView, K extends keyof V & string>(
  view: V,
  key: K,
  value: V[K],
): void;
export function WRITE_ONCE(c: { m: Mem }, x: Ref, v: number): void;
export function WRITE_ONCE(a: object, b: string | Ref, v: unknown): void {
  if (typeof b !== "string") {
    const m = (a as { m: Mem }).m;
    m.setMarked(b.$off(m.b), v as number);
    return;
  }
  const m = memOf(a, "WRITE_ONCE");
  m.marked++;
  try {
    (a as Record<string, unknown>)[b] = v;
  } finally {
    m.marked--;
  }
}

/**
 * data_race(expr): every access `expr` makes is intentionally racy (KCSAN is told: never
 * reported, not even against a plain write, nor as wrong-lock), e.g.
 * `data_race(s, () => s.ds_queue.split_queue_len)` on a view, or `data_race(c, () => ...)` with
 * the step's context. For atomics use READ_ONCE/WRITE_ONCE: marked accesses.
 */
export function data_race<T>(viewOrCtx: AnyView | { m: Mem }, expr: () => T): T {
  // a view carries its Mem as $m (own property); a step's context as m
  const m = "$m" in viewOrCtx ? memOf(viewOrCtx, "data_race") : (viewOrCtx as { m: Mem }).m;
  return m.dataRace(expr);
}

function protoAccessor(f: Schema, ro: number): PropertyDescriptor {
  switch (f.kind) {
    case "bool":
      return {
        get(this: Inst) {
          return this.$m.get(this.$o + ro) !== 0;
        },
        set(this: Inst, v: boolean) {
          this.$m.set(this.$o + ro, v ? 1 : 0);
        },
        enumerable: true,
      };
    case "lock":
      return {
        get(this: Inst) {
          return this.$m.get(this.$o + ro);
        },
        enumerable: true,
      };
    default:
      return {
        get(this: Inst) {
          return this.$m.get(this.$o + ro);
        },
        set(this: Inst, v: number) {
          this.$m.set(this.$o + ro, v);
        },
        enumerable: true,
      };
  }
}

function scalarAccessor(f: Schema, at: () => number, mem: Mem): PropertyDescriptor {
  const o = at();
  if (f.kind === "bool") {
    return {
      get: () => mem.get(o) !== 0,
      set: (v: boolean) => mem.set(o, v ? 1 : 0),
      enumerable: true,
    };
  }
  if (f.kind === "lock") return { get: () => mem.get(o), enumerable: true };
  return { get: () => mem.get(o), set: (v: number) => mem.set(o, v), enumerable: true };
}
