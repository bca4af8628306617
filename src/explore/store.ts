// The state store: every reached state, packed into bytes (each field in 1, 2 or 4 bytes
// according to its declared range, as SPIN stores its state vector) inside large Int32Array
// chunks, with the parent link, the move that reached it, its depth and its hash.
// No JavaScript object is created per state.
//
// Packing, hashing and unpacking run once per transition (pack + hash) or per expanded state
// (unpack): they are generated once per layout as straight-line code (one statement per field,
// offsets and biases as constants), which V8 compiles to a handful of machine instructions per
// field, as SPIN's generated C does.

import type { Layout } from "../model/layout.ts";

const CHUNK_BITS = 16;
const CHUNK_STATES = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_STATES - 1;

const HASH_SEED = 0x9747b28c;

type PackFn = (v: Int32Array, o8: Uint8Array, o32: Int32Array) => number;
type UnpackFn = (src8: Uint8Array, at8: number, v: Int32Array) => void;
type Unpack32Fn = (src32: Int32Array, at32: number, v: Int32Array) => void;

/** Source of one murmur3 round over word `w` (an expression), updating `h`. */
function hashRound(w: string): string {
  return `h = Math.imul(((h << 5) | (h >>> 27)) ^ ${w}, 0x9e3779b9);\n`;
}
const HASH_FINAL =
  "h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;\n";

/** Whether typed arrays are little-endian here (they are on every platform node runs on today). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Per packed byte: which field, and which byte of the field's biased value (-1: padding). */
function byteMap(
  pos: Int32Array,
  width: Uint8Array,
  words: number,
): { field: Int32Array; shift: Int32Array } {
  const field = new Int32Array(words * 4).fill(-1);
  const shift = new Int32Array(words * 4);
  for (let i = 0; i < pos.length; i++) {
    for (let d = 0; d < width[i]!; d++) {
      field[pos[i]! + d] = i;
      shift[pos[i]! + d] = 8 * d;
    }
  }
  return { field, shift };
}

/**
 * pack(v, o8, o32): writes the packed form of v and returns its hash. On a little-endian machine
 * each packed word is assembled in a register from its (up to four) fields, stored once and
 * hashed from the register; otherwise byte by byte.
 */
function genPack(pos: Int32Array, width: Uint8Array, bias: Int32Array, words: number): PackFn {
  const biased = (i: number): string => {
    const b = -bias[i]!;
    return b === 0 ? `v[${i}]` : `(v[${i}] + ${b})`;
  };
  let src = "let x = 0, w = 0;\n";
  if (LITTLE_ENDIAN) {
    // fields wider than a byte are computed once
    for (let i = 0; i < pos.length; i++) if (width[i]! > 1) src += `const x${i} = ${biased(i)};\n`;
    src += `let h = ${HASH_SEED ^ words};\n`;
    const { field, shift } = byteMap(pos, width, words);
    for (let wd = 0; wd < words; wd++) {
      const parts: string[] = [];
      for (let d = 0; d < 4; d++) {
        const i = field[4 * wd + d]!;
        if (i < 0) continue;
        const val = width[i]! > 1 ? `(x${i} >>> ${shift[4 * wd + d]!})` : biased(i);
        parts.push(d === 0 ? `(${val} & 255)` : `((${val} & 255) << ${8 * d})`);
      }
      src += `w = ${parts.length > 0 ? parts.join(" | ") : "0"};\no32[${wd}] = w;\n`;
      src += hashRound("w");
    }
  } else {
    for (let i = 0; i < pos.length; i++) {
      const p = pos[i]!;
      const x = biased(i);
      switch (width[i]) {
        case 1:
          src += `o8[${p}] = ${x};\n`;
          break;
        case 2:
          src += `x = ${x}; o8[${p}] = x; o8[${p + 1}] = x >>> 8;\n`;
          break;
        default:
          src += `x = ${x}; o8[${p}] = x; o8[${p + 1}] = x >>> 8; o8[${p + 2}] = x >>> 16; o8[${p + 3}] = x >>> 24;\n`;
      }
    }
    src += `let h = ${HASH_SEED ^ words};\n`;
    for (let w = 0; w < words; w++) src += hashRound(`o32[${w}]`);
  }
  src += HASH_FINAL + "return h;\n";
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated once per layout, from numbers only
  return new Function("v", "o8", "o32", src) as PackFn;
}

function genUnpack(pos: Int32Array, width: Uint8Array, bias: Int32Array): UnpackFn {
  let src = "";
  for (let i = 0; i < pos.length; i++) {
    const p = pos[i]!;
    const b = bias[i]!;
    const plus = b === 0 ? "" : ` + ${b}`;
    const at = (d: number): string => `s[a + ${p + d}]`;
    switch (width[i]) {
      case 1:
        src += `v[${i}] = ${at(0)}${plus};\n`;
        break;
      case 2:
        src += `v[${i}] = (${at(0)} | (${at(1)} << 8))${plus};\n`;
        break;
      default:
        src += `v[${i}] = (${at(0)} | (${at(1)} << 8) | (${at(2)} << 16) | (${at(3)} << 24))${plus};\n`;
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated once per layout, from numbers only
  return new Function("s", "a", "v", src) as UnpackFn;
}

/**
 * unpack32(s32, a32, v): the same from the packed words at s32[a32..], reading each word once
 * (little-endian machines; null elsewhere).
 */
function genUnpack32(
  pos: Int32Array,
  width: Uint8Array,
  bias: Int32Array,
  words: number,
): Unpack32Fn | null {
  if (!LITTLE_ENDIAN) return null;
  let src = "let w = 0;\n";
  const x: string[][] = pos.length > 0 ? Array.from({ length: pos.length }, () => []) : [];
  const { field, shift } = byteMap(pos, width, words);
  for (let wd = 0; wd < words; wd++) {
    const bytes: string[] = [];
    for (let d = 0; d < 4; d++) {
      const i = field[4 * wd + d]!;
      if (i < 0) continue;
      const byte = d === 0 ? "(w & 255)" : d === 3 ? "(w >>> 24)" : `((w >>> ${8 * d}) & 255)`;
      if (width[i] === 1) {
        const b = bias[i]!;
        bytes.push(`v[${i}] = ${byte}${b === 0 ? "" : ` + ${b}`};`);
      } else {
        x[i]!.push(shift[4 * wd + d] === 0 ? byte : `(${byte} << ${shift[4 * wd + d]!})`);
        if (x[i]!.length === width[i]) {
          const b = bias[i]!;
          bytes.push(`v[${i}] = (${x[i]!.join(" | ")})${b === 0 ? "" : ` + ${b}`};`);
        } else {
          bytes.push(`const x${i}_${x[i]!.length} = ${x[i]![x[i]!.length - 1]!};`);
          x[i]![x[i]!.length - 1] = `x${i}_${x[i]!.length}`;
        }
      }
    }
    if (bytes.length > 0) src += `w = s[a + ${wd}];\n${bytes.join("\n")}\n`;
  }
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated once per layout, from numbers only
  return new Function("s", "a", "v", src) as Unpack32Fn;
}

/** Packs the working vector (one Int32 per field) into bytes and back. */
export class Packer {
  /** Packed size in 32-bit words (bytes rounded up to a multiple of 4). */
  readonly words: number;
  readonly bytes: number;
  /** The packed form of the last pack() call. */
  readonly out: Int32Array;
  private readonly out8: Uint8Array;
  private readonly packFn: PackFn;
  private readonly unpackFn: UnpackFn;
  private readonly unpack32Fn: Unpack32Fn | null;

  constructor(layout: Layout) {
    const n = layout.words;
    const pos = new Int32Array(n);
    const width = new Uint8Array(n);
    const bias = new Int32Array(n);
    let p = 0;
    for (let i = 0; i < n; i++) {
      const span = layout.max[i]! - layout.min[i]!;
      const w = span < 256 ? 1 : span < 65536 ? 2 : 4;
      pos[i] = p;
      width[i] = w;
      bias[i] = layout.min[i]!;
      p += w;
    }
    this.bytes = p;
    this.words = Math.max(1, (p + 3) >>> 2);
    this.out = new Int32Array(this.words);
    this.out8 = new Uint8Array(this.out.buffer);
    this.packFn = genPack(pos, width, bias, this.words);
    this.unpackFn = genUnpack(pos, width, bias);
    this.unpack32Fn = genUnpack32(pos, width, bias, this.words);
  }

  /** Packs `v` into `this.out` and returns its hash (hashWords of the packed words). */
  pack(v: Int32Array): number {
    return this.packFn(v, this.out8, this.out);
  }

  /** Unpacks the packed words at `src[at..]` into the working vector `v`. */
  unpack(src8: Uint8Array, at8: number, v: Int32Array): void {
    this.unpackFn(src8, at8, v);
  }

  /** Unpacks state i of `store` into `v`. */
  unpackState(store: StateStore, i: number, v: Int32Array): void {
    if (this.unpack32Fn !== null) this.unpack32Fn(store.chunk(i), store.at32(i), v);
    else this.unpackFn(store.chunk8(i), store.at8(i), v);
  }
}

/** 32-bit murmur3-style hash of a word vector. */
export function hashWords(w: Int32Array): number {
  let h = HASH_SEED ^ w.length;
  for (let i = 0; i < w.length; i++) h = Math.imul(((h << 5) | (h >>> 27)) ^ w[i]!, 0x9e3779b9);
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
  /** The chunk being filled. */
  private last = new Int32Array(0);
  parent = new Int32Array(1024);
  /** The move that reached the state: cpu | (choice << 8). */
  move = new Int32Array(1024);
  depth = new Int32Array(1024);
  hash = new Int32Array(1024);

  constructor(readonly words: number) {}

  add(packed: Int32Array, h: number, parent: number, move: number, depth: number): number {
    const i = this.count;
    if ((i & CHUNK_MASK) === 0) this.newChunk();
    if (i === this.parent.length) this.growMeta();
    const chunk = this.last;
    const w = this.words;
    const at = (i & CHUNK_MASK) * w;
    for (let k = 0; k < w; k++) chunk[at + k] = packed[k]!;
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
    return [this.chunk8(i), this.at8(i)];
  }

  /** The chunk (as bytes) holding state i; with at8(i), what Packer.unpack reads. */
  chunk8(i: number): Uint8Array {
    return this.chunks8[i >>> CHUNK_BITS]!;
  }

  /** The chunk holding state i, as words; with at32(i), what Packer.unpackState reads. */
  chunk(i: number): Int32Array {
    return this.chunks[i >>> CHUNK_BITS]!;
  }

  /** Word offset of state i in its chunk. */
  at32(i: number): number {
    return (i & CHUNK_MASK) * this.words;
  }

  /** Byte offset of state i in its chunk. */
  at8(i: number): number {
    return (i & CHUNK_MASK) * this.words * 4;
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

  /**
   * Bytes the store may allocate within the next `states` additions (a new chunk, doubled
   * parent/move/depth/hash arrays): the explorer stops before a budget would be passed.
   */
  growthWithin(states: number): number {
    let g = 0;
    const cap = this.chunks.length * CHUNK_STATES;
    if (this.count + states > cap)
      g += Math.ceil((this.count + states - cap) / CHUNK_STATES) * CHUNK_STATES * this.words * 4;
    // four arrays, each replaced by one twice its size
    if (this.count + states > this.parent.length) g += 8 * this.parent.byteLength;
    return g;
  }

  /** The moves from the initial state to state i. */
  pathTo(i: number): number[] {
    const moves: number[] = [];
    for (let k = i; k > 0; k = this.parent[k]!) moves.push(this.move[k]!);
    return moves.reverse();
  }

  private newChunk(): void {
    const chunk = new Int32Array(CHUNK_STATES * this.words);
    this.chunks.push(chunk);
    this.chunks8.push(new Uint8Array(chunk.buffer));
    this.last = chunk;
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
