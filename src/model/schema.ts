// Typed declarations of a model's state: shared fields and per-CPU locals.
// A schema is plain data; the layout (layout.ts) turns it into offsets in one Int32Array.

export type Schema = IntS | BoolS | EnumS | PtrS | NodePtrS | LockS | ListHeadS | RecordS | ArrayS;

export interface IntS {
  readonly kind: "int";
  readonly min: number;
  readonly max: number;
  readonly init: number;
}
export interface BoolS {
  readonly kind: "bool";
  readonly init: boolean;
}
export interface EnumS<N extends string = string> {
  readonly kind: "enum";
  readonly names: readonly N[];
  readonly init: number;
}
/** A pointer to an element of the one shared array whose elements are `target` records; -1 is NULL. */
export interface PtrS<R extends RecordS = RecordS> {
  readonly kind: "ptr";
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
  if (!Number.isInteger(init) || init < min || init > max) {
    throw new SchemaError(`int(${min}, ${max}, ${init}): the initial value is outside the range`);
  }
  return { kind: "int", min, max, init };
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
export function nodeptr(): NodePtrS {
  return { kind: "nodeptr" };
}
export function spinlock(): LockS {
  return { kind: "lock" };
}
/** A list head (queue, on-stack LIST_HEAD). `lock` is the path of the lock that protects it. */
export function listHead(opts: { lock?: string } = {}): ListHeadS {
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
