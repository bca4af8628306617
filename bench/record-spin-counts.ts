// Records SPIN's state and transition counts of the Promela twin for the sizes the twin test
// compares (bench/twins/spin-counts.json), so that the test can still compare with SPIN on a
// machine without it. Run after changing scan_private.pml:
//   node bin/run-ts.mjs bench/record-spin-counts.ts

import { writeFileSync } from "node:fs";
import {
  COUNTS_FILE,
  INSTALL_HINT,
  runSpin,
  spinTools,
  TEST_SIZES,
  type RecordedCounts,
} from "./spin.ts";

const tools = spinTools();
if (!tools.ok) {
  console.error(
    `record-spin-counts: ${tools.missing.join(" and ")} not found on PATH; ${INSTALL_HINT}`,
  );
  process.exit(2);
}
const counts: RecordedCounts["counts"][number][] = [];
for (const { N, P } of TEST_SIZES) {
  const r = runSpin(N, P, { opt: "-O0" });
  if (r.errors !== 0) {
    console.error(`record-spin-counts: pan reports ${r.errors} error(s) for N=${N} P=${P}`);
    process.exit(1);
  }
  counts.push({ N, P, states: r.states, transitions: r.transitions });
  console.log(`N=${N} P=${P}: ${r.states} states, ${r.transitions} transitions`);
}
const out: RecordedCounts = {
  spinVersion: tools.version ?? "?",
  recorded: new Date().toISOString(),
  command:
    "spin -DN=<N> -DP=<P> -a -o1 -o2 -o3 scan_private.pml; gcc -DSAFETY -DNOREDUCE; ./pan -m1000000",
  counts,
};
writeFileSync(COUNTS_FILE, JSON.stringify(out, null, 2) + "\n");
console.log(`wrote ${COUNTS_FILE}`);
