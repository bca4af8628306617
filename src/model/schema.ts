// Typed declarations of a model's state: shared fields and per-CPU locals.
// A schema is plain data; the layout (layout.ts) turns it into offsets in one Int32Array.

export type Schema =
  IntS | BoolS | EnumS | PtrS | NodePtrS | LockS | ListHeadS | RecordS | ArrayS | FlagsS | BitS;

export interface IntS {
  readonly kind: "int";
  /** A ghost field (see ghost()): its accesses are never part of a data race. */
  readonly ghost?: boolean;
  readonly min: number;
  readonly max: number;
  readonly init: number;
  /**
   * The lock that protects this field (a sibling field name or a full path, as for listHead()):
   * a plain access by a CPU that does not hold it is `wrong-lock` (see protectedBy()).
   */
  readonly lock?: string;
}
export interface BoolS {
  readonly kind: "bool";
  readonly ghost?: boolean;
  readonly init: boolean;
}
export interface EnumS<N extends string = string> {
  readonly kind: "enum";
  readonly ghost?: boolean;
  readonly names: readonly N[];
  readonly init: number;
}
/** A pointer to an element of the one shared array whose elements are `target` records; -1 is NULL. */
export interface PtrS<R extends RecordS = RecordS> {
  readonly kind: "ptr";
  readonly ghost?: boolean;
  readonly target: R;
}
/** A `struct list_head *`: holds a list node id (or NULL / LIST_POISON1 / LIST_POISON2). */
export interface NodePtrS {
  readonly kind: "nodeptr";
}
/** A spinlock: holds the CPU that holds it, or -1. */
export interface LockS {
  readonly kind: "lock";
}
/**
 * A `struct list_head`. `role: "head"` for a list's head (a queue, an on-stack LIST_HEAD),
 * `"node"` for a member embedded in an object (`folio->_deferred_list`).
 * `lock` names the lock (a path such as `"ds_queue.split_queue_lock"`) that protects the list
 * headed here; operations done while holding it are one atomic step, others are split into
 * their individual pointer writes. A head without a lock is private (always split).
 */
export interface ListHeadS {
  readonly kind: "list_head";
  readonly role: "head" | "node";
  readonly lock: string | undefined;
  /**
   * Whether `lock` protects the list (lockdep: an operation without it is `wrong-lock`), or only
   * makes operations done under it atomic (`atomicUnder`: an on-stack list that other CPUs touch
   * only under that lock, or a CPU's private list).
   */
  readonly protects?: boolean;
  /**
   * A list on the stack of the CPU whose locals hold it (`LIST_HEAD(list)` in a kernel function):
   * that CPU's operations on it are one step each; another CPU's are split into their writes.
   */
  readonly onStack?: boolean;
}
/**
 * A flags word (`unsigned long flags`) with named bits, e.g. folio->flags with PG_locked.
 * `bits` maps each bit's kernel name to its kernel bit number (include/linux/page-flags.h),
 * which traces show; the state stores only the declared bits, packed in the order of their
 * numbers, so that a word of a few flags costs one byte. `init` is the mask of the bits set at
 * the start, in that packed form (see flags()).
 */
export interface FlagsS<B extends string = string> {
  readonly kind: "flags";
  readonly bits: { readonly [K in B]: number };
  /** Bit names in packed order (by kernel bit number). */
  readonly order: readonly B[];
  readonly init: number;
  readonly lock?: string;
}
/**
 * One named bit of a sibling flags word, under a name of its own: `locked: bitOf("flags",
 * "PG_locked")`. Takes no space; its ref is the bit of that word, its view a boolean.
 */
export interface BitS {
  readonly kind: "bit";
  readonly word: string;
  readonly bit: string;
}

export type Fields = { readonly [name: string]: Schema };
export interface RecordS<F extends Fields = Fields> {
  readonly kind: "record";
  readonly fields: F;
  readonly typeName: string | undefined;
}
export interface ArrayS<E extends Schema = Schema> {
  readonly kind: "array";
  readonly length: number;
  readonly elem: E;
  /** How element i is named in traces (default `name[i]`). */
  readonly label: ((i: number) => string) | undefined;
}

export function int(min: number, max: number, init = min < 0 && max >= 0 ? 0 : min): IntS {
  if (!Number.isInteger(min) || !Number.isInteger(max) || min > max) {
    throw new SchemaError(`int(${min}, ${max}): bounds must be integers with min <= max`);
  }
  if (min < -(2 ** 31) || max > 2 ** 31 - 1) {
    throw new SchemaError(
      `int(${min}, ${max}): the range does not fit the 32-bit words a state is made of ` +
        `(${-(2 ** 31)}..${2 ** 31 - 1}); narrow it`,
    );
  }
  if (!Number.isInteger(init) || init < min || init > max) {
    throw new SchemaError(`int(${min}, ${max}, ${init}): the initial value is outside the range`);
  }
  return { kind: "int", min, max, init };
}
/**
 * Declares the lock that protects an int counter or a flags word (a sibling field name, e.g.
 * `"split_queue_lock"`, or a full path): a plain access to it by a CPU that does not hold that
 * lock is `wrong-lock`, as lockdep_assert_held() would say. Marked accesses (READ_ONCE,
 * data_race(), atomics) stay allowed without it.
 */
export function protectedBy<S extends IntS | FlagsS>(s: S, lock: string): S {
  if (typeof lock !== "string" || lock === "")
    throw new SchemaError("protectedBy(): name the lock (a sibling field or a full path)");
  return { ...s, lock };
}

/**
 * A flags word with named bits: `flags({ PG_locked: 0, PG_head: 6 }, ["PG_head"])`. Bit numbers
 * are the kernel's (0..63), each used once; `set` lists the bits set at the start. At most 16
 * bits can be declared in one word.
 */
export function flags<const B extends string>(
  bits: { readonly [K in B]: number },
  set: readonly NoInfer<B>[] = [],
): FlagsS<B> {
  const names = Object.keys(bits) as B[];
  if (names.length === 0) throw new SchemaError("flags({}): declare at least one bit");
  if (names.length > 16)
    throw new SchemaError(`flags(): ${names.length} bits declared; at most 16 fit in one word`);
  const seen = new Map<number, string>();
  for (const n of names) {
    const v = bits[n];
    if (!Number.isInteger(v) || v < 0 || v > 63)
      throw new SchemaError(`flags(): bit ${n} = ${v}: a bit number is an integer in 0..63`);
    if (seen.has(v))
      throw new SchemaError(`flags(): bits ${seen.get(v)} and ${n} both have number ${v}`);
    seen.set(v, n);
  }
  const order = [...names].sort((a, b) => bits[a] - bits[b]);
  let init = 0;
  for (const n of set) {
    const i = order.indexOf(n);
    if (i < 0)
      throw new SchemaError(
        `flags(): initial bit "${String(n)}" is not declared (bits: ${order.join(", ")})`,
      );
    init |= 1 << i;
  }
  return { kind: "flags", bits, order, init };
}

/** A named alias of one bit of a sibling flags word (no space of its own); see BitS. */
export function bitOf(word: string, bit: string): BitS {
  return { kind: "bit", word, bit };
}

/** The packed mask of bit `name` of a flags word, or throws naming the word's bits. */
export function flagMask(f: FlagsS, name: string, where = "flags word"): number {
  const i = f.order.indexOf(name);
  if (i < 0) throw new SchemaError(`${where} has no bit ${name} (its bits: ${f.order.join(", ")})`);
  return 1 << i;
}

export function bool(init = false): BoolS {
  return { kind: "bool", init };
}
export function enumOf<const N extends string>(names: readonly N[], init?: N): EnumS<N> {
  if (names.length === 0) throw new SchemaError("enumOf([]): an enum needs at least one name");
  const i = init === undefined ? 0 : names.indexOf(init);
  if (i < 0)
    throw new SchemaError(`enumOf: initial value "${String(init)}" is not one of its names`);
  return { kind: "enum", names, init: i };
}
export function ptr<R extends RecordS>(target: R): PtrS<R> {
  return { kind: "ptr", target };
}
/** The scalar schemas a ghost() field can have. */
export type GhostableS = IntS | BoolS | EnumS | PtrS;

/**
 * A ghost field: bookkeeping of the checker (`freed`, "its PTEs were zapped"), not kernel
 * memory. Step code reads and writes it through the views as any field (range checks included),
 * but its accesses are not recorded: never part of a data race, never a dependence between
 * steps. Invariants and end-state properties read it like any other field.
 */
export function ghost<S extends GhostableS>(s: S): S {
  return { ...s, ghost: true };
}

export function nodeptr(): NodePtrS {
  return { kind: "nodeptr" };
}
export function spinlock(): LockS {
  return { kind: "lock" };
}
/**
 * A list head (queue, on-stack LIST_HEAD). `lock` is the path of the lock that protects it:
 * operations under it are one step, operations without it are `wrong-lock` (lockdep). With
 * `atomicUnder` instead, operations done under that lock are one step, and operations without
 * it are split into their writes with no report (a list no lock protects, e.g. on a stack).
 * With `onStack` (in a thread's locals only), the list is on that CPU's stack: its operations by
 * that CPU are one step each (no other CPU can reach the list; declare it only when no other CPU
 * touches the entries while they are on it: if one does, its plain writes race with the owner's
 * and the data-race check reports them).
 */
export function listHead(
  opts: { lock?: string; atomicUnder?: string; onStack?: boolean } = {},
): ListHeadS {
  if (opts.lock !== undefined && opts.atomicUnder !== undefined)
    throw new SchemaError("listHead(): give either lock or atomicUnder, not both");
  if (opts.onStack) {
    if (opts.lock !== undefined || opts.atomicUnder !== undefined)
      throw new SchemaError("listHead({ onStack }): an on-stack list takes no lock");
    return { kind: "list_head", role: "head", lock: undefined, onStack: true };
  }
  if (opts.atomicUnder !== undefined)
    return { kind: "list_head", role: "head", lock: opts.atomicUnder, protects: false };
  return { kind: "list_head", role: "head", lock: opts.lock };
}
/** A list member embedded in an object, e.g. `folio->_deferred_list`. */
export function listNode(): ListHeadS {
  return { kind: "list_head", role: "node", lock: undefined };
}
export function record<F extends Fields>(fields: F, typeName?: string): RecordS<F> {
  for (const k of Object.keys(fields)) {
    if (k.startsWith("$"))
      throw new SchemaError(`record field "${k}": names starting with $ are reserved`);
  }
  return { kind: "record", fields, typeName };
}
export function array<E extends Schema>(
  length: number,
  elem: E,
  opts: { label?: (i: number) => string } = {},
): ArrayS<E> {
  if (!Number.isInteger(length) || length < 0) {
    throw new SchemaError(`array(${length}): length must be a non-negative integer`);
  }
  return { kind: "array", length, elem, label: opts.label };
}

export class SchemaError extends Error {
  override name = "SchemaError";
}
