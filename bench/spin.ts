// Running SPIN on the Promela twin: generate the verifier with every reduction off, compile it,
// run it, read its figures. Used by bench/run.ts, bench/record-spin-counts.ts and the twin test.
// Nothing is installed here: when spin or gcc is missing, `spinTools()` says so and how to get them.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const TWIN_PML = join(BENCH_DIR, "twins", "scan_private.pml");
export const TWIN_TS = join(BENCH_DIR, "twins", "scan_private.ts");
export const OUT_DIR = join(BENCH_DIR, ".out");
export const COUNTS_FILE = join(BENCH_DIR, "twins", "spin-counts.json");

export const INSTALL_HINT =
  "install SPIN (it brings the C compiler it needs on Debian/Ubuntu): apt-get install spin";

function onPath(cmd: string): boolean {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() !== "";
}

export interface SpinTools {
  readonly ok: boolean;
  /** e.g. "Spin Version 6.5.2 -- 6 December 2019" */
  readonly version: string | undefined;
  /** What is missing, when !ok. */
  readonly missing: readonly string[];
}

export function spinTools(): SpinTools {
  const missing = ["spin", "gcc"].filter((c) => !onPath(c));
  let version: string | undefined;
  if (!missing.includes("spin")) {
    const r = spawnSync("spin", ["-V"], { encoding: "utf8" });
    version = (r.stdout || r.stderr).trim().split("\n")[0];
  }
  return { ok: missing.length === 0, version, missing };
}

export interface SpinRun {
  readonly N: number;
  readonly P: number;
  readonly states: number;
  /** pan's "transitions (= stored+matched)": counts the initial state as one transition. */
  readonly transitions: number;
  readonly seconds: number;
  /** user + system CPU time of pan (bash `times`), or NaN. */
  readonly cpuSeconds: number;
  /** pan's "total actual memory usage", in bytes (pan prints MiB). */
  readonly memoryBytes: number;
  readonly vectorBytes: number;
  readonly depth: number;
  readonly errors: number;
}

/**
 * How pan is built: `nored` every reduction off (the twin's reference: same states as
 * interleave), `por` SPIN's partial-order reduction on, `collapse` -DCOLLAPSE state compression,
 * `hc4` -DHC4 hash compaction (a lossy 64-bit-per-state store, SPIN's answer to fingerprints).
 */
export type SpinMode = "nored" | "por" | "collapse" | "hc4";
export const SPIN_MODES: readonly SpinMode[] = ["nored", "por", "collapse", "hc4"];

export interface SpinOptions {
  /** Reductions and compression (default: nored). */
  readonly mode?: SpinMode;
  /** gcc optimisation level (the bench uses -O2; the test -O0, which only changes speed). */
  readonly opt?: "-O0" | "-O2";
  /** pan -m: search depth bound, far above the twin's depth. */
  readonly maxDepth?: number;
  /** Directory under bench/.out to build in. */
  readonly dir?: string;
}

/** Builds pan for scan_private(N, P) with every reduction off and returns its compiled path. */
export function buildPan(N: number, P: number, opts: SpinOptions = {}): string {
  const mode = opts.mode ?? "nored";
  const dir = resolve(
    OUT_DIR,
    opts.dir ??
      `spin-N${N}-P${P}${opts.opt === "-O0" ? "-O0" : ""}${mode === "nored" ? "" : `-${mode}`}`,
  );
  mkdirSync(dir, { recursive: true });
  const pan = join(dir, "pan");
  // the directory is named by N, P and the gcc level: a pan newer than the model is reused
  if (existsSync(pan) && statSync(pan).mtimeMs > statSync(TWIN_PML).mtimeMs) return pan;
  // -o1 no dataflow optimisation, -o2 no dead variable elimination, -o3 no statement merging
  execFileSync("spin", [`-DN=${N}`, `-DP=${P}`, "-a", "-o1", "-o2", "-o3", TWIN_PML], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const flags = {
    nored: ["-DNOREDUCE"],
    por: [],
    collapse: ["-DNOREDUCE", "-DCOLLAPSE"],
    hc4: ["-DNOREDUCE", "-DHC4"],
  }[mode];
  execFileSync("gcc", [opts.opt ?? "-O2", "-w", "-DSAFETY", ...flags, "-o", pan, "pan.c"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return pan;
}

function num(out: string, re: RegExp, what: string): number {
  const m = re.exec(out);
  if (!m) throw new Error(`pan's output has no "${what}" line:\n${out}`);
  return Number(m[1]);
}

/** The children's user + system time from the last line of bash's `times` ("0m1.234s 0m0.010s"). */
function childCpuSeconds(out: string): number {
  const lines = out.trim().split("\n");
  const m = /^(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s$/.exec(lines[lines.length - 1]!.trim());
  if (!m) return NaN;
  return Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
}

/** Parses pan's report. */
export function parsePan(out: string): Omit<SpinRun, "N" | "P" | "cpuSeconds"> {
  if (/max search depth too small/.test(out)) {
    throw new Error("pan: max search depth too small (raise -m)");
  }
  return {
    states: num(out, /^\s*(\d+) states, stored/m, "states, stored"),
    transitions: num(out, /^\s*(\d+) transitions \(= stored\+matched\)/m, "transitions"),
    seconds: num(out, /elapsed time ([\d.e+-]+) seconds/, "elapsed time"),
    memoryBytes: Math.round(
      num(out, /^\s*([\d.]+)\s+total actual memory usage/m, "total actual memory usage") * 2 ** 20,
    ),
    vectorBytes: num(out, /State-vector (\d+) byte/, "State-vector"),
    depth: num(out, /depth reached (\d+)/, "depth reached"),
    errors: num(out, /errors: (\d+)/, "errors"),
  };
}

/** Builds and runs pan for scan_private(N, P). */
export function runSpin(N: number, P: number, opts: SpinOptions = {}): SpinRun {
  const pan = buildPan(N, P, opts);
  // bash's `times` prints the CPU time of the children (pan) after it ran
  const r = spawnSync("bash", ["-c", `"$0" -m${opts.maxDepth ?? 1_000_000}; times`, pan], {
    cwd: dirname(pan),
    encoding: "utf8",
    maxBuffer: 16 * 2 ** 20,
  });
  if (r.error) throw r.error;
  const out = r.stdout + r.stderr;
  return { N, P, ...parsePan(out), cpuSeconds: childCpuSeconds(out) };
}

export interface RecordedCounts {
  readonly spinVersion: string;
  readonly recorded: string;
  readonly command: string;
  readonly counts: readonly { N: number; P: number; states: number; transitions: number }[];
}

export function readRecordedCounts(): RecordedCounts | undefined {
  if (!existsSync(COUNTS_FILE)) return undefined;
  return JSON.parse(readFileSync(COUNTS_FILE, "utf8")) as RecordedCounts;
}

/** The sizes the twin test compares (small: the whole test stays well under 20 s). */
export const TEST_SIZES: readonly { N: number; P: number }[] = [
  { N: 1, P: 1 },
  { N: 1, P: 2 },
  { N: 2, P: 1 },
  { N: 2, P: 2 },
  { N: 3, P: 1 },
  { N: 3, P: 2 },
  { N: 4, P: 1 },
  { N: 4, P: 2 },
  { N: 3, P: 3 },
  { N: 5, P: 2 },
];
