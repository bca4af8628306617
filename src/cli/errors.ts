// Errors for user mistakes: a code, what is wrong (naming the file, step or field) and what to do.

export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}
