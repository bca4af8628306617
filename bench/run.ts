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
import { INSTALL_HINT, BENCH_DIR, runSpin, spinTools, type SpinRun } from "./spin.ts";
import { loadModels } from "../src/cli/load.ts";
import { compileModel, explore } from "../src/index.ts";

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

function parseArgs(argv: string[]): { sizes: Size[]; models: boolean } {
  let sizes = DEFAULT_SIZES;
  let models = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--quick") sizes = QUICK_SIZES;
    else if (a === "--no-models") models = false;
    else if (a === "--sizes") {
      const v = argv[++i] ?? "";
      sizes = v.split(",").map((s) => {
        const m = /^(\d+)x(\d+)$/.exec(s.trim());
        if (!m) {
          console.error(`bench: --sizes takes NxP,NxP... (e.g. 8x3,9x4), not "${s}"`);
          process.exit(2);
        }
        return { N: Number(m[1]), P: Number(m[2]) };
      });
    } else {
      console.error(`bench: unknown option ${a}; options: --quick, --sizes NxP,..., --no-models`);
      process.exit(2);
    }
  }
  return { sizes, models };
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
}

function runInterleave(s: Size, liveness = false): IlRun {
  const root = join(BENCH_DIR, "..");
  const r = spawnSync(
    process.execPath,
    [
      join(root, "bin", "run-ts.mjs"),
      join(BENCH_DIR, "interleave-one.ts"),
      String(s.N),
      String(s.P),
      ...(liveness ? ["0", "--liveness"] : []),
    ],
    { cwd: root, encoding: "utf8", maxBuffer: 16 * 2 ** 20 },
  );
  if (r.status !== 0) throw new Error(`interleave run N=${s.N} P=${s.P} failed:\n${r.stderr}`);
  const line = r.stdout.trim().split("\n").pop()!;
  return JSON.parse(line) as IlRun;
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

async function main(): Promise<void> {
  const { sizes, models } = parseArgs(process.argv.slice(2));
  const tools = spinTools();
  console.log(`interleave bench — node ${process.version}, one thread each, same machine`);
  if (tools.ok) {
    console.log(
      `SPIN: ${tools.version}; spin -a -o1 -o2 -o3, gcc -O2 -DSAFETY -DNOREDUCE, ./pan -m1000000`,
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
      "tool",
      "states",
      "transitions",
      "seconds",
      "CPU s",
      "states/s",
      "states/CPU-s",
      "peak MiB",
      "bytes/state",
      "il/SPIN",
      "il/SPIN CPU",
    ],
  ];
  const mismatches: string[] = [];
  let last: { wall: number; cpu: number } | undefined;
  const rate = (states: number, s: number): string =>
    s > 0 && Number.isFinite(s) ? fmtInt(Math.round(states / s)) : "-";
  for (const s of sizes) {
    const il = runInterleave(s);
    let sp: SpinRun | undefined;
    if (tools.ok) {
      try {
        sp = runSpin(s.N, s.P);
      } catch (e) {
        const err = e as Error & { stderr?: Buffer | string };
        mismatches.push(
          `N=${s.N} P=${s.P}: SPIN failed: ${err.message.split("\n")[0]}${err.stderr ? `\n${String(err.stderr).slice(0, 2000)}` : ""}`,
        );
      }
    }
    let ratio: { wall: number; cpu: number } | undefined;
    if (sp) {
      // pan reports its elapsed time to 0.01 s: 0 on the smallest sizes
      ratio = {
        wall: sp.seconds > 0 ? il.states / il.seconds / (sp.states / sp.seconds) : NaN,
        cpu: il.states / il.cpuSeconds / (sp.states / sp.cpuSeconds),
      };
      last = ratio;
    }
    rows.push([
      `${s.N},${s.P}`,
      "interleave",
      fmtInt(il.states),
      fmtInt(il.transitions),
      fmt(il.seconds),
      fmt(il.cpuSeconds),
      rate(il.states, il.seconds),
      rate(il.states, il.cpuSeconds),
      fmt(il.maxRssBytes / MiB, 1),
      fmt(il.tableBytes / il.states, 1),
      ratio ? fmt(ratio.wall) : "-",
      ratio ? fmt(ratio.cpu) : "-",
    ]);
    if (sp) {
      rows.push([
        "",
        "SPIN",
        fmtInt(sp.states),
        fmtInt(sp.transitions),
        fmt(sp.seconds),
        fmt(sp.cpuSeconds),
        rate(sp.states, sp.seconds),
        rate(sp.states, sp.cpuSeconds),
        fmt(sp.memoryBytes / MiB, 1),
        fmt(sp.memoryBytes / sp.states, 1),
        "",
        "",
      ]);
      if (sp.states !== il.states)
        mismatches.push(`N=${s.N} P=${s.P}: interleave ${il.states}, SPIN ${sp.states}`);
      if (sp.errors !== 0) mismatches.push(`N=${s.N} P=${s.P}: pan reports ${sp.errors} error(s)`);
    }
    if (il.verdict !== "holds")
      mismatches.push(`N=${s.N} P=${s.P}: interleave verdict ${il.verdict}`);
  }
  console.log(table(rows));
  console.log("");
  console.log(
    [
      "seconds: each tool's own figure for the search (interleave: explore(); SPIN: pan's \"elapsed time\").",
      "CPU s: user + system CPU time (interleave: process.cpuUsage() around explore(); SPIN: the pan",
      "  process, from bash `times`, including its start-up); robust when other processes share the cores.",
      "peak MiB: interleave = peak RSS of its process (resourceUsage().maxRSS, includes node itself);",
      '  SPIN = pan\'s "total actual memory usage" (includes its fixed 128 MiB hash table and DFS stack).',
      "bytes/state: interleave = state store + visited table + frontier / states; SPIN = total actual",
      "  memory / states.",
      'transitions: pan counts "stored + matched", one more than interleave (the initial state).',
      "il/SPIN: interleave states/s divided by SPIN's (wall clock; CPU time).",
    ].join("\n"),
  );
  if (last !== undefined) {
    console.log(
      `\ninterleave / SPIN states/s on the largest twin: ${fmt(last.wall)}x by wall clock, ` +
        `${fmt(last.cpu)}x by CPU time (target >= 0.5x, long term >= 1x)`,
    );
  }
  if (mismatches.length > 0) {
    console.log(`\nPROBLEMS:\n  ${mismatches.join("\n  ")}`);
    process.exitCode = 1;
  } else if (tools.ok) {
    console.log("state counts: equal at every size.");
  }

  livenessCost(sizes[sizes.length - 1]!);
  if (models) await livenessOnModels();

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
  const off = runInterleave(s);
  const on = runInterleave(s, true);
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
      const r = await explore(compileModel(def, v), { maxSeconds: 5, liveness: false });
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
      const r = await explore(compileModel(best.def, best.v), { liveness });
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

await main();
