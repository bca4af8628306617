// The visited set: an open-addressing hash table (linear probing) of state indices into the
// store. It holds no state itself: equality is decided by the store's packed bytes.
//
// A slot is two words side by side, the state's hash and its index + 1 (0: empty), so that a
// probe reads one cache line and goes to the store (another cache miss) only when the full
// 32-bit hashes are equal.

import type { StateStore } from "./store.ts";

export interface VisitedSet {
  /** Index of the state equal to `packed` (with hash h), or -1. */
  find(packed: Int32Array, h: number): number;
  /** Records state `index` (already in the store) under hash h. */
  insert(index: number, h: number): void;
  /**
   * Index of the state equal to `packed`, or, when there is none, -1 - (where it would go):
   * pass that to insertAt() right after adding the state to the store (no insert in between).
   */
  findOrSlot(packed: Int32Array, h: number): number;
  insertAt(slot: number, index: number, h: number): void;
  readonly size: number;
  readonly bytes: number;
  /** Bytes the table may allocate within the next `inserts` insertions (when it grows). */
  growthWithin(inserts: number): number;
}

/** The table grows (doubles) when more than this fraction of its slots is used. */
const MAX_LOAD = 0.6;

export class HashTable implements VisitedSet {
  /** slots[2p] = hash, slots[2p + 1] = index + 1 (0 = empty). */
  private slots: Int32Array;
  private mask: number;
  private limit: number;
  size = 0;

  constructor(
    private readonly store: StateStore,
    initialCapacity = 1 << 16,
  ) {
    let cap = 1024;
    while (cap < initialCapacity) cap *= 2;
    this.slots = new Int32Array(2 * cap);
    this.mask = cap - 1;
    this.limit = Math.floor(cap * MAX_LOAD);
  }

  find(packed: Int32Array, h: number): number {
    const r = this.findOrSlot(packed, h);
    return r >= 0 ? r : -1;
  }

  findOrSlot(packed: Int32Array, h: number): number {
    const slots = this.slots;
    const mask = this.mask;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const s = slots[2 * p + 1]!;
      if (s === 0) return -1 - p;
      if (slots[2 * p] === h && this.store.equals(s - 1, packed)) return s - 1;
    }
  }

  insert(index: number, h: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let p = h & mask;
    while (slots[2 * p + 1] !== 0) p = (p + 1) & mask;
    this.insertAt(p, index, h);
  }

  insertAt(slot: number, index: number, h: number): void {
    this.slots[2 * slot] = h;
    this.slots[2 * slot + 1] = index + 1;
    if (++this.size > this.limit) this.grow();
  }

  get bytes(): number {
    return this.slots.byteLength;
  }

  growthWithin(inserts: number): number {
    return this.size + inserts > this.limit ? 2 * this.slots.byteLength : 0;
  }

  private grow(): void {
    const old = this.slots;
    const cap = old.length; // twice the old number of slots
    const slots = new Int32Array(2 * cap);
    const mask = cap - 1;
    for (let k = 0; k < old.length; k += 2) {
      const s = old[k + 1]!;
      if (s === 0) continue;
      const h = old[k]!;
      let p = h & mask;
      while (slots[2 * p + 1] !== 0) p = (p + 1) & mask;
      slots[2 * p] = h;
      slots[2 * p + 1] = s;
    }
    this.slots = slots;
    this.mask = mask;
    this.limit = Math.floor(cap * MAX_LOAD);
  }
}
