// kube-proxy's per-Service and per-endpoint chains (KUBE-SVC-*, KUBE-SEP-*, …) kept as the
// dump text they came from instead of rule objects. At 10k Services they are 310k of the 320k
// rules and, as objects, ~80 MB of the model; as offsets into the dump text (which the model
// keeps anyway: rule texts are slices of it) they are a few words per chain. The rules are
// read again from that text when asked for — by the tracer once per traced Service — and
// not kept, so the model stays small while the checks run.
import type { Chain, Rule, Table } from './model.js';
import { Interner, type RuleHead } from './iptables-intern.js';

/** Chains kube-proxy writes one of per Service port or endpoint, each a handful of uniform rules. */
const PACKABLE = /^KUBE-(SVC|SEP|SVL|EXT|FW)-/;

export function isPackable(name: string): boolean {
  return PACKABLE.test(name);
}

/** The interner shared by reads of one table's packed chains, and how many reads it served. */
const INTERNS = new WeakMap<Table, { intern: Interner; reads: number }>();

/**
 * The interner for reading a packed chain. Interning only pays for objects kept, and these
 * lists are read, used and dropped; but one fresh per read (five maps) made reading all
 * 110k chains of a 10k-Service dump take 0.9-1.2 s against 0.6-0.7 s with one shared for
 * 256 reads, which stays small. One per table: what it interned are slices of that dump's
 * text, and a module-wide one kept an old dump alive once the run loop carried the traces
 * over (trace-memo.ts) and read only a chain or two of each new dump.
 */
function readIntern(table: Table): Interner {
  let shared = INTERNS.get(table);
  if (!shared || ++shared.reads % 256 === 0) INTERNS.set(table, (shared = { intern: new Interner(), reads: shared?.reads ?? 0 }));
  return shared.intern;
}

/** Reads one rule (the text after `-A CHAIN `), as the parser does. */
export type RuleReader = (rest: string, head: RuleHead, lineNo: number, table: Table, intern: Interner) => Rule;

/** A jump or goto of a packed rule to a chain not declared when the rule was read (checked at COMMIT). */
export interface UnresolvedTarget {
  readonly kind: 'jump' | 'goto';
  readonly target: string;
  readonly line: number;
}

/**
 * A chain whose rules are consecutive lines of one chunk of the dump: `count` lines from
 * `firstLine`, at chunk[start, end). Anything else (a rule that is not the next line of the
 * same chunk, an `-I`, a counter prefix, a CR) unpacks it into an ordinary rule list.
 */
export class PackedChain implements Chain {
  private list: Rule[] | undefined;
  private chunk = '';
  private start = 0;
  private end = 0;
  private firstLine = 0;
  private count = 0;
  /** Rare: only for dumps whose rules name chains declared after them. */
  unresolved: UnresolvedTarget[] | undefined;

  constructor(readonly name: string, private readonly table: Table, private readonly read: RuleReader) {}

  /** The rules: read from the dump text on every call while packed (callers keep the list they use). */
  get rules(): Rule[] {
    return this.list ?? this.readRules();
  }

  set rules(list: Rule[]) {
    this.list = list;
    this.chunk = '';
    this.count = 0;
    this.unresolved = undefined;
  }

  /** Holds its rules as text (not unpacked). */
  get packed(): boolean {
    return this.list === undefined;
  }

  /** Number of rules, without reading them. */
  get size(): number {
    return this.list ? this.list.length : this.count;
  }

  /** Takes the line at chunk[start, end) (line number `line`) when it continues the chain's text. */
  tryAppend(chunk: string, start: number, end: number, line: number): boolean {
    if (this.list) return false;
    if (this.count === 0) {
      this.chunk = chunk;
      this.start = start;
      this.end = end;
      this.firstLine = line;
      this.count = 1;
      return true;
    }
    if (chunk !== this.chunk || start !== this.end + 1 || line !== this.firstLine + this.count) return false;
    this.end = end;
    this.count++;
    return true;
  }

  /** Both hold the same rule lines (line numbers aside), compared as text without reading rules. */
  sameText(other: PackedChain): boolean {
    if (this.list || other.list) return false;
    return this.count === other.count && this.end - this.start === other.end - other.start
      && this.chunk.slice(this.start, this.end) === other.chunk.slice(other.start, other.end);
  }

  /** From now on an ordinary rule list (the packed rules read once more). */
  unpack(): void {
    if (!this.list) this.rules = this.readRules();
  }

  /** As a plain chain serialises (not the chunk of dump text it points into). */
  toJSON(): { name: string; rules: Rule[] } {
    return { name: this.name, rules: this.rules };
  }

  private readRules(): Rule[] {
    const out = new Array<Rule>(this.count);
    const intern = readIntern(this.table);
    const chunk = this.chunk;
    let pos = this.start;
    for (let k = 0; k < this.count; k++) {
      let nl = chunk.indexOf('\n', pos);
      if (nl < 0 || nl > this.end) nl = this.end;
      const body = chunk.slice(pos, nl);
      const sp = body.indexOf(' ', 3);
      const line = this.firstLine + k;
      out[k] = this.read(sp < 0 ? '' : body.slice(sp + 1), { table: this.table.name, chain: this.name, index: k + 1, text: body, line }, line, this.table, intern);
      pos = nl + 1;
    }
    return out;
  }
}
