// The search worker's entry: registers the TypeScript loader (as bin/interleave.mjs does), then
// runs the worker (worker.ts).
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
