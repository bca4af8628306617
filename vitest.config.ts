import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "properties/**/*.test.ts", "models/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // fails the run if a test wrote into the repository (test/clean-tree.ts)
    globalSetup: ["test/clean-tree.ts"],
  },
});
