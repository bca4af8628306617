// Bit operations on a flags word, as include/asm-generic/bitops/ defines them:
//
// - atomic.h (and instrumented-atomic.h): set_bit, clear_bit, test_and_set_bit,
//   test_and_clear_bit, and the _lock/_unlock forms (clear_bit_unlock, test_and_set_bit_lock):
//   one atomic read-modify-write of the whole word. Here: one step, a marked read and a marked
//   write (KCSAN instruments them as atomic accesses; never part of a data race).
// - generic-non-atomic.h (and instrumented-non-atomic.h): __set_bit, __clear_bit: a plain load
//   of the word, the bit changed in a register, a plain store of the word. Here: two steps, so
//   that another CPU's update of a neighbouring bit between them is lost, as on real hardware;
//   both accesses are plain (KCSAN instruments __set_bit as a plain write).
// - test_bit: a single read of the word (instrumented as an atomic read): one marked read.
//
// A bit is named by a BitRef: `F1.flags.PG_locked`, or a bitOf() alias such as
// `F1.partially_mapped`. The word a non-atomic op has loaded is kept in the CPU's `__bits`
// register (allocated by compileModel when some thread runs a non-atomic bitop), and cleared
// by the store.

import { boolResult, step, type Ctx, type Stmt, type StepStmt } from "../model/dsl.ts";
import type { BitRef } from "../model/ref.ts";
import { ModelError, type Mem } from "../rt/mem.ts";
import { NEEDS_BITS_REG } from "../model/layout.ts";

/** `&F1.flags` as a trace shows it. */
function wordText(bit: BitRef, b: Int32Array): string {
  return `&${bit.$word.$name(b)}`;
}

// ---------------------------------------------------------------------------------------------
// In-step forms (inside a larger atomic step written by a primitive or a model)

/** test_bit(): a marked read of the word; whether the bit is set. */
export function testBit(c: { m: Mem }, bit: BitRef): boolean {
  return (c.m.getMarked(bit.$word.$off(c.m.b)) & bit.$mask) !== 0;
}

/**
 * Sets (v = true) or clears the bit inside the current step: `atomic` is set_bit/clear_bit (a
 * marked read-modify-write), otherwise __set_bit/__clear_bit with its load and store in the same
 * step (plain accesses; use the statements below to let another CPU in between).
 * Returns the bit's old value (test_and_set_bit / test_and_clear_bit).
 */
export function writeBit(c: { m: Mem }, bit: BitRef, v: boolean, atomic: boolean): boolean {
  const m = c.m;
  const off = bit.$word.$off(m.b);
  const w = atomic ? m.getMarked(off) : m.get(off);
  const nw = v ? w | bit.$mask : w & ~bit.$mask;
  if (atomic) m.setMarked(off, nw);
  else m.set(off, nw);
  return (w & bit.$mask) !== 0;
}

// ---------------------------------------------------------------------------------------------
// Statements

function atomicOp(fn: string, bit: BitRef, v: boolean): StepStmt {
  return step(
    (c) => `${fn}(${bit.$bit}, ${wordText(bit, c.m.b)})`,
    (c) => {
      writeBit(c, bit, v, true);
    },
  );
}

/** set_bit(nr, addr): atomic, one step. */
export const set_bit = (bit: BitRef): StepStmt => atomicOp("set_bit", bit, true);
/** clear_bit(nr, addr): atomic, one step. */
export const clear_bit = (bit: BitRef): StepStmt => atomicOp("clear_bit", bit, false);
/** clear_bit_unlock(nr, addr): atomic with release ordering, one step. */
export const clear_bit_unlock = (bit: BitRef): StepStmt => atomicOp("clear_bit_unlock", bit, false);

function testAndOp(fn: string, bit: BitRef, v: boolean): StepStmt {
  return step(
    (c, r) => `${fn}(${bit.$bit}, ${wordText(bit, c.m.b)}) -> ${boolResult(r)}`,
    (c) => writeBit(c, bit, v, true),
  );
}

/** test_and_set_bit(nr, addr) as a condition: atomic; the bit's old value. */
export const test_and_set_bit = (bit: BitRef): StepStmt => testAndOp("test_and_set_bit", bit, true);
/** test_and_set_bit_lock(nr, addr): the same with acquire ordering. */
export const test_and_set_bit_lock = (bit: BitRef): StepStmt =>
  testAndOp("test_and_set_bit_lock", bit, true);
/** test_and_clear_bit(nr, addr) as a condition: atomic; the bit's old value. */
export const test_and_clear_bit = (bit: BitRef): StepStmt =>
  testAndOp("test_and_clear_bit", bit, false);

/** test_bit(nr, addr) as a condition: one marked read. */
export function test_bit(bit: BitRef): StepStmt {
  return step(
    (c, r) => `test_bit(${bit.$bit}, ${wordText(bit, c.m.b)}) -> ${boolResult(r)}`,
    (c) => testBit(c, bit),
  );
}

/** Offset of CPU c.cpu's `__bits` register, or a model error saying what is missing. */
function bitsReg(c: Ctx, fn: string, bit: BitRef): number {
  const off = c.m.layout.bitsReg[c.cpu];
  if (off === undefined) {
    throw new ModelError(
      "E_MODEL",
      `${fn}(${bit.$bit}, &${bit.$word.$text}): the non-atomic bitops keep the loaded word in a register that ` +
        `this model did not allocate`,
      "use __set_bit/__clear_bit as statements of a thread body (they are two steps), not inside a step",
    );
  }
  return off;
}

/**
 * The non-atomic __set_bit / __clear_bit as two steps: [1/2] a plain load of the whole word into
 * the CPU's register, [2/2] a plain store of the register with the bit changed. An update of
 * another bit of the word by another CPU between the two is lost. `opts.check` runs before the
 * load (e.g. the use-after-free check of a folio op); `opts.name` is the function shown.
 */
export function nonAtomicBitOp(
  bit: BitRef,
  v: boolean,
  opts: { name?: string; check?: (c: Ctx) => void; raises?: readonly string[] } = {},
): Stmt {
  const fn = opts.name ?? (v ? "__set_bit" : "__clear_bit");
  const what = (c: Ctx): string =>
    opts.name !== undefined ? fn : `${fn}(${bit.$bit}, ${wordText(bit, c.m.b)})`;
  const raises = opts.raises !== undefined ? { raises: opts.raises } : {};
  const steps = [
    step(
      (c) => `${what(c)} [1/2: load ${bit.$word.$name(c.m.b)}]`,
      (c) => {
        opts.check?.(c);
        const reg = bitsReg(c, fn, bit);
        c.m.b[reg] = c.m.get(bit.$word.$off(c.m.b));
      },
      raises,
    ),
    step(
      (c) => `${what(c)} [2/2: store ${bit.$word.$name(c.m.b)} ${v ? "|" : "&~"} ${bit.$bit}]`,
      (c) => {
        opts.check?.(c);
        const reg = bitsReg(c, fn, bit);
        const w = c.m.b[reg]!;
        c.m.set(bit.$word.$off(c.m.b), v ? w | bit.$mask : w & ~bit.$mask);
        c.m.b[reg] = 0;
      },
      raises,
    ),
  ];
  for (const s of steps) NEEDS_BITS_REG.add(s.run);
  return steps;
}

/** __set_bit(nr, addr): a plain load and a plain store of the word, two steps. */
export const __set_bit = (bit: BitRef): Stmt => nonAtomicBitOp(bit, true);
/** __clear_bit(nr, addr): a plain load and a plain store of the word, two steps. */
export const __clear_bit = (bit: BitRef): Stmt => nonAtomicBitOp(bit, false);
