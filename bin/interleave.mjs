#!/usr/bin/env node
// Entry point: registers the TypeScript loader (tsx) so that models are plain .ts files
// loaded without a build step, then hands over to the CLI.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
