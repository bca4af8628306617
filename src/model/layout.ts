// The state layout: every scalar of the model (shared fields, each CPU's program counter and
// locals) gets one word of a flat Int32Array. List heads take two words (next, prev) and get a
// node id; locks take one word (the holding CPU, or -1).
//
// Build-time *refs* (ref.ts) name places in the state for the DSL; run-time *views* (view.ts)
// read and write them with range checks. Both are made from this layout.

import type { ArrayS, ListHeadS, RecordS, Schema } from "./schema.ts";
import { SchemaError } from "./schema.ts";

export const NULL = -1;
/** A pointer made by container_of() on a list head (list_first_entry of an empty list). */
export const BOGUS = -2;
/** Values a list pointer takes after list_del(), as in include/linux/poison.h. */
export const LIST_POISON1 = -2;
export const LIST_POISON2 = -3;

export type ScalarKind = "int" | "bool" | "enum" | "ptr" | "nodeptr" | "lock" | "pc" | "flags";

export interface FieldInfo {
  readonly off: number;
  /** Full name in the model's terms, e.g. `F2.refcount`, `CPU0.pos`, `CPU1.pc`. */
  readonly name: string;
  /** Name inside its owner: the CPU-local name for locals (`pos`), else the full name. */
  readonly short: string;
  readonly kind: ScalarKind;
  min: number;
  max: number;
  readonly init: number;
  /** -1 for shared state, else the CPU whose locals (or pc) this is. */
  readonly cpu: number;
  /** For list_head words: which node, and whether this is its `next` word. */
  readonly node: number;
  readonly isNext: boolean;
  readonly schema: Schema;
  /** The declared protecting lock (protectedBy()), as candidate paths "a|b"; resolved in finalize. */
  readonly lockPath?: string | undefined;
}

export interface NodeInfo {
  readonly id: number;
  readonly name: string;
  readonly nextOff: number;
  readonly prevOff: number;
  readonly role: "head" | "node";
  /** Lock path as declared, resolved in finalize() to lockOff. */
  readonly lockPath: string | undefined;
  lockOff: number;
  /** Whether the lock protects the list (lockdep) or only makes operations atomic. */
  protects: boolean;
  /** The object the node is embedded in (container_of), when it is a member of an array element. */
  readonly container: { array: ArrayInfo; index: number } | undefined;
  readonly cpu: number;
  /** listHead({ onStack }): operations by CPU `cpu` are one step. */
  readonly onStack: boolean;
}

export interface ArrayInfo {
  readonly name: string;
  readonly base: number;
  readonly stride: number;
  readonly length: number;
  readonly elem: Schema;
  readonly labels: readonly string[];
}

export interface LockInfo {
  readonly off: number;
  readonly name: string;
  /**
   * Its lock class (lockdep keys lock order by class): `type.field` for a lock in a typed
   * record (`deferred_split.split_queue_lock`), else its path with array indices as `[]`.
   */
  readonly cls: string;
}

/** Whether a field was declared with ghost(). */
export function isGhost(s: Schema): boolean {
  return (
    (s.kind === "int" || s.kind === "bool" || s.kind === "enum" || s.kind === "ptr") &&
    s.ghost === true
  );
}

/** Word size of a schema value. */
export function sizeOf(s: Schema): number {
  switch (s.kind) {
    case "list_head":
      return 2;
    case "bit":
      return 0;
    case "record": {
      let n = 0;
      for (const k of Object.keys(s.fields)) n += sizeOf(s.fields[k]!);
      return n;
    }
    case "array":
      return s.length * sizeOf(s.elem);
    default:
      return 1;
  }
}

/** Relative offsets of a record's fields, cached per record schema. */
const relCache = new WeakMap<RecordS, Map<string, number>>();
export function relOffsets(r: RecordS): Map<string, number> {
  let m = relCache.get(r);
  if (!m) {
    m = new Map();
    let o = 0;
    for (const k of Object.keys(r.fields)) {
      m.set(k, o);
      o += sizeOf(r.fields[k]!);
    }
    relCache.set(r, m);
  }
  return m;
}

/**
 * Step functions that keep a loaded flags word in their CPU's `__bits` register between two
 * steps (the non-atomic bitops of kernel/bitops.ts). compileModel gives every CPU the register
 * only when some thread runs one of them, so other models pay nothing for it.
 */
export const NEEDS_BITS_REG = new WeakSet<object>();

export class Layout {
  words = 0;
  readonly fields: FieldInfo[] = [];
  readonly nodes: NodeInfo[] = [];
  readonly locks: LockInfo[] = [];
  readonly arrays: ArrayInfo[] = [];
  /** The one shared array holding each record type (target of ptr()). */
  readonly arrayOfRecord = new Map<RecordS, ArrayInfo>();
  readonly fieldByName = new Map<string, FieldInfo>();
  /**
   * Per word, the offset of the lock that protects it (protectedBy()), else -1 (filled in
   * finalize). Plain accesses by a CPU that does not hold it are `wrong-lock` (rt/mem.ts).
   */
  lockOfWord = new Int32Array(0);
  /** Whether some word declares a protecting lock. */
  hasProtected = false;
  /** Largest packed mask of a flags word (0: none); sizes the `__bits` register. */
  flagsMax = 0;
  /** Per CPU, offset of its `__bits` register (non-atomic bitops), or undefined. */
  bitsReg: number[] = [];
  /** node id of the list_head whose `next` word is at this offset, else -1 (filled in finalize). */
  nodeAtOff = new Int32Array(0);
  min = new Int32Array(0);
  max = new Int32Array(0);
  /** 1 at the offset of a ghost() field (its accesses are not recorded), else 0. */
  ghost = new Uint8Array(0);
  pcOff: number[] = [];
  /** Per CPU, offset of its three scratch registers (used by split list operations). */
  scratch: number[] = [];
  finalized = false;

  /** Allocates `schema` at the end of the state vector, naming it `name`. */
  alloc(schema: Schema, name: string, cpu: number, short: string): number {
    const base = this.words;
    this.place(schema, base, name, cpu, short, undefined, undefined);
    return base;
  }

  allocPc(cpu: number): number {
    const off = this.words;
    this.addField({
      off,
      name: `CPU${cpu}.pc`,
      short: "pc",
      kind: "pc",
      min: 0,
      max: 0,
      init: 0,
      cpu,
      node: -1,
      isNext: false,
      schema: { kind: "int", min: 0, max: 0, init: 0 },
    });
    this.pcOff[cpu] = off;
    return off;
  }

  private addField(f: FieldInfo): void {
    if (f.off !== this.fields.length) throw new Error("layout: fields out of order");
    this.fields.push(f);
    this.words = f.off + 1;
    this.fieldByName.set(f.name, f);
  }

  private place(
    s: Schema,
    off: number,
    name: string,
    cpu: number,
    short: string,
    container: { array: ArrayInfo; index: number } | undefined,
    parentPath: string | undefined,
    /** The lock-class path of this place (see LockInfo.cls). */
    cls: string = name,
  ): void {
    const lock = s.kind === "int" || s.kind === "flags" ? s.lock : undefined;
    const scalar = (kind: ScalarKind, min: number, max: number, init: number): void =>
      this.addField({
        off,
        name,
        short,
        kind,
        min,
        max,
        init,
        cpu,
        node: -1,
        isNext: false,
        schema: s,
        lockPath: lock !== undefined && parentPath ? `${parentPath}.${lock}|${lock}` : lock,
      });
    switch (s.kind) {
      case "int":
        return scalar("int", s.min, s.max, s.init);
      case "bool":
        return scalar("bool", 0, 1, s.init ? 1 : 0);
      case "enum":
        return scalar("enum", 0, s.names.length - 1, s.init);
      case "ptr":
        // max is set in finalize, once the target array is known
        return scalar("ptr", BOGUS, NULL, NULL);
      case "nodeptr":
        return scalar("nodeptr", LIST_POISON2, NULL, NULL);
      case "lock":
        this.locks.push({ off, name, cls });
        return scalar("lock", -1, -1, -1);
      case "list_head":
        return this.placeList(s, off, name, cpu, short, container, parentPath);
      case "flags": {
        this.flagsMax = Math.max(this.flagsMax, (1 << s.order.length) - 1);
        return scalar("flags", 0, (1 << s.order.length) - 1, s.init);
      }
      case "bit":
        return; // an alias of a sibling flags word's bit: no space of its own
      case "record": {
        const rel = relOffsets(s);
        for (const k of Object.keys(s.fields)) {
          const f = s.fields[k]!;
          if (f.kind !== "bit") continue;
          const w = s.fields[f.word];
          if (!w || w.kind !== "flags")
            throw new SchemaError(
              `${name === "" ? "" : `${name}.`}${k}: bitOf("${f.word}", "${f.bit}"): "${f.word}" is not a flags() field of the same record`,
            );
          if (!w.order.includes(f.bit))
            throw new SchemaError(
              `${name === "" ? "" : `${name}.`}${k}: bitOf("${f.word}", "${f.bit}"): ${f.word} has no bit ${f.bit} (its bits: ${w.order.join(", ")})`,
            );
        }
        const typed = s.typeName !== undefined && s.typeName !== "shared";
        for (const k of Object.keys(s.fields)) {
          const sub = name === "" ? k : `${name}.${k}`;
          const subShort = short === "" ? k : `${short}.${k}`;
          const subCls = typed ? `${s.typeName}.${k}` : cls === "" ? k : `${cls}.${k}`;
          this.place(s.fields[k]!, off + rel.get(k)!, sub, cpu, subShort, container, name, subCls);
        }
        return;
      }
      case "array":
        return this.placeArray(s, off, name, cpu, short, cls);
    }
  }

  private placeList(
    s: ListHeadS,
    off: number,
    name: string,
    cpu: number,
    short: string,
    container: { array: ArrayInfo; index: number } | undefined,
    parentPath: string | undefined,
  ): void {
    const id = this.nodes.length;
    // a lock is named relative to the head's record (a sibling field) or by its full path
    const lockPath =
      s.lock !== undefined && parentPath ? `${parentPath}.${s.lock}|${s.lock}` : s.lock;
    this.nodes.push({
      id,
      name,
      nextOff: off,
      prevOff: off + 1,
      role: s.role,
      lockPath,
      lockOff: -1,
      protects: s.protects ?? true,
      container,
      cpu,
      onStack: s.onStack === true,
    });
    if (s.onStack && cpu < 0)
      throw new SchemaError(
        `list head ${name}: listHead({ onStack: true }) belongs in a thread's locals (a CPU's stack), not in the shared state`,
      );
    const common = { cpu, node: id, schema: s } as const;
    this.addField({
      ...common,
      off,
      name: `${name}.next`,
      short: `${short}.next`,
      kind: "nodeptr",
      // a list word may also hold NULL or, after list_del(), LIST_POISON1/LIST_POISON2
      min: LIST_POISON2,
      max: 0,
      init: id,
      isNext: true,
    });
    this.addField({
      ...common,
      off: off + 1,
      name: `${name}.prev`,
      short: `${short}.prev`,
      kind: "nodeptr",
      min: LIST_POISON2,
      max: 0,
      init: id,
      isNext: false,
    });
  }

  private placeArray(
    s: ArrayS,
    off: number,
    name: string,
    cpu: number,
    short: string,
    cls: string,
  ): void {
    const stride = sizeOf(s.elem);
    const labels: string[] = [];
    for (let i = 0; i < s.length; i++) labels.push(s.label ? s.label(i) : `${name}[${i}]`);
    const info: ArrayInfo = { name, base: off, stride, length: s.length, elem: s.elem, labels };
    this.arrays.push(info);
    if (s.elem.kind === "record" && cpu < 0) {
      if (this.arrayOfRecord.has(s.elem)) {
        throw new SchemaError(
          `shared arrays "${this.arrayOfRecord.get(s.elem)!.name}" and "${name}" hold the same record type: ` +
            `ptr() to it would be ambiguous; declare a second record type`,
        );
      }
      this.arrayOfRecord.set(s.elem, info);
    }
    for (let i = 0; i < s.length; i++) {
      const elemShort = cpu >= 0 ? `${short}[${i}]` : labels[i]!;
      this.place(
        s.elem,
        off + i * stride,
        labels[i]!,
        cpu,
        elemShort,
        { array: info, index: i },
        undefined,
        `${cls}[]`,
      );
    }
  }

  /** Fixes the ranges that depend on the whole model (CPUs, nodes, arrays) and the lookup tables. */
  finalize(ncpus: number, pcMax: number[]): void {
    const lastNode = this.nodes.length - 1;
    for (const f of this.fields) {
      switch (f.kind) {
        case "lock":
          f.max = ncpus - 1;
          break;
        case "nodeptr":
          f.max = lastNode;
          break;
        case "ptr": {
          const s = f.schema;
          if (s.kind !== "ptr") break;
          const arr = this.arrayOfRecord.get(s.target);
          if (!arr) {
            throw new SchemaError(
              `${f.name}: ptr() to a record type that no shared array holds; declare e.g. ` +
                `\`folio: array(N, Folio)\` in the shared state`,
            );
          }
          f.max = arr.length - 1;
          break;
        }
        case "pc":
          f.max = pcMax[f.cpu]!;
          break;
        default:
          break;
      }
    }
    this.lockOfWord = new Int32Array(this.words).fill(-1);
    for (const f of this.fields) {
      if (f.lockPath === undefined) continue;
      const candidates = f.lockPath.split("|");
      const found = candidates.map((p) => this.fieldByName.get(p)).find((x) => x?.kind === "lock");
      if (!found) {
        throw new SchemaError(
          `${f.name}: protectedBy lock "${candidates[candidates.length - 1]}" is not a spinlock() of the model ` +
            `(looked for ${candidates.join(" and ")})`,
        );
      }
      this.lockOfWord[f.off] = found.off;
      this.hasProtected = true;
    }
    this.nodeAtOff = new Int32Array(this.words).fill(-1);
    for (const n of this.nodes) {
      this.nodeAtOff[n.nextOff] = n.id;
      if (n.lockPath !== undefined) {
        const candidates = n.lockPath.split("|");
        const found = candidates
          .map((p) => this.fieldByName.get(p))
          .find((f) => f?.kind === "lock");
        if (!found) {
          throw new SchemaError(
            `list head ${n.name}: lock "${candidates[candidates.length - 1]}" is not a spinlock() of the model ` +
              `(looked for ${candidates.join(" and ")})`,
          );
        }
        n.lockOff = found.off;
      }
    }
    this.min = new Int32Array(this.words);
    this.max = new Int32Array(this.words);
    this.ghost = new Uint8Array(this.words);
    for (const f of this.fields) {
      this.min[f.off] = f.min;
      this.max[f.off] = f.max;
      if (isGhost(f.schema)) this.ghost[f.off] = 1;
    }
    this.finalized = true;
  }

  initialState(): Int32Array {
    const b = new Int32Array(this.words);
    for (const f of this.fields) b[f.off] = f.init;
    return b;
  }

  /** A value as a person reads it: booleans, enum names, folio labels, list node names. */
  format(off: number, v: number): string {
    const f = this.fields[off]!;
    switch (f.kind) {
      case "bool":
        return v ? "true" : "false";
      case "enum":
        return f.schema.kind === "enum" ? (f.schema.names[v] ?? String(v)) : String(v);
      case "ptr": {
        if (v === NULL) return "NULL";
        if (v === BOGUS) return "container_of(list head)";
        const s = f.schema;
        if (s.kind === "ptr") return this.arrayOfRecord.get(s.target)?.labels[v] ?? String(v);
        return String(v);
      }
      case "nodeptr":
        return this.nodeName(v);
      case "lock":
        return v < 0 ? "unlocked" : `held by CPU${v}`;
      case "flags": {
        const s = f.schema;
        if (s.kind !== "flags") return String(v);
        const set = s.order.filter((_n, i) => (v & (1 << i)) !== 0);
        return set.length === 0 ? "0" : set.join("|");
      }
      default:
        return String(v);
    }
  }

  nodeName(v: number): string {
    if (v === NULL) return "NULL";
    if (v === LIST_POISON1) return "LIST_POISON1";
    if (v === LIST_POISON2) return "LIST_POISON2";
    return this.nodes[v]?.name ?? `node#${v}`;
  }
}
