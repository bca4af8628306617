// One interleave run of the twin, in its own process so that its peak RSS is its own:
//   node bin/run-ts.mjs bench/interleave-one.ts N P [maxMemoryBytes] [--liveness] [--fingerprint] [--reduce]
// Prints one JSON line: states, transitions, seconds, cpuSeconds, verdict, tableBytes, maxRssBytes
// (and in fingerprint mode the collision probability).
// Safety only (as SPIN's -DSAFETY run) unless --liveness: then the state graph's edges are kept
// and termination is checked after the search (livenessSeconds: its CPU time). Without partial-order
// reduction unless --reduce (then `reduction` says what it did).

import { compileModel, explore, exploreParallel } from "../src/index.ts";
import twin from "./twins/scan_private.ts";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const liveness = args.includes("--liveness");
const fingerprint = args.includes("--fingerprint");
// --workers=N: the parallel search (explore/parallel.ts) with N worker threads
const workers = Number(args.find((a) => a.startsWith("--workers="))?.slice(10) ?? 0);
const reduce = args.includes("--reduce");
const [N, P, maxMemory] = args.filter((a) => !a.startsWith("--")).map(Number);
if (!Number.isInteger(N) || !Number.isInteger(P)) {
  console.error(
    "usage: interleave-one.ts N P [maxMemoryBytes] [--liveness] [--fingerprint] [--reduce]",
  );
  process.exit(2);
}
const model = compileModel(twin, "twin", { folios: N!, putters: P! });
const cpu0 = process.cpuUsage();
const eo = { liveness, ...(maxMemory ? { maxMemory } : {}), fingerprint, reduce };
const r =
  workers > 0
    ? await exploreParallel(
        model,
        {
          kind: "file",
          file: fileURLToPath(new URL("./twins/scan_private.ts", import.meta.url)),
          name: twin.name,
        },
        { ...eo, reduce: false, workers },
      )
    : await explore(model, eo);
const cpu = process.cpuUsage(cpu0);
console.log(
  JSON.stringify({
    N,
    P,
    states: r.states,
    transitions: r.transitions,
    seconds: r.seconds,
    // user + system CPU time of the exploration (robust when other processes share the cores)
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    verdict: r.verdict,
    liveness,
    livenessSeconds: r.livenessCpuSeconds ?? 0,
    stopReason: r.stopReason ?? null,
    tableBytes: r.memoryBytes,
    // resourceUsage().maxRSS is in KiB
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    fingerprint: r.fingerprint ?? null,
    reduction: r.reduction ?? null,
  }),
);
