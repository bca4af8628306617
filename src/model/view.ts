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
import type { Mem } from "../rt/mem.ts";

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

export class ViewBuilder {
  private readonly protos = new Map<RecordS, object>();
  private readonly flagProtos = new Map<FlagsS, object>();
  private readonly listProto: object;

  constructor(private readonly mem: Mem) {
    const p = {};
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
        o.$m = this.mem;
        o.$o = off;
        const rel = relOffsets(s);
        for (const k of Object.keys(s.fields)) {
          const f = s.fields[k]!;
          if (f.kind === "record" || f.kind === "array" || f.kind === "list_head") {
            o[k] = this.make(f, off + rel.get(k)!);
          } else if (f.kind === "flags") o[k] = this.flagsView(f, off + rel.get(k)!);
        }
        return o;
      }
      case "list_head": {
        const o = Object.create(this.listProto) as Inst & { id: number };
        o.$m = this.mem;
        o.$o = off;
        o.id = this.mem.layout.nodeAtOff[off]!;
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
    p = {};
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
