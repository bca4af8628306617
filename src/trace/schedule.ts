// A schedule as text: moves separated by spaces, each `cpu` or `cpu:choice` ("0 0 1 1:2 0").
// This is what a counterexample file stores and what `--schedule` takes.

import type { Move } from "../rt/machine.ts";

export function formatSchedule(s: readonly Move[]): string {
  return s.map((m) => (m.choice ? `${m.cpu}:${m.choice}` : String(m.cpu))).join(" ");
}

export function parseSchedule(text: string): Move[] {
  const out: Move[] = [];
  for (const tok of text.trim().split(/[\s,]+/)) {
    if (tok === "") continue;
    const m = /^(\d+)(?::(\d+))?$/.exec(tok);
    if (!m) {
      throw new Error(
        `schedule: "${tok}" is not a move; write each move as CPU or CPU:CHOICE, e.g. "0 0 1 1:2"`,
      );
    }
    out.push({ cpu: Number(m[1]), choice: m[2] ? Number(m[2]) : 0 });
  }
  return out;
}
