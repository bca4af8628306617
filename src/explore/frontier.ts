// The frontier: the states still to expand, as indices into the state store. BFS and DFS differ
// only in which frontier the explorer is given (as in TLC's StateQueue).

export interface Frontier {
  push(index: number): void;
  pop(): number;
  readonly size: number;
  /** Bytes held by the frontier's own buffers. */
  readonly bytes: number;
}

/** FIFO: breadth-first search, shortest counterexamples. A growable ring buffer of Int32. */
export class Queue implements Frontier {
  private buf = new Int32Array(1024);
  private head = 0;
  private n = 0;

  push(index: number): void {
    if (this.n === this.buf.length) this.grow();
    this.buf[(this.head + this.n) & (this.buf.length - 1)] = index;
    this.n++;
  }

  pop(): number {
    if (this.n === 0) throw new Error("Queue.pop on an empty frontier");
    const v = this.buf[this.head]!;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.n--;
    return v;
  }

  get size(): number {
    return this.n;
  }

  get bytes(): number {
    return this.buf.byteLength;
  }

  private grow(): void {
    const b = new Int32Array(this.buf.length * 2);
    for (let i = 0; i < this.n; i++) b[i] = this.buf[(this.head + i) & (this.buf.length - 1)]!;
    this.buf = b;
    this.head = 0;
  }
}

/** LIFO: depth-first order of expansion; the frontier stays small on deep state spaces. */
export class Stack implements Frontier {
  private buf = new Int32Array(1024);
  private n = 0;

  push(index: number): void {
    if (this.n === this.buf.length) {
      const b = new Int32Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.n++] = index;
  }

  pop(): number {
    if (this.n === 0) throw new Error("Stack.pop on an empty frontier");
    return this.buf[--this.n]!;
  }

  get size(): number {
    return this.n;
  }

  get bytes(): number {
    return this.buf.byteLength;
  }
}

/**
 * Fingerprint mode's frontiers: the store keeps no states, so each entry carries the state's
 * packed words (copied from `src`, the packer's output, at push) after its index. pop() returns
 * the index; the words are then at `buf[at..at + words)` until the next push.
 */
abstract class PackedFrontier implements Frontier {
  buf: Int32Array;
  at = 0;
  protected n = 0;
  protected readonly stride: number;

  constructor(
    protected readonly src: Int32Array,
    readonly words: number,
  ) {
    this.stride = words + 1;
    this.buf = new Int32Array(1024 * this.stride);
  }

  abstract push(index: number): void;
  abstract pop(): number;

  get size(): number {
    return this.n;
  }

  get bytes(): number {
    return this.buf.byteLength;
  }

  protected write(slot: number, index: number): void {
    const b = this.buf;
    const src = this.src;
    const o = slot * this.stride;
    b[o] = index;
    for (let k = 0; k < this.words; k++) b[o + 1 + k] = src[k]!;
  }
}

/** FIFO of packed states (BFS in fingerprint mode): a growable ring of entries. */
export class PackedQueue extends PackedFrontier {
  private head = 0;
  private cap = 1024;

  push(index: number): void {
    if (this.n === this.cap) this.grow();
    let slot = this.head + this.n;
    if (slot >= this.cap) slot -= this.cap;
    this.write(slot, index);
    this.n++;
  }

  pop(): number {
    if (this.n === 0) throw new Error("PackedQueue.pop on an empty frontier");
    const o = this.head * this.stride;
    this.at = o + 1;
    if (++this.head === this.cap) this.head = 0;
    this.n--;
    return this.buf[o]!;
  }

  private grow(): void {
    const s = this.stride;
    const b = new Int32Array(this.cap * 2 * s);
    // the entries in order, from the head (wrapping) to the tail
    const first = Math.min(this.n, this.cap - this.head);
    b.set(this.buf.subarray(this.head * s, (this.head + first) * s), 0);
    b.set(this.buf.subarray(0, (this.n - first) * s), first * s);
    this.buf = b;
    this.head = 0;
    this.cap *= 2;
  }
}

/** LIFO of packed states (DFS in fingerprint mode). */
export class PackedStack extends PackedFrontier {
  push(index: number): void {
    if ((this.n + 1) * this.stride > this.buf.length) {
      const b = new Int32Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.write(this.n++, index);
  }

  pop(): number {
    if (this.n === 0) throw new Error("PackedStack.pop on an empty frontier");
    const o = --this.n * this.stride;
    this.at = o + 1;
    return this.buf[o]!;
  }
}
