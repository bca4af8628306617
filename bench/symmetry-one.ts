// One run for the symmetry rows of `npm run bench`, in its own process:
//   node bin/run-ts.mjs bench/symmetry-one.ts twin N P
//     the twin with its P putters declared alike (ModelBuilder.alike): the declaration is checked
//     first, and the run reports why it is refused when it is
//   node bin/run-ts.mjs bench/symmetry-one.ts kernel MODEL VARIANT PARAMS_JSON on|off MAX_SECONDS
//     a bundled model's scenario with its own alike() declarations, the reduction on or off
// Safety only (as SPIN's -DSAFETY; the liveness check turns symmetry off). Prints one JSON line.

import { join } from "node:path";
import { compileModel, explore, type CompiledModel } from "../src/index.ts";
import { loadModels } from "../src/cli/load.ts";
import { ModelBuilder, type ModelDef } from "../src/model/model.ts";
import { ModelError } from "../src/rt/mem.ts";
import twin from "./twins/scan_private.ts";

const [what, ...rest] = process.argv.slice(2);

async function run(model: CompiledModel, symmetry: boolean, maxSeconds?: number): Promise<void> {
  const cpu0 = process.cpuUsage();
  const r = await explore(model, {
    liveness: false,
    symmetry,
    ...(maxSeconds ? { maxSeconds } : {}),
  });
  const cpu = process.cpuUsage(cpu0);
  console.log(
    JSON.stringify({
      verdict: r.verdict,
      states: r.states,
      complete: r.complete,
      seconds: r.seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      violated: r.violations.map((v) => v.property).sort(),
      symmetry: r.symmetry ?? null,
      error: r.error ? `${r.error.code}: ${r.error.message}` : null,
    }),
  );
}

if (what === "twin") {
  const [N, P] = rest.map(Number);
  // the twin as it is, with one more line in its build: m.alike({ cpus: [1..P] })
  const alike: ModelDef = {
    ...twin,
    build: (args) => {
      const m = twin.build(args);
      if (m instanceof ModelBuilder && P! >= 2)
        m.alike({ cpus: Array.from({ length: P! }, (_, i) => i + 1) });
      return m;
    },
  };
  try {
    await run(compileModel(alike, "twin", { folios: N!, putters: P! }), true);
  } catch (e) {
    if (!(e instanceof ModelError)) throw e;
    console.log(JSON.stringify({ refused: `${e.code}: ${e.message}` }));
  }
} else if (what === "kernel") {
  const [name, variant, params, onOff, maxSeconds] = rest;
  const root = join(import.meta.dirname, "..");
  const def = (await loadModels([join(root, "models")])).find((l) => l.def.name === name)?.def;
  if (!def) throw new Error(`no model ${name}`);
  await run(
    compileModel(def, variant!, JSON.parse(params!) as Record<string, number>),
    onOff === "on",
    Number(maxSeconds),
  );
} else {
  console.error(
    "usage: symmetry-one.ts twin N P | kernel MODEL VARIANT PARAMS_JSON on|off MAX_SECONDS",
  );
  process.exit(2);
}
