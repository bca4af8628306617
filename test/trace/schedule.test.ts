import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { formatSchedule, parseSchedule } from "../../src/trace/schedule.ts";

describe("schedule text", () => {
  it("writes a move as CPU, or CPU:CHOICE when the choice is not 0", () => {
    expect(
      formatSchedule([
        { cpu: 0, choice: 0 },
        { cpu: 1, choice: 2 },
        { cpu: 12, choice: 0 },
      ]),
    ).toBe("0 1:2 12");
  });

  it("reads what it writes", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            cpu: fc.integer({ min: 0, max: 255 }),
            choice: fc.integer({ min: 0, max: 99 }),
          }),
        ),
        (moves) => {
          expect(parseSchedule(formatSchedule(moves))).toEqual(moves);
        },
      ),
    );
  });

  it("accepts commas and extra blanks", () => {
    expect(parseSchedule("  0, 1:1\n2 ")).toEqual([
      { cpu: 0, choice: 0 },
      { cpu: 1, choice: 1 },
      { cpu: 2, choice: 0 },
    ]);
  });

  it("rejects what is not a move, saying how to write one", () => {
    for (const bad of ["x", "0 -1", "1:", "1:a", "0.5"]) {
      expect(() => parseSchedule(bad)).toThrow(
        /is not a move; write each move as CPU or CPU:CHOICE/,
      );
    }
  });
});
