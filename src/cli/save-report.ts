// A save that failed is reported once, after the results (whose verdicts and exit code stand):
// which files, why, and what to do.

import { saveHint } from "../trace/atomic.ts";

export interface FailedSave {
  readonly path: string;
  readonly code: string | undefined;
  readonly message: string;
}

/** Prints one E_SAVE error for the failed saves (nothing when there is none). */
export function reportSaveErrors(failed: readonly FailedSave[]): void {
  if (failed.length === 0) return;
  const first = failed[0]!;
  const head =
    failed.length === 1
      ? `could not save ${first.path}: ${first.message}`
      : `could not save ${failed.length} counterexamples: ${failed.map((f) => `${f.path}: ${f.message}`).join("; ")}`;
  console.error(`interleave: error E_SAVE: ${head}`);
  console.error(`  hint: ${saveHint(failed.map((f) => f.code))}`);
}
