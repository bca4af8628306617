// vitest globalSetup: the suite must leave the working tree as it found it (tests write only to
// temporary folders). Compares `git status --porcelain` before and after the whole run and fails
// the run when a test created, changed or removed a file of the repository. Outside a git work
// tree (an unpacked archive) there is nothing to compare, and it says so.

import { execFileSync } from "node:child_process";

function status(): string | undefined {
  try {
    return execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return undefined;
  }
}

let before: string | undefined;

export function setup(): void {
  before = status();
  if (before === undefined)
    console.warn("clean-tree: not a git work tree; the suite's writes are not checked");
}

export function teardown(): void {
  if (before === undefined) return;
  const after = status() ?? "";
  if (after === before) return;
  const was = new Set(before.split("\n"));
  const now = new Set(after.split("\n"));
  const added = [...now].filter((l) => l && !was.has(l));
  const gone = [...was].filter((l) => l && !now.has(l));
  // vitest reports an error thrown here but still exits 0: set the exit code as well
  console.error(
    "clean-tree: FAILED: the test suite changed the working tree (tests must write only to os.tmpdir()):\n" +
      [...added.map((l) => `  now:    ${l}`), ...gone.map((l) => `  before: ${l}`)].join("\n"),
  );
  process.exitCode = 1;
  process.on("exit", () => {
    process.exitCode = 1;
  });
}
