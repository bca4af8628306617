// lockdep, built in (Documentation/locking/lockdep-design.rst, include/linux/lockdep.h).
//
// Lock protection: a counter or flags word declares the lock that protects it (protectedBy() in
// the schema, or ModelBuilder.protect()), a list head its lock (listHead({ lock })), and a list
// node (folio->_deferred_list) is protected by the lock of the list it is on, found by walking
// to its head. A plain access to a protected word, or a list operation on a protected list, by
// a CPU that does not hold that lock is `wrong-lock`, naming the lock needed and the locks held
// (what lockdep_assert_held() in the kernel function would say). Marked accesses stay allowed
// without the lock: READ_ONCE/WRITE_ONCE, atomics, data_race(), list_empty() (a READ_ONCE).
// The check runs while a step executes (Mem.ld); invariants and labels read freely.
//
// Lock order: see explore/lockorder.ts. The spinlock primitives record each acquisition
// (spinlock.ts); spin_lock_nested() gives the subclass; spin_trylock() adds no edge to the lock
// it takes. Lock classes: locks of one field of one record type (`deferred_split.split_queue_lock`
// of every queue, node or memcg) are one class, as lockdep keys locks by class (the lock's
// static key: where it was initialised), so an inversion between two instances of a class is
// found even when the search only saw each order on different instances, and nesting two
// instances of a class needs spin_lock_nested(). A model whose locks are ordered per instance
// (the dining philosophers' forks) asks for `lockdep: { order: "instance" }`.

import { step, type StepStmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import type { LockS } from "../model/schema.ts";
import { raise } from "./properties.ts";
import { wrongLockMessage, type Mem } from "../rt/mem.ts";

/** lockdep_assert_held(lock) as a step: `wrong-lock` unless this CPU holds that very lock. */
export function lockdep_assert_held(lock: Ref<LockS>): StepStmt {
  return step(
    (c) => `lockdep_assert_held(&${lock.$name(c.m.b)})`,
    (c) => {
      assertHeldNow(c, lock);
    },
    { raises: [raise("wrong-lock")] },
  );
}

/** lockdep_assert_held(lock) inside a step. */
export function assertHeldNow(c: { m: Mem; cpu: number }, lock: Ref<LockS>): void {
  const m = c.m;
  const off = lock.$off(m.b);
  if (m.b[off] === c.cpu) return;
  const name = lock.$name(m.b);
  const held = m.heldBy(c.cpu);
  m.report(
    "wrong-lock",
    `wrong lock: lockdep_assert_held(&${name}) fails: CPU${c.cpu} holds ${held.length ? held.join(", ") : "no lock"}`,
  );
}

/**
 * `wrong-lock` for list operation `what` on the list headed by `head` (a node id), when that
 * list declares a lock and CPU `cpu` does not hold it. Lists without a lock (on-stack private
 * lists) are never wrong.
 */
export function assertListLock(m: Mem, head: number, cpu: number, what: string): void {
  const lay = m.layout;
  const n = lay.nodes[head];
  if (!n || n.lockOff < 0 || !n.protects || m.b[n.lockOff] === cpu) return;
  const need = lay.fields[n.lockOff]!.name;
  m.report("wrong-lock", wrongLockMessage(`${what} on ${n.name}`, need, cpu, m.heldBy(cpu)));
}

// data_race(), READ_ONCE() and WRITE_ONCE() inside a step (include/linux/compiler.h): one
// implementation, in model/view.ts, with a view form and the (ctx, ref) form used here. The
// accesses of data_race() are intentionally racy (Mem.dataRace): neither a reported data race
// nor, without the protecting lock, `wrong-lock`.
export { data_race, READ_ONCE, WRITE_ONCE } from "../model/view.ts";

/**
 * Runs `fn` inside a step that folds `spin_lock(...) ... spin_unlock(...)` of the locks at
 * `offs` (which its guard found free): for lockdep's protection checks the CPU holds them
 * meanwhile. No lock-order edge is recorded for folded locks.
 */
export function foldedHold<T>(c: { m: Mem; cpu: number }, offs: readonly number[], fn: () => T): T {
  const b = c.m.b;
  const was = offs.map((o) => b[o]!);
  for (const o of offs) b[o] = c.cpu;
  try {
    return fn();
  } finally {
    offs.forEach((o, i) => (b[o] = was[i]!));
  }
}
