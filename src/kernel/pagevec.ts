// struct folio_batch (include/linux/pagevec.h, v6.18): an on-stack batch of folio pointers,
// `nr` used of PAGEVEC_SIZE (31) slots, and folios_put() (mm/swap.c) dropping one reference of
// each. A batch is a CPU's local: `folioBatch(Folio, size)` in the thread's locals, or
// `kernelLocal("fbatch", folioBatch(...))` from a primitive.
//
// Steps: folio_batch_add() is one step (a store of the pointer and nr++, private to the CPU);
// folios_put() is a loop of one step per folio (the put, with its free path), plus the test.
//
// Left out: percpu_pvec_drained, the `i` cursor of folio_batch_next() (a loop index local
// instead), folios_put_refs()'s batching of the frees and lru removal (each put is the folio's
// own folio_put()).

import { func, step, while_, type Ctx, type Stmt, type StepStmt } from "../model/dsl.ts";
import type { Ref } from "../model/ref.ts";
import {
  array,
  int,
  ptr,
  record,
  SchemaError,
  type ArrayS,
  type IntS,
  type PtrS,
  type RecordS,
} from "../model/schema.ts";
import { ModelError } from "../rt/mem.ts";
import { folioName, type FolioRef } from "./folio.ts";

/** PAGEVEC_SIZE in include/linux/pagevec.h. */
export const PAGEVEC_SIZE = 31;

export type FolioBatchFields<R extends RecordS = RecordS> = {
  nr: IntS;
  /** The cursor folios_put() walks with. */
  i: IntS;
  folios: ArrayS<PtrS<R>>;
};

/** A folio_batch of `size` slots (default PAGEVEC_SIZE) holding pointers to `Folio` records. */
export function folioBatch<R extends RecordS>(
  Folio: R,
  size = PAGEVEC_SIZE,
): RecordS<FolioBatchFields<R>> {
  if (!Number.isInteger(size) || size < 1 || size > PAGEVEC_SIZE)
    throw new SchemaError(`folioBatch: size ${size} is not in 1..${PAGEVEC_SIZE}`);
  return record(
    { nr: int(0, size), i: int(0, size), folios: array(size, ptr(Folio)) },
    "folio_batch",
  );
}

export interface FolioBatchRef {
  readonly nr: Ref<IntS>;
  readonly i: Ref<IntS>;
  readonly folios: {
    readonly length: number;
    readonly [k: number]: Ref<PtrS>;
    at(index: Ref<IntS>): Ref<PtrS> & FolioRef;
  };
}

const count = (c: Ctx, fb: FolioBatchRef): number => c.m.get(fb.nr.$off(c.m.b));

/** folio_batch_init(fb) / folio_batch_reinit(fb): nr = 0. */
export function folio_batch_reinit(fb: FolioBatchRef, fn = "folio_batch_reinit"): StepStmt {
  return step(`${fn}(&fbatch)`, (c) => {
    c.m.set(fb.nr.$off(c.m.b), 0);
    c.m.set(fb.i.$off(c.m.b), 0);
  });
}

/**
 * folio_batch_add(fb, folio): stores the pointer held in `f` (a ptr local) in the next slot and
 * returns the space left (folio_batch_space()), as the kernel does; adding to a full batch is a
 * model error (the kernel's callers check the space first).
 */
export function folio_batch_add(fb: FolioBatchRef, f: Ref<PtrS>): StepStmt {
  return step(
    (c, r) =>
      `folio_batch_add(&fbatch, ${folioName(f as unknown as FolioRef, c.m.b)})${typeof r === "number" ? ` -> ${r} left` : ""}`,
    (c) => {
      const n = count(c, fb);
      const slot = fb.folios[n];
      if (!slot) {
        throw new ModelError(
          "E_BATCH",
          `folio_batch_add: the batch is full (${fb.folios.length} folios)`,
          "test folio_batch_space() before adding, as the kernel's callers do",
        );
      }
      c.m.set(slot.$off(c.m.b), c.m.get(f.$off(c.m.b)));
      c.m.set(fb.nr.$off(c.m.b), n + 1);
      return fb.folios.length - n - 1;
    },
  );
}

/** folio_batch_space(fb) == 0 as a condition. */
export function folio_batch_full(fb: FolioBatchRef): (c: Ctx) => boolean {
  return (c) => count(c, fb) === fb.folios.length;
}

/**
 * `for (i = 0; i < folio_batch_count(fb); i++) body(fbatch.folios[i])`: the body gets the slot
 * ref of the current folio (a FolioRef through the pointer).
 */
export function folio_batch_for_each(
  fb: FolioBatchRef,
  body: (folio: Ref<PtrS> & FolioRef) => Stmt[],
): Stmt {
  const cur = fb.folios.at(fb.i);
  return [
    step("i = 0", (c) => {
      c.m.set(fb.i.$off(c.m.b), 0);
    }),
    while_(
      step(
        (c, r) => `i < folio_batch_count(&fbatch) -> ${r ? "true" : "false"}`,
        (c) => c.m.get(fb.i.$off(c.m.b)) < count(c, fb),
      ),
      [
        ...body(cur),
        step("i++", (c) => {
          c.m.set(fb.i.$off(c.m.b), c.m.get(fb.i.$off(c.m.b)) + 1);
        }),
      ],
    ),
  ];
}

/** folios_put(fb): `put(folio)` (the caller's folio_put with its free path) for each folio, then reinit. */
export function folios_put(fb: FolioBatchRef, put: (folio: Ref<PtrS> & FolioRef) => Stmt): Stmt {
  return func("folios_put", [folio_batch_for_each(fb, (f) => [put(f)])]);
}
