// The visited set. Exact mode: an open-addressing hash table (linear probing) of state indices
// into the store; it holds no state itself: equality is decided by the store's packed words.
// Fingerprint mode: a table of 64-bit fingerprints and nothing else (as TLC's FPSet).
//
// Exact slots are one 32-bit word: the state's index + 1 in the low k bits (2^k slots; 0 is
// empty) and the high 32 - k bits of its hash as a tag, so a probe reads one word and goes to the
// store (a cache miss) only when the tags agree. Hashes are not kept: growing rehashes every
// state from its packed words.

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
const MAX_LOAD = 0.8;

export class HashTable implements VisitedSet {
  /** index + 1 in the low `bits` bits (0: empty), the hash's low 32 - bits bits above. */
  private slots: Int32Array;
  /** log2 of the number of slots; a state's home slot is the top `bits` bits of its hash. */
  private bits: number;
  private mask: number;
  private limit: number;
  size = 0;
  private readonly hashOf: (index: number) => number;

  /**
   * `hashOf(i)` must give the hash state i was inserted under (default: the store's hashOf,
   * which is what Packer.pack returns).
   */
  constructor(
    private readonly store: StateStore,
    initialCapacity = 1 << 12,
    hashOf?: (index: number) => number,
  ) {
    let bits = 10;
    while (1 << bits < initialCapacity) bits++;
    this.bits = bits;
    this.slots = new Int32Array(1 << bits);
    this.mask = (1 << bits) - 1;
    this.limit = Math.floor((1 << bits) * MAX_LOAD);
    this.hashOf = hashOf ?? ((i) => store.hashOf(i));
  }

  find(packed: Int32Array, h: number): number {
    const r = this.findOrSlot(packed, h);
    return r >= 0 ? r : -1;
  }

  findOrSlot(packed: Int32Array, h: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const bits = this.bits;
    const tag = h << bits;
    for (let p = h >>> (32 - bits); ; p = (p + 1) & mask) {
      const s = slots[p]!;
      if (s === 0) return -1 - p;
      if ((s & ~mask) === tag && this.store.equals((s & mask) - 1, packed)) return (s & mask) - 1;
    }
  }

  insert(index: number, h: number): void {
    while (index + 1 > this.mask) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    let p = h >>> (32 - this.bits);
    while (slots[p] !== 0) p = (p + 1) & mask;
    this.insertAt(p, index, h);
  }

  insertAt(slot: number, index: number, h: number): void {
    if (index + 1 > this.mask) {
      // the index does not fit the slot's low bits: grow first, then place it afresh
      this.grow();
      this.insert(index, h);
      return;
    }
    this.slots[slot] = (h << this.bits) | (index + 1);
    if (++this.size > this.limit) this.grow();
  }

  get bytes(): number {
    return this.slots.byteLength;
  }

  growthWithin(inserts: number): number {
    // the new table, plus two words per state while it is filled in bucket order
    return this.size + inserts > this.limit ? 2 * this.slots.byteLength + 8 * this.size : 0;
  }

  /**
   * Doubles the table. Hashes are recomputed from the store; the states are first sorted by the
   * top bits of their hash (a counting sort into 2^R buckets), so that the new table is written
   * one small window at a time instead of at random (a cache miss per state otherwise).
   */
  private grow(): void {
    const old = this.slots;
    const oldMask = this.mask;
    const bits = this.bits + 1;
    const slots = new Int32Array(1 << bits);
    const mask = (1 << bits) - 1;
    const n = this.size;
    const R = Math.min(10, bits);
    // the states in the table: every stored one (as in the explorer), or those its slots name
    const all = n === this.store.count;
    const list = all ? null : new Int32Array(n);
    if (list) {
      let j = 0;
      for (let k = 0; k < old.length; k++) if (old[k] !== 0) list[j++] = (old[k]! & oldMask) - 1;
    }
    const counts = new Int32Array((1 << R) + 1);
    for (let j = 0; j < n; j++) counts[(this.hashOf(list ? list[j]! : j) >>> (32 - R)) + 1]!++;
    for (let b = 0; b < 1 << R; b++) counts[b + 1]! += counts[b]!;
    const ordI = new Int32Array(n);
    const ordH = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      const i = list ? list[j]! : j;
      const h = this.hashOf(i);
      const at = counts[h >>> (32 - R)]!++;
      ordI[at] = i;
      ordH[at] = h;
    }
    const shift = 32 - bits;
    for (let k = 0; k < n; k++) {
      const h = ordH[k]!;
      let p = h >>> shift;
      while (slots[p] !== 0) p = (p + 1) & mask;
      slots[p] = (h << bits) | (ordI[k]! + 1);
    }
    this.slots = slots;
    this.bits = bits;
    this.mask = mask;
    this.limit = Math.floor((1 << bits) * MAX_LOAD);
  }
}

/** Second 32 bits of a state's fingerprint: another hash of its packed words. */
export function hash2(packed: Int32Array): number {
  let h = 0x2545f491 ^ packed.length;
  for (let i = 0; i < packed.length; i++) {
    h = Math.imul(h ^ packed[i]!, 0xcc9e2d51);
    h = (h << 15) | (h >>> 17);
    h = Math.imul(h, 0x1b873593) ^ 0x6b43a9b5;
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  h ^= h >>> 15;
  return h;
}

/** Fingerprint tables grow by this factor when more than FP_MAX_LOAD of their slots are used. */
const FP_GROWTH = 1.3;
const FP_MAX_LOAD = 0.9;

/**
 * Fingerprint mode's visited set: 64-bit fingerprints (the packer's 32-bit hash and hash2 of the
 * packed words), 8 bytes a slot, no state and no index. Two different states with the same
 * fingerprint are taken for one (the second is never explored): the explorer prints the
 * probability of that. `find`/`findOrSlot` answer "seen" with 0, not with an index.
 *
 * The home slot is the hash scaled to the table's size (not a power of two), so the table can
 * grow by 1.3x and stay between 69 % and 90 % full: 8.9 to 11.6 bytes per state. (Linear
 * probing at 90 % costs a few dozen slots per miss, but they are consecutive: one or two cache
 * lines after the first.)
 */
export class FingerprintSet implements VisitedSet {
  /** slots[2p], slots[2p + 1]: the two halves of a fingerprint; (0, 0) is empty. */
  private slots: Int32Array;
  private cap: number;
  private scale: number;
  private limit: number;
  size = 0;
  /** The second half of the fingerprint looked up last (insertAt and insert use it). */
  private lastH2 = 0;

  constructor(initialCapacity = 1 << 12) {
    this.cap = Math.max(16, initialCapacity);
    this.slots = new Int32Array(2 * this.cap);
    this.scale = this.cap / 2 ** 32;
    this.limit = Math.floor(this.cap * FP_MAX_LOAD);
  }

  find(packed: Int32Array, h: number): number {
    const r = this.findOrSlot(packed, h);
    return r >= 0 ? r : -1;
  }

  findOrSlot(packed: Int32Array, h: number): number {
    let h2 = hash2(packed);
    if (h === 0 && h2 === 0) h2 = 1;
    this.lastH2 = h2;
    const slots = this.slots;
    const cap = this.cap;
    let p = Math.floor((h >>> 0) * this.scale);
    for (;;) {
      const a = slots[2 * p]!;
      const b = slots[2 * p + 1]!;
      if (a === h && b === h2) return 0;
      if (a === 0 && b === 0) return -1 - p;
      if (++p === cap) p = 0;
    }
  }

  /** Records the fingerprint whose second half was computed by the last find/findOrSlot. */
  insert(index: number, h: number): void {
    void index;
    this.place(h, this.lastH2);
    if (++this.size > this.limit) this.grow();
  }

  insertAt(slot: number, index: number, h: number): void {
    void index;
    this.slots[2 * slot] = h;
    this.slots[2 * slot + 1] = this.lastH2;
    if (++this.size > this.limit) this.grow();
  }

  get bytes(): number {
    return this.slots.byteLength;
  }

  growthWithin(inserts: number): number {
    return this.size + inserts > this.limit ? Math.ceil(this.cap * FP_GROWTH) * 8 : 0;
  }

  private place(h: number, h2: number): void {
    const slots = this.slots;
    const cap = this.cap;
    let p = Math.floor((h >>> 0) * this.scale);
    while (slots[2 * p] !== 0 || slots[2 * p + 1] !== 0) if (++p === cap) p = 0;
    slots[2 * p] = h;
    slots[2 * p + 1] = h2;
  }

  private grow(): void {
    const old = this.slots;
    this.cap = Math.ceil(this.cap * FP_GROWTH);
    this.slots = new Int32Array(2 * this.cap);
    this.scale = this.cap / 2 ** 32;
    this.limit = Math.floor(this.cap * FP_MAX_LOAD);
    for (let k = 0; k < old.length; k += 2) {
      const a = old[k]!;
      const b = old[k + 1]!;
      if (a !== 0 || b !== 0) this.place(a, b);
    }
  }
}
