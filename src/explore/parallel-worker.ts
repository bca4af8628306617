// One worker of the parallel search (parallel.ts): compiles the model from its source, then
// runs the phases the main thread posts (expand a level, rehash into a grown table) on the
// shared tables (parallel-core.ts), and answers each with its report.

import { parentPort, workerData } from "node:worker_threads";
import type { ParamValues } from "../model/params.ts";
import { setStepProbe, PROBE_WORDS } from "../rt/probe.ts";
import { hashAt, Packer } from "./store.ts";
import type { CompiledModel } from "../model/model.ts";
import {
  C_CURSOR,
  Expander,
  Keeper,
  runSolo,
  rehashRange,
  toWire,
  Views,
  type ExpandOptions,
  type Shared,
  type Work,
} from "./parallel-core.ts";
import { loadSource, type ModelSource } from "./parallel-source.ts";

export type ToWorker =
  | {
      readonly t: "load";
      readonly source: ModelSource;
      readonly variant: string;
      readonly params: ParamValues;
      readonly opts: ExpandOptions;
      readonly shared: Shared;
    }
  | { readonly t: "expand"; readonly depth: number; readonly work: Work; readonly shared: Shared }
  | {
      readonly t: "rehash";
      readonly old: SharedArrayBuffer;
      readonly oldBits: number;
      readonly shared: Shared;
      readonly words: number;
    }
  | {
      readonly t: "solo";
      readonly depth: number;
      readonly work: number[];
      readonly shared: Shared;
      readonly soloMax: number;
    }
  | { readonly t: "finish" };

export type FromWorker =
  | { readonly t: "loaded" }
  | { readonly t: "expanded"; readonly report: import("./parallel-core.ts").PhaseReport }
  | { readonly t: "rehashed" }
  | { readonly t: "solo"; readonly report: import("./parallel-core.ts").SoloReport }
  | {
      readonly t: "finished";
      readonly lockNotes: import("./parallel-core.ts").LockNote[];
      readonly edges: Int32Array;
    }
  | { readonly t: "failed"; readonly error: import("./parallel-core.ts").WireError };

const { index } = workerData as { index: number };
let ex: Expander | undefined;
let solo: { model: CompiledModel; stopAtFirst: boolean } | undefined;

function reply(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(m, transfer);
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.t) {
    case "load": {
      setStepProbe(new Int32Array(m.shared.probes, index * 4 * PROBE_WORDS, PROBE_WORDS));
      const model = await loadSource(m.source, m.variant, m.params);
      ex = new Expander(model, m.opts);
      solo = { model, stopAtFirst: m.opts.stopAtFirst };
      ex.setShared(m.shared);
      reply({ t: "loaded" });
      return;
    }
    case "expand": {
      ex!.setShared(m.shared);
      reply({ t: "expanded", report: ex!.expand(m.depth, m.work) });
      return;
    }
    case "solo": {
      ex!.setShared(m.shared);
      const keeper = new Keeper(solo!.model, new Packer(solo!.model.layout), solo!.stopAtFirst);
      const report = runSolo(
        ex!,
        keeper,
        new Views(m.shared),
        m.depth,
        m.work,
        m.soloMax,
        solo!.stopAtFirst,
      );
      reply({ t: "solo", report });
      return;
    }
    case "rehash": {
      const v = new Views(m.shared);
      const old = new Int32Array(m.old);
      const oldMask = (1 << m.oldBits) - 1;
      const chunk = 1 << 12;
      for (;;) {
        const from = Atomics.add(v.ctl, C_CURSOR, chunk);
        if (from >= old.length) break;
        rehashRange(
          old,
          oldMask,
          from,
          Math.min(old.length, from + chunk),
          v.table,
          m.shared.bits,
          v.arena,
          m.words,
          hashAt,
        );
      }
      reply({ t: "rehashed" });
      return;
    }
    case "finish": {
      const f = ex!.finish();
      ex = undefined;
      reply({ t: "finished", ...f }, [f.edges.buffer as ArrayBuffer]);
      return;
    }
  }
}

parentPort!.on("message", (m: ToWorker) => {
  handle(m).catch((e: unknown) => reply({ t: "failed", error: toWire(e) }));
});
