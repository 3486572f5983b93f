// JSON read from files and tools: syntax errors located (line and column), nesting bounded
// (no tool netconform reads nests deeper; the parsers that walk a document recursively
// must not meet a stack overflow), and one way to say what a wrong value was.
import { escapeControls, InputError, oneLine } from './errors.js';

/** Deeper than this is no output of kubectl, nft, ip or a CNI config. */
export const MAX_JSON_DEPTH = 200;

/** What a value is, for "expected X, got Y" messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'a mapping';
  return `the ${typeof v} ${String(v)}`;
}

export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1, last = -1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) { line++; last = i; }
  return { line, column: offset - last };
}

/** Whether a parsed value nests deeper than `max` (iterative: never recurses into it). */
export function nestsDeeperThan(v: unknown, max: number): boolean {
  const stack: { v: unknown; d: number }[] = [{ v, d: 0 }];
  while (stack.length > 0) {
    const { v: cur, d } = stack.pop()!;
    if (typeof cur !== 'object' || cur === null) continue;
    if (d >= max) return true;
    for (const x of Array.isArray(cur) ? cur : Object.values(cur)) if (typeof x === 'object' && x !== null) stack.push({ v: x, d: d + 1 });
  }
  return false;
}

/**
 * What JSON.parse's error says, as one line with where it is. V8 words most errors "… in JSON
 * at position N", but an unexpected character as `Unexpected token 'x', "<the text around
 * it>" is not valid JSON` — quoting the input (line breaks, a megabyte of it) and giving no
 * position. That form is rewritten in the older wording with the position found by
 * jsonErrorOffset, so every syntax error names its line and column and stays one line.
 */
export function jsonSyntaxError(text: string, err: unknown): { reason: string; line?: number; column?: number } {
  const msg = err instanceof Error ? err.message : String(err);
  let reason = msg.replace(/ \(line \d+ column \d+\)$/, '');
  let offset: number | undefined;
  const at = /position (\d+)/.exec(msg);
  if (at) {
    offset = Number(at[1]);
  } else if (/end of JSON input/.test(msg)) {
    offset = text.length;
  } else {
    const found = jsonErrorOffset(text);
    if (found !== undefined) {
      offset = found;
      const token = /^Unexpected token '/.test(msg) && found < text.length ? String.fromCodePoint(text.codePointAt(found)!) : undefined;
      reason = token !== undefined
        ? `Unexpected token '${escapeControls(token)}' in JSON at position ${found}`
        : found >= text.length ? 'Unexpected end of JSON input' : `${msg.split(',')[0]} in JSON at position ${found}`;
    }
  }
  const pos = offset !== undefined ? lineColumnAt(text, offset) : undefined;
  return { reason: oneLine(`invalid JSON: ${reason}`), ...(pos ? { line: pos.line, column: pos.column } : {}) };
}

/**
 * Offset of the first character at which `text` stops being JSON (RFC 8259), text.length when
 * it ends early, undefined when it is valid. Iterative, so 10,000 levels of nesting are no
 * deeper a stack than one. Only run after JSON.parse has failed.
 */
export function jsonErrorOffset(text: string): number | undefined {
  const n = text.length;
  let i = 0;
  /** Open containers: 91 `[`, 123 `{`. */
  const open: number[] = [];
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const digits = (): number => {
    const from = i;
    while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    return i - from;
  };
  /** A string at i (its opening quote); false with i at the fault. */
  const string = (): boolean => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 34) { i++; return true; }
      if (c < 32) return false;
      if (c === 92) {
        const e = text.charCodeAt(i + 1);
        if (e === 117 /* u */) {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) { i += 1; return false; }
          i += 6;
          continue;
        }
        if (!(e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116)) { i += 1; return false; }
        i += 2;
        continue;
      }
      i++;
    }
    return false;
  };
  /** A member name and its colon; false with i at the fault. */
  const key = (): boolean => {
    ws();
    if (i >= n || text.charCodeAt(i) !== 34 || !string()) return false;
    ws();
    if (i >= n || text.charCodeAt(i) !== 58) return false;
    i++;
    return true;
  };
  for (;;) {
    // A value at i.
    ws();
    if (i >= n) return n;
    const c = text.charCodeAt(i);
    if (c === 123 || c === 91) {
      i++;
      ws();
      if (i < n && text.charCodeAt(i) === (c === 123 ? 125 : 93)) {
        i++;
      } else {
        open.push(c);
        if (c === 123 && !key()) return i;
        continue;
      }
    } else if (c === 34) {
      if (!string()) return i;
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      if (c === 45) i++;
      if (i < n && text.charCodeAt(i) === 48) i++;
      else if (digits() === 0) return i;
      if (i < n && text.charCodeAt(i) === 46) { i++; if (digits() === 0) return i; }
      if (i < n && (text.charCodeAt(i) === 101 || text.charCodeAt(i) === 69)) {
        i++;
        if (i < n && (text.charCodeAt(i) === 43 || text.charCodeAt(i) === 45)) i++;
        if (digits() === 0) return i;
      }
    } else {
      const word = c === 116 ? 'true' : c === 102 ? 'false' : c === 110 ? 'null' : undefined;
      if (word === undefined) return i;
      for (let k = 0; k < word.length; k++, i++) if (i >= n || text.charCodeAt(i) !== word.charCodeAt(k)) return i;
    }
    // After a value: close containers, or a comma and the next value.
    for (;;) {
      ws();
      if (open.length === 0) return i < n ? i : undefined;
      if (i >= n) return n;
      const top = open[open.length - 1]!;
      const d = text.charCodeAt(i);
      if (d === (top === 123 ? 125 : 93)) { i++; open.pop(); continue; }
      if (d !== 44) return i;
      i++;
      if (top === 123 && !key()) return i;
      break;
    }
  }
}

/** JSON.parse with an InputError naming file, line and column; refuses deep nesting. */
export function parseJsonInput(text: string, file: string, maxDepth = MAX_JSON_DEPTH): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    const e = jsonSyntaxError(text, err);
    throw new InputError(file, e.reason, e.line, e.column);
  }
  if (nestsDeeperThan(v, maxDepth)) throw new InputError(file, `nested deeper than ${maxDepth} levels; not the output it should be`);
  return v;
}
