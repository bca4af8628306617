// Benchmark twin `scan_private` (see bench/TWIN.md): a deferred-split-queue scan that moves the
// folios it could pin onto a private on-stack list, drops the lock, unqueues the fully mapped
// ones from the private list without the lock (list_del_init split into its four writes), splices
// the rest back and puts its references; P other CPUs each put their own folios meanwhile.
//
// The same model is written in Promela in scan_private.pml, with the same atomic steps, so that
// with reductions off SPIN and interleave store exactly the same number of states. Each step
// below carries its number in TWIN.md (S1..S22, U1..U6).
//
// List pointers are node ids: 0 = the queue head, i = F<i>._deferred_list, N+1 = the scanner's
// private list head. The list operations are written out here (not taken from src/kernel) so that
// their atomicity is exactly TWIN.md's.

import {
  array,
  bool,
  defineModel,
  int,
  listHead,
  listNode,
  loop,
  ModelBuilder,
  nodeptr,
  record,
  spinlock,
  type Ctx,
  type Fields,
  type RecordS,
  type Stmt,
} from "../../src/index.ts";
import type { ThreadRefs } from "../../src/model/model.ts";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.ts";

const Q = 0;

/** next/prev pointer of list node `x` (a node id). */
function next(c: Ctx, x: number): number {
  return c.m.get(c.m.layout.nodes[x]!.nextOff);
}
function prev(c: Ctx, x: number): number {
  return c.m.get(c.m.layout.nodes[x]!.prevOff);
}
function set_next(c: Ctx, x: number, v: number): void {
  c.m.set(c.m.layout.nodes[x]!.nextOff, v);
}
function set_prev(c: Ctx, x: number, v: number): void {
  c.m.set(c.m.layout.nodes[x]!.prevOff, v);
}

function __list_del(c: Ctx, p: number, n: number): void {
  set_prev(c, n, p);
  set_next(c, p, n);
}
function list_del_init(c: Ctx, e: number): void {
  __list_del(c, prev(c, e), next(c, e));
  set_next(c, e, e);
  set_prev(c, e, e);
}
function list_add(c: Ctx, e: number, h: number): void {
  const n = next(c, h);
  set_prev(c, n, e);
  set_next(c, e, n);
  set_prev(c, e, h);
  set_next(c, h, e);
}
function list_move(c: Ctx, e: number, h: number): void {
  __list_del(c, prev(c, e), next(c, e));
  list_add(c, e, h);
}
function list_splice_tail_init(c: Ctx, list: number, head: number): void {
  const first = next(c, list);
  if (first === list) return;
  const last = prev(c, list);
  const at = prev(c, head);
  set_prev(c, first, at);
  set_next(c, at, first);
  set_next(c, last, head);
  set_prev(c, head, last);
  set_next(c, list, list);
  set_prev(c, list, list);
}

export default defineModel({
  name: "scan_private",
  doc: "SPIN twin: a queue scan onto a private list with unlocked removals, racing folio_put()s",
  params: {
    folios: { default: 3, min: 1, max: 16, doc: "N: folios on the deferred split queue" },
    putters: { default: 1, min: 0, max: 4, doc: "P: CPUs putting the folios' references" },
  },
  variants: {
    twin: { options: {}, expect: "holds" },
  },
  build: ({ params }) => {
    const N = params.folios;
    const P = params.putters;
    const Folio = record(
      { _deferred_list: listNode(), refcount: int(0, 3, 1), partially_mapped: bool() },
      "folio",
    );
    const shared = {
      split_queue: listHead({ lock: "split_queue_lock" }),
      split_queue_lock: spinlock(),
      split_queue_len: int(0, N, N),
      folio: array(N, Folio, { label: (i) => `F${i + 1}` }),
    };
    type F = typeof shared;
    // no data-race check: SPIN has none, and the twin must do the same work
    const m = new ModelBuilder(shared, { races: false });
    const lock = m.s.split_queue_lock;

    m.init((s) => {
      // Q <-> F1 <-> ... <-> FN <-> Q; node ids: queue 0, folio i-1 is node i
      s.split_queue.next = 1;
      s.split_queue.prev = N;
      for (let i = 1; i <= N; i++) {
        const f = s.folio[i - 1]!;
        f._deferred_list.next = i === N ? Q : i + 1;
        f._deferred_list.prev = i - 1;
        f.partially_mapped = i % 2 === 0;
      }
    });

    // When every CPU has finished, split_queue_len counts the folios on the queue, and the freed
    // folios (refcount 0) are off it. Checked only in end states, so SPIN's twin needs no match.
    m.endState("split_queue_len", ({ s, m: mem }) => {
      let queued = 0;
      for (
        let x = mem.b[mem.layout.nodes[Q]!.nextOff]!;
        x !== Q;
        x = mem.b[mem.layout.nodes[x]!.nextOff]!
      ) {
        if (++queued > N || x < 1 || x > N) return "the split queue is corrupt";
        if (s.folio[x - 1]!.refcount === 0) return `F${x} is freed but still queued`;
      }
      return (
        queued === s.split_queue_len ||
        `split_queue_len is ${s.split_queue_len}, ${queued} folios queued`
      );
    });

    /** folio_put(F<i>) where i = idx(c): U1..U6 of TWIN.md. */
    const folio_put = <LF extends Fields>(
      t: ThreadRefs<F, LF>,
      idx: (c: Ctx<RecordS<F>, RecordS<LF>>) => number,
      name: string,
    ): Stmt =>
      t.if_(
        t.step(`folio_put(${name})`, (c) => {
          const f = c.s.folio[idx(c) - 1]!;
          f.refcount--; // U1
          return f.refcount === 0;
        }),
        [
          spin_lock(lock), // U2
          t.if_(
            t.step(`!list_empty(&${name}->_deferred_list)`, (c) => next(c, idx(c)) !== idx(c)), // U3
            [
              t.step(`list_del_init(&${name}->_deferred_list)`, (c) => list_del_init(c, idx(c))), // U4
              t.step("split_queue_len--", (c) => {
                c.s.split_queue_len--; // U5
              }),
            ],
          ),
          spin_unlock(lock), // U6
        ],
      );

    // CPU0: the scanner
    m.thread(
      "deferred_split_scan",
      {
        list: listHead(),
        pos: nodeptr(),
        n: nodeptr(),
        removed: int(0, N),
        tnext: nodeptr(),
        tprev: nodeptr(),
        held: array(N, bool()),
        i: int(0, N + 1),
      },
      (t) => {
        const { step, if_ } = t;
        const L = N + 1;
        return [
          spin_lock(lock), // S1
          // list_for_each_entry_safe(folio, next, &ds_queue->split_queue, _deferred_list)
          loop(
            step("list_for_each_entry_safe(&split_queue)", (c) => {
              const l = c.l;
              l.pos = next(c, Q); // S2
              if (l.pos === Q) return false;
              l.n = next(c, l.pos);
              return true;
            }),
            step("list_for_each_entry_safe(&split_queue): advance", (c) => {
              const l = c.l;
              l.pos = l.n; // S7
              if (l.pos === Q) return false;
              l.n = next(c, l.pos);
              return true;
            }),
            [
              if_(
                step("folio_try_get(pos)", (c) => {
                  // S3
                  const f = c.s.folio[c.l.pos - 1]!;
                  if (f.refcount === 0) return false;
                  f.refcount++;
                  c.l.held[c.l.pos - 1] = true;
                  return true;
                }),
                [step("list_move(&pos->_deferred_list, &list)", (c) => list_move(c, c.l.pos, L))], // S4
                [
                  step("list_del_init(&pos->_deferred_list)", (c) => list_del_init(c, c.l.pos)), // S5
                  step("split_queue_len--", (c) => {
                    c.s.split_queue_len--; // S6
                  }),
                ],
              ),
            ],
          ),
          spin_unlock(lock), // S8
          // list_for_each_entry_safe(folio, next, &list, _deferred_list), without the lock
          loop(
            step("list_for_each_entry_safe(&list)", (c) => {
              const l = c.l;
              l.pos = next(c, L); // S9
              if (l.pos === L) return false;
              l.n = next(c, l.pos);
              return true;
            }),
            step("list_for_each_entry_safe(&list): advance", (c) => {
              const l = c.l;
              l.pos = l.n; // S15
              if (l.pos === L) return false;
              l.n = next(c, l.pos);
              return true;
            }),
            [
              if_(
                step(
                  "folio_test_partially_mapped(pos)",
                  (c) => c.s.folio[c.l.pos - 1]!.partially_mapped,
                ), // S10
                [],
                [
                  // list_del_init(&folio->_deferred_list) on the private list: its four writes
                  step("list_del_init [1/4: next->prev = prev]", (c) => {
                    const l = c.l;
                    l.tnext = next(c, l.pos); // S11
                    l.tprev = prev(c, l.pos);
                    set_prev(c, l.tnext, l.tprev);
                  }),
                  step("list_del_init [2/4: prev->next = next]", (c) =>
                    set_next(c, c.l.tprev, c.l.tnext),
                  ), // S12
                  step("list_del_init [3/4: entry->next = entry]", (c) =>
                    set_next(c, c.l.pos, c.l.pos),
                  ), // S13
                  step("list_del_init [4/4: entry->prev = entry]", (c) =>
                    set_prev(c, c.l.pos, c.l.pos),
                  ), // S14
                  step("removed++", (c) => {
                    c.l.removed++; // S14b
                  }),
                ],
              ),
            ],
          ),
          spin_lock(lock), // S16
          step("list_splice_tail_init(&list, &split_queue)", (c) => list_splice_tail_init(c, L, Q)), // S17
          step("split_queue_len -= removed", (c) => {
            c.s.split_queue_len -= c.l.removed; // S18
          }),
          spin_unlock(lock), // S19
          loop(
            step("i = 1", (c) => {
              c.l.i = 1; // S20
              return true;
            }),
            step("i++", (c) => {
              c.l.i++; // S22
              return c.l.i <= N;
            }),
            [
              if_(
                step("held[i]", (c) => c.l.held[c.l.i - 1]!), // S21
                [folio_put(t, (c) => c.l.i, "F[i]")],
              ),
            ],
          ),
        ];
      },
    );

    // CPU1..P: CPU k puts F<i> for i = k, k+P, k+2P, ...
    for (let k = 1; k <= P; k++) {
      m.thread(`folio_put${k}`, {}, (t) => {
        const body: Stmt[] = [];
        for (let i = k; i <= N; i += P) body.push(folio_put(t, () => i, `F${i}`));
        return body;
      });
    }
    return m;
  },
});
