// `npm run bench`: interleave against SPIN on the twin model scan_private (bench/TWIN.md), from
// one run on this machine, then interleave's speed on the bundled models.
//
//   npm run bench                 sizes up to N=9 folios, P=4 putters (6.3 million states)
//   npm run bench -- --quick      small sizes only
//   npm run bench -- --sizes 8x3,9x4
//
// Installs nothing: SPIN and gcc are used when on PATH; otherwise it says how to get them and
// runs the interleave side alone. Everything is built in bench/.out/ (gitignored).

import { spawnSync } from "node:child_process";
import { join, relative } from "node:path";
import {
  INSTALL_HINT,
  BENCH_DIR,
  runSpin,
  spinTools,
  SPIN_MODES,
  type SpinMode,
  type SpinRun,
} from "./spin.ts";
import { loadModels } from "../src/cli/load.ts";
import { compileModel, explore } from "../src/index.ts";
import { resolveParams, type ModelDef } from "../src/model/model.ts";

interface Size {
  N: number;
  P: number;
}

const DEFAULT_SIZES: Size[] = [
  { N: 4, P: 2 },
  { N: 6, P: 3 },
  { N: 8, P: 3 },
  { N: 9, P: 3 },
  { N: 9, P: 4 },
];
const QUICK_SIZES: Size[] = [
  { N: 4, P: 2 },
  { N: 6, P: 3 },
];

/** reduced: exact mode with partial-order reduction (the other modes run without it). */
type IlMode = "exact" | "fingerprint" | "reduced" | "workers-1" | "workers-2";
const IL_MODES: readonly IlMode[] = ["exact", "fingerprint", "reduced", "workers-1", "workers-2"];

interface Args {
  sizes: Size[];
  models: boolean;
  kernel: boolean;
  repeat: number;
  kernelSeconds: number;
  modes: IlMode[];
  spinModes: SpinMode[];
  /** A checkout of earlier code whose explorer gives the kernel table's "before" column. */
  before: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const o: Args = {
    sizes: DEFAULT_SIZES,
    models: true,
    kernel: true,
    repeat: 3,
    kernelSeconds: 60,
    modes: ["exact", "fingerprint", "reduced", "workers-1", "workers-2"],
    spinModes: [...SPIN_MODES],
    before: undefined,
  };
  const fail = (msg: string): never => {
    console.error(`bench: ${msg}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--quick") {
      o.sizes = QUICK_SIZES;
      o.repeat = 1;
      o.kernelSeconds = 10;
    } else if (a === "--no-models") o.models = false;
    else if (a === "--no-kernel") o.kernel = false;
    else if (a === "--before") o.before = argv[++i] ?? fail("--before takes a directory");
    else if (a === "--repeat") {
      o.repeat = Number(argv[++i]);
      if (!Number.isInteger(o.repeat) || o.repeat < 1) fail("--repeat takes a positive integer");
    } else if (a === "--kernel-seconds") {
      o.kernelSeconds = Number(argv[++i]);
      if (!(o.kernelSeconds > 0)) fail("--kernel-seconds takes a positive number");
    } else if (a === "--modes") {
      const v = (argv[++i] ?? "").split(",");
      if (v.some((m) => !IL_MODES.includes(m as IlMode)))
        fail(`--modes takes a list of ${IL_MODES.join(",")}, not "${v.join(",")}"`);
      o.modes = v as IlMode[];
    } else if (a === "--spin") {
      const v = (argv[++i] ?? "").split(",").filter((m) => m !== "");
      if (v.some((m) => !SPIN_MODES.includes(m as SpinMode)))
        fail(
          `--spin takes a list of ${SPIN_MODES.join(",")} (or "" for none), not "${v.join(",")}"`,
        );
      o.spinModes = v as SpinMode[];
    } else if (a === "--sizes") {
      const v = argv[++i] ?? "";
      o.sizes = v.split(",").map((x) => {
        const m = /^(\d+)x(\d+)$/.exec(x.trim());
        if (!m) return fail(`--sizes takes NxP,NxP... (e.g. 8x3,9x4), not "${x}"`);
        return { N: Number(m[1]), P: Number(m[2]) };
      });
    } else {
      fail(
        `unknown option ${a}; options: --quick, --sizes NxP,..., --repeat R, --modes exact,fingerprint,reduced, ` +
          `--spin ${SPIN_MODES.join(",")}, --no-kernel, --kernel-seconds S, --before DIR, --no-models`,
      );
    }
  }
  return o;
}

interface IlRun {
  states: number;
  transitions: number;
  seconds: number;
  cpuSeconds: number;
  verdict: string;
  tableBytes: number;
  maxRssBytes: number;
  livenessSeconds: number;
  fingerprint: { collisionProbability: number; optimistic: number } | null;
  reduction: { on: boolean; reducedStates?: number } | null;
}

function runInterleave(s: Size, mode: IlMode, liveness = false): IlRun {
  const root = join(BENCH_DIR, "..");
  const r = spawnSync(
    process.execPath,
    [
      join(root, "bin", "run-ts.mjs"),
      join(BENCH_DIR, "interleave-one.ts"),
      String(s.N),
      String(s.P),
      ...(mode === "fingerprint" ? ["--fingerprint"] : []),
      // the parallel search (explore/parallel.ts) with 1 or 2 worker threads; its CPU time
      // counts every thread of the process
      ...(mode.startsWith("workers-") ? [`--workers=${mode.slice(8)}`] : []),
      ...(mode === "reduced" ? ["--reduce"] : []),
      ...(liveness ? ["0", "--liveness"] : []),
    ],
    { cwd: root, encoding: "utf8", maxBuffer: 16 * 2 ** 20 },
  );
  if (r.status !== 0) throw new Error(`interleave run N=${s.N} P=${s.P} failed:\n${r.stderr}`);
  const line = r.stdout.trim().split("\n").pop()!;
  return JSON.parse(line) as IlRun;
}

/** The run whose CPU time is the median of the repeats (wall time: its own median). */
function median<T extends { seconds: number; cpuSeconds: number }>(runs: T[]): T {
  const byCpu = [...runs].sort((a, b) => a.cpuSeconds - b.cpuSeconds);
  const wall = [...runs].map((r) => r.seconds).sort((a, b) => a - b);
  return { ...byCpu[(byCpu.length - 1) >> 1]!, seconds: wall[(wall.length - 1) >> 1]! };
}

const MiB = 2 ** 20;
const fmtInt = (n: number): string => n.toLocaleString("en-US");
const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : "-");

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) => r.map((x, c) => (c < 2 ? x.padEnd(w[c]!) : x.padStart(w[c]!))).join("  "))
    .join("\n");
}

const SPIN_LABEL: Record<SpinMode, string> = {
  nored: "SPIN, no reduction",
  por: "SPIN, partial-order red.",
  collapse: "SPIN, COLLAPSE",
  hc4: "SPIN, hash compaction HC4",
};

async function main(): Promise<void> {
  const { sizes, models, kernel, repeat, kernelSeconds, modes, spinModes, before } = parseArgs(
    process.argv.slice(2),
  );
  const tools = spinTools();
  console.log(
    `interleave bench — node ${process.version}, one thread each, same machine; medians of ${repeat} ` +
      `run(s) per row, the tools alternating`,
  );
  if (tools.ok) {
    console.log(
      `SPIN: ${tools.version}; spin -a -o1 -o2 -o3, gcc -O2 -DSAFETY [-DNOREDUCE] [-DCOLLAPSE|-DHC4], ./pan -m1000000`,
    );
  } else {
    console.log(
      `SPIN side skipped: ${tools.missing.join(" and ")} not found on PATH. To compare, ${INSTALL_HINT}`,
    );
  }
  console.log("");

  const rows: string[][] = [
    [
      "twin N,P",
      "tool / mode",
      "states",
      "transitions",
      "seconds",
      "CPU s",
      "states/s",
      "states/CPU-s",
      "peak MiB",
      "bytes/state",
      "vs SPIN",
      "vs SPIN CPU",
    ],
  ];
  const mismatches: string[] = [];
  const notes: string[] = [];
  const rate = (states: number, s: number): string =>
    s > 0 && Number.isFinite(s) ? fmtInt(Math.round(states / s)) : "-";
  let lastSize: { s: Size; il: Map<IlMode, IlRun>; sp: Map<SpinMode, SpinRun> } | undefined;
  for (const s of sizes) {
    const ilRuns = new Map<IlMode, IlRun[]>(modes.map((m) => [m, []]));
    const spRuns = new Map<SpinMode, SpinRun[]>((tools.ok ? spinModes : []).map((m) => [m, []]));
    for (let k = 0; k < repeat; k++) {
      for (const m of modes) ilRuns.get(m)!.push(runInterleave(s, m));
      for (const m of spRuns.keys()) {
        try {
          spRuns.get(m)!.push(runSpin(s.N, s.P, { mode: m }));
        } catch (e) {
          const err = e as Error & { stderr?: Buffer | string };
          mismatches.push(
            `N=${s.N} P=${s.P}: SPIN (${m}) failed: ${err.message.split("\n")[0]}${err.stderr ? `\n${String(err.stderr).slice(0, 2000)}` : ""}`,
          );
          spRuns.delete(m);
        }
      }
    }
    const il = new Map([...ilRuns].map(([m, r]) => [m, median(r)] as const));
    const sp = new Map([...spRuns].map(([m, r]) => [m, median(r)] as const));
    lastSize = { s, il, sp };
    const ref = sp.get("nored");
    let first = true;
    for (const [m, r] of il) {
      // reduced: fewer states, so states per second say little; its time goes in the notes
      const ratio =
        ref && m !== "reduced"
          ? {
              wall: ref.seconds > 0 ? r.states / r.seconds / (ref.states / ref.seconds) : NaN,
              cpu: r.states / r.cpuSeconds / (ref.states / ref.cpuSeconds),
            }
          : undefined;
      rows.push([
        first ? `${s.N},${s.P}` : "",
        `interleave, ${m}`,
        fmtInt(r.states),
        fmtInt(r.transitions),
        fmt(r.seconds),
        fmt(r.cpuSeconds),
        rate(r.states, r.seconds),
        rate(r.states, r.cpuSeconds),
        fmt(r.maxRssBytes / MiB, 1),
        fmt(r.tableBytes / r.states, 1),
        ratio ? fmt(ratio.wall) : "-",
        ratio ? fmt(ratio.cpu) : "-",
      ]);
      first = false;
      if (r.verdict !== "holds")
        mismatches.push(`N=${s.N} P=${s.P}: interleave (${m}) verdict ${r.verdict}`);
      const spinPor = sp.get("por");
      const exact = il.get("exact");
      if (m === "reduced")
        notes.push(
          `N=${s.N} P=${s.P} reduced: ${fmtInt(r.states)} states` +
            (exact ? ` (${fmt((100 * r.states) / exact.states, 1)} % of exact)` : "") +
            `, ${fmtInt(r.reduction?.reducedStates ?? 0)} expanded with one CPU-local step` +
            (spinPor
              ? `; SPIN's partial-order reduction ${fmtInt(spinPor.states)} states. Time to a verdict vs SPIN with ` +
                `partial-order reduction: ${fmt(r.cpuSeconds / spinPor.cpuSeconds)}x its CPU time, ` +
                `${fmt(r.seconds / spinPor.seconds)}x its wall time (goal <= 0.5x)`
              : ""),
        );
      if (ref && r.states !== ref.states && m !== "reduced") {
        // a fingerprint collision would lose states: say so rather than hide it
        mismatches.push(
          `N=${s.N} P=${s.P}: interleave (${m}) ${r.states} states, SPIN ${ref.states}`,
        );
      }
      if (r.fingerprint)
        notes.push(
          `N=${s.N} P=${s.P} fingerprint mode: collision probability <= ${r.fingerprint.collisionProbability.toExponential(2)} ` +
            `(n(n-1)/2^65), TLC's optimistic estimate ${r.fingerprint.optimistic.toExponential(2)}`,
        );
    }
    for (const [m, r] of sp) {
      rows.push([
        "",
        SPIN_LABEL[m],
        fmtInt(r.states),
        fmtInt(r.transitions),
        fmt(r.seconds),
        fmt(r.cpuSeconds),
        rate(r.states, r.seconds),
        rate(r.states, r.cpuSeconds),
        fmt(r.memoryBytes / MiB, 1),
        fmt(r.memoryBytes / r.states, 1),
        "",
        "",
      ]);
      if (r.errors !== 0)
        mismatches.push(`N=${s.N} P=${s.P}: pan (${m}) reports ${r.errors} error(s)`);
    }
  }
  console.log(table(rows));
  console.log("");
  console.log(
    [
      "seconds: each tool's own figure for the search (interleave: explore(); SPIN: pan's \"elapsed time\").",
      "CPU s: user + system CPU time (interleave: process.cpuUsage() around explore(); SPIN: the pan",
      "  process, from bash `times`, including its start-up). The machine is shared: CPU time is the",
      "  figure to trust, wall time moves with the load.",
      "peak MiB: interleave = peak RSS of its process (resourceUsage().maxRSS, includes node itself);",
      '  SPIN = pan\'s "total actual memory usage" (includes its fixed 128 MiB hash table and DFS stack).',
      "bytes/state: interleave = state store + visited table + frontier / states (fingerprint mode: links,",
      "  moves, fingerprints, frontier); SPIN = total actual memory / states.",
      'transitions: pan counts "stored + matched", one more than interleave (the initial state).',
      "vs SPIN: interleave states/s divided by SPIN's without reduction (wall clock; CPU time).",
    ].join("\n"),
  );
  for (const n of notes) console.log(n);
  if (lastSize) {
    const { s, il, sp } = lastSize;
    const ref = sp.get("nored");
    const ex = il.get("exact");
    const fpr = il.get("fingerprint");
    const red = il.get("reduced");
    const lines: string[] = [];
    if (ref && ex) {
      const cpu = ex.states / ex.cpuSeconds / (ref.states / ref.cpuSeconds);
      const wall = ex.states / ex.seconds / (ref.states / ref.seconds);
      lines.push(
        `exact mode, states per second vs SPIN without reduction: ${fmt(cpu)}x by CPU time, ${fmt(wall)}x by wall clock (goal >= 1.0x); ` +
          `bytes/state ${fmt(ex.tableBytes / ex.states, 1)} vs SPIN's ${fmt(ref.memoryBytes / ref.states, 1)} (goal <=)`,
      );
    }
    if (fpr) {
      lines.push(
        `fingerprint mode: ${fmt(fpr.tableBytes / fpr.states, 1)} bytes/state (goal <= 16)` +
          (ref
            ? `, ${fmt(fpr.states / fpr.cpuSeconds / (ref.states / ref.cpuSeconds))}x SPIN's states per CPU-second`
            : ""),
      );
    }
    const w1 = il.get("workers-1");
    const w2 = il.get("workers-2");
    if (w1 && w2) {
      lines.push(
        `parallel search, 2 workers vs 1 (--workers 1 is the serial explorer): ${fmt(w1.seconds / w2.seconds)}x ` +
          `faster by wall clock, ${fmt(w2.cpuSeconds / w1.cpuSeconds)}x the CPU time` +
          (ref
            ? `; time to a verdict ${fmt(w2.seconds / ref.seconds)}x SPIN's (no reduction, wall clock)`
            : ""),
      );
    }
    const por = sp.get("por");
    if (por && (ex || red)) {
      lines.push(
        `time to a verdict vs SPIN with partial-order reduction (CPU time):` +
          (ex ? ` exact ${fmt(ex.cpuSeconds / por.cpuSeconds)}x` : "") +
          (fpr ? `, fingerprint ${fmt(fpr.cpuSeconds / por.cpuSeconds)}x` : "") +
          (red
            ? `, reduced ${fmt(red.cpuSeconds / por.cpuSeconds)}x (wall ${fmt(red.seconds / por.seconds)}x)`
            : "") +
          " (goal <= 0.5x)",
      );
    }
    if (lines.length > 0)
      console.log(`\non the largest twin (N=${s.N}, P=${s.P}):\n  ${lines.join("\n  ")}`);
  }
  if (mismatches.length > 0) {
    console.log(`\nPROBLEMS:\n  ${mismatches.join("\n  ")}`);
    process.exitCode = 1;
  } else if (tools.ok) {
    console.log(
      "state counts: equal at every size (interleave's modes and SPIN without reduction).",
    );
  }

  symmetryRows(lastSize, kernelSeconds);

  livenessCost(sizes[sizes.length - 1]!);
  if (models) await livenessOnModels();

  if (kernel) await kernelTable(kernelSeconds, before);
  if (models) await reductionOnModels();

  if (models) {
    console.log(
      "\nbundled models (interleave, each variant, default parameters, at most 5 s each):",
    );
    const root = join(BENCH_DIR, "..");
    const loaded = await loadModels([join(root, "models")]);
    const mrows: string[][] = [
      ["model", "variant", "states", "transitions", "seconds", "states/s", "verdict"],
    ];
    for (const { def, file } of loaded) {
      for (const v of Object.keys(def.variants)) {
        try {
          const r = await explore(compileModel(def, v), { maxSeconds: 5 });
          mrows.push([
            `${def.name} (${relative(root, join(root, file))})`.replace(
              /^(\S+) \(models\//,
              "$1 (",
            ),
            v,
            fmtInt(r.states),
            fmtInt(r.transitions),
            fmt(r.seconds, 3),
            r.seconds > 0 ? fmtInt(Math.round(r.states / r.seconds)) : "-",
            r.verdict,
          ]);
        } catch (e) {
          mrows.push([def.name, v, "-", "-", "-", "-", `error: ${(e as Error).message}`]);
        }
      }
    }
    console.log(table(mrows));
  }
}

interface SymRun {
  verdict: string;
  states: number;
  complete: boolean;
  seconds: number;
  cpuSeconds: number;
  violated: string[];
  error: string | null;
}

/** One run of bench/symmetry-one.ts (its own process). */
function runSymmetry(args: string[]): SymRun | { refused: string } {
  const root = join(BENCH_DIR, "..");
  const r = spawnSync(
    process.execPath,
    [join(root, "bin", "run-ts.mjs"), join(BENCH_DIR, "symmetry-one.ts"), ...args],
    { cwd: root, encoding: "utf8", maxBuffer: 16 * 2 ** 20 },
  );
  if (r.status !== 0)
    return { refused: (r.stderr.trim().split("\n").pop() ?? "failed").slice(0, 200) };
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as SymRun | { refused: string };
}

/**
 * Symmetry reduction (issue 13 item 2): the twin with its putters declared alike, and the
 * kernel scenario whose two scanners are alike, with the reduction off and on (safety only).
 */
function symmetryRows(
  last: { s: Size; il: Map<IlMode, IlRun>; sp: Map<SpinMode, SpinRun> } | undefined,
  seconds: number,
): void {
  console.log(
    "\nsymmetry reduction (alike CPUs/objects; safety only, each run in its own process):",
  );
  const rows: string[][] = [
    [
      "scenario",
      "run",
      "verdict",
      "states",
      "seconds",
      "CPU s",
      "states x",
      "CPU x",
      "vs SPIN POR CPU",
    ],
  ];
  const notes: string[] = [];
  if (last) {
    const { s, il, sp } = last;
    const ex = il.get("exact");
    const por = sp.get("por");
    const t = runSymmetry(["twin", String(s.N), String(s.P)]);
    const label = `twin ${s.N},${s.P}`;
    if (ex)
      rows.push([
        label,
        "exact, no symmetry",
        ex.verdict,
        fmtInt(ex.states),
        fmt(ex.seconds),
        fmt(ex.cpuSeconds),
        "1.00",
        "1.00",
        por ? fmt(ex.cpuSeconds / por.cpuSeconds) : "-",
      ]);
    if ("refused" in t) {
      rows.push([
        ex ? "" : label,
        `exact, ${s.P} putters alike`,
        "refused",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
      ]);
      notes.push(
        `twin ${s.N},${s.P}: alike() over the ${s.P} putters is refused: ${t.refused}. Each putter ` +
          `puts its own folios (F<k>, F<k+P>, ...) and the scanner puts the folios it pinned in index ` +
          `order, so no permutation of putters (with or without their folios) maps the twin's steps ` +
          `onto themselves: symmetry does not apply to it, and its time to a verdict is exact mode's.`,
      );
    } else {
      rows.push([
        ex ? "" : label,
        `exact, ${s.P} putters alike`,
        t.verdict,
        fmtInt(t.states),
        fmt(t.seconds),
        fmt(t.cpuSeconds),
        ex ? fmt(ex.states / t.states) : "-",
        ex ? fmt(ex.cpuSeconds / t.cpuSeconds) : "-",
        por ? fmt(t.cpuSeconds / por.cpuSeconds) : "-",
      ]);
      if (t.error) notes.push(`twin with symmetry: ${t.error}`);
    }
  }
  const sc = {
    model: "deferred-split",
    variant: "private-list",
    params: { folios: 3, putters: 3, scanners: 2 },
  };
  const label = `${sc.model} / ${sc.variant} (${Object.entries(sc.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ")})`;
  const run = (on: boolean): SymRun | { refused: string } =>
    runSymmetry([
      "kernel",
      sc.model,
      sc.variant,
      JSON.stringify(sc.params),
      on ? "on" : "off",
      String(seconds),
    ]);
  const off = run(false);
  const on = run(true);
  for (const [name, r] of [
    ["exact, no symmetry", off],
    ["exact, 2 scanners alike", on],
  ] as const) {
    if ("refused" in r) {
      rows.push([
        name === "exact, no symmetry" ? label : "",
        name,
        `error: ${r.refused}`,
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
      ]);
      continue;
    }
    const base = "refused" in off ? undefined : off;
    rows.push([
      name === "exact, no symmetry" ? label : "",
      name,
      r.complete ? r.verdict : `${r.verdict} (incomplete)`,
      fmtInt(r.states),
      fmt(r.seconds),
      fmt(r.cpuSeconds),
      base ? fmt(base.states / r.states) : "-",
      base ? fmt(base.cpuSeconds / r.cpuSeconds) : "-",
      "-",
    ]);
  }
  if (!("refused" in off) && !("refused" in on) && off.violated.join() !== on.violated.join())
    notes.push(
      `PROBLEM: ${label}: violated ${off.violated.join(",")} without symmetry, ${on.violated.join(",")} with it`,
    );
  console.log(table(rows));
  console.log(
    "states x, CPU x: the run without symmetry divided by this one. vs SPIN POR CPU: CPU time to the verdict divided by SPIN's with partial-order reduction (goal <= 0.5).",
  );
  for (const n of notes) console.log(n);
}

/**
 * Partial-order reduction on the bundled models: every variant at its default parameters, safety
 * only (the reduction is off while the liveness check runs), unreduced and reduced.
 */
async function reductionOnModels(): Promise<void> {
  const root = join(BENCH_DIR, "..");
  const loaded = await loadModels([join(root, "models")]);
  const rows: string[][] = [
    ["model", "variant", "states", "reduced", "%", "CPU s", "reduced CPU s", "verdicts"],
  ];
  let all = 0;
  let allRed = 0;
  for (const { def } of loaded) {
    for (const v of Object.keys(def.variants)) {
      const run = async (reduce: boolean) => {
        const c0 = process.cpuUsage();
        const r = await explore(compileModel(def, v), { maxSeconds: 10, liveness: false, reduce });
        const c = process.cpuUsage(c0);
        return { r, cpu: (c.user + c.system) / 1e6 };
      };
      const a = await run(false);
      const b = await run(true);
      const props = (r: typeof a.r): string =>
        r.violations
          .map((x) => x.property)
          .sort()
          .join();
      const same = a.r.verdict === b.r.verdict && props(a.r) === props(b.r);
      all += a.r.states;
      allRed += b.r.states;
      rows.push([
        def.name,
        v,
        fmtInt(a.r.states),
        fmtInt(b.r.states),
        fmt((100 * b.r.states) / Math.max(1, a.r.states), 1),
        fmt(a.cpu, 3),
        fmt(b.cpu, 3),
        same ? `same (${a.r.verdict})` : `DIFFER: ${a.r.verdict} / ${b.r.verdict}`,
      ]);
    }
  }
  console.log(
    "\npartial-order reduction on the bundled models (default parameters, --no-liveness; at most 10 s each):",
  );
  console.log(table(rows));
  console.log(
    `all variants: ${fmtInt(allRed)} states reduced vs ${fmtInt(all)} (${fmt((100 * allRed) / Math.max(1, all), 1)} %)`,
  );
}

/** One row of the liveness table: a run without and one with the liveness check. */
function livenessRows(
  what: string,
  off: { states: number; transitions: number; seconds: number; bytes: number; rss?: number },
  on: {
    states: number;
    transitions: number;
    seconds: number;
    bytes: number;
    rss?: number;
    analysis: number;
  },
): string[][] {
  const mib = (b: number | undefined): string => (b === undefined ? "-" : fmt(b / MiB, 1));
  return [
    [
      what,
      "safety only",
      fmtInt(off.states),
      fmtInt(off.transitions),
      fmt(off.seconds, 3),
      "-",
      mib(off.bytes),
      fmt(off.bytes / off.states, 1),
      mib(off.rss),
      "",
      "",
    ],
    [
      "",
      "+ liveness",
      fmtInt(on.states),
      fmtInt(on.transitions),
      fmt(on.seconds, 3),
      fmt(on.analysis, 3),
      mib(on.bytes),
      fmt(on.bytes / on.states, 1),
      mib(on.rss),
      fmt(on.seconds / off.seconds),
      fmt(on.bytes / off.bytes),
    ],
  ];
}

const LIVENESS_HEADER = [
  "model",
  "check",
  "states",
  "transitions",
  "seconds",
  "of which SCCs",
  "table MiB",
  "bytes/state",
  "peak MiB",
  "time x",
  "memory x",
];

/** The cost of the liveness check on the largest twin (each run in its own process). */
function livenessCost(s: Size): void {
  console.log(
    `\nliveness (termination under weak fairness) on the twin N=${s.N} P=${s.P}, each run in its own process (CPU seconds):`,
  );
  const off = runInterleave(s, "exact");
  const on = runInterleave(s, "exact", true);
  const row = (
    r: IlRun,
  ): {
    states: number;
    transitions: number;
    seconds: number;
    bytes: number;
    rss: number;
    analysis: number;
  } => ({
    states: r.states,
    transitions: r.transitions,
    // CPU seconds: robust when other processes share the cores
    seconds: r.cpuSeconds,
    bytes: r.tableBytes,
    rss: r.maxRssBytes,
    analysis: r.livenessSeconds,
  });
  console.log(table([LIVENESS_HEADER, ...livenessRows(`twin ${s.N},${s.P}`, row(off), row(on))]));
  const edgeBytes = on.tableBytes - off.tableBytes;
  console.log(
    `kept for liveness: ${fmt(edgeBytes / MiB, 1)} MiB = ${fmt(edgeBytes / on.states, 1)} bytes/state ` +
      `(${fmt(edgeBytes / on.transitions, 1)} bytes/transition: 4-byte target + 1-byte CPU per edge, ` +
      `12 bytes/state for the edge range and enabled CPUs, arrays grown by doubling); ` +
      `verdicts ${off.verdict} / ${on.verdict}.`,
  );
  console.log(
    `Recomputing the edges instead (re-executing every step of every stored state after the search) ` +
      `would cost about the search again: ${fmt(off.cpuSeconds, 2)} CPU s here, vs ${fmt(on.livenessSeconds, 2)} s ` +
      `for the SCC analysis over kept edges.`,
  );
}

/** The cost of the liveness check on the largest bundled model (in this process). */
async function livenessOnModels(): Promise<void> {
  const root = join(BENCH_DIR, "..");
  const loaded = await loadModels([join(root, "models")]);
  let best: { def: (typeof loaded)[number]["def"]; v: string; states: number } | undefined;
  for (const { def } of loaded) {
    for (const v of Object.keys(def.variants)) {
      const r = await explore(compileModel(def, v), {
        maxSeconds: 5,
        liveness: false,
        reduce: false,
      });
      if (!best || r.states > best.states) best = { def, v, states: r.states };
    }
  }
  if (!best) return;
  // the best of five runs each, in CPU time (a small model: JIT warm-up and timer noise; other
  // processes on the cores)
  const run = async (liveness: boolean) => {
    let b: Awaited<ReturnType<typeof explore>> | undefined;
    let cpu = Infinity;
    let analysis = Infinity;
    for (let i = 0; i < 5; i++) {
      const c0 = process.cpuUsage();
      // unreduced in both rows: the reduction is off while the liveness check runs
      const r = await explore(compileModel(best.def, best.v), { liveness, reduce: false });
      const c = process.cpuUsage(c0);
      cpu = Math.min(cpu, (c.user + c.system) / 1e6);
      analysis = Math.min(analysis, r.livenessCpuSeconds ?? 0);
      b = r;
    }
    return { ...b!, seconds: cpu, livenessSeconds: analysis };
  };
  const off = await run(false);
  const on = await run(true);
  console.log(
    `\nliveness on the largest bundled model, ${best.def.name}/${best.v} (best of 5; CPU seconds):`,
  );
  const row = (r: typeof on) => ({
    states: r.states,
    transitions: r.transitions,
    seconds: r.seconds,
    bytes: r.memoryBytes,
    analysis: r.livenessSeconds ?? 0,
  });
  console.log(table([LIVENESS_HEADER, ...livenessRows(best.def.name, row(off), row(on))]));
}

interface KernelRun {
  verdict: string;
  states: number;
  complete: boolean;
  stopReason: string | null;
  seconds: number;
  cpuSeconds: number;
  tableBytes: number;
  maxRssBytes: number;
  violated: string[];
}

function runKernel(
  root: string,
  model: string,
  variant: string,
  params: Record<string, number | string>,
  mode: IlMode,
  seconds: number,
): KernelRun | string {
  const r = spawnSync(
    process.execPath,
    [
      join(BENCH_DIR, "..", "bin", "run-ts.mjs"),
      join(BENCH_DIR, "kernel-one.ts"),
      root,
      model,
      variant,
      JSON.stringify(params),
      mode,
      String(seconds),
    ],
    { cwd: join(BENCH_DIR, ".."), encoding: "utf8", maxBuffer: 16 * 2 ** 20 },
  );
  if (r.status !== 0) return (r.stderr.trim().split("\n").pop() ?? "failed").slice(0, 120);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as KernelRun;
}

/**
 * The kernel scaling table's scenarios: issue 13's deferred-split private-list with 3 folios,
 * 3 putters and 2 scanners, and the largest scenario of each bundled model: every integer
 * parameter at its declared maximum (deferred-split: the largest of bench:fuzz's scaled
 * scenarios, with migration and synchronous split as well), its first variant.
 */
function kernelScenarios(
  defs: readonly ModelDef[],
): { model: string; variant: string; params: Record<string, number | string> }[] {
  const out: { model: string; variant: string; params: Record<string, number | string> }[] = [];
  for (const def of defs) {
    if (def.name === "scan_private") continue;
    if (def.name === "deferred-split") {
      out.push({
        model: def.name,
        variant: "private-list",
        params: { folios: 3, putters: 3, scanners: 2 },
      });
      out.push({
        model: def.name,
        variant: "private-list",
        params: { folios: 3, putters: 3, scanners: 2, with_migration: 1, with_sync_split: 1 },
      });
      continue;
    }
    const variant = Object.keys(def.variants)[0]!;
    const params: Record<string, number | string> = {};
    for (const [k, d] of Object.entries(def.params)) {
      const decl = d as { min?: number; max?: number; default: number | string };
      if (typeof decl.default === "number" && typeof decl.max === "number") params[k] = decl.max;
    }
    resolveParams(def, variant, params); // throws on a bad parameter, before the run
    out.push({ model: def.name, variant, params });
  }
  return out;
}

async function kernelTable(seconds: number, before: string | undefined): Promise<void> {
  const root = join(BENCH_DIR, "..");
  const defs = (await loadModels([join(root, "models")])).map((l) => l.def);
  const cols: [string, string, IlMode][] = [
    ...(before ? ([["before", before, "exact"]] as [string, string, IlMode][]) : []),
    ["exact", root, "exact"],
    ["fingerprint", root, "fingerprint"],
    ["reduced", root, "reduced"],
  ];
  console.log(
    `\nkernel scaling table: each scenario once per column, in its own process, at most ${seconds} s ` +
      `(wall) each${before ? `; "before" runs the explorer of ${before}` : ""}:`,
  );
  const rows: string[][] = [
    [
      "model / variant (params)",
      "run",
      "verdict",
      "states",
      "seconds",
      "CPU s",
      "MiB",
      "B/state",
      "complete",
    ],
  ];
  for (const sc of kernelScenarios(defs)) {
    const label = `${sc.model} / ${sc.variant} (${Object.entries(sc.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")})`;
    let first = true;
    for (const [name, dir, mode] of cols) {
      const r = runKernel(dir, sc.model, sc.variant, sc.params, mode, seconds);
      if (typeof r === "string") {
        rows.push([first ? label : "", name, `error: ${r}`, "-", "-", "-", "-", "-", "-"]);
      } else {
        rows.push([
          first ? label : "",
          name,
          r.verdict,
          fmtInt(r.states),
          fmt(r.seconds),
          fmt(r.cpuSeconds),
          fmt(r.tableBytes / MiB, 1),
          fmt(r.tableBytes / Math.max(1, r.states), 1),
          r.complete ? "yes" : `no (${r.stopReason ?? "?"})`,
        ]);
      }
      first = false;
    }
  }
  console.log(table(rows));
  console.log(
    "MiB, B/state: the explorer's tables (store, visited set, frontier), not the process's RSS.",
  );
}

await main();
