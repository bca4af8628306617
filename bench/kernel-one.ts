// One exploration of a bundled model's scenario, in its own process (its own peak RSS), for the
// kernel scaling table of `npm run bench`:
//   node bin/run-ts.mjs bench/kernel-one.ts ROOT MODEL VARIANT PARAMS_JSON MODE MAX_SECONDS
// ROOT is the checkout whose models and explorer run (this one, or an older one for "before"
// figures); MODE is exact, fingerprint or reduced (partial-order reduction; the other two run
// without it; a checkout without fingerprint mode or reduction runs exact).
// Prints one JSON line.

import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [root, model, variant, paramsJson, mode, maxSeconds] = process.argv.slice(2);
if (!root || !model || !variant || !paramsJson || !mode || !maxSeconds) {
  console.error(
    "usage: kernel-one.ts ROOT MODEL VARIANT PARAMS_JSON exact|fingerprint|reduced MAX_SECONDS",
  );
  process.exit(2);
}
type Loaded = { def: { name: string } }[];
const load = (await import(pathToFileURL(join(root, "src/cli/load.ts")).href)) as {
  loadModels: (paths: string[]) => Promise<Loaded>;
};
const api = (await import(pathToFileURL(join(root, "src/index.ts")).href)) as {
  compileModel: (def: unknown, variant: string, params: unknown) => unknown;
  explore: (
    m: unknown,
    o: Record<string, unknown>,
  ) => Promise<{
    verdict: string;
    states: number;
    complete: boolean;
    stopReason?: string;
    seconds: number;
    memoryBytes: number;
    violations: { property: string }[];
  }>;
};
const loaded = await load.loadModels([join(root, "models")]);
const def = loaded.find((l) => l.def.name === model)?.def;
if (!def) {
  console.error(`kernel-one: no model ${model} under ${root}/models`);
  process.exit(2);
}
const compiled = api.compileModel(def, variant, JSON.parse(paramsJson));
const cpu0 = process.cpuUsage();
// safety only, as SPIN's -DSAFETY (a checkout without liveness ignores the option)
const r = await api.explore(compiled, {
  maxSeconds: Number(maxSeconds),
  fingerprint: mode === "fingerprint",
  liveness: false,
  reduce: mode === "reduced",
});
const cpu = process.cpuUsage(cpu0);
console.log(
  JSON.stringify({
    verdict: r.verdict,
    states: r.states,
    complete: r.complete,
    stopReason: r.stopReason ?? null,
    seconds: r.seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    tableBytes: r.memoryBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    violated: r.violations.map((v) => v.property),
  }),
);
