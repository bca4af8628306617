// A parallel-search worker's entry (parallel.ts): registers the TypeScript loader (as
// bin/interleave.mjs does), then runs the worker (parallel-worker.ts).
import { register } from "tsx/esm/api";

register();
await import("./parallel-worker.ts");
