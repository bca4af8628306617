// The exhaustive checker's test helpers: they pass on the verdict they ask for, and otherwise
// throw with the verdict and the race diagram (so a failing test prints the race).
import { describe, expect, it } from "vitest";
import flagLock from "../models/classic/flag-lock.ts";
import peterson from "../models/classic/peterson.ts";
import misplaced from "../models/misplaced-migration/misplaced-migration.ts";
import {
  CheckFailure,
  checkMatchers,
  checkModel,
  expectAsDeclared,
  expectHolds,
} from "../src/index.ts";

expect.extend(checkMatchers);
declare module "vitest" {
  interface Assertion {
    toHold(opts?: import("../src/index.ts").CheckOptions): Promise<void>;
  }
}

async function failure(p: Promise<unknown>): Promise<CheckFailure> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CheckFailure);
    return e as CheckFailure;
  }
  throw new Error("expected a CheckFailure");
}

describe("expectHolds / expectAsDeclared / toHold", () => {
  it("checkModel runs every variant, or the one asked for", async () => {
    expect((await checkModel(flagLock)).map((c) => c.result.variant)).toEqual(
      Object.keys(flagLock.variants),
    );
    const [one] = await checkModel(flagLock, { variant: "test-and-set" });
    expect(one!.result.verdict).toBe("holds");
  });

  it("expectHolds passes on a variant that holds and fails with the diagram on one that does not", async () => {
    const ok = await expectHolds(peterson, { variant: "peterson" });
    expect(ok[0]!.result.verdict).toBe("holds");
    const f = await failure(expectHolds(flagLock, { variant: "test-then-set" }));
    expect(f.message).toContain("flag-lock / test-then-set (cpus=2): violated");
    expect(f.message).toContain("mutual-exclusion (6 steps):");
    expect(f.message).toMatch(/CPU0 \(flag_lock0\)\s+CPU1 \(flag_lock1\)/);
    expect(f.message).toContain("=> mutual-exclusion");
    expect(f.checked).toHaveLength(1);
  });

  it("a bound reached is not 'holds': expectHolds says incomplete and why", async () => {
    const f = await failure(expectHolds(peterson, { variant: "peterson", maxStates: 5 }));
    expect(f.message).toContain("incomplete");
    expect(f.message).toContain("incomplete: ");
  });

  it("expectAsDeclared passes when every variant gets its declared verdict", async () => {
    const all = await expectAsDeclared(flagLock);
    expect(all.every((c) => c.judgement?.ok)).toBe(true);
    // a scenario other than the declared one can change the verdict: the failure says how
    const f = await failure(
      expectAsDeclared(misplaced, { variant: "v6", params: { nr_folios: 1 } }),
    );
    expect(f.message).toContain("expected memcg-numa-migrate-stat to be violated, but it holds");
    expect(f.message).toContain("misplaced-migration / v6 (nr_folios=1");
  });

  it("toHold as a matcher: passes, fails with the diagram, and .not works", async () => {
    await expect(flagLock).toHold({ variant: "test-and-set" });
    await expect(flagLock).not.toHold({ variant: "test-then-set" });
    let message = "";
    try {
      await expect(flagLock).toHold({ variant: "test-then-set" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("=> mutual-exclusion");
  });
});
