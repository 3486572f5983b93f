// Errors a user sees. Each carries the context needed to act on it, and the top level
// turns it into one clear line (see formatError) and exit code 2.

export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(message: string, readonly flag?: string) {
    super(flag ? `${flag}: ${message}` : message);
  }
}

/** Input that cannot be read or parsed: names the file, and the line/column when known. */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(readonly file: string, readonly reason: string, readonly line?: number, readonly column?: number) {
    super(`${file}${line !== undefined ? `:${line}` : ''}${column !== undefined ? `:${column}` : ''}: ${reason}`);
  }
}

export function formatError(err: unknown): string {
  if (err instanceof UsageError || err instanceof InputError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Exit codes shared by every command: 0 ok, 1 findings at/above threshold, 2 bad input or usage. */
export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

export function isUserError(err: unknown): err is UsageError | InputError {
  return err instanceof UsageError || err instanceof InputError;
}
