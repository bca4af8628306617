import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "properties/**/*.test.ts", "models/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // fails the run if a test wrote into the repository (test/clean-tree.ts)
    globalSetup: ["test/clean-tree.ts"],
    // The CLI type-checks model files before loading them (src/cli/typecheck.ts); each new set
    // of files costs a compiler run of seconds. The tests of the CLI are not about that, so it
    // is off here; test/cli/typecheck.test.ts and the `npm start` test turn it back on.
    env: { INTERLEAVE_NO_TYPECHECK: "1" },
  },
});
