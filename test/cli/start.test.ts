// `npm start` is the demo and the regression check at once: it checks every bundled model and
// succeeds exactly when every verdict is the one its model declares. Runs whatever is in models/.
import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

interface Row {
  model: string;
  variant: string;
  verdict: string;
  expected: { ok: boolean; detail: string } | null;
}

describe("npm start", () => {
  it("is `check models --expect`", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.start).toBe("node bin/interleave.mjs check models --expect");
  });

  it("every bundled model's verdict is as declared (exit 0)", () => {
    const r = spawnSync(
      process.execPath,
      ["bin/interleave.mjs", "check", "models", "--expect", "--no-save", "--json"],
      {
        encoding: "utf8",
        maxBuffer: 64 * 2 ** 20,
        // as a user runs it: the model files are type-checked first
        env: { ...process.env, INTERLEAVE_NO_TYPECHECK: "0" },
      },
    );
    const rows = (JSON.parse(r.stdout) as { results: Row[] }).results;
    const notAsDeclared = rows
      .filter((x) => x.expected?.ok !== true)
      .map(
        (x) => `${x.model}/${x.variant}: ${x.verdict} (${x.expected?.detail ?? "no expectation"})`,
      );
    expect(notAsDeclared).toEqual([]);
    expect(rows.map((x) => x.model)).toEqual(
      expect.arrayContaining(["flag-lock", "peterson", "philosophers"]),
    );
    expect(r.stderr).not.toContain("interleave: error");
    expect(r.status).toBe(0);
  });
});
