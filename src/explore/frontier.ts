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
