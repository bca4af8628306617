// struct rw_semaphore (include/linux/rwsem.h, kernel/locking/rwsem.c, v6.16): down_write() /
// up_write() and down_read() / up_read(), as far as the anon_vma lock needs them. The writer is
// a lock word (the holding CPU, or -1: lockdep sees it as a lock of its own), the readers a
// count. down_write() waits until there is no writer and no reader; down_read() until there is
// no writer. Each is one step; up_read() below zero is `bad-unlock`.
//
// Left out: writer starvation avoidance and handoff (a reader may take the lock while a writer
// waits, so no waiter order is modelled), optimistic spinning, lockdep's read-lock recursion
// rules (readers are not in the lock-order graph), trylocks, downgrade_write().

import { step, type StepStmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import { int, record, spinlock, type IntS, type LockS, type RecordS } from "../model/schema.ts";
import { UNLOCKED, spin_unlock } from "./spinlock.ts";

export type RwsemFields = { owner: LockS; readers: IntS };

/** A rw_semaphore: `rwsem: rwsem({ maxReaders: 2 })`. */
export function rwsem(opts: { maxReaders?: number } = {}): RecordS<RwsemFields> {
  return record({ owner: spinlock(), readers: int(0, opts.maxReaders ?? 2) }, "rw_semaphore");
}

export interface RwsemRef {
  readonly owner: Ref<LockS>;
  readonly readers: Ref<IntS>;
}

/** down_write(sem): waits for no writer and no reader, then owns it. */
export function down_write(sem: RwsemRef, fn = "down_write"): StepStmt {
  return step(
    (c) => `${fn}(&${sem.owner.$name(c.m.b).replace(/\.owner$/, "")})`,
    (c) => {
      const off = sem.owner.$off(c.m.b);
      c.m.setMarked(off, c.cpu);
      if (c.m.lo) c.m.acquired(off, 0);
    },
    {
      guard: (c) =>
        c.m.b[sem.owner.$off(c.m.b)] === UNLOCKED && c.m.b[sem.readers.$off(c.m.b)] === 0,
      waitsFor: (c) => {
        const w = c.m.b[sem.owner.$off(c.m.b)]!;
        return `${sem.owner.$name(c.m.b).replace(/\.owner$/, "")} (${w === UNLOCKED ? `${c.m.b[sem.readers.$off(c.m.b)]} reader(s)` : `held for write by CPU${w}`})`;
      },
    },
  );
}

/** up_write(sem): `bad-unlock` when this CPU does not own it. */
export const up_write = (sem: RwsemRef): StepStmt => spin_unlock(sem.owner);

/** down_read(sem): waits for no writer, then readers++ (an atomic). */
export function down_read(sem: RwsemRef, fn = "down_read"): StepStmt {
  return step(
    (c) => `${fn}(&${sem.owner.$name(c.m.b).replace(/\.owner$/, "")})`,
    (c) => {
      const off = sem.readers.$off(c.m.b);
      c.m.setMarked(off, c.m.getMarked(off) + 1);
    },
    {
      guard: (c) => c.m.b[sem.owner.$off(c.m.b)] === UNLOCKED,
      waitsFor: (c) =>
        `${sem.owner.$name(c.m.b).replace(/\.owner$/, "")} (held for write by CPU${c.m.b[sem.owner.$off(c.m.b)]})`,
    },
  );
}

/** up_read(sem): readers-- (`bad-unlock` when there is no reader). */
export function up_read(sem: RwsemRef, fn = "up_read"): StepStmt {
  return step(
    (c) => `${fn}(&${sem.owner.$name(c.m.b).replace(/\.owner$/, "")})`,
    (c) => {
      const off = sem.readers.$off(c.m.b);
      const v = c.m.getMarked(off);
      if (c.m.check(v > 0, "bad-unlock", `${fn}: no reader holds ${sem.owner.$name(c.m.b)}`))
        c.m.setMarked(off, v - 1);
    },
    { raises: ["bad-unlock"] },
  );
}
