#!/usr/bin/env node
// Entry point: registers the TypeScript loader (tsx) so that models are plain .ts files
// loaded without a build step, then hands over to the CLI.
import { register } from "tsx/esm/api";

// `interleave replay F | head`: the reader went away; stop quietly, as other Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
