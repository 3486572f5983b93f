// JSON read from files and tools: syntax errors located (line and column), nesting bounded
// (no tool netconform reads nests deeper; the parsers that walk a document recursively
// must not meet a stack overflow), and one way to say what a wrong value was.
import { InputError } from './errors.js';

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

/** JSON.parse with an InputError naming file, line and column; refuses deep nesting. */
export function parseJsonInput(text: string, file: string, maxDepth = MAX_JSON_DEPTH): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const m = /position (\d+)/.exec(msg);
    const offset = m ? Number(m[1]) : /end of JSON input/.test(msg) ? text.length : undefined;
    const pos = offset !== undefined ? lineColumnAt(text, offset) : undefined;
    throw new InputError(file, `invalid JSON: ${msg.replace(/ \(line \d+ column \d+\)$/, '')}`, pos?.line, pos?.column);
  }
  if (nestsDeeperThan(v, maxDepth)) throw new InputError(file, `nested deeper than ${maxDepth} levels; not the output it should be`);
  return v;
}
