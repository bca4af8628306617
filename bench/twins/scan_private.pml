/*
 * Benchmark twin `scan_private` (see bench/TWIN.md), in Promela: the same model as
 * scan_private.ts, with the same atomic steps (S1..S22, U1..U6 of TWIN.md).
 *
 *   spin -DN=3 -DP=1 -a -o1 -o2 -o3 scan_private.pml
 *   gcc -O2 -DSAFETY -DNOREDUCE -o pan pan.c && ./pan -m10000000
 *
 * Every transition is one d_step; a transition that branches is an `if` whose options each start
 * with a d_step (guard and effect), so that choosing the option and its effect is one step.
 * goto and break cost no transition. Finished processes block on an `end:` label.
 *
 * List pointers are node ids: 0 = the queue head Q, i = F<i>'s _deferred_list, N+1 = the
 * scanner's private list head L. Promela has no initializer for an array whose length is a
 * parameter, so each pointer is stored as its distance (mod N+2) from its initial value
 * (Q <-> F1 <-> ... <-> FN <-> Q, L empty): the initial state is all zeroes, and NEXT()/PREV()
 * decode. The encoding is a bijection, so it changes no state count. Temporaries of the list
 * operations are `hidden` (not part of the state vector).
 */
#ifndef N
#define N 3
#endif
#ifndef P
#define P 1
#endif

#define M (N + 2)
#define Q 0
#define L (N + 1)
#define FREE 255
#define NIL 255        /* NULL node pointer */

#define NEXT0(x) (((x) == N) -> Q : (((x) == L) -> L : (x) + 1))
#define PREV0(x) (((x) == Q) -> N : (((x) == L) -> L : (x) - 1))
#define NEXT(x) ((dnext[x] + NEXT0(x)) % M)
#define PREV(x) ((dprev[x] + PREV0(x)) % M)
#define SET_NEXT(x, v) dnext[x] = ((v) + M - NEXT0(x)) % M
#define SET_PREV(x, v) dprev[x] = ((v) + M - PREV0(x)) % M

/* partially mapped: constant, true for even i */
#define PM(x) (((x) % 2) == 0)

byte dnext[M];
byte dprev[M];
byte lock = FREE;      /* split_queue_lock: FREE or the holder's _pid (= CPU number) */
byte split_queue_len = N;   /* split_queue_len */
byte ref[N + 1] = 1;   /* folio refcount; ref[0] unused */

hidden byte h_prev, h_next, h_first, h_last, h_at;

inline list_del_init(e) {
  h_prev = PREV(e); h_next = NEXT(e);
  SET_PREV(h_next, h_prev); SET_NEXT(h_prev, h_next);
  SET_NEXT(e, e); SET_PREV(e, e)
}

inline list_move(e, h) {
  h_prev = PREV(e); h_next = NEXT(e);
  SET_PREV(h_next, h_prev); SET_NEXT(h_prev, h_next);
  h_next = NEXT(h);
  SET_PREV(h_next, e); SET_NEXT(e, h_next); SET_PREV(e, h); SET_NEXT(h, e)
}

inline list_splice_tail_init(list, head) {
  if
  :: NEXT(list) != list ->
     h_first = NEXT(list); h_last = PREV(list); h_at = PREV(head);
     SET_PREV(h_first, h_at); SET_NEXT(h_at, h_first);
     SET_NEXT(h_last, head); SET_PREV(head, h_last);
     SET_NEXT(list, list); SET_PREV(list, list)
  :: else -> skip
  fi
}

/* folio_put(F<i>): U1..U6. `adv` is added to i by the transition that ends the put (the putters
 * walk their folios with it; the scanner passes 0). */
inline folio_put(i, adv) {
  if
  :: d_step { i <= N && ref[i] > 1 -> ref[i]--; i = i + adv }       /* U1: not the last ref */
  :: d_step { i <= N && ref[i] == 1 -> ref[i]-- }                   /* U1: the last ref */
     d_step { lock == FREE -> lock = _pid };                        /* U2 */
     if
     :: d_step { NEXT(i) != i -> skip };                            /* U3: !list_empty */
        d_step { list_del_init(i) };                                /* U4 */
        d_step { split_queue_len-- }                                            /* U5 */
     :: d_step { NEXT(i) == i -> skip }                             /* U3: list_empty */
     fi;
     d_step { lock = FREE; i = i + adv }                            /* U6 */
  fi
}

/* CPU0 (declared first: _pid 0) */
active proctype deferred_split_scan() {
  /* node pointers start NULL, as in the DSL: starting them at 0 would make "n never assigned"
   * the same state as "n == Q" (TWIN.md) */
  byte pos = NIL, n = NIL, tnext = NIL, tprev = NIL;
  byte removed, i;
  bool held[N + 1];

  d_step { lock == FREE -> lock = _pid };                           /* S1 */
  if                                                                /* S2 */
  :: d_step { NEXT(Q) == Q -> pos = Q }
  :: d_step { NEXT(Q) != Q -> pos = NEXT(Q); n = NEXT(pos) };
S3:  if
     :: d_step { ref[pos] > 0 -> ref[pos]++; held[pos] = true };
        d_step { list_move(pos, L) }                                /* S4 */
     :: d_step { ref[pos] == 0 -> skip };
        d_step { list_del_init(pos) };                              /* S5 */
        d_step { split_queue_len-- }                                            /* S6 */
     fi;
     if                                                             /* S7 */
     :: d_step { n == Q -> pos = n }
     :: d_step { n != Q -> pos = n; n = NEXT(pos) }; goto S3
     fi
  fi;
  d_step { lock = FREE };                                           /* S8 */
  if                                                                /* S9 */
  :: d_step { NEXT(L) == L -> pos = L }
  :: d_step { NEXT(L) != L -> pos = NEXT(L); n = NEXT(pos) };
S10: if
     :: d_step { PM(pos) -> skip }
     :: d_step { !PM(pos) -> skip };
        d_step { tnext = NEXT(pos); tprev = PREV(pos); SET_PREV(tnext, tprev) };   /* S11 */
        d_step { SET_NEXT(tprev, tnext) };                          /* S12 */
        d_step { SET_NEXT(pos, pos) };                              /* S13 */
        d_step { SET_PREV(pos, pos) };                              /* S14 */
        d_step { removed++ }                                        /* S14b */
     fi;
     if                                                             /* S15 */
     :: d_step { n == L -> pos = n }
     :: d_step { n != L -> pos = n; n = NEXT(pos) }; goto S10
     fi
  fi;
  d_step { lock == FREE -> lock = _pid };                           /* S16 */
  d_step { list_splice_tail_init(L, Q) };                           /* S17 */
  d_step { split_queue_len = split_queue_len - removed };                                   /* S18 */
  d_step { lock = FREE };                                           /* S19 */
  d_step { i = 1 };                                                 /* S20 */
S21:
  if
  :: d_step { held[i] -> skip };
     folio_put(i, 0)
  :: d_step { !held[i] -> skip }
  fi;
  if                                                                /* S22 */
  :: d_step { i >= N -> i++ }
  :: d_step { i < N -> i++ }; goto S21
  fi;
end:
  false
}

/* CPU1..P: CPU k puts F<i> for i = k, k+P, k+2P, ...; finished when i > N */
active [P] proctype folio_putter() {
  byte i = _pid;
end:
  do
  :: folio_put(i, P)
  od
}
