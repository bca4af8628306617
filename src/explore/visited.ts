// The visited set: an open-addressing hash table (linear probing) of state indices into the
// store. It holds no state itself: equality is decided by the store's packed bytes.

import type { StateStore } from "./store.ts";

export interface VisitedSet {
  /** Index of the state equal to `packed` (with hash h), or -1. */
  find(packed: Int32Array, h: number): number;
  /** Records state `index` (already in the store) under hash h. */
  insert(index: number, h: number): void;
  readonly size: number;
  readonly bytes: number;
}

export class HashTable implements VisitedSet {
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(
    private readonly store: StateStore,
    initialCapacity = 1 << 16,
  ) {
    let cap = 1024;
    while (cap < initialCapacity) cap *= 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
  }

  find(packed: Int32Array, h: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const hashes = this.store.hash;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const s = slots[p]!;
      if (s === 0) return -1;
      const i = s - 1;
      if (hashes[i] === h && this.store.equals(i, packed)) return i;
    }
  }

  insert(index: number, h: number): void {
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    let p = h & mask;
    while (slots[p] !== 0) p = (p + 1) & mask;
    slots[p] = index + 1;
    this.size++;
  }

  get bytes(): number {
    return this.slots.byteLength;
  }

  private grow(): void {
    const old = this.slots;
    const cap = old.length * 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    const hashes = this.store.hash;
    for (let k = 0; k < old.length; k++) {
      const s = old[k]!;
      if (s === 0) continue;
      let p = hashes[s - 1]! & this.mask;
      while (this.slots[p] !== 0) p = (p + 1) & this.mask;
      this.slots[p] = s;
    }
  }
}
