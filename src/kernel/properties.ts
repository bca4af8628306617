// The catalogue's property names and what the kernel does when each one fails (its severity),
// in a module of their own: the primitives (list.ts, folio.ts, spinlock.ts, ...) declare the
// properties they raise from here, and catalogue.ts re-exports it.
//
// Severity (see Severity in src/rt/mem.ts): "warn" is reported and the search goes on past it,
// as the kernel goes on after WARN_ON / a DEBUG_LIST report / a KCSAN report; "bug" ends the
// path, as BUG_ON / VM_BUG_ON / an oops stop the CPU. Invariants are "warn" unless the kernel
// would have crashed.

import type { Raise } from "../model/dsl.ts";
import { DEFAULT_SEVERITIES, type Severity } from "../rt/mem.ts";

/** The catalogue's property names (stable: tests, expected verdicts and counterexample paths use them). */
export const PROP = {
  listCorruption: "list-corruption",
  listIntegrity: "list-integrity",
  useAfterFree: "use-after-free",
  badPageState: "bad-page-state",
  refcountUnderflow: "refcount-underflow",
  badGet: "bad-get",
  badUnfreeze: "bad-unfreeze",
  badFolioUnlock: "bad-folio-unlock",
  badUnlock: "bad-unlock",
  counterUnderflow: "counter-underflow",
  doubleUnqueue: "double-unqueue",
  staleMembership: "stale-membership",
  queueLen: "queue-len",
  lostMembership: "lost-membership",
  nrPartiallyMapped: "nr-partially-mapped",
  nullMemcgDeref: "null-memcg-deref",
  memcgUseAfterFree: "memcg-use-after-free",
  warnPartiallyMapped: "warn-partially-mapped",
  listLruUnlocked: "list-lru-unlocked",
  bogusEntry: "bogus-entry",
  nullDeref: "null-deref",
  deadlock: "deadlock",
  dataRace: "data-race",
  wrongLock: "wrong-lock",
  lockOrder: "lock-order",
} as const;
export type PropertyName = (typeof PROP)[keyof typeof PROP];

/**
 * The severity of each catalogue property, and why (the kernel's behaviour). Properties checked
 * only at quiescence (lost-membership) or by the explorer's own means (deadlock) have none:
 * nothing follows them on their path.
 */
export const SEVERITY: Readonly<
  Record<Exclude<PropertyName, "lost-membership" | "deadlock">, Severity>
> = {
  // CONFIG_DEBUG_LIST (lib/list_debug.c): the check prints "list_add corruption" /
  // "list_del corruption" (a WARN unless CONFIG_BUG_ON_DATA_CORRUPTION) and the operation is
  // refused: __list_add() / __list_del_entry() return without writing. Following a NULL or
  // poisoned pointer (list iteration, list_empty of a poisoned entry's neighbour) is an oops
  // instead, and always ends the path.
  "list-corruption": "warn",
  // a checker invariant: reported, the search goes on (what breaks next is worth seeing)
  "list-integrity": "warn",
  // an access to freed memory is undefined; the kernel usually crashes soon after (KASAN
  // reports it and, with panic_on_warn or at the next use, the CPU dies): ends the path
  "use-after-free": "bug",
  // bad_page() ("BUG: Bad page state") prints, taints, and leaks the page: the free is refused
  // and the kernel goes on
  "bad-page-state": "warn",
  // VM_BUG_ON_PAGE(page_ref_count(page) == 0) in put_page_testzero()
  "refcount-underflow": "bug",
  // VM_BUG_ON_FOLIO(folio_ref_zero_or_close_to_overflow(folio)) in folio_get()
  "bad-get": "bug",
  // VM_BUG_ON(page_count(page) != 0) in page_ref_unfreeze()
  "bad-unfreeze": "bug",
  // VM_BUG_ON_FOLIO(!folio_test_locked(folio)) in folio_unlock()
  "bad-folio-unlock": "bug",
  // CONFIG_DEBUG_SPINLOCK's spin_bug() ("BUG: spinlock already unlocked / wrong owner") and
  // lockdep's "bad unlock balance" print and go on: the unlock still happens
  "bad-unlock": "warn",
  // a checker property: the counter's declared range cannot hold the wrapped value, so the
  // path ends (widen the range to see further)
  "counter-underflow": "bug",
  // a checker property (split_queue_len decremented for a folio it does not count): the
  // decrement happens, as in the kernel, and the search goes on to what it breaks
  "double-unqueue": "warn",
  "stale-membership": "warn",
  "queue-len": "warn",
  "nr-partially-mapped": "warn",
  // NULL pointer dereferences and container_of() of a list head used as an object: oopses
  "null-memcg-deref": "bug",
  // a dereference of a memcg mem_cgroup_css_free() freed: undefined, usually a crash
  "memcg-use-after-free": "bug",
  // VM_WARN_ON_FOLIO(folio_test_partially_mapped(folio), folio) in deferred_split_folio(folio,
  // false): a splat, and the function goes on to queue the folio
  "warn-partially-mapped": "warn",
  "null-deref": "bug",
  "bogus-entry": "bug",
  // lockdep prints "possible circular locking dependency" / "possible recursive locking" once
  // and the kernel goes on; the checker reports it at the end of the search
  "lock-order": "warn",
  // the list_lru ops are one step only under the sublist lock; without it the model cannot
  // show what the unlocked writes would do, so the path ends there
  "list-lru-unlocked": "bug",
  // KCSAN reports a data race and the kernel goes on
  "data-race": "warn",
  // lockdep_assert_held() is WARN_ON(debug_locks && !lockdep_is_held(l)): reported, the
  // access happens anyway (kernel/lockdep.ts). lock-order is found over the whole search, at
  // its end (explore/lockorder.ts): no path follows it
  "wrong-lock": "warn",
};

/** The catalogue property `name` as a `raises` entry of a step, with its catalogue severity. */
export function raise(name: keyof typeof SEVERITY): Raise {
  return { name, severity: SEVERITY[name] };
}

/** Several `raise()`s, for a step's `raises`. */
export function raises(...names: (keyof typeof SEVERITY)[]): Raise[] {
  return names.map(raise);
}

// a step that raises a catalogue property without saying its severity gets the catalogue's
for (const [name, sev] of Object.entries(SEVERITY)) DEFAULT_SEVERITIES.set(name, sev);
