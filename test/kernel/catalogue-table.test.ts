// Every catalogue property (src/kernel/properties.ts) in one table: a scenario that must raise
// it (with the catalogue's severity) and look-alikes that must not. The look-alikes are the
// false alarms users met: LIST_POISON after list_del(), a node in the middle of its own
// deletion, the free-path unqueue of a folio on a scanner's private list (pre-folio_batch scan),
// a folio freed after a clean unqueue, a lock another CPU releases...
import {
  deferredSplitQueue,
  deferred_split_folio,
  unqueue_accounting,
  type DeferredSplit,
} from "../../src/kernel/huge_memory.ts";
import { describe, it, expect } from "vitest";
import { ModelBuilder, type World } from "../../src/model/model.ts";
import type { Stmt } from "../../src/model/dsl.ts";
import { array, int, listHead, ptr, spinlock } from "../../src/model/schema.ts";
import { LIST_POISON1 } from "../../src/model/layout.ts";
import {
  list_add_tail,
  list_del,
  list_del_init,
  list_first_entry,
  list_move,
} from "../../src/kernel/list.ts";
import {
  SINGLE_DEPTH_NESTING,
  spin_lock,
  spin_lock_nested,
  spin_unlock,
} from "../../src/kernel/spinlock.ts";
import {
  counter_dec,
  counter_inc,
  folio,
  folio_get,
  folio_put,
  folio_ref_freeze,
  folio_ref_unfreeze,
  folio_set_partially_mapped,
  folio_try_get,
  folio_trylock,
  folio_unlock,
  free_folio,
  mthpStat,
} from "../../src/kernel/folio.ts";
import {
  memcg_deref,
  memcgTree,
  folio_memcg,
  mem_cgroup_css_free,
  memcg_offline,
} from "../../src/kernel/memcg.ts";
import { splitQueues } from "../../src/kernel/huge_memory.ts";
import {
  __list_lru_add,
  list_lru_lock,
  list_lru_unlock,
  listLru,
  lruKey,
  lruSubLocal,
} from "../../src/kernel/list_lru.ts";
import {
  listIntegrity,
  lostMembership,
  partiallyMappedCounter,
  PROP,
  queueLenConsistent,
  SEVERITY,
  staleMembership,
  useAfterFree,
} from "../../src/kernel/catalogue.ts";
import type { CheckResult } from "../../src/explore/result.ts";
import { run, violated } from "./helpers.ts";

const label = { label: (i: number) => `F${i}` };
type Build = () => ModelBuilder;

interface Row {
  /** The scenario that must raise the property (and its message). */
  readonly raise: Build;
  readonly message: RegExp;
  /** Look-alikes that must not raise it, by name. */
  readonly lookalikes: Readonly<Record<string, Build>>;
}

const node = (w: World, name: string) => w.m.layout.nodes.find((n) => n.name === name)!;

const oneFolioFields = (ref: number) => ({
  folio: array(2, folio({ ref, maxRef: 3 }), label),
  ds: deferredSplitQueue(),
  ds2: deferredSplitQueue(),
  stat: mthpStat(9, 2),
});
type OF = ReturnType<typeof oneFolioFields>;

/** Two folios (F0, F1), two deferred split queues and the statistic; the body adds CPUs. */
function oneFolio(
  body: (m: ModelBuilder<OF>, ds: DeferredSplit) => void,
  opts: { ref?: number; races?: boolean } = {},
): ModelBuilder {
  const m = new ModelBuilder(oneFolioFields(opts.ref ?? 1), { races: opts.races ?? true });
  body(m, { queue: m.s.ds, stat: m.s.stat, doubleUnqueue: true });
  return m as unknown as ModelBuilder;
}

/** F0 on the queue (under its lock), then `then` (also under the lock), then the unlock. */
const queued = (m: ModelBuilder<OF>, then: Stmt[]): Stmt[] => [
  spin_lock(m.s.ds.split_queue_lock),
  list_add_tail(m.s.folio[0]!._deferred_list, m.s.ds.split_queue),
  counter_inc(m.s.ds.split_queue_len),
  ...then,
  spin_unlock(m.s.ds.split_queue_lock),
];

const table: Record<string, Row> = {
  [PROP.listCorruption]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s }) =>
          queued(m, [list_del(s.folio[0]!._deferred_list), list_del(s.folio[0]!._deferred_list)]),
        );
      }),
    message: /list_del corruption: F0\._deferred_list->next is LIST_POISON1/,
    lookalikes: {
      // a deleted (poisoned) entry may be added again: __list_add does not look at new's pointers
      "list_add of an entry poisoned by list_del": () =>
        oneFolio((m) => {
          m.thread("t", {}, ({ s }) =>
            queued(m, [
              list_del(s.folio[0]!._deferred_list),
              list_add_tail(s.folio[0]!._deferred_list, s.ds.split_queue),
              list_del_init(s.folio[0]!._deferred_list),
            ]),
          );
        }),
    },
  },
  [PROP.listIntegrity]: {
    raise: () => {
      const m = new ModelBuilder({ folio: array(1, folio(), label), ds: deferredSplitQueue() });
      m.init((s) => {
        // head->next = F0, F0->next = head, F0->prev = head, but head->prev = head
        const h = s.ds.split_queue;
        const n = s.folio[0]!._deferred_list;
        h.next = n.id;
        n.next = h.id;
        n.prev = h.id;
      });
      m.thread("t", {}, () => []);
      listIntegrity(m, [m.s.ds]);
      return m as unknown as ModelBuilder;
    },
    message:
      /ds\.split_queue: F0\._deferred_list->next is ds\.split_queue but ds\.split_queue->prev/,
    lookalikes: {
      // torn between the writes of an unlocked list_add_tail, but whole at quiescence
      "a private list torn in the middle of an operation": () => {
        const m = new ModelBuilder({ folio: array(1, folio(), label), priv: listHead() });
        m.thread("t", {}, ({ s }) => [list_add_tail(s.folio[0]!._deferred_list, s.priv)]);
        listIntegrity(m, [m.s.priv]);
        return m as unknown as ModelBuilder;
      },
    },
  },
  [PROP.useAfterFree]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s }) => [
          ...queued(m, []),
          folio_put(s.folio[0]!, [free_folio(s.folio[0]!, { checkDeferredList: false })]),
        ]);
        useAfterFree(m, m.s.folio);
      }),
    message: /F0 was freed while still linked on ds\.split_queue/,
    lookalikes: {
      // list_del() leaves LIST_POISON in the freed folio's own node: nobody follows it
      "a freed folio whose _deferred_list holds LIST_POISON after list_del()": () =>
        oneFolio((m) => {
          m.thread("t", {}, ({ s }) => [
            ...queued(m, [list_del(s.folio[0]!._deferred_list)]),
            folio_put(s.folio[0]!, [free_folio(s.folio[0]!, { checkDeferredList: false })]),
          ]);
          useAfterFree(m, m.s.folio);
          // witness: the state the old check called a use-after-free is reached
          m.invariant("witness-poisoned-and-freed", (w: World) => {
            const b = w.m.b;
            const n = node(w, "F0._deferred_list");
            return !(b[n.nextOff] === LIST_POISON1 && (w.s as any).folio[0].freed) || "reached";
          });
        }),
      // CPU0 unlinks F0 from a private list (its four writes); once it is off the list (its
      // ->next still F1), CPU1 deletes F1 and frees it: F0's stale ->next is followed by nobody
      "the stale ->next of a node in the middle of its own deletion": () => {
        const m = new ModelBuilder(
          { folio: array(2, folio(), label), priv: listHead() },
          { races: false },
        );
        m.init((s) => {
          const h = s.priv;
          const a = s.folio[0]!._deferred_list;
          const f = s.folio[1]!._deferred_list;
          h.next = a.id;
          a.next = f.id;
          f.next = h.id;
          h.prev = f.id;
          f.prev = a.id;
          a.prev = h.id;
        });
        m.thread("del", {}, ({ s }) => [list_del_init(s.folio[0]!._deferred_list)]);
        m.thread("free", {}, ({ s, wait_until }) => [
          wait_until("priv.next == F1", (c) => c.s.priv.next === c.s.folio[1]!._deferred_list.id),
          list_del_init(s.folio[1]!._deferred_list),
          free_folio(s.folio[1]!),
        ]);
        useAfterFree(m, m.s.folio);
        m.invariant("witness-stale-next", (w: World) => {
          const b = w.m.b;
          const stale = b[node(w, "F0._deferred_list").nextOff] === node(w, "F1._deferred_list").id;
          return !(stale && (w.s as any).folio[1].freed) || "reached";
        });
        return m as unknown as ModelBuilder;
      },
      "a folio freed after a clean unqueue": () =>
        oneFolio(
          (m, ds) => {
            m.thread("t", {}, ({ s }) => [
              deferred_split_folio(s.folio[0]!, ds, true),
              folio_put(s.folio[0]!, ds),
            ]);
            useAfterFree(m, m.s.folio);
          },
          { ref: 1 },
        ),
    },
  },
  [PROP.badPageState]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s }) => [
          ...queued(m, []),
          folio_put(s.folio[0]!, [free_folio(s.folio[0]!)]),
        ]);
      }),
    message: /Bad page state: F0 freed while on a deferred list \(ds\.split_queue\)/,
    lookalikes: {
      "a queued folio put with the unqueueing free path": () =>
        oneFolio((m, ds) => {
          m.thread("t", {}, ({ s }) => [...queued(m, []), folio_put(s.folio[0]!, ds)]);
        }),
    },
  },
  [PROP.refcountUnderflow]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s, if_ }) => [
          if_(folio_ref_freeze(s.folio[0]!, 1), [folio_put(s.folio[0]!)]),
        ]);
      }),
    message: /folio_put\(F0\): _refcount is already 0/,
    lookalikes: {
      "a put after the unfreeze": () =>
        oneFolio((m) => {
          m.thread("t", {}, ({ s, if_ }) => [
            if_(folio_ref_freeze(s.folio[0]!, 1), [folio_ref_unfreeze(s.folio[0]!, 1)]),
            folio_put(s.folio[0]!),
          ]);
        }),
    },
  },
  [PROP.badGet]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s, if_ }) => [
          if_(folio_ref_freeze(s.folio[0]!, 1), [folio_get(s.folio[0]!)]),
        ]);
      }),
    message: /folio_get\(F0\) on a zero refcount/,
    lookalikes: {
      "folio_try_get of a frozen folio fails quietly": () =>
        oneFolio((m) => {
          m.thread("t", {}, ({ s, if_ }) => [
            if_(folio_ref_freeze(s.folio[0]!, 1), [
              if_(folio_try_get(s.folio[0]!), [folio_put(s.folio[0]!)]),
              folio_ref_unfreeze(s.folio[0]!, 1),
            ]),
          ]);
        }),
    },
  },
  [PROP.badUnfreeze]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s }) => [folio_ref_unfreeze(s.folio[0]!, 1)]);
      }),
    message: /folio_ref_unfreeze\(F0, 1\): _refcount is 1, not 0/,
    lookalikes: {
      "freeze then unfreeze": () =>
        oneFolio((m) => {
          m.thread("t", {}, ({ s, if_ }) => [
            if_(folio_ref_freeze(s.folio[0]!, 1), [folio_ref_unfreeze(s.folio[0]!, 1)]),
          ]);
        }),
    },
  },
  [PROP.badFolioUnlock]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s }) => [folio_unlock(s.folio[0]!)]);
      }),
    message: /folio_unlock\(F0\): the folio is not locked/,
    lookalikes: {
      "unlock after a successful trylock, by either of two CPUs": () =>
        oneFolio((m) => {
          for (const n of ["a", "b"])
            m.thread(n, {}, ({ s, if_ }) => [
              if_(folio_trylock(s.folio[0]!), [folio_unlock(s.folio[0]!)]),
            ]);
        }),
    },
  },
  [PROP.badUnlock]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s }) => [spin_unlock(s.ds.split_queue_lock)]);
      }),
    message: /spin_unlock\(&ds\.split_queue_lock\) by CPU0, but the lock is unlocked/,
    lookalikes: {
      "two CPUs locking and unlocking in turn": () =>
        oneFolio((m) => {
          for (const n of ["a", "b"])
            m.thread(n, {}, ({ s }) => [
              spin_lock(s.ds.split_queue_lock),
              spin_unlock(s.ds.split_queue_lock),
            ]);
        }),
    },
  },
  [PROP.counterUnderflow]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s }) => [counter_dec(s.ds.split_queue_len)]);
      }),
    message: /ds\.split_queue_len -= 1 takes it from 0 below 0/,
    lookalikes: {
      "a decrement after an increment": () =>
        oneFolio((m) => {
          m.thread("t", {}, ({ s }) => [
            spin_lock(s.ds.split_queue_lock),
            counter_inc(s.ds.split_queue_len),
            counter_dec(s.ds.split_queue_len),
            spin_unlock(s.ds.split_queue_lock),
          ]);
        }),
    },
  },
  [PROP.wrongLock]: {
    // split_queue_len is protected by split_queue_lock (lockdep_assert_held in the kernel)
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s }) => [counter_inc(s.ds.split_queue_len)]);
      }),
    message: /split_queue_len.*split_queue_lock/,
    lookalikes: {
      "the counter under its own queue's lock": () =>
        oneFolio((m) => {
          m.thread("t", {}, ({ s }) => [
            spin_lock(s.ds.split_queue_lock),
            counter_inc(s.ds.split_queue_len),
            spin_unlock(s.ds.split_queue_lock),
          ]);
        }),
      "a list_add_tail under the queue's lock": () =>
        oneFolio((m) => {
          m.thread("t", {}, () => queued(m, []));
        }),
    },
  },
  [PROP.lockOrder]: {
    // two locks of one class nested without an annotation: lockdep's possible recursive locking
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s }) => [
          spin_lock(s.ds.split_queue_lock),
          spin_lock(s.ds2.split_queue_lock),
          spin_unlock(s.ds2.split_queue_lock),
          spin_unlock(s.ds.split_queue_lock),
        ]);
      }),
    message: /possible recursive locking/,
    lookalikes: {
      "the same nesting annotated with spin_lock_nested()": () =>
        oneFolio((m) => {
          m.thread("t", {}, ({ s }) => [
            spin_lock(s.ds.split_queue_lock),
            spin_lock_nested(s.ds2.split_queue_lock, SINGLE_DEPTH_NESTING),
            spin_unlock(s.ds2.split_queue_lock),
            spin_unlock(s.ds.split_queue_lock),
          ]);
        }),
      "the two locks taken one after the other, on two CPUs": () =>
        oneFolio((m) => {
          for (const n of ["a", "b"])
            m.thread(n, {}, ({ s }) => [
              spin_lock(s.ds.split_queue_lock),
              spin_unlock(s.ds.split_queue_lock),
              spin_lock(s.ds2.split_queue_lock),
              spin_unlock(s.ds2.split_queue_lock),
            ]);
        }),
    },
  },
  [PROP.doubleUnqueue]: {
    raise: () =>
      oneFolio((m, ds) => {
        m.thread("t", {}, ({ s }) =>
          queued(m, [
            unqueue_accounting(s.folio[0]!, ds),
            list_del_init(s.folio[0]!._deferred_list),
            counter_inc(s.ds.split_queue_len),
            unqueue_accounting(s.folio[0]!, ds),
          ]),
        );
      }),
    message: /decremented for F0, which it does not count \(its _deferred_list is empty/,
    lookalikes: {
      // v6.7..v6.17: the scanner list_move()s the folio it pinned to its on-stack list without
      // split_queue_len--; the last folio_put (the scanner's or the owner's) runs the free path,
      // whose unqueue takes the folio off the private list and rightly decrements the length
      "the free-path unqueue of a folio on a scanner's private list (pre-folio_batch)": () =>
        oneFolio(
          (m, ds) => {
            m.init((s) => {
              // F0 queued, its owner holding the one reference
              const h = s.ds.split_queue;
              const n = s.folio[0]!._deferred_list;
              h.next = h.prev = n.id;
              n.next = n.prev = h.id;
              s.ds.split_queue_len = 1;
            });
            m.thread("owner", {}, ({ s }) => [folio_put(s.folio[0]!, ds)]);
            m.thread("scan", { list: listHead() }, ({ s, l, if_ }) => [
              spin_lock(s.ds.split_queue_lock),
              if_(
                folio_try_get(s.folio[0]!),
                [
                  list_move(s.folio[0]!._deferred_list, l.list),
                  spin_unlock(s.ds.split_queue_lock),
                  folio_put(s.folio[0]!, ds),
                ],
                [spin_unlock(s.ds.split_queue_lock)],
              ),
            ]);
            m.endState("freed", (w: World) => {
              const s = w.s as unknown as {
                folio: { freed: boolean }[];
                ds: { split_queue_len: number };
              };
              return (s.folio[0]!.freed && s.ds.split_queue_len === 0) || "F0 not freed cleanly";
            });
            // witness: the free path's unqueue does run with F0 on the private list
            m.invariant("witness-unqueued-from-private-list", (w: World) => {
              const b = w.m.b;
              const n = node(w, "F0._deferred_list");
              const onPrivate = b[n.nextOff] === node(w, "CPU1.list").id;
              const put = (w.s as unknown as { folio: { _refcount: number }[] }).folio[0]!
                ._refcount;
              return !(onPrivate && put === 0) || "reached";
            });
          },
          { races: false },
        ),
      "a folio freed after a clean unqueue": () =>
        oneFolio((m, ds) => {
          m.thread("t", {}, ({ s }) => [
            deferred_split_folio(s.folio[0]!, ds, false),
            spin_lock(s.ds.split_queue_lock),
            unqueue_accounting(s.folio[0]!, ds),
            list_del_init(s.folio[0]!._deferred_list),
            spin_unlock(s.ds.split_queue_lock),
            folio_put(s.folio[0]!, ds),
          ]);
        }),
    },
  },
  [PROP.staleMembership]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("scan", { list: listHead() }, ({ s, l }) =>
          queued(m, [list_move(s.folio[0]!._deferred_list, l.list)]),
        );
        staleMembership(m, m.s.folio, [m.s.ds]);
      }),
    message: /!list_empty\(&F0->_deferred_list\) but F0 is on no queue \(it is on CPU0\.list\)/,
    lookalikes: {
      "a folio taken off the queue with list_del_init": () =>
        oneFolio((m) => {
          m.thread("t", {}, ({ s }) => queued(m, [list_del_init(s.folio[0]!._deferred_list)]));
          staleMembership(m, m.s.folio, [m.s.ds]);
        }),
    },
  },
  [PROP.queueLen]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s }) => [
          spin_lock(s.ds.split_queue_lock),
          list_add_tail(s.folio[0]!._deferred_list, s.ds.split_queue),
          spin_unlock(s.ds.split_queue_lock),
        ]);
        queueLenConsistent(m, m.s.ds);
      }),
    message: /ds\.split_queue_len is 0 but ds\.split_queue holds 1 entry/,
    lookalikes: {
      // between the add and the increment the length is off, but the lock is held
      "the length updated after the add, under the lock": () =>
        oneFolio((m) => {
          m.thread("t", {}, () => queued(m, []));
          queueLenConsistent(m, m.s.ds);
        }),
    },
  },
  [PROP.lostMembership]: {
    raise: () =>
      oneFolio(
        (m, ds) => {
          m.thread("t", {}, ({ s }) => [
            deferred_split_folio(s.folio[0]!, ds, true),
            spin_lock(s.ds.split_queue_lock),
            list_del_init(s.folio[0]!._deferred_list),
            spin_unlock(s.ds.split_queue_lock),
          ]);
          lostMembership(m, m.s.folio, [m.s.ds]);
        },
        { ref: 2 },
      ),
    message: /F0 is partially mapped and live but on no deferred split queue/,
    lookalikes: {
      "a partially mapped folio freed off the queue": () =>
        oneFolio((m, ds) => {
          m.thread("t", {}, ({ s }) => [
            deferred_split_folio(s.folio[0]!, ds, true),
            folio_put(s.folio[0]!, ds),
          ]);
          lostMembership(m, m.s.folio, [m.s.ds]);
        }),
    },
  },
  [PROP.nrPartiallyMapped]: {
    raise: () =>
      oneFolio((m) => {
        m.thread("t", {}, ({ s }) => [folio_set_partially_mapped(s.folio[1]!)]);
        partiallyMappedCounter(m, m.s.folio, m.s.stat[9]!, [m.s.ds.split_queue_lock]);
      }),
    message: /stat\[9\] is 0 but 1 folio has PG_partially_mapped set/,
    lookalikes: {
      // flag and statistic set in one step under the queue lock
      "deferred_split_folio(folio, true)": () =>
        oneFolio((m, ds) => {
          m.thread("t", {}, ({ s }) => [deferred_split_folio(s.folio[1]!, ds, true)]);
          partiallyMappedCounter(m, m.s.folio, m.s.stat[9]!, [m.s.ds.split_queue_lock]);
        }),
    },
  },
  [PROP.nullMemcgDeref]: {
    raise: () => memcgScenario(true),
    message: /NULL memcg dereference: memcg->kmemcg_id \(memory cgroups are disabled at boot\)/,
    lookalikes: { "the same with memory cgroups enabled": () => memcgScenario(false) },
  },
  [PROP.listLruUnlocked]: {
    raise: () => lruScenario(false),
    message: /__list_lru_add: CPU0 does not hold lru\.node\[0\]\.lru\.lock/,
    lookalikes: { "__list_lru_add between list_lru_lock and unlock": () => lruScenario(true) },
  },
  [PROP.bogusEntry]: {
    raise: () => firstEntry(false),
    message: /container_of\(\) of a list head/,
    lookalikes: { "list_first_entry of a non-empty list": () => firstEntry(true) },
  },
  [PROP.nullDeref]: {
    raise: () => derefScenario(false),
    message: /NULL pointer dereference: l\.folio->_refcount/,
    lookalikes: { "the pointer set before it is followed": () => derefScenario(true) },
  },
  [PROP.deadlock]: {
    raise: () => lockOrder(true),
    message: /deadlock: no CPU can make progress/,
    lookalikes: {
      // a CPU spinning on a lock that the other releases is not stuck
      "both CPUs take the locks in the same order": () => lockOrder(false),
    },
  },
  [PROP.dataRace]: {
    raise: () => raceScenario("marked-vs-plain"),
    message:
      /data race on x: CPU0 marked reads x .* while CPU1 plain writes x .*; the plain access is CPU1's write/,
    lookalikes: {
      "data_race() read against a plain write": () => raceScenario("data_race-vs-plain"),
      "both accesses marked": () => raceScenario("marked-vs-marked"),
      "both under the lock, taken in the same step as the access": () =>
        raceScenario("locked-in-step"),
    },
  },
  [PROP.memcgUseAfterFree]: {
    raise: () => memcgLookup(true),
    message: /memcg2, which mem_cgroup_css_free\(\) already freed/,
    lookalikes: {
      "the memcg is offline (dying) but not freed: the lookup walks to its parent": () =>
        memcgLookup(false),
    },
  },
  [PROP.warnPartiallyMapped]: {
    raise: () => warnPartially(false),
    message:
      /VM_WARN_ON_FOLIO: deferred_split_folio\(F0, false\) on a folio that is partially mapped/,
    lookalikes: {
      "deferred_split_folio(folio, true) of a partially mapped folio": () => warnPartially(true),
    },
  },
};

function memcgScenario(disabled: boolean): ModelBuilder {
  const m = new ModelBuilder({
    folio: array(1, folio({ memcgs: 2, memcg: 1 }), label),
    memcgs: memcgTree({ count: 2, disabled }),
  });
  m.thread("t", { memcg: int(-1, 1) }, ({ l }) => [
    folio_memcg(l.memcg, m.s.memcgs, m.s.folio[0]!),
    memcg_deref(m.s.memcgs, l.memcg, "memcg->kmemcg_id"),
  ]);
  return m as unknown as ModelBuilder;
}

function lruScenario(locked: boolean): ModelBuilder {
  const S = listLru();
  const m = new ModelBuilder({ folio: array(1, folio(), label), lru: S });
  m.thread("t", { l: lruSubLocal(S) }, ({ l, step }) =>
    locked
      ? [
          list_lru_lock(m.s.lru, lruKey(0), l.l),
          __list_lru_add(m.s.lru, l.l, m.s.folio[0]!._deferred_list),
          list_lru_unlock(m.s.lru, l.l),
        ]
      : [
          step("l = node 0", ({ l }) => void (l.l = 0)),
          __list_lru_add(m.s.lru, l.l, m.s.folio[0]!._deferred_list),
        ],
  );
  return m as unknown as ModelBuilder;
}

function firstEntry(nonEmpty: boolean): ModelBuilder {
  const Folio = folio();
  const m = new ModelBuilder({
    folio: array(1, Folio, label),
    lock: spinlock(),
    queue: listHead({ lock: "lock" }),
  });
  m.thread("t", { folio: ptr(Folio) }, ({ l }) => [
    ...(nonEmpty
      ? [
          spin_lock(m.s.lock),
          list_add_tail(m.s.folio[0]!._deferred_list, m.s.queue),
          spin_unlock(m.s.lock),
        ]
      : []),
    list_first_entry(l.folio, m.s.queue),
    folio_get(l.folio),
  ]);
  return m as unknown as ModelBuilder;
}

function derefScenario(set: boolean): ModelBuilder {
  const Folio = folio();
  const m = new ModelBuilder({ folio: array(1, Folio, label) }, { races: false });
  m.thread("t", { folio: ptr(Folio) }, ({ l, step }) => [
    ...(set ? [step("folio = F0", ({ l }) => void (l.folio = 0))] : []),
    step("folio->_refcount", (c) => l.folio._refcount.$off(c.m.b)),
  ]);
  return m as unknown as ModelBuilder;
}

function lockOrder(abba: boolean): ModelBuilder {
  const m = new ModelBuilder({ a: spinlock(), b: spinlock() });
  m.thread("ab", {}, ({ s }) => [
    spin_lock(s.a),
    spin_lock(s.b),
    spin_unlock(s.b),
    spin_unlock(s.a),
  ]);
  m.thread("ba", {}, ({ s }) =>
    abba
      ? [spin_lock(s.b), spin_lock(s.a), spin_unlock(s.a), spin_unlock(s.b)]
      : [spin_lock(s.a), spin_lock(s.b), spin_unlock(s.b), spin_unlock(s.a)],
  );
  return m as unknown as ModelBuilder;
}

type RaceKind = "marked-vs-plain" | "data_race-vs-plain" | "marked-vs-marked" | "locked-in-step";

function raceScenario(kind: RaceKind): ModelBuilder {
  const m = new ModelBuilder({ x: int(0, 1), lock: spinlock() });
  const lockOff = (c: { m: { b: Int32Array } }): number => m.s.lock.$off(c.m.b);
  // CPU0 reads x, CPU1 writes it
  m.thread("reader", { v: int(0, 1) }, ({ step }) => [
    step(
      "v = x",
      (c) => {
        const off = m.s.x.$off(c.m.b);
        if (kind === "locked-in-step") {
          c.m.setMarked(lockOff(c), c.cpu);
          c.l.v = c.m.get(off);
          c.m.setMarked(lockOff(c), -1);
        } else
          c.l.v =
            kind === "data_race-vs-plain" ? c.m.dataRace(() => c.m.get(off)) : c.m.getMarked(off);
      },
      { guard: (c) => c.m.b[lockOff(c)] === -1 },
    ),
  ]);
  m.thread("writer", {}, ({ step }) => [
    step(
      "x = 1",
      (c) => {
        const off = m.s.x.$off(c.m.b);
        if (kind === "locked-in-step") {
          c.m.setMarked(lockOff(c), c.cpu);
          c.m.set(off, 1);
          c.m.setMarked(lockOff(c), -1);
        } else if (kind === "marked-vs-marked") c.m.setMarked(off, 1);
        else c.m.set(off, 1);
      },
      { guard: (c) => c.m.b[lockOff(c)] === -1 },
    ),
  ]);
  return m as unknown as ModelBuilder;
}

describe("the catalogue: every property raised by one scenario, kept by its look-alikes", () => {
  it("covers every property of the catalogue", () => {
    expect(Object.keys(table).sort()).toEqual(Object.values(PROP).sort());
  });

  for (const [prop, row] of Object.entries(table)) {
    describe(prop, () => {
      it("is raised, with its catalogue severity", async () => {
        const r = await run(row.raise);
        const v = r.violations.find((x) => x.property === prop);
        expect(v, `${prop} not raised; got ${violated(r).join(", ")}`).toBeDefined();
        expect(v!.message).toMatch(row.message);
        const sev = (SEVERITY as Record<string, string>)[prop];
        expect(v!.severity).toBe(sev);
      });
      for (const [name, build] of Object.entries(row.lookalikes)) {
        it(`is not raised by a look-alike: ${name}`, async () => {
          const r: CheckResult = await run(build);
          expect(r.verdict).not.toBe("error");
          expect(r.complete).toBe(true);
          // only the witnesses (what the look-alike is meant to reach) may break
          expect(violated(r).filter((p) => !p.startsWith("witness-"))).toEqual([]);
          for (const w of r.violations) expect(w.message).toBe("reached");
        });
      }
    });
  }

  it("the witnesses of the look-alikes are reached (they test the case they name)", async () => {
    const rows = table[PROP.useAfterFree]!.lookalikes;
    for (const name of [
      "a freed folio whose _deferred_list holds LIST_POISON after list_del()",
      "the stale ->next of a node in the middle of its own deletion",
    ]) {
      const r = await run(rows[name]!);
      expect(
        violated(r).filter((p) => p.startsWith("witness-")),
        name,
      ).toHaveLength(1);
    }
    const pl = await run(
      table[PROP.doubleUnqueue]!.lookalikes[
        "the free-path unqueue of a folio on a scanner's private list (pre-folio_batch)"
      ]!,
    );
    expect(violated(pl)).toEqual(["witness-unqueued-from-private-list"]);
  });

  it("double-unqueue also catches the wrong queue (a folio on another queue's list)", async () => {
    const r = await run(() =>
      oneFolio((m) => {
        const ds2: DeferredSplit = { queue: m.s.ds2, doubleUnqueue: true };
        // queued on ds, then accounted as unqueued from ds2 (one lock at a time: nesting two
        // queue locks would be lockdep's recursive locking)
        m.thread("t", {}, ({ s }) => [
          spin_lock(s.ds.split_queue_lock),
          list_add_tail(s.folio[0]!._deferred_list, s.ds.split_queue),
          counter_inc(s.ds.split_queue_len),
          spin_unlock(s.ds.split_queue_lock),
          spin_lock(s.ds2.split_queue_lock),
          counter_inc(s.ds2.split_queue_len),
          unqueue_accounting(s.folio[0]!, ds2),
          spin_unlock(s.ds2.split_queue_lock),
        ]);
      }),
    );
    expect(violated(r)).toEqual([PROP.doubleUnqueue]);
    expect(r.violations[0]!.message).toMatch(
      /length of ds2\.split_queue is decremented for F0, which it does not count \(it is on ds\.split_queue, another queue\)/,
    );
  });

  it("bad-unlock of a list_lru sublist is a warning too: reported, and the CPU goes on", async () => {
    const r = await run(() => {
      const S = listLru();
      const m = new ModelBuilder({ folio: array(1, folio(), label), lru: S, after: int(0, 1) });
      m.thread("t", { l: lruSubLocal(S) }, ({ l, step }) => [
        step("l = node 0", ({ l }) => void (l.l = 0)),
        list_lru_unlock(m.s.lru, l.l),
        step("after = 1", ({ s }) => void (s.after = 1)),
      ]);
      m.endState("went-on", ({ s }) => s.after === 1 || "stopped");
      return m as unknown as ModelBuilder;
    });
    expect(r.violations.map((v) => [v.property, v.severity])).toEqual([["bad-unlock", "warn"]]);
  });
});

/** deferred_split_folio() of a folio charged to memcg2, after memcg2 was freed or only offlined. */
function memcgLookup(freed: boolean): ModelBuilder {
  const m = new ModelBuilder({
    memcgs: memcgTree({ count: 3, parents: [-1, 0, 1] }),
    queues: splitQueues({ nodes: 1, memcgs: 3 }),
    folio: array(1, folio({ memcgs: 3, memcg: 2 }), label),
  });
  const d: DeferredSplit = { queue: m.s.queues, mc: m.s.memcgs };
  m.thread("t", {}, ({ s }) => [
    freed ? mem_cgroup_css_free(m.s.memcgs, 2) : memcg_offline(m.s.memcgs, 2),
    deferred_split_folio(s.folio[0]!, d, true),
  ]);
  return m as unknown as ModelBuilder;
}

/** deferred_split_folio(F0, partially_mapped) of a folio that is partially mapped already. */
function warnPartially(partially: boolean): ModelBuilder {
  const m = new ModelBuilder({
    folio: array(1, folio({ partiallyMapped: true }), label),
    queues: splitQueues(),
  });
  m.thread("t", {}, ({ s }) => [
    deferred_split_folio(s.folio[0]!, { queue: m.s.queues }, partially),
  ]);
  return m as unknown as ModelBuilder;
}
