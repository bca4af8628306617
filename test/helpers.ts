// Shared helpers of the checker's own tests: tiny inline models and an in-process CLI runner.

import { vi } from "vitest";
import { defineModel, ModelBuilder, compileModel, type CompiledModel } from "../src/index.ts";
import type { Fields } from "../src/model/schema.ts";
import type { Stmt } from "../src/model/dsl.ts";
import type { ThreadRefs } from "../src/model/model.ts";
import { main } from "../src/cli/main.ts";

/** A one-variant model built by `fill` (threads, invariants); compiled at once. */
export function tiny<F extends Fields>(
  shared: F,
  fill: (m: ModelBuilder<F>) => void,
  opts: { races?: boolean; name?: string } = {},
): CompiledModel {
  const def = defineModel({
    name: opts.name ?? "tiny",
    doc: "test model",
    params: {},
    variants: { only: { options: {}, expect: "holds" } },
    build: () => {
      const m = new ModelBuilder(shared, { races: opts.races ?? false });
      fill(m);
      return m;
    },
  });
  return compileModel(def, "only");
}

/** Adds a thread with no locals. */
export function cpu<F extends Fields>(
  m: ModelBuilder<F>,
  name: string,
  body: (t: ThreadRefs<F, Record<string, never>>) => Stmt[],
): number {
  return m.thread(name, {}, body);
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `interleave ARGS` in this process (same code as bin/interleave.mjs), capturing output. */
export async function cli(...args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const text = (a: unknown[]): string => a.map((x) => String(x)).join(" ");
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => {
    out.push(text(a) + "\n");
  });
  const error = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => {
    err.push(text(a) + "\n");
  });
  const write = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown) => {
    err.push(String(chunk));
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}
