// spinlock_t: spin_lock / spin_unlock / spin_trylock and the _irq/_irqsave forms (same
// semantics here: a model has no interrupts). The lock word holds the holding CPU, or -1.
// Unlocking a lock the CPU does not hold is `bad-unlock` (warn: reported, then released anyway).

import { boolResult, step, type StepStmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import type { LockS } from "../model/schema.ts";
import { LOCKDEP_SUBCLASSES, ModelError } from "../rt/mem.ts";

export const UNLOCKED = -1;

function holderText(h: number, cpu: number): string {
  if (h === UNLOCKED) return "unlocked";
  return h === cpu ? `held by CPU${h} itself (recursive locking)` : `held by CPU${h}`;
}

function lockStep(lock: Ref<LockS>, fn: string, subclass = 0): StepStmt {
  return step(
    (c) => `${fn}(&${lock.$name(c.m.b)}${subclass ? `, ${subclass}` : ""})`,
    (c) => {
      const off = lock.$off(c.m.b);
      c.m.setMarked(off, c.cpu);
      // lockdep: an edge from every lock this CPU holds to this one (kernel/lockdep.ts)
      if (c.m.lo) c.m.acquired(off, subclass);
    },
    {
      guard: (c) => c.m.b[lock.$off(c.m.b)] === UNLOCKED,
      waitsFor: (c) => `${lock.$name(c.m.b)}, ${holderText(c.m.b[lock.$off(c.m.b)]!, c.cpu)}`,
    },
  );
}

function unlockStep(lock: Ref<LockS>, fn: string): StepStmt {
  return step(
    (c) => `${fn}(&${lock.$name(c.m.b)})`,
    (c) => {
      const off = lock.$off(c.m.b);
      const h = c.m.getMarked(off);
      // CONFIG_DEBUG_SPINLOCK's spin_bug() ("already unlocked", "wrong owner") prints and the
      // unlock goes on: reported with bad-unlock's severity (warn), and the lock is released
      c.m.check(
        h === c.cpu,
        "bad-unlock",
        `${fn}(&${lock.$name(c.m.b)}) by CPU${c.cpu}, but the lock is ${holderText(h, c.cpu)}`,
      );
      c.m.setMarked(off, UNLOCKED);
    },
    { raises: ["bad-unlock"] },
  );
}

export const spin_lock = (lock: Ref<LockS>): StepStmt => lockStep(lock, "spin_lock");
export const spin_lock_irq = (lock: Ref<LockS>): StepStmt => lockStep(lock, "spin_lock_irq");
export const spin_lock_irqsave = (lock: Ref<LockS>): StepStmt =>
  lockStep(lock, "spin_lock_irqsave");
/**
 * spin_lock_nested(lock, subclass): spin_lock() telling lockdep that this lock nests inside
 * another lock of the same class (include/linux/spinlock.h; SINGLE_DEPTH_NESTING is 1). Taking
 * a second lock of one class without it is reported as possible recursive locking.
 */
export function spin_lock_nested(lock: Ref<LockS>, subclass: number): StepStmt {
  if (!Number.isInteger(subclass) || subclass < 0 || subclass >= LOCKDEP_SUBCLASSES) {
    throw new ModelError(
      "E_ARG",
      `spin_lock_nested(${lock.$text}, ${subclass}): the subclass must be an integer in 0..${LOCKDEP_SUBCLASSES - 1}`,
    );
  }
  return lockStep(lock, "spin_lock_nested", subclass);
}
/** SINGLE_DEPTH_NESTING (include/linux/lockdep.h). */
export const SINGLE_DEPTH_NESTING = 1;
export const spin_unlock = (lock: Ref<LockS>): StepStmt => unlockStep(lock, "spin_unlock");
export const spin_unlock_irq = (lock: Ref<LockS>): StepStmt => unlockStep(lock, "spin_unlock_irq");
export const spin_unlock_irqrestore = (lock: Ref<LockS>): StepStmt =>
  unlockStep(lock, "spin_unlock_irqrestore");

/**
 * spin_trylock(): a condition; takes the lock and returns true when it was free. As in lockdep,
 * a trylock adds no lock-order edge to the lock it takes (it cannot wait), but locks taken while
 * holding it get an edge from it.
 */
export function spin_trylock(lock: Ref<LockS>): StepStmt {
  return step(
    (c, r) => `spin_trylock(&${lock.$name(c.m.b)}) -> ${boolResult(r)}`,
    (c) => {
      const off = lock.$off(c.m.b);
      if (c.m.getMarked(off) !== UNLOCKED) return false;
      c.m.setMarked(off, c.cpu);
      return true;
    },
  );
}

/** Whether CPU `cpu` holds the lock at word `off` in state b. */
export function holds(b: Int32Array, off: number, cpu: number): boolean {
  return b[off] === cpu;
}
