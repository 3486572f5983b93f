// Errors a user sees. Each carries the context needed to act on it, and the top level
// turns it into one clear line (see formatError) and exit code 2.

export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(message: string, readonly flag?: string) {
    super(flag ? `${flag}: ${message}` : message);
  }
}

/** How many characters of the offending text a message quotes, an ellipsis included when it is cut. */
export const QUOTE_CHARS = 80;

/**
 * Longest reason an InputError keeps. Reasons quote through quoted() and stay far below; this
 * bounds the ones that do not (a tool's own message, a value interpolated whole), so a 1 MB
 * token never becomes a 1 MB line on a terminal or in a finding.
 */
export const MAX_REASON_CHARS = 400;

/** A printed error line: a path (PATH_MAX is 4096) and a reason. */
export const MAX_LINE_CHARS = 4096 + MAX_REASON_CHARS;

/**
 * Control characters (line breaks included: CR, LF, NEL, U+2028/9; terminal escapes) written
 * as escapes, so that text taken from an input can never break the one line a refusal is.
 * A tab is left as it is: it breaks no line, and messages quoting tabbed input stay readable.
 */
export function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    switch (c) {
      case '\n': return '\\n';
      case '\r': return '\\r';
      default: return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    }
  });
}

/** `text` in at most `max` characters: cut (not inside a surrogate pair) and ended by an ellipsis when longer. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** Any text as one line of at most `max` characters (cut first: escaping 1 MB to keep 400 would be waste). */
export function oneLine(text: string, max = MAX_REASON_CHARS): string {
  return clip(escapeControls(clip(text, max)), max);
}

/** Offending input text for a message: in double quotes, on one line, at most QUOTE_CHARS of it. */
export function quoted(text: string): string {
  return `"${oneLine(text, QUOTE_CHARS)}"`;
}

/** Input that cannot be read or parsed: names the file, and the line/column when known. */
export class InputError extends Error {
  override readonly name = 'InputError';
  /** What is wrong, as one line of at most MAX_REASON_CHARS (see oneLine). */
  readonly reason: string;
  constructor(readonly file: string, reason: string, readonly line?: number, readonly column?: number) {
    const bounded = oneLine(reason);
    super(`${escapeControls(file)}${line !== undefined ? `:${line}` : ''}${column !== undefined ? `:${column}` : ''}: ${bounded}`);
    this.reason = bounded;
  }
}

export function formatError(err: unknown): string {
  // One line whatever the error (a flag's value, a library's message): a refusal is read on a
  // terminal and grepped in logs.
  return oneLine(err instanceof Error ? err.message : String(err), MAX_LINE_CHARS);
}

/** Exit codes shared by every command: 0 ok, 1 findings at/above threshold, 2 bad input or usage. */
export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

export function isUserError(err: unknown): err is UsageError | InputError {
  return err instanceof UsageError || err instanceof InputError;
}
