import { describe, it, expect } from "vitest";
import { compileModel } from "../../src/index.ts";
import { replay } from "../../src/trace/replay.ts";
import { diagram } from "../../src/trace/diagram.ts";
import { parseSchedule } from "../../src/trace/schedule.ts";
import { explain } from "../../src/check.ts";
import flagLock from "../../models/classic/flag-lock.ts";
import philosophers from "../../models/classic/philosophers.ts";

describe("the race diagram", () => {
  it("puts each step in its CPU's column, changes indented below, the verdict last", () => {
    const model = compileModel(flagLock, "test-then-set");
    const rep = replay(model, parseSchedule("0 1 0 0 1 1"));
    const text = diagram(model, rep.steps, rep.outcomes[0]);
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^CPU0 \(flag_lock0\)\s+CPU1 \(flag_lock1\)$/);
    const col1 = lines[0]!.indexOf("CPU1");
    expect(lines[1]).toBe("locked -> false");
    expect(lines[2]).toBe(" ".repeat(col1) + "locked -> false");
    expect(lines[3]).toBe("locked = true");
    expect(lines[4]).toBe("  locked false -> true");
    expect(lines.at(-2)).toBe("");
    expect(lines.at(-1)).toBe("=> mutual-exclusion: 2 CPUs in the critical section");
    // no trailing blanks: pasteable into a mail
    for (const l of lines) expect(l).toBe(l.trimEnd());
  });

  it("can leave the changes out", () => {
    const model = compileModel(flagLock, "test-then-set");
    const rep = replay(model, parseSchedule("0 1 0 0 1 1"));
    const text = diagram(model, rep.steps, undefined, { changes: false });
    expect(text).not.toContain("->  ");
    expect(text.split("\n")).toHaveLength(7);
  });

  it("does not repeat the property name when the message starts with it", async () => {
    const model = compileModel(philosophers, "left-then-right", { n: 2 });
    const text = explain(model, {
      property: "deadlock",
      kind: "deadlock",
      message: "deadlock: no CPU can make progress",
      schedule: parseSchedule("0 1"),
    });
    expect(text).toContain("=> deadlock: no CPU can make progress");
    expect(text).not.toContain("deadlock: deadlock");
    expect(text).toContain("spin_lock(&fork0)");
    expect(text).toContain("fork0 unlocked -> held by CPU0");
    await Promise.resolve();
  });
});
