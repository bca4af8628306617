// The model written only against src/index.ts: its verdicts, its shortest traces, and that it
// needs none of what the library is meant to hide (raw offsets, the state array, a hand-built
// lock or list).
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import model from "./migration-scan.ts";
import { expectAsDeclared } from "../../src/index.ts";
import { traceLengths } from "../../src/check.ts";

describe("migration-scan", () => {
  it("every variant gets its declared verdict, with the shortest traces found", async () => {
    const all = await expectAsDeclared(model);
    expect(Object.fromEntries(all.map((c) => [c.model.variant, traceLengths(c.result)]))).toEqual({
      v2: { "lost-membership": 32 }, // one step fewer: remove_migration_ptes maps F2 as F1 was
      "under-freeze": { "lost-membership": 40 },
    });
  });

  it("is written against src/index.ts alone: no $off, no state array, no hand-built lock", () => {
    const src = readFileSync(new URL("./migration-scan.ts", import.meta.url), "utf8");
    const code = src.replace(/^\s*\/\/.*$/gm, "");
    expect(code).not.toMatch(/\$off|\$node|\.m\.b\b|getMarked|setMarked|spinlock\(|listHead\(/);
    const imports = [...code.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
    expect(imports).toEqual(["../../src/index.ts"]);
  });
});
