// The state store: every reached state, packed into bytes (each field in 1, 2 or 4 bytes
// according to its declared range, as SPIN stores its state vector) inside large Int32Array
// chunks, with the parent link, the move that reached it, its depth and its hash.
// No JavaScript object is created per state.

import type { Layout } from "../model/layout.ts";

const CHUNK_BITS = 16;
const CHUNK_STATES = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_STATES - 1;

/** Packs the working vector (one Int32 per field) into bytes and back. */
export class Packer {
  /** Packed size in 32-bit words (bytes rounded up to a multiple of 4). */
  readonly words: number;
  readonly bytes: number;
  private readonly pos: Int32Array;
  private readonly width: Uint8Array;
  private readonly bias: Int32Array;
  private readonly allBytes: boolean;
  /** The packed form of the last pack() call. */
  readonly out: Int32Array;
  private readonly out8: Uint8Array;

  constructor(layout: Layout) {
    const n = layout.words;
    this.pos = new Int32Array(n);
    this.width = new Uint8Array(n);
    this.bias = new Int32Array(n);
    let p = 0;
    let all = true;
    for (let i = 0; i < n; i++) {
      const span = layout.max[i]! - layout.min[i]!;
      const w = span < 256 ? 1 : span < 65536 ? 2 : 4;
      if (w !== 1) all = false;
      this.pos[i] = p;
      this.width[i] = w;
      this.bias[i] = layout.min[i]!;
      p += w;
    }
    this.bytes = p;
    this.words = Math.max(1, (p + 3) >>> 2);
    this.allBytes = all;
    this.out = new Int32Array(this.words);
    this.out8 = new Uint8Array(this.out.buffer);
  }

  /** Packs `v` into `this.out` and returns its hash. */
  pack(v: Int32Array): number {
    const o8 = this.out8;
    const n = v.length;
    const bias = this.bias;
    if (this.allBytes) {
      for (let i = 0; i < n; i++) o8[i] = v[i]! - bias[i]!;
    } else {
      const pos = this.pos;
      const width = this.width;
      for (let i = 0; i < n; i++) {
        const x = v[i]! - bias[i]!;
        const p = pos[i]!;
        const w = width[i]!;
        o8[p] = x;
        if (w > 1) {
          o8[p + 1] = x >>> 8;
          if (w > 2) {
            o8[p + 2] = x >>> 16;
            o8[p + 3] = x >>> 24;
          }
        }
      }
    }
    return hashWords(this.out);
  }

  /** Unpacks the packed words at `src[at..]` into the working vector `v`. */
  unpack(src8: Uint8Array, at8: number, v: Int32Array): void {
    const n = v.length;
    const bias = this.bias;
    if (this.allBytes) {
      for (let i = 0; i < n; i++) v[i] = src8[at8 + i]! + bias[i]!;
      return;
    }
    const pos = this.pos;
    const width = this.width;
    for (let i = 0; i < n; i++) {
      const p = at8 + pos[i]!;
      const w = width[i]!;
      let x = src8[p]!;
      if (w > 1) {
        x |= src8[p + 1]! << 8;
        if (w > 2) x |= (src8[p + 2]! << 16) | (src8[p + 3]! << 24);
      }
      v[i] = (w === 4 ? x | 0 : x) + bias[i]!;
    }
  }
}

/** 32-bit murmur3-style hash of a word vector. */
export function hashWords(w: Int32Array): number {
  let h = 0x9747b28c ^ w.length;
  for (let i = 0; i < w.length; i++) {
    let k = Math.imul(w[i]!, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

export class StateStore {
  count = 0;
  private readonly chunks: Int32Array[] = [];
  private readonly chunks8: Uint8Array[] = [];
  parent = new Int32Array(1024);
  /** The move that reached the state: cpu | (choice << 8). */
  move = new Int32Array(1024);
  depth = new Int32Array(1024);
  hash = new Int32Array(1024);

  constructor(readonly words: number) {}

  add(packed: Int32Array, h: number, parent: number, move: number, depth: number): number {
    const i = this.count;
    const c = i >>> CHUNK_BITS;
    if (c === this.chunks.length) {
      const chunk = new Int32Array(CHUNK_STATES * this.words);
      this.chunks.push(chunk);
      this.chunks8.push(new Uint8Array(chunk.buffer));
    }
    if (i === this.parent.length) this.growMeta();
    this.chunks[c]!.set(packed, (i & CHUNK_MASK) * this.words);
    this.parent[i] = parent;
    this.move[i] = move;
    this.depth[i] = depth;
    this.hash[i] = h;
    this.count = i + 1;
    return i;
  }

  equals(i: number, packed: Int32Array): boolean {
    const chunk = this.chunks[i >>> CHUNK_BITS]!;
    const at = (i & CHUNK_MASK) * this.words;
    const w = this.words;
    for (let k = 0; k < w; k++) if (chunk[at + k] !== packed[k]) return false;
    return true;
  }

  /** The packed bytes of state i: a chunk and a byte offset into it. */
  bytesOf(i: number): [Uint8Array, number] {
    return [this.chunks8[i >>> CHUNK_BITS]!, (i & CHUNK_MASK) * this.words * 4];
  }

  get bytes(): number {
    return (
      this.chunks.length * CHUNK_STATES * this.words * 4 +
      this.parent.byteLength +
      this.move.byteLength +
      this.depth.byteLength +
      this.hash.byteLength
    );
  }

  /** The moves from the initial state to state i. */
  pathTo(i: number): number[] {
    const moves: number[] = [];
    for (let k = i; k > 0; k = this.parent[k]!) moves.push(this.move[k]!);
    return moves.reverse();
  }

  private growMeta(): void {
    const g = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.parent = g(this.parent);
    this.move = g(this.move);
    this.depth = g(this.depth);
    this.hash = g(this.hash);
  }
}
