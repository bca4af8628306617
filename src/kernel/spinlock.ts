// spinlock_t: spin_lock / spin_unlock / spin_trylock and the _irq/_irqsave forms (same
// semantics here: a model has no interrupts). The lock word holds the holding CPU, or -1.
// Unlocking a lock the CPU does not hold is `bad-unlock` (warn: reported, then released anyway).

import { boolResult, step, type StepStmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import type { LockS } from "../model/schema.ts";

export const UNLOCKED = -1;

function holderText(h: number, cpu: number): string {
  if (h === UNLOCKED) return "unlocked";
  return h === cpu ? `held by CPU${h} itself (recursive locking)` : `held by CPU${h}`;
}

function lockStep(lock: Ref<LockS>, fn: string): StepStmt {
  return step(
    (c) => `${fn}(&${lock.$name(c.m.b)})`,
    (c) => {
      c.m.setMarked(lock.$off(c.m.b), c.cpu);
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
export const spin_unlock = (lock: Ref<LockS>): StepStmt => unlockStep(lock, "spin_unlock");
export const spin_unlock_irq = (lock: Ref<LockS>): StepStmt => unlockStep(lock, "spin_unlock_irq");
export const spin_unlock_irqrestore = (lock: Ref<LockS>): StepStmt =>
  unlockStep(lock, "spin_unlock_irqrestore");

/** spin_trylock(): a condition; takes the lock and returns true when it was free. */
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
