// Saving a file whole or not at all: the text goes to a temporary file in the same folder, which
// is flushed to disk and then renamed over the target. A failure (read-only folder, a file where
// a folder should be, a full disk) leaves the target as it was, removes the temporary file and
// throws a SaveError naming the path and the cause; callers report it after their results
// rather than dying with them. Every save of the checker (counterexamples of check, diff and
// fuzz) goes through here.
//
// Fault injection for the tests: INTERLEAVE_FAULT_SAVE=CODE[:BYTES] makes every save fail with
// that errno code (ENOSPC, EIO, EDQUOT, ...) once BYTES bytes (default 0) have been written to
// the temporary file, as a full disk does.

import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

export class SaveError extends Error {
  override name = "SaveError";
  constructor(
    /** The file that was to be written. */
    readonly path: string,
    /** The errno code of the cause (EACCES, ENOTDIR, ENOSPC, ...), when there is one. */
    readonly cause_code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Receives the text of a file piece by piece (a long trace is never one string). */
export type Emit = (chunk: string) => void;

const FLUSH_BYTES = 1 << 16;

function injected(): { code: string; after: number } | undefined {
  const spec = process.env.INTERLEAVE_FAULT_SAVE;
  if (!spec) return undefined;
  const [code, after] = spec.split(":");
  return { code: code!, after: Number(after ?? 0) || 0 };
}

function fail(path: string, e: unknown): SaveError {
  if (e instanceof SaveError) return e;
  const err = e as NodeJS.ErrnoException;
  return new SaveError(path, err.code, err.message ?? String(e));
}

/**
 * Writes `content` (a string, or a function that emits the text in chunks) to `path`
 * atomically. A string equal to the file's present content is not written again. Throws
 * SaveError.
 */
export function writeFileAtomic(path: string, content: string | ((emit: Emit) => void)): void {
  if (typeof content === "string") {
    try {
      if (readFileSync(path, "utf8") === content) return;
    } catch {
      /* absent or unreadable: write it */
    }
  }
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fail(path, e);
  }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, "wx", 0o644);
  } catch (e) {
    throw fail(path, e);
  }
  const fault = injected();
  let written = 0;
  let pending: string[] = [];
  let pendingBytes = 0;
  const flush = (): void => {
    if (pendingBytes === 0) return;
    const buf = Buffer.from(pending.join(""), "utf8");
    pending = [];
    pendingBytes = 0;
    let off = 0;
    while (off < buf.length) {
      let n = buf.length - off;
      if (fault) {
        n = Math.min(n, Math.max(0, fault.after - written));
        if (n === 0) {
          const e = new Error(
            `${fault.code}: simulated failure (INTERLEAVE_FAULT_SAVE), write '${tmp}'`,
          ) as NodeJS.ErrnoException;
          e.code = fault.code;
          throw e;
        }
      }
      const w = writeSync(fd, buf, off, n);
      off += w;
      written += w;
    }
  };
  const emit: Emit = (chunk) => {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= FLUSH_BYTES) flush();
  };
  try {
    if (typeof content === "string") emit(content);
    else content(emit);
    flush();
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to remove */
    }
    throw fail(path, e);
  }
}

/** One line saying what to do about failed saves (the verdicts stand). */
export function saveHint(codes: readonly (string | undefined)[]): string {
  const what = new Set<string>();
  for (const c of codes) {
    if (c === "EACCES" || c === "EPERM" || c === "EROFS") what.add("make the folder writable");
    else if (c === "ENOTDIR" || c === "EEXIST" || c === "EISDIR")
      what.add("a file stands where a folder is needed: give another folder");
    else if (c === "ENOSPC" || c === "EDQUOT") what.add("free some disk space");
  }
  return (
    `${[...what].join(", ")}${what.size ? ", or " : ""}save elsewhere with --save DIR ` +
    `(--no-save to skip); the verdicts above stand and no existing file was changed`
  );
}
