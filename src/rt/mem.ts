// The run-time memory every step reads and writes: the current state vector plus the
// bookkeeping the checker needs around an access (range checks, access recording for the
// data-race check). One Mem per compiled model; the explorer points `b` at the state it works on.

import { match } from "ts-pattern";
import type { Layout } from "../model/layout.ts";

/**
 * What the kernel does when a check fails, and so what the search does past a violation:
 * - `warn`: WARN_ON / VM_WARN_ON_FOLIO / a DEBUG_LIST report / KCSAN: the splat is printed and
 *   the kernel goes on; the violation is reported and the search continues past it, so the
 *   properties that break later on the same path are found too;
 * - `bug`: BUG_ON / VM_BUG_ON / an oops (NULL dereference, use-after-free): the CPU stops; the
 *   violation is reported and the path ends there.
 */
export type Severity = "warn" | "bug";

/**
 * The severity a property has when neither the model nor a step declares one: filled by the
 * kernel's property catalogue (src/kernel/properties.ts) for its names; anything else is "bug".
 */
export const DEFAULT_SEVERITIES = new Map<string, Severity>();

/** A step broke a property (an assertion in the model or a kernel primitive's check). */
export class Violation extends Error {
  override name = "Violation";
  constructor(
    readonly property: string,
    message: string,
    /** A thrown violation ends its path: "bug"; a recorded one ("warn") is only carried here. */
    readonly severity: Severity = "bug",
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

// An access is recorded as `off << ACC_SHIFT | flags`.
export const ACC_WRITE = 1;
/** A marked access (LKMM): READ_ONCE/WRITE_ONCE, an atomic_t op, a bit operation, a lock word. */
export const ACC_MARKED = 2;
/**
 * An access inside data_race(): intentionally racy, never reported (KCSAN's data_race()), even
 * against a plain write. Distinct from ACC_MARKED: a marked access still races with a plain one.
 */
export const ACC_RACY = 4;
export const ACC_SHIFT = 3;

/** Subclasses per lock class for spin_lock_nested() (MAX_LOCKDEP_SUBCLASSES in lockdep). */
export const LOCKDEP_SUBCLASSES = 8;

export class Mem {
  b: Int32Array;
  /** CPU executing the current step. */
  cpu = -1;
  /** Record accesses (set by the explorer when the data-race check is on). */
  trk = false;
  /** > 0 while accesses are marked (READ_ONCE/WRITE_ONCE/atomic): see `marking()`. */
  marked = 0;
  /** > 0 inside data_race(): accesses are never part of a reported race. See `dataRace()`. */
  racy = 0;
  acc = new Int32Array(64);
  nacc = 0;
  readonly min: Int32Array;
  readonly max: Int32Array;
  /**
   * Violations of warn-severity properties raised by the running step: it goes on; the explorer
   * (or the run, or the replay) takes them after the step, attributing them to that transition.
   */
  readonly pending: Violation[] = [];
  /** Declared severity of each property (compileModel fills it); undeclared names are "bug". */
  severities = new Map<string, Severity>();
  /** 1 at ghost() fields: their accesses are not recorded (see note()). */
  private readonly ghostAt: Uint8Array;

  // lockdep (see kernel/lockdep.ts). `ld` is true while a step of a model with lockdep on runs
  // (the runners set it around node.run): a plain access to a word protected by a lock the CPU
  // does not hold is then `wrong-lock`. `lo` records the lock order: every acquisition adds an
  // edge from each lock the CPU holds to the lock taken, into a preallocated matrix of lock
  // nodes; edges seen for the first time are queued in `loNew` for the runner to attach a path.
  ld = false;
  lo = false;
  /** Per word, the offset of the lock protecting it, or -1 (Layout.lockOfWord). */
  readonly lockOf: Int32Array;
  /** Per lock word, its lock-order node (class * LOCKDEP_SUBCLASSES, or instance index). */
  readonly loNode: Int32Array;
  /** Number of lock-order nodes. */
  readonly loN: number;
  /** Whether lock-order nodes are lock instances (true) or classes with subclasses. */
  readonly loInstances: boolean;
  /** Edges seen: loSeen[from * loN + to]. */
  loSeen: Uint8Array;
  /** Edges seen for the first time since the runner last drained them (from * loN + to). */
  loNew = new Int32Array(16);
  loNewLen = 0;

  constructor(
    readonly layout: Layout,
    lockOrder: "class" | "instance" = "class",
  ) {
    this.b = layout.initialState();
    this.min = layout.min;
    this.max = layout.max;
    this.lockOf = layout.lockOfWord;
    this.loInstances = lockOrder === "instance";
    this.loNode = new Int32Array(layout.words).fill(-1);
    const classes = new Map<string, number>();
    layout.locks.forEach((l, i) => {
      if (this.loInstances) this.loNode[l.off] = i;
      else {
        let c = classes.get(l.cls);
        if (c === undefined) classes.set(l.cls, (c = classes.size));
        this.loNode[l.off] = c * LOCKDEP_SUBCLASSES;
      }
    });
    this.loN = this.loInstances ? layout.locks.length : classes.size * LOCKDEP_SUBCLASSES;
    this.loSeen = new Uint8Array(this.loN * this.loN);
    this.ghostAt =
      layout.ghost.length === layout.words ? layout.ghost : new Uint8Array(layout.words);
  }

  get(off: number): number {
    if (this.trk) this.note(off, 0);
    if (this.ld && this.lockOf[off]! >= 0 && this.marked + this.racy === 0) this.assertHeld(off);
    return this.b[off]!;
  }

  set(off: number, v: number): void {
    if (v < this.min[off]! || v > this.max[off]! || !Number.isInteger(v)) this.rangeFault(off, v);
    if (this.trk) this.note(off, ACC_WRITE);
    if (this.ld && this.lockOf[off]! >= 0 && this.marked + this.racy === 0) this.assertHeld(off);
    this.b[off] = v;
  }

  /** The locks CPU `cpu` holds in the current state, by name. */
  heldBy(cpu: number): string[] {
    const out: string[] = [];
    for (const l of this.layout.locks) if (this.b[l.off] === cpu) out.push(l.name);
    return out;
  }

  /** `wrong-lock` unless the current CPU holds the lock protecting word `off`. */
  assertHeld(off: number): void {
    const lk = this.lockOf[off]!;
    if (this.b[lk] === this.cpu) return;
    const lay = this.layout;
    const need = lay.fields[lk]!.name;
    this.report(
      "wrong-lock",
      wrongLockMessage(`${lay.fields[off]!.name}`, need, this.cpu, this.heldBy(this.cpu)),
    );
  }

  /**
   * Records that the current CPU took the lock at `off` (with `subclass`, spin_lock_nested):
   * an edge from every other lock it holds. No allocation unless an edge is new.
   */
  acquired(off: number, subclass: number): void {
    const N = this.loN;
    const to = this.loNode[off]! + (this.loInstances ? 0 : subclass);
    const b = this.b;
    const cpu = this.cpu;
    const locks = this.layout.locks;
    for (let i = 0; i < locks.length; i++) {
      const lo = locks[i]!.off;
      if (lo === off || b[lo] !== cpu) continue;
      const e = this.loNode[lo]! * N + to;
      if (this.loSeen[e] !== 0) continue;
      this.loSeen[e] = 1;
      if (this.loNewLen === this.loNew.length) {
        const a = new Int32Array(this.loNew.length * 2);
        a.set(this.loNew);
        this.loNew = a;
      }
      this.loNew[this.loNewLen++] = e;
    }
  }

  /** Forgets the lock order seen (a new search starts). */
  resetLockOrder(): void {
    this.loSeen.fill(0);
    this.loNewLen = 0;
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

  /** A read inside data_race(): intentionally racy (never reported, not even against a plain write). */
  getRacy(off: number): number {
    if (this.trk) this.note(off, ACC_RACY);
    return this.b[off]!;
  }

  /** Runs `fn` with every access it makes marked (READ_ONCE/WRITE_ONCE, atomics). */
  marking<T>(fn: () => T): T {
    this.marked++;
    try {
      return fn();
    } finally {
      this.marked--;
    }
  }

  /** data_race(expr): runs `fn` with every access it makes intentionally racy (KCSAN: no report). */
  dataRace<T>(fn: () => T): T {
    this.racy++;
    try {
      return fn();
    } finally {
      this.racy--;
    }
  }

  /** A ghost field's value (see ghost()): not recorded, never part of a data race. */
  getGhost(off: number): number {
    return this.b[off]!;
  }

  /** Writes a ghost field (range-checked, not recorded). */
  setGhost(off: number, v: number): void {
    if (v < this.min[off]! || v > this.max[off]! || !Number.isInteger(v)) this.rangeFault(off, v);
    this.b[off] = v;
  }

  note(off: number, kind: number): void {
    if (this.ghostAt[off] === 1) return; // a ghost field is not memory the kernel shares
    if (this.marked > 0) kind |= ACC_MARKED;
    if (this.racy > 0) kind |= ACC_RACY;
    if (this.nacc === this.acc.length) {
      const a = new Int32Array(this.acc.length * 2);
      a.set(this.acc);
      this.acc = a;
    }
    this.acc[this.nacc++] = (off << ACC_SHIFT) | kind;
  }

  /** The declared severity of a property (else the catalogue's, else "bug"). */
  severityOf(property: string): Severity {
    return this.severities.get(property) ?? DEFAULT_SEVERITIES.get(property) ?? "bug";
  }

  /**
   * A failed check of `property`, with the severity it is declared with: a `warn` one is recorded
   * and returns (the caller goes on, as the kernel does after WARN_ON: usually by refusing the
   * operation), a `bug` one throws (the path ends, as after BUG_ON).
   */
  report(property: string, message: string): void {
    match(this.severityOf(property))
      .with("warn", () => {
        this.pending.push(new Violation(property, message, "warn"));
      })
      .with("bug", () => {
        throw new Violation(property, message, "bug");
      })
      .exhaustive();
  }

  /**
   * `if (!m.check(cond, "prop", msg)) return;`: true when cond holds, else reports the violation
   * (see report(): a warn-severity one returns false, a bug-severity one throws).
   */
  check(cond: boolean, property: string, message: string): boolean {
    if (cond) return true;
    this.report(property, message);
    return false;
  }

  /** WARN_ON(): always a warning (recorded, the step goes on), whatever the declaration says. */
  warn(property: string, message: string): void {
    this.pending.push(new Violation(property, message, "warn"));
  }

  /** BUG_ON() / an oops: always ends the path. */
  bug(property: string, message: string): never {
    throw new Violation(property, message, "bug");
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

/** The text of a `wrong-lock` violation, as lockdep_assert_held() would explain it. */
export function wrongLockMessage(what: string, need: string, cpu: number, held: string[]): string {
  return (
    `wrong lock: CPU${cpu} touches ${what}, which is protected by ${need}, while holding ` +
    `${held.length ? held.join(", ") : "no lock"} (lockdep_assert_held(&${need}) fails)`
  );
}
