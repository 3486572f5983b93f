// The Prometheus text exposition format (version 0.0.4), as kube-proxy, kubelet and every
// client_golang program serve it on /metrics. A line-oriented scanner: each line is read
// character by character by a small state machine (metric name → optional label set →
// value → optional timestamp), so escapes inside label values (`\"`, `\\`, `\n`), `+Inf`,
// `NaN`, trailing commas and tabs are handled as the format defines them, not guessed by
// regular expressions. `# HELP` / `# TYPE` are metadata; any other `#` line is a comment.
// Samples are grouped into families: `x_bucket`, `x_sum`, `x_count` belong to a histogram
// `x`, `x{quantile}`/`x_sum`/`x_count` to a summary `x`.
import { InputError } from './errors.js';

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  /** The sample's own name (`…_bucket`, `…_sum` for histograms). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** Milliseconds since the epoch, when the exposition gives one. */
  readonly timestampMs?: number;
  /** 1-based line of the sample in the text. */
  readonly line: number;
}

export interface PromFamily {
  readonly name: string;
  readonly type: PromType;
  readonly help?: string;
  readonly samples: readonly PromSample[];
}

/** A malformed exposition: names the source, line and column (1-based). */
export class PromParseError extends InputError {}

const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const isNameStart = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === ':';
const isNameChar = (c: string): boolean => isNameStart(c) || (c >= '0' && c <= '9');
const isLabelStart = (c: string): boolean => isNameStart(c) && c !== ':';
const isLabelChar = (c: string): boolean => isNameChar(c) && c !== ':';
const isBlank = (c: string): boolean => c === ' ' || c === '\t';

/** A cursor over one line; every error it raises carries the line and column. */
class LineScanner {
  pos = 0;
  constructor(readonly text: string, readonly line: number, readonly source: string) {}
  get done(): boolean { return this.pos >= this.text.length; }
  peek(): string { return this.text[this.pos] ?? ''; }
  fail(reason: string): never { throw new PromParseError(this.source, reason, this.line, this.pos + 1); }
  skipBlanks(): number {
    const start = this.pos;
    while (!this.done && isBlank(this.peek())) this.pos++;
    return this.pos - start;
  }
  name(start: (c: string) => boolean, rest: (c: string) => boolean, what: string): string {
    const begin = this.pos;
    if (!start(this.peek())) this.fail(`expected ${what}, found ${this.describe()}`);
    this.pos++;
    while (!this.done && rest(this.peek())) this.pos++;
    return this.text.slice(begin, this.pos);
  }
  /** A non-blank run (a value or timestamp token). */
  token(): string {
    const begin = this.pos;
    while (!this.done && !isBlank(this.peek())) this.pos++;
    return this.text.slice(begin, this.pos);
  }
  expect(c: string): void {
    if (this.peek() !== c) this.fail(`expected "${c}", found ${this.describe()}`);
    this.pos++;
  }
  describe(): string { return this.done ? 'end of line' : `"${this.peek()}"`; }
}

/** `\\` `\"` `\n` inside a quoted label value; the scanner sits after the opening quote. */
function labelValue(s: LineScanner): string {
  let out = '';
  for (;;) {
    if (s.done) s.fail('unterminated label value (missing closing ")');
    const c = s.peek();
    s.pos++;
    if (c === '"') return out;
    if (c !== '\\') { out += c; continue; }
    const e = s.peek();
    s.pos++;
    if (e === '\\') out += '\\';
    else if (e === '"') out += '"';
    else if (e === 'n') out += '\n';
    else { s.pos -= 2; s.fail(`invalid escape "\\${e}" in label value (only \\\\, \\" and \\n)`); }
  }
}

/** `{a="1",b="2",}` — the scanner sits on the opening brace. */
function labelSet(s: LineScanner): Record<string, string> {
  const labels: Record<string, string> = {};
  s.expect('{');
  for (;;) {
    s.skipBlanks();
    if (s.peek() === '}') { s.pos++; return labels; }
    const name = s.name(isLabelStart, isLabelChar, 'a label name');
    s.skipBlanks();
    s.expect('=');
    s.skipBlanks();
    s.expect('"');
    if (Object.hasOwn(labels, name)) { s.pos -= name.length + 2; s.fail(`label "${name}" appears twice`); }
    labels[name] = labelValue(s);
    s.skipBlanks();
    if (s.peek() === ',') { s.pos++; continue; }
    if (s.peek() === '}') { s.pos++; return labels; }
    s.fail(`expected "," or "}" after a label, found ${s.describe()}`);
  }
}

/** A sample value as client libraries write it: decimals, exponents, ±Inf, NaN (any case). */
export function parsePromValue(token: string): number | undefined {
  const t = token.toLowerCase();
  if (t === 'nan') return NaN;
  if (t === '+inf' || t === 'inf' || t === '+infinity' || t === 'infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) return undefined;
  return Number(t);
}

/** Decodes a HELP docstring (`\\` and `\n` are the only escapes there). */
function helpText(raw: string): string {
  return raw.replace(/\\(\\|n)/g, (_, e: string) => (e === 'n' ? '\n' : '\\'));
}

interface MutableFamily { name: string; type: PromType; help?: string; samples: PromSample[]; typeLine?: number; helpLine?: number }

const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['_sum', '_count', '_created'],
};

export function parsePromText(text: string, source: string): ReadonlyMap<string, PromFamily> {
  const families = new Map<string, MutableFamily>();
  const family = (name: string): MutableFamily => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', samples: [] }));
    return f;
  };
  /** The family a sample belongs to: a declared histogram/summary owns its suffixed series. */
  const familyOfSample = (name: string): MutableFamily => {
    for (const [type, suffixes] of Object.entries(SUFFIXES)) {
      for (const suffix of suffixes) {
        if (!name.endsWith(suffix)) continue;
        const base = families.get(name.slice(0, -suffix.length));
        if (base?.type === type) return base;
      }
    }
    return family(name);
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    const s: LineScanner = new LineScanner(raw, i + 1, source);
    s.skipBlanks();
    if (s.done) continue;
    if (s.peek() === '#') {
      s.pos++;
      if (s.skipBlanks() === 0) continue; // `#HELP` is a comment, as in the reference parser
      const keyword = s.token();
      if (keyword !== 'HELP' && keyword !== 'TYPE') continue; // a comment
      if (s.skipBlanks() === 0) s.fail(`expected a metric name after # ${keyword}`);
      const name = s.name(isNameStart, isNameChar, 'a metric name');
      const f = family(name);
      if (keyword === 'HELP') {
        if (f.helpLine !== undefined) s.fail(`second HELP line for ${name} (first on line ${f.helpLine})`);
        if (!s.done && s.skipBlanks() === 0) s.fail(`expected a blank after the metric name, found ${s.describe()}`);
        f.help = helpText(raw.slice(s.pos));
        f.helpLine = i + 1;
        continue;
      }
      if (s.skipBlanks() === 0) s.fail(`expected a type after # TYPE ${name}`);
      const type = s.token();
      if (!TYPES.has(type)) { s.pos -= type.length; s.fail(`unknown metric type "${type}" (counter, gauge, histogram, summary, untyped)`); }
      s.skipBlanks();
      if (!s.done) s.fail(`unexpected text after the type: ${s.describe()}`);
      if (f.typeLine !== undefined) s.fail(`second TYPE line for ${name} (first on line ${f.typeLine})`);
      if (f.samples.length > 0) s.fail(`TYPE line for ${name} after its samples (line ${f.samples[0]!.line})`);
      f.type = type as PromType;
      f.typeLine = i + 1;
      continue;
    }
    const name = s.name(isNameStart, isNameChar, 'a metric name or #');
    let blanks = s.skipBlanks();
    let labels: Record<string, string> = {};
    if (s.peek() === '{') {
      labels = labelSet(s);
      blanks = s.skipBlanks();
    }
    if (blanks === 0) s.fail(s.done ? 'missing sample value' : `expected a blank before the value, found ${s.describe()}`);
    const valueCol = s.pos;
    const valueText = s.token();
    const parsed = parsePromValue(valueText);
    if (parsed === undefined) { s.pos = valueCol; s.fail(valueText === '' ? 'missing sample value' : `invalid sample value "${valueText}"`); }
    const value = parsed;
    s.skipBlanks();
    let timestampMs: number | undefined;
    if (!s.done) {
      const tsCol = s.pos;
      const ts = s.token();
      if (!/^-?\d+$/.test(ts)) { s.pos = tsCol; s.fail(`invalid timestamp "${ts}" (integer milliseconds)`); }
      timestampMs = Number(ts);
      s.skipBlanks();
      if (!s.done) s.fail(`unexpected text after the timestamp: ${s.describe()}`);
    }
    const f = familyOfSample(name);
    if (f.type === 'histogram' && name.endsWith('_bucket') && labels['le'] === undefined) s.fail(`histogram bucket ${name} without an "le" label`);
    f.samples.push({ name, labels, value, ...(timestampMs !== undefined ? { timestampMs } : {}), line: i + 1 });
  }
  const out = new Map<string, PromFamily>();
  for (const [name, f] of families) {
    out.set(name, { name, type: f.type, ...(f.help !== undefined ? { help: f.help } : {}), samples: f.samples });
  }
  return out;
}
