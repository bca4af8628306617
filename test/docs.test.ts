// docs/primitives.md is generated from the kernel modules' declarations: it must be what the
// generator prints now (run `npm run docs:primitives` after changing src/kernel/).
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { formattedReference, OUT } from "../scripts/primitives.ts";

describe("docs/primitives.md", () => {
  it("is up to date with src/kernel/*.ts", async () => {
    const committed = readFileSync(OUT, "utf8");
    const now = await formattedReference();
    expect(committed === now, "docs/primitives.md is stale: run `npm run docs:primitives`").toBe(
      true,
    );
  });

  it("names each primitive with its atomicity and what it raises", () => {
    const doc = readFileSync(OUT, "utf8");
    const row = (name: string): string =>
      doc.split("\n").find((l) => l.startsWith(`| \`${name}\``)) ?? "";
    expect(row("deferred_split_folio")).toMatch(/warn-partially-mapped/);
    expect(row("folio_try_get")).toMatch(/one atomic step/);
    expect(row("list_lru_add")).toMatch(/memcg-use-after-free/);
    expect(row("reparent_deferred_split_queue")).toMatch(/spin_lock_irq/);
  });
});
