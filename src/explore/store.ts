// The state store: every reached state, bit-packed (each field in as many bits as its declared
// range needs, booleans in one bit, fields never split across 32-bit words) inside large
// Int32Array chunks, with the parent link and the move that reached it. What can be recomputed is
// not stored: the hash (the visited table rehashes from the packed words when it grows) and the
// BFS depth (states are stored in BFS order, so the depth is the level an index falls in; only a
// search that adds depths out of order, DFS, gets a depth array).
// No JavaScript object is created per state.
//
// Packing, hashing and unpacking run once per transition (pack + hash) or per expanded state
// (unpack): they are generated once per layout as straight-line code (one statement per field,
// shifts, masks and biases as constants), which V8 compiles to a handful of machine instructions
// per field, as SPIN's generated C does.

import type { Layout } from "../model/layout.ts";

const CHUNK_BITS = 16;
const CHUNK_STATES = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_STATES - 1;

const HASH_SEED = 0x9747b28c;

type PackFn = (v: Int32Array, o32: Int32Array) => number;
type Unpack32Fn = (src32: Int32Array, at32: number, v: Int32Array) => void;

/** Source of one murmur3 round over word `w` (an expression), updating `h`. */
function hashRound(w: string): string {
  return `h = Math.imul(((h << 5) | (h >>> 27)) ^ ${w}, 0x9e3779b9);\n`;
}
const HASH_FINAL =
  "h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;\n";

/** Bits needed for the values 0..span (0 for a constant field, 32 at most). */
export function bitsFor(span: number): number {
  let b = 0;
  while (b < 32 && 2 ** b <= span) b++;
  return b;
}

/** Where each field lives in the packed words. */
interface Placement {
  /** Word index of each field (-1: a constant field, no bits). */
  readonly word: Int32Array;
  readonly shift: Int32Array;
  readonly bits: Int32Array;
  readonly bias: Int32Array;
  readonly words: number;
  readonly usedBits: number;
}

/**
 * Places the fields into 32-bit words, first fit by decreasing width (a field never straddles
 * two words, so packing and unpacking it is one shift and one mask).
 */
function place(layout: Layout): Placement {
  const n = layout.words;
  const bits = new Int32Array(n);
  const bias = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    bias[i] = layout.min[i]!;
    bits[i] = bitsFor(layout.max[i]! - layout.min[i]!);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => bits[b]! - bits[a]! || a - b);
  const free: number[] = [];
  const word = new Int32Array(n).fill(-1);
  const shift = new Int32Array(n);
  let usedBits = 0;
  for (const i of order) {
    const b = bits[i]!;
    if (b === 0) continue;
    usedBits += b;
    let w = free.findIndex((f) => f >= b);
    if (w < 0) {
      w = free.length;
      free.push(32);
    }
    word[i] = w;
    shift[i] = 32 - free[w]!;
    free[w] = free[w]! - b;
  }
  return { word, shift, bits, bias, words: Math.max(1, free.length), usedBits };
}

/** `v[i] - bias`, as source. */
function biased(i: number, bias: number): string {
  return bias === 0 ? `v[${i}]` : `(v[${i}] - ${bias})`;
}

/**
 * pack(v, o32): writes the packed words of v and returns their hash (hashWords of them). Each word
 * is assembled in a register from its fields, stored once and hashed from the register.
 */
function genPack(pl: Placement): PackFn {
  const byWord: number[][] = Array.from({ length: pl.words }, () => []);
  for (let i = 0; i < pl.word.length; i++) if (pl.word[i]! >= 0) byWord[pl.word[i]!]!.push(i);
  let src = `let w = 0, h = ${HASH_SEED ^ pl.words};\n`;
  for (let wd = 0; wd < pl.words; wd++) {
    const parts = byWord[wd]!.map((i) => {
      const b = pl.bits[i]!;
      const x = biased(i, pl.bias[i]!);
      if (b === 32) return `(${x} | 0)`;
      const masked = `(${x} & ${2 ** b - 1})`;
      return pl.shift[i] === 0 ? masked : `(${masked} << ${pl.shift[i]!})`;
    });
    src += `w = ${parts.length > 0 ? parts.join(" | ") : "0"};\no32[${wd}] = w;\n`;
    src += hashRound("w");
  }
  src += HASH_FINAL + "return h;\n";
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated once per layout, from numbers only
  return new Function("v", "o32", src) as PackFn;
}

/** unpack32(s, a, v): the fields of the packed words at s[a..], each word read once. */
function genUnpack32(pl: Placement): Unpack32Fn {
  const byWord: number[][] = Array.from({ length: pl.words }, () => []);
  let src = "let w = 0;\n";
  for (let i = 0; i < pl.word.length; i++) {
    if (pl.word[i]! >= 0) byWord[pl.word[i]!]!.push(i);
    else src += `v[${i}] = ${pl.bias[i]!};\n`;
  }
  for (let wd = 0; wd < pl.words; wd++) {
    if (byWord[wd]!.length === 0) continue;
    src += `w = s[a + ${wd}];\n`;
    for (const i of byWord[wd]!) {
      const b = pl.bits[i]!;
      const sh = pl.shift[i]!;
      const bias = pl.bias[i]!;
      const plus = bias === 0 ? "" : ` + ${bias}`;
      const field =
        b === 32 ? "w" : sh === 0 ? `(w & ${2 ** b - 1})` : `((w >>> ${sh}) & ${2 ** b - 1})`;
      src += `v[${i}] = ${field}${plus};\n`;
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated once per layout, from numbers only
  return new Function("s", "a", "v", src) as Unpack32Fn;
}

/** Packs the working vector (one Int32 per field) into bit-packed words and back. */
export class Packer {
  /** Packed size in 32-bit words. */
  readonly words: number;
  /** Packed size in bytes (4 per word). */
  readonly bytes: number;
  /** Bits the fields need in all (the words hold them without splitting a field). */
  readonly bits: number;
  /** The packed form of the last pack() call. */
  readonly out: Int32Array;
  private readonly packFn: PackFn;
  private readonly unpack32Fn: Unpack32Fn;
  private readonly scratch: Int32Array;
  private readonly scratch8: Uint8Array;

  constructor(layout: Layout) {
    const pl = place(layout);
    this.words = pl.words;
    this.bytes = 4 * pl.words;
    this.bits = pl.usedBits;
    this.out = new Int32Array(this.words);
    this.scratch = new Int32Array(this.words);
    this.scratch8 = new Uint8Array(this.scratch.buffer);
    this.packFn = genPack(pl);
    this.unpack32Fn = genUnpack32(pl);
  }

  /** Packs `v` into `this.out` and returns its hash (hashWords of the packed words). */
  pack(v: Int32Array): number {
    return this.packFn(v, this.out);
  }

  /** Unpacks the packed words at byte offset `at8` of `src8` into the working vector `v`. */
  unpack(src8: Uint8Array, at8: number, v: Int32Array): void {
    this.scratch8.set(src8.subarray(at8, at8 + this.bytes));
    this.unpack32Fn(this.scratch, 0, v);
  }

  /** Unpacks the packed words at `src32[at32..]` into `v`. */
  unpack32(src32: Int32Array, at32: number, v: Int32Array): void {
    this.unpack32Fn(src32, at32, v);
  }

  /** Unpacks state i of `store` into `v`. */
  unpackState(store: StateStore, i: number, v: Int32Array): void {
    this.unpack32Fn(store.chunk(i), store.at32(i), v);
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

/** Hash of `words` packed words at `src[at..]`: hashWords of them, without a copy. */
export function hashAt(src: Int32Array, at: number, words: number): number {
  let h = HASH_SEED ^ words;
  for (let i = 0; i < words; i++) h = Math.imul(((h << 5) | (h >>> 27)) ^ src[at + i]!, 0x9e3779b9);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

export interface StoreOptions {
  /**
   * Keep every state's packed words (default). Without them (fingerprint mode) the store keeps
   * only what a counterexample needs: parent links and moves.
   */
  readonly states?: boolean;
  /**
   * Parent links as a count of children per state (1 byte) instead of a parent index (4 bytes),
   * while parents come in nondecreasing order, as in BFS, where the children of each expanded
   * state get consecutive indices. A parent out of order (DFS) switches to explicit parents.
   * Finding a parent then costs a scan of the counts (pathTo does one scan for a whole path).
   */
  readonly compactParents?: boolean;
}

/** A child count of 255 means "look in the overflow map". */
const KIDS_MAX = 255;
/** Moves (cpu | choice << 8) below this have their code in an array. */
const FAST_MOVES = 1 << 12;

export class StateStore {
  count = 0;
  private readonly chunks: Int32Array[] = [];
  private readonly chunks8: Uint8Array[] = [];
  /** The chunk being filled. */
  private last = new Int32Array(0);
  private readonly keepStates: boolean;
  /**
   * Parent of each state (explicit links). Empty while links are compact (children counts in
   * `kids`).
   */
  parent: Int32Array;
  /** Compact links: number of children of each state (saturating; the rest in kidsOver). */
  private kids: Uint8Array;
  private readonly kidsOver = new Map<number, number>();
  private lastParent = -1;
  private compact: boolean;
  /** The move that reached each state, as a code into `moveOfCode` (1 byte while moves are few). */
  private moveCode: Uint8Array | Uint16Array | Int32Array;
  private readonly moveOfCode: number[] = [];
  private readonly codeOfMove = new Map<number, number>();
  /** Codes of the moves below FAST_MOVES (-1: none yet), without a Map lookup. */
  private readonly fastCode = new Int32Array(FAST_MOVES).fill(-1);
  /** BFS levels: levelStart[d] is the first state at depth d, while depths come in order. */
  private readonly levelStart: number[] = [];
  /** Depth of each state, once depths came out of order (DFS); empty before. */
  private depthArr = new Int32Array(0);
  private levelCursor = 0;

  constructor(
    readonly words: number,
    opts: StoreOptions = {},
  ) {
    this.keepStates = opts.states ?? true;
    this.compact = opts.compactParents ?? false;
    this.parent = new Int32Array(this.compact ? 0 : 1024);
    this.kids = new Uint8Array(this.compact ? 1024 : 0);
    this.moveCode = new Uint8Array(1024);
  }

  /** Whether the store keeps the packed states (false in fingerprint mode). */
  get hasStates(): boolean {
    return this.keepStates;
  }

  /**
   * Adds a state (its packed words, unless the store keeps none) reached from `parent` by `move`
   * at `depth`; returns its index. `h` is not stored (hashOf recomputes it).
   */
  add(packed: Int32Array, h: number, parent: number, move: number, depth: number): number {
    const i = this.count;
    if (i === this.moveCode.length) this.growMeta();
    if (this.keepStates) {
      if ((i & CHUNK_MASK) === 0) this.newChunk();
      const w = this.words;
      const at = (i & CHUNK_MASK) * w;
      if (at === this.last.length) this.growChunk();
      const chunk = this.last;
      for (let k = 0; k < w; k++) chunk[at + k] = packed[k]!;
    }
    if (this.compact) {
      if (parent < 0 ? i > 0 : parent < this.lastParent) this.explicitParents();
      else if (parent >= 0) {
        this.lastParent = parent;
        const k = this.kids[parent]!;
        if (k < KIDS_MAX) this.kids[parent] = k + 1;
        else this.kidsOver.set(parent, (this.kidsOver.get(parent) ?? KIDS_MAX) + 1);
      }
    }
    if (!this.compact) this.parent[i] = parent;
    const fast = move >= 0 && move < FAST_MOVES ? this.fastCode[move]! : -1;
    this.moveCode[i] = fast >= 0 ? fast : this.codeOf(move);
    this.noteDepth(i, depth);
    this.count = i + 1;
    void h;
    return i;
  }

  equals(i: number, packed: Int32Array): boolean {
    const chunk = this.chunks[i >>> CHUNK_BITS]!;
    const at = (i & CHUNK_MASK) * this.words;
    const w = this.words;
    for (let k = 0; k < w; k++) if (chunk[at + k] !== packed[k]) return false;
    return true;
  }

  /** The hash of state i (what Packer.pack returned for it), recomputed from its packed words. */
  hashOf(i: number): number {
    return hashAt(this.chunks[i >>> CHUNK_BITS]!, (i & CHUNK_MASK) * this.words, this.words);
  }

  /** BFS depth of state i (number of moves from the initial state on its stored path). */
  depthOf(i: number): number {
    if (this.depthArr.length > 0) return this.depthArr[i]!;
    const ls = this.levelStart;
    let c = this.levelCursor;
    if (i >= ls[c]! && (c + 1 === ls.length || i < ls[c + 1]!)) return c;
    c = levelOf(ls, i);
    this.levelCursor = c;
    return c;
  }

  /** The move that reached state i (encodeMove form; 0 for the initial state). */
  moveOf(i: number): number {
    return this.moveOfCode[this.moveCode[i]!]!;
  }

  /** The parent of state i (-1 for the initial state). */
  parentOf(i: number): number {
    if (!this.compact) return this.parent[i]!;
    if (i === 0) return -1;
    const p = this.compactPath(i);
    return p.length >= 2 ? p[p.length - 2]! : 0;
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
      // full chunks, and the last one as allocated so far (none without states)
      Math.max(0, this.chunks.length - 1) * CHUNK_STATES * this.words * 4 +
      this.last.byteLength +
      this.parent.byteLength +
      this.kids.byteLength +
      this.moveCode.byteLength +
      this.depthArr.byteLength
    );
  }

  /** Bytes per state of the per-state arrays (links, moves, depths), at their current widths. */
  get metaBytesPerState(): number {
    return (
      (this.compact ? 1 : 4) + this.moveCode.BYTES_PER_ELEMENT + (this.depthArr.length > 0 ? 4 : 0)
    );
  }

  /**
   * Bytes the store may allocate within the next `states` additions (a new chunk, doubled
   * per-state arrays): the explorer stops before a budget would be passed.
   */
  growthWithin(states: number): number {
    let g = 0;
    if (this.keepStates) {
      const cap = this.chunks.length * CHUNK_STATES;
      if (this.count + states > cap)
        g += Math.ceil((this.count + states - cap) / CHUNK_STATES) * CHUNK_STATES * this.words * 4;
      // the first chunk grows by doubling up to full size
      if (this.last.length < CHUNK_STATES * this.words) g += CHUNK_STATES * this.words * 4;
    }
    // each per-state array replaced by one 1.5 times its size; a switch to explicit parents or
    // to depths out of order allocates a 4-byte array per state
    if (this.count + states > this.moveCode.length)
      g += 1.5 * this.moveCode.length * (this.metaBytesPerState + 4);
    return g;
  }

  /** The moves from the initial state to state i. */
  pathTo(i: number): number[] {
    const moves: number[] = [];
    if (this.compact) {
      const p = this.compactPath(i);
      for (let k = 1; k < p.length; k++) moves.push(this.moveOf(p[k]!));
      return moves;
    }
    for (let k = i; k > 0; k = this.parent[k]!) moves.push(this.moveOf(k));
    return moves.reverse();
  }

  /**
   * The states from the initial one to i, from the children counts: the children of state p
   * are the states 1 + (children of the states before p) onwards. One scan down from the last
   * parent finds every ancestor of i.
   */
  private compactPath(i: number): number[] {
    const path = [i];
    let target = i;
    let end = this.count; // children of states <= p end before `end`
    for (let p = this.lastParent; p >= 0 && target > 0; p--) {
      const k = this.kidsOf(p);
      const start = end - k;
      if (target >= start && target < end) {
        path.push(p);
        target = p;
      }
      end = start;
    }
    return path.reverse();
  }

  private kidsOf(p: number): number {
    const k = this.kids[p]!;
    return k < KIDS_MAX ? k : (this.kidsOver.get(p) ?? KIDS_MAX);
  }

  /** Switches from children counts to explicit parents (a parent came out of order). */
  private explicitParents(): void {
    const n = this.count;
    const par = new Int32Array(this.moveCode.length);
    par[0] = -1;
    let next = 1;
    for (let p = 0; p <= this.lastParent; p++) {
      const k = this.kidsOf(p);
      for (let j = 0; j < k; j++) par[next++] = p;
    }
    // states added so far all have a parent counted (every state but the initial one)
    if (next !== n) throw new Error(`StateStore: ${n - next} states without a parent`);
    this.parent = par;
    this.compact = false;
    this.kids = new Uint8Array(0);
    this.kidsOver.clear();
  }

  private codeOf(move: number): number {
    let c = this.codeOfMove.get(move);
    if (c === undefined) {
      c = this.moveOfCode.length;
      this.moveOfCode.push(move);
      this.codeOfMove.set(move, c);
      const cap = this.moveCode.length;
      if (c === 256 && this.moveCode instanceof Uint8Array) {
        const a = new Uint16Array(cap);
        a.set(this.moveCode);
        this.moveCode = a;
      } else if (c === 65536 && this.moveCode instanceof Uint16Array) {
        const a = new Int32Array(cap);
        a.set(this.moveCode);
        this.moveCode = a;
      }
    }
    if (move >= 0 && move < FAST_MOVES) this.fastCode[move] = c;
    return c;
  }

  private noteDepth(i: number, depth: number): void {
    if (this.depthArr.length > 0) {
      this.depthArr[i] = depth;
      return;
    }
    const ls = this.levelStart;
    const top = ls.length - 1;
    if (depth === top) return;
    if (depth === top + 1) {
      ls.push(i);
      return;
    }
    // out of order: one depth per state from now on
    const d = new Int32Array(this.moveCode.length);
    for (let k = 0; k < i; k++) d[k] = this.depthOf(k);
    d[i] = depth;
    this.depthArr = d;
  }

  /** A new chunk: the first starts small (small models stay small) and doubles to full size. */
  private newChunk(): void {
    const states = this.chunks.length === 0 ? 1024 : CHUNK_STATES;
    const chunk = new Int32Array(states * this.words);
    this.chunks.push(chunk);
    this.chunks8.push(new Uint8Array(chunk.buffer));
    this.last = chunk;
  }

  private growChunk(): void {
    const chunk = new Int32Array(Math.min(this.last.length * 2, CHUNK_STATES * this.words));
    chunk.set(this.last);
    this.chunks[this.chunks.length - 1] = chunk;
    this.chunks8[this.chunks8.length - 1] = new Uint8Array(chunk.buffer);
    this.last = chunk;
  }

  /** Per-state arrays grow by half (not double): at most a third of them unused. */
  private growMeta(): void {
    const n = Math.ceil(this.moveCode.length * 1.5);
    const grow = <T extends Int32Array | Uint8Array | Uint16Array>(
      a: T,
      make: (n: number) => T,
    ): T => {
      if (a.length === 0) return a;
      const b = make(n);
      b.set(a);
      return b;
    };
    this.parent = grow(this.parent, (k) => new Int32Array(k));
    this.kids = grow(this.kids, (k) => new Uint8Array(k));
    this.depthArr = grow(this.depthArr, (k) => new Int32Array(k));
    const mc = this.moveCode;
    this.moveCode =
      mc instanceof Uint8Array
        ? grow(mc, (k) => new Uint8Array(k))
        : mc instanceof Uint16Array
          ? grow(mc, (k) => new Uint16Array(k))
          : grow(mc, (k) => new Int32Array(k));
  }
}

/**
 * The BFS level of state i, given levelStart (levelStart[d]: the first state at depth d,
 * ascending): a binary search for the last level starting at or before i.
 */
export function levelOf(levelStart: readonly number[], i: number): number {
  let lo = 0;
  let hi = levelStart.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (levelStart[mid]! <= i) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
