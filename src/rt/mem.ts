// The run-time memory every step reads and writes: the current state vector plus the
// bookkeeping the checker needs around an access (range checks, access recording for the
// data-race check). One Mem per compiled model; the explorer points `b` at the state it works on.

import type { Layout } from "../model/layout.ts";

/** A step broke a property (an assertion in the model or a kernel primitive's check). */
export class Violation extends Error {
  override name = "Violation";
  constructor(
    readonly property: string,
    message: string,
  ) {
    super(message);
  }
}

/** The model itself is wrong (a value out of its declared range, a bad index...). */
export class ModelError extends Error {
  override name = "ModelError";
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export const ACC_WRITE = 1;
/** The access is intentional or atomic (data_race(), READ_ONCE, an atomic_t op, a lock word). */
export const ACC_MARKED = 2;

export class Mem {
  b: Int32Array;
  /** CPU executing the current step. */
  cpu = -1;
  /** Record accesses (set by the explorer when the data-race check is on). */
  trk = false;
  /** > 0 while accesses are intentional/atomic. */
  marked = 0;
  acc = new Int32Array(64);
  nacc = 0;
  readonly min: Int32Array;
  readonly max: Int32Array;

  constructor(readonly layout: Layout) {
    this.b = layout.initialState();
    this.min = layout.min;
    this.max = layout.max;
  }

  get(off: number): number {
    if (this.trk) this.note(off, 0);
    return this.b[off]!;
  }

  set(off: number, v: number): void {
    if (v < this.min[off]! || v > this.max[off]! || !Number.isInteger(v)) this.rangeFault(off, v);
    if (this.trk) this.note(off, ACC_WRITE);
    this.b[off] = v;
  }

  /** An atomic or intentionally racy read: never part of a data race. */
  getMarked(off: number): number {
    if (this.trk) this.note(off, ACC_MARKED);
    return this.b[off]!;
  }

  setMarked(off: number, v: number): void {
    if (v < this.min[off]! || v > this.max[off]! || !Number.isInteger(v)) this.rangeFault(off, v);
    if (this.trk) this.note(off, ACC_WRITE | ACC_MARKED);
    this.b[off] = v;
  }

  note(off: number, kind: number): void {
    if (this.marked > 0) kind |= ACC_MARKED;
    if (this.nacc === this.acc.length) {
      const a = new Int32Array(this.acc.length * 2);
      a.set(this.acc);
      this.acc = a;
    }
    this.acc[this.nacc++] = off * 4 + kind;
  }

  rangeFault(off: number, v: number): never {
    const f = this.layout.fields[off];
    const name = f ? f.name : `word ${off}`;
    const range = f ? `${this.layout.format(off, f.min)}..${this.layout.format(off, f.max)}` : "?";
    throw new ModelError(
      "E_RANGE",
      `${name} = ${Number.isInteger(v) ? v : String(v)} is outside its declared range ${range}`,
      f?.kind === "int"
        ? `widen the int(${f.min}, ${f.max}) bound of ${f.short}, or check the step's arithmetic`
        : "check the step's arithmetic",
    );
  }
}
