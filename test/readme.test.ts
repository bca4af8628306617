// The README's worked example is real: its code is the fixture file, its output what the checker
// prints for it. The quick start is the two commands the issue asks for.
import { describe, it, expect } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "./helpers.ts";

const readme = readFileSync("README.md", "utf8");

/** The body of the first fenced block after `marker`. */
function blockAfter(marker: string): string {
  const at = readme.indexOf(marker);
  expect(at).toBeGreaterThanOrEqual(0);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error(`no code block after ${marker}`);
  return m[1]!;
}

describe("README", () => {
  it("quick start: exactly `npm install && npm start` and `npm install && npm test`", () => {
    const quick = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("## A worked"));
    const commands = [...quick.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
    expect(commands).toEqual(["npm install && npm start", "npm install && npm test"]);
  });

  it("the worked example is test/fixtures/put-race.ts, verbatim", () => {
    expect(blockAfter("<!-- example: test/fixtures/put-race.ts -->")).toBe(
      readFileSync("test/fixtures/put-race.ts", "utf8"),
    );
  });

  it("the pasted diagram is what the checker prints for it", async () => {
    // the block that starts with the command (the marker is its first line)
    const pasted = blockAfter("Check it (`npx interleave`");
    expect(pasted.startsWith("$ npx interleave check models/mine/put-race.ts")).toBe(true);
    const from = pasted.indexOf("CPU0 (folio_put)");
    const to = pasted.indexOf("\n\n2 variant");
    expect(from).toBeGreaterThan(0);
    expect(to).toBeGreaterThan(from);
    const diagram = pasted.slice(from, to);
    const r = await cli("check", "test/fixtures/put-race.ts", "--no-save");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(diagram);
    expect(r.stdout).toMatch(/put-race\s+open-coded\s+violated\s+ok\s+32\s+44\s/);
    expect(r.stdout).toMatch(/put-race\s+atomic\s+holds\s+ok\s+6\s+6\s/);
  });

  it("the liveness lasso is what replay --no-changes prints for the polite livelock", async () => {
    const pasted = blockAfter("## Liveness").trimEnd();
    const dir = mkdtempSync(join(tmpdir(), "interleave-readme-"));
    try {
      const c = await cli("check", "models/classic/polite-livelock.ts", "--save", dir);
      expect(c.code).toBe(1);
      const r = await cli(
        "replay",
        join(dir, "polite-livelock", "both-back-off", "termination.json"),
        "--no-changes",
      );
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(pasted);
      expect(r.stdout).toContain("reproduced: termination");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("documents every command, the exit codes and a fuzz section", () => {
    for (const h of [
      "### check",
      "### list",
      "### replay",
      "### diff",
      "### fuzz",
      "### Exit codes",
    ])
      expect(readme).toContain(h);
    for (const code of ["| 0 ", "| 1 ", "| 2 ", "| 3 "]) expect(readme).toContain(code);
  });
});
