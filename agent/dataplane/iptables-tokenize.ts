// iptables rule tokenizer: splits a rule on spaces with double-quote handling, and reads
// `--opt value…` runs for a module or target. Used by the general rule reader (iptables-rule.ts).
import { InputError, quoted } from '../../common/errors.js';

export interface Token {
  readonly text: string;
  readonly quoted: boolean;
  /** Offsets of the raw token in the tokenised string (quotes included). */
  readonly start: number;
  readonly end: number;
}

/** Splits on spaces; a double-quoted run (with `\"` escapes) is one token. */
export function tokenize(line: string): Token[] {
  const out: Token[] = [];
  const parts = line.split(' ');
  let off = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const start = off;
    off += p.length + 1;
    if (p === '') continue;
    if (p.charCodeAt(0) !== 34 /* " */) {
      out.push({ text: p, quoted: false, start, end: start + p.length });
      continue;
    }
    // Quoted: join parts until one ends with an unescaped quote.
    let acc = p;
    while (!(acc.length >= 2 && acc.endsWith('"') && !acc.endsWith('\\"')) && i + 1 < parts.length) {
      const q = parts[++i]!;
      acc += ' ' + q;
      off += q.length + 1;
    }
    const inner = acc.length >= 2 && acc.endsWith('"') ? acc.slice(1, -1) : acc.slice(1);
    out.push({ text: inner.includes('\\') ? inner.replace(/\\(.)/g, '$1') : inner, quoted: true, start, end: start + acc.length });
  }
  return out;
}

/** Module and target options that take N values (`--match-set NAME src,dst`; the SET target's `--add-set NAME src` alike). */
export const TWO_VALUE_OPTS = new Set(['--match-set', '--tcp-flags', '--add-set', '--del-set', '--map-set']);
export const ZERO_VALUE_OPTS = new Set([
  '--rcheck', '--set', '--update', '--remove', '--reap', '--rsource', '--rdest', '--random', '--random-fully',
  '--persistent', '--syn', '--limit-iface-in', '--limit-iface-out', '--return-nomatch', '--physdev-is-in',
  '--physdev-is-out', '--physdev-is-bridged', '--checksum-fill', '--log-uid', '--log-tcp-options', '--log-ip-options',
]);


export interface ModOpt {
  readonly name: string;
  readonly neg: boolean;
  readonly values: string[];
}

/** Reads one rule's tokens; a class rather than per-rule closures (hundreds of thousands of rules). */
export class RuleReader {
  i = 0;
  constructor(private readonly tokens: readonly Token[], private readonly file: string, private readonly lineNo: number) {}

  bad(why: string): never {
    throw new InputError(this.file, why, this.lineNo);
  }

  value(): string {
    const t = this.tokens[++this.i];
    if (!t) this.bad(`option ${quoted(this.tokens[this.i - 1]!.text)} needs a value`);
    return t.text;
  }

  private isOptionStart(t: Token): boolean {
    if (t.quoted) return false;
    const x = t.text;
    if (x === '!') return true;
    if (x.charCodeAt(0) !== 45 || x.length < 2) return false;
    const c1 = x.charCodeAt(1);
    return !(c1 >= 48 && c1 <= 57); // `-1` is a value
  }

  /** Reads `--opt value…` pairs until the next core option, `-m` or `-j`. */
  moduleOpts(initialNeg = false): ModOpt[] {
    const out: ModOpt[] = [];
    const tokens = this.tokens;
    let n = initialNeg;
    while (this.i + 1 < tokens.length) {
      const t = tokens[this.i + 1]!;
      if (t.text === '!' && !t.quoted) {
        const after = tokens[this.i + 2];
        if (!after || !after.text.startsWith('--')) break;
        n = true; this.i++;
        continue;
      }
      if (t.quoted || !t.text.startsWith('--')) break;
      this.i++;
      const name = t.text;
      const values: string[] = [];
      const want = TWO_VALUE_OPTS.has(name) ? 2 : ZERO_VALUE_OPTS.has(name) ? 0 : 1;
      for (let k = 0; k < want && this.i + 1 < tokens.length; k++) {
        if (this.isOptionStart(tokens[this.i + 1]!)) break;
        values.push(tokens[++this.i]!.text);
      }
      out.push({ name, neg: n, values });
      n = false;
    }
    return out;
  }
}
