// Parses `iptables-save` / `ip6tables-save` output (and iptables-restore input, which is what
// kube-proxy writes) into the rule model. One pass over the lines; each rule is tokenised on
// spaces with double-quote handling, then read as core options, `-m module` + its options,
// and `-j target` + its options. A module or option the model does not evaluate is kept
// verbatim as an `unknown` match: nothing is dropped.
import { InputError } from '../../common/errors.js';
import { parsePrefix, type Prefix } from './addr.js';
import type { Action, Backend, BaseChainInfo, Chain, ChainType, Hook, Match, Rule, Ruleset, Table, Verdict } from './model.js';
import { CONTINUE, NO_ACTIONS, protoName } from './model.js';

/** Built-in chains per table: hook and the priority iptables registers them with. */
const BUILTIN: Record<string, Record<string, [Hook, number]>> = {
  raw: { PREROUTING: ['prerouting', -300], OUTPUT: ['output', -300] },
  mangle: {
    PREROUTING: ['prerouting', -150], INPUT: ['input', -150], FORWARD: ['forward', -150],
    OUTPUT: ['output', -150], POSTROUTING: ['postrouting', -150],
  },
  nat: { PREROUTING: ['prerouting', -100], INPUT: ['input', 100], OUTPUT: ['output', -100], POSTROUTING: ['postrouting', 100] },
  filter: { INPUT: ['input', 0], FORWARD: ['forward', 0], OUTPUT: ['output', 0] },
  security: { INPUT: ['input', 50], FORWARD: ['forward', 50], OUTPUT: ['output', 50] },
};

interface Token {
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

export interface IptablesParseOptions {
  readonly backend: Backend;
  readonly family: 4 | 6;
  /** File name for errors and rule origins. */
  readonly file: string;
  /** Read kube-proxy's usual rule shapes without tokenising (default true; false: the general reader only). */
  readonly fastPath?: boolean;
}

export function parseIptablesSave(text: string, opts: IptablesParseOptions): Ruleset {
  const p = new IptablesSaveParser(opts);
  p.push(text);
  return p.end();
}

interface MutableChain {
  readonly name: string;
  readonly base?: BaseChainInfo;
  rules: Rule[];
}

/** Per distinct address text: its prefixes and the (few) addr matches using it, shared by every rule. */
interface AddrEntry {
  readonly prefixes: readonly Prefix[];
  readonly m: (Match | undefined)[];
}

/**
 * Objects shared by every rule that says the same thing. With 10k Services there are ~300k
 * rules but only a few thousand distinct comments, protocols, ports, probabilities and
 * common targets; sharing them (rule models are immutable once parsed) keeps the model small.
 */
class Interner {
  put<K, V>(map: Map<K, V>, key: K, value: V): V {
    map.set(key, value);
    return value;
  }

  readonly addrs = new Map<string, AddrEntry>();
  readonly simple = new Map<string, Match>();
  /** Module options by their raw text (`-m comment --comment "…"`). */
  readonly modules = new Map<string, readonly Match[]>();
  /** Per table: option-less targets (`-j KUBE-MARK-MASQ`, `-j ACCEPT`, `-j KUBE-SEP-…`). */
  readonly targets = new Map<Table, Map<string, { verdict: Verdict; action?: Action }>>();
  /** Match lists by the identity of their (shared) members: a trie keyed by Match objects. */
  private readonly lists: ListNode = {};

  list(ms: readonly Match[]): readonly Match[] {
    if (ms.length === 0) return NO_MATCHES;
    let node = this.lists;
    for (let k = 0; k < ms.length; k++) {
      let n = node.next?.get(ms[k]!);
      if (!n) (node.next ??= new Map()).set(ms[k]!, (n = {}));
      node = n;
    }
    return (node.list ??= ms.slice());
  }
}

interface ListNode {
  next?: Map<Match, ListNode>;
  list?: readonly Match[];
}

const NO_MATCHES: readonly Match[] = Object.freeze([]);


/**
 * Parses iptables-save output as it arrives (push chunks of text, then end()), so a live
 * read can parse while the tool is still printing and never needs the whole dump as one
 * string. Rule texts are slices of the pushed chunks.
 */
export class IptablesSaveParser {
  private readonly tables: Table[] = [];
  private table: Table | undefined;
  private lineNo = 0;
  private carry = '';
  private readonly intern = new Interner();
  /** Rules of the chain being read, flushed to the chain in one exact-size array. */
  private pendingChain: MutableChain | undefined;
  private readonly pending: Rule[] = [];

  constructor(private readonly opts: IptablesParseOptions) {}

  /** Parses the complete lines of a chunk; a trailing partial line waits for the next one. */
  push(chunk: string): void {
    let pos = 0;
    const len = chunk.length;
    if (this.carry !== '') {
      const nl = chunk.indexOf('\n');
      if (nl < 0) { this.carry += chunk; return; }
      const first = this.carry + chunk.slice(0, nl);
      this.carry = '';
      this.line(first);
      pos = nl + 1;
    }
    while (pos < len) {
      const end = chunk.indexOf('\n', pos);
      if (end < 0) { this.carry = chunk.slice(pos); return; }
      this.line(chunk.slice(pos, end));
      pos = end + 1;
    }
  }

  end(): Ruleset {
    if (this.carry !== '') {
      const last = this.carry;
      this.carry = '';
      this.line(last);
    }
    this.flush();
    return { backend: this.opts.backend, tables: this.tables };
  }

  private flush(): void {
    const c = this.pendingChain;
    if (!c) return;
    if (c.rules.length === 0) c.rules = this.pending.slice();
    else for (const r of this.pending) c.rules.push(r);
    this.pending.length = 0;
    this.pendingChain = undefined;
  }

  private line(raw: string): void {
    const opts = this.opts;
    const lineNo = ++this.lineNo;
    let line = raw;
    if (line.length === 0) return;
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    const c0 = line.charCodeAt(0);
    if (c0 === 35 /* # */) return;
    if (c0 === 42 /* * */) {
      this.flush();
      const name = line.slice(1).trim();
      const existing = this.tables.find((t) => t.name === name);
      this.table = existing ?? { backend: opts.backend, source: opts.file, family: opts.family, name, chains: new Map(), sets: new Map() };
      if (!existing) this.tables.push(this.table);
      return;
    }
    if (line === 'COMMIT') { this.flush(); this.table = undefined; return; }
    const table = this.table;
    if (c0 === 58 /* : */) {
      if (!table) throw new InputError(opts.file, 'chain declaration outside a table (missing "*table" line)', lineNo);
      const sp = line.indexOf(' ');
      const name = sp < 0 ? line.slice(1) : line.slice(1, sp);
      const policy = sp < 0 ? '-' : line.slice(sp + 1, line.indexOf(' ', sp + 1) < 0 ? undefined : line.indexOf(' ', sp + 1));
      if (!table.chains.has(name)) table.chains.set(name, newChain(name, table.name, policy));
      return;
    }
    let body = line;
    if (c0 === 91 /* [ */) {
      // `-c` counters: `[pkts:bytes] -A CHAIN …`.
      const close = line.indexOf('] ');
      if (close < 0) throw new InputError(opts.file, 'unterminated counter prefix', lineNo);
      body = line.slice(close + 2);
    }
    if (body.startsWith('-A ') || body.startsWith('-I ')) {
      if (!table) throw new InputError(opts.file, 'rule outside a table (missing "*table" line)', lineNo);
      const sp = body.indexOf(' ', 3);
      const chainName = sp < 0 ? body.slice(3) : body.slice(3, sp);
      let chain = this.pendingChain !== undefined && this.pendingChain.name === chainName ? this.pendingChain : table.chains.get(chainName) as MutableChain | undefined;
      if (!chain) {
        // iptables-restore requires the declaration; tolerate its absence for built-ins.
        chain = newChain(chainName, table.name, 'ACCEPT');
        if (!chain.base) throw new InputError(opts.file, `rule for undeclared chain "${chainName}"`, lineNo);
        table.chains.set(chainName, chain);
      }
      if (chain !== this.pendingChain) {
        this.flush();
        this.pendingChain = chain;
      }
      const insert = body.charCodeAt(1) === 73 /* I */;
      const rule = parseRule(sp < 0 ? '' : body.slice(sp + 1), {
        table: table.name, chain: chain.name, index: chain.rules.length + this.pending.length + 1, text: body, line: lineNo,
      }, opts, lineNo, table, this.intern);
      if (insert) {
        this.flush();
        chain.rules.unshift(rule);
        chain.rules.forEach((r, i) => ((r as { index: number }).index = i + 1));
      } else {
        this.pending.push(rule);
      }
      return;
    }
    if (line.trim() === '') return;
    throw new InputError(opts.file, `unrecognised line "${line.length > 60 ? line.slice(0, 60) + '…' : line}"`, lineNo);
  }
}

function newChain(name: string, table: string, policy: string): MutableChain {
  const info = baseInfo(table, name, policy);
  return info.base ? { name, base: info.base, rules: [] } : { name, rules: [] };
}

function baseInfo(table: string, chain: string, policy: string): { base?: BaseChainInfo } {
  const b = BUILTIN[table]?.[chain];
  if (!b) return {};
  const type: ChainType = table === 'nat' ? 'nat' : 'filter';
  return { base: { hook: b[0], priority: b[1], type, policy: policy === 'DROP' ? 'drop' : 'accept' } };
}

interface RuleHead {
  readonly table: string;
  readonly chain: string;
  readonly index: number;
  readonly text: string;
  readonly line: number;
}

/** Core options and the module/target option that takes N values. */
const TWO_VALUE_OPTS = new Set(['--match-set', '--tcp-flags']);
const ZERO_VALUE_OPTS = new Set([
  '--rcheck', '--set', '--update', '--remove', '--reap', '--rsource', '--rdest', '--random', '--random-fully',
  '--persistent', '--syn', '--limit-iface-in', '--limit-iface-out', '--return-nomatch', '--physdev-is-in',
  '--physdev-is-out', '--physdev-is-bridged', '--checksum-fill', '--log-uid', '--log-tcp-options', '--log-ip-options',
]);

interface ModOpt {
  readonly name: string;
  readonly neg: boolean;
  readonly values: string[];
}

/** Reads one rule's tokens; a class rather than per-rule closures (hundreds of thousands of rules). */
class RuleReader {
  i = 0;
  constructor(private readonly tokens: readonly Token[], private readonly file: string, private readonly lineNo: number) {}

  bad(why: string): never {
    throw new InputError(this.file, why, this.lineNo);
  }

  value(): string {
    const t = this.tokens[++this.i];
    if (!t) this.bad(`option "${this.tokens[this.i - 1]!.text}" needs a value`);
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

/** Scratch list reused by every rule; each rule keeps an exact-size copy. */
const SCRATCH: Match[] = [];

/** `-s`/`-d` VALUE as a match, shared per distinct text (a ClusterIP or the cluster CIDR recurs in many rules); the bad part when it is not an address. */
function addrMatch(intern: Interner, v: string, src: boolean, neg: boolean): Match | string {
  let e = intern.addrs.get(v);
  if (!e) {
    const list: Prefix[] = [];
    for (const part of v.indexOf(',') < 0 ? [v] : v.split(',')) {
      const p = parsePrefix(part);
      if (!p) return part;
      list.push(p);
    }
    e = intern.put(intern.addrs, v, { prefixes: list, m: [] });
  }
  const slot = (src ? 0 : 2) + (neg ? 1 : 0);
  let m = e.m[slot];
  if (!m) e.m[slot] = m = { kind: 'addr', field: src ? 'src' : 'dst', prefixes: e.prefixes, neg };
  return m;
}

/** An option-less `-j`/`-g` target, shared per table (whether a name is a chain depends on the table). */
function plainTarget(intern: Interner, table: Table, target: string, isGoto: boolean): { verdict: Verdict; action?: Action } {
  let perTable = intern.targets.get(table);
  if (!perTable) intern.targets.set(table, (perTable = new Map()));
  const key = isGoto ? `-g ${target}` : target;
  const tv = perTable.get(key);
  return tv ?? intern.put(perTable, key, targetVerdict(table.chains.get(target)?.name ?? target, NO_OPTS, isGoto, table.chains));
}

/** Module matches for `-m MOD` and the raw text of its options, shared per distinct text. */
function moduleMatchesInterned(intern: Interner, mod: string, initialNeg: boolean, raw: string, o: () => readonly ModOpt[]): readonly Match[] {
  // (`-m comment --comment "ns/svc:port"` recurs in every rule of a Service.)
  const key = `${initialNeg ? '!' : ''}${mod}\0${raw}`;
  return intern.modules.get(key) ?? intern.put(intern.modules, key, moduleMatches(mod, o()));
}

const NO_OPTS: readonly ModOpt[] = Object.freeze([]);
const FAST_MODULE_OPTS = new Set(['--comment', '--dport', '--sport', '--mode', '--probability']);

/**
 * The rule shapes iptables-save prints for kube-proxy, read without tokenising: core `-s`,
 * `-d`, `-p`; `-m comment|tcp|udp|sctp|statistic` with their usual options; `-j TARGET`
 * alone or with DNAT `--to-destination` / MARK `--set-xmark`. It builds the very objects
 * the general reader builds (same helpers, same interning keys); anything else (negation,
 * escapes, other options, double spaces, a bad address) returns undefined and the general
 * reader takes the line, errors included. bench/dataplane.ts checks both agree on 10k Services.
 */
function fastRule(rest: string, head: RuleHead, table: Table, intern: Interner): Rule | undefined {
  const matches = SCRATCH;
  matches.length = 0;
  let verdict: Verdict = CONTINUE;
  let actions: Action[] | undefined;
  const n = rest.length;
  let pos = 0;
  /** End of the space-delimited word at `at` (-1 when empty). */
  const wordEnd = (at: number): number => {
    if (at >= n || rest.charCodeAt(at) === 32) return -1;
    const sp = rest.indexOf(' ', at);
    return sp < 0 ? n : sp;
  };
  while (pos < n) {
    const oe = wordEnd(pos);
    if (oe !== pos + 2 || rest.charCodeAt(pos) !== 45 /* - */) return undefined;
    const opt = rest.charCodeAt(pos + 1);
    const vs = oe + 1;
    const ve = wordEnd(vs);
    if (ve < 0) return undefined;
    const v = rest.slice(vs, ve);
    if (v.charCodeAt(0) === 34 /* " */ || v.charCodeAt(0) === 45 /* - */ || v === '!') return undefined;
    pos = ve + 1;
    switch (opt) {
      case 115: case 100: { // -s -d
        const m = addrMatch(intern, v, opt === 115, false);
        if (typeof m === 'string') return undefined;
        matches.push(m);
        break;
      }
      case 112: { // -p
        const key = `p${v}`;
        let m = intern.simple.get(key);
        if (!m) intern.put(intern.simple, key, (m = { kind: 'proto', proto: protoName(v), neg: false }));
        matches.push(m);
        break;
      }
      case 109: { // -m MOD [--opt value]…
        if (v !== 'comment' && v !== 'tcp' && v !== 'udp' && v !== 'sctp' && v !== 'statistic') return undefined;
        const first = pos;
        const opts: ModOpt[] = [];
        let last = -1;
        while (pos < n && rest.charCodeAt(pos) === 45 && rest.charCodeAt(pos + 1) === 45) {
          const ne = wordEnd(pos);
          if (ne < 0) return undefined;
          const name = rest.slice(pos, ne);
          if (!FAST_MODULE_OPTS.has(name)) return undefined;
          const as = ne + 1;
          let ae: number;
          let value: string;
          if (rest.charCodeAt(as) === 34 /* " */) {
            // A quoted value without escapes: up to the next quote, which must end the word.
            const q = rest.indexOf('"', as + 1);
            if (q < 0 || (q + 1 < n && rest.charCodeAt(q + 1) !== 32)) return undefined;
            value = rest.slice(as + 1, q);
            if (value.indexOf('\\') >= 0) return undefined;
            ae = q + 1;
          } else {
            ae = wordEnd(as);
            if (ae < 0) return undefined;
            value = rest.slice(as, ae);
            const c0 = value.charCodeAt(0);
            if (c0 === 45 /* - */ || c0 === 33 /* ! */) return undefined;
          }
          opts.push({ name, neg: false, values: [value] });
          last = ae;
          pos = ae + 1;
        }
        const ms = moduleMatchesInterned(intern, v, false, last < 0 ? '' : rest.slice(first, last), () => opts);
        for (let k = 0; k < ms.length; k++) matches.push(ms[k]!);
        break;
      }
      case 106: { // -j TARGET [--to-destination X | --set-xmark X]
        if (pos >= n) {
          const tv = plainTarget(intern, table, v, false);
          verdict = tv.verdict;
          if (tv.action) (actions ??= []).push(tv.action);
          break;
        }
        const ne = wordEnd(pos);
        if (ne < 0) return undefined;
        const name = rest.slice(pos, ne);
        if (!((v === 'DNAT' && name === '--to-destination') || (v === 'MARK' && name === '--set-xmark'))) return undefined;
        const ae = wordEnd(ne + 1);
        if (ae !== n) return undefined; // exactly one value, then the end of the rule
        const value = rest.slice(ne + 1, ae);
        if (value.charCodeAt(0) === 34 || value.charCodeAt(0) === 45) return undefined;
        pos = n;
        const tv = targetVerdict(v, [{ name, neg: false, values: [value] }], false, table.chains);
        verdict = tv.verdict;
        if (tv.action) (actions ??= []).push(tv.action);
        break;
      }
      default:
        return undefined;
    }
  }
  return {
    table: head.table, chain: head.chain, index: head.index, text: head.text, line: head.line,
    matches: intern.list(matches), actions: actions ?? NO_ACTIONS, verdict,
  };
}

function parseRule(rest: string, head: RuleHead, opts: IptablesParseOptions, lineNo: number, table: Table, intern: Interner): Rule {
  if (opts.fastPath !== false) {
    const fast = fastRule(rest, head, table, intern);
    if (fast) return fast;
  }
  const chains = table.chains;
  const tokens = tokenize(rest);
  const r = new RuleReader(tokens, opts.file, lineNo);
  const matches = SCRATCH;
  matches.length = 0;
  let verdict: Verdict = CONTINUE;
  let actions: Action[] | undefined;
  let neg = false;
  let lastModule: string | undefined;
  let implicitModule: string | undefined;
  const modules = (mod: string, initialNeg: boolean): void => {
    const first = r.i + 1;
    const o = r.moduleOpts(initialNeg);
    const ms = moduleMatchesInterned(intern, mod, initialNeg, r.i >= first ? rest.slice(tokens[first]!.start, tokens[r.i]!.end) : '', () => o);
    for (let k = 0; k < ms.length; k++) matches.push(ms[k]!);
  };
  for (; r.i < tokens.length; r.i++) {
    const t = tokens[r.i]!;
    const tx = t.text;
    if (tx === '!' && !t.quoted) { neg = true; continue; }
    switch (tx) {
      case '-s': case '--source': case '-d': case '--destination': {
        const v = r.value();
        const m = addrMatch(intern, v, tx === '-s' || tx === '--source', neg);
        if (typeof m === 'string') return r.bad(`"${m}" is not an address or prefix`);
        matches.push(m);
        break;
      }
      case '-p': case '--protocol': case '-i': case '--in-interface': case '-o': case '--out-interface': {
        const v = r.value();
        const c = tx === '-p' || tx === '--protocol' ? 'p' : tx === '-i' || tx === '--in-interface' ? 'i' : 'o';
        const key = `${neg ? '!' : ''}${c}${v}`;
        let m = intern.simple.get(key);
        if (!m) {
          m = c === 'p' ? { kind: 'proto', proto: protoName(v), neg } : { kind: 'iface', dir: c === 'i' ? 'in' : 'out', name: v, neg };
          intern.put(intern.simple, key, m);
        }
        matches.push(m);
        // `-p tcp --dport 22` loads the protocol's match implicitly.
        if (c === 'p' && m.kind === 'proto' && !neg && (m.proto === 'tcp' || m.proto === 'udp' || m.proto === 'sctp')) implicitModule = m.proto;
        break;
      }
      case '-m': case '--match': {
        lastModule = r.value();
        modules(lastModule, false);
        break;
      }
      case '-j': case '--jump': case '-g': case '--goto': {
        const target = r.value();
        const isGoto = tx === '-g' || tx === '--goto';
        const first = r.i + 1;
        const o = r.moduleOpts();
        const tv = o.length === 0 && r.i < first ? plainTarget(intern, table, target, isGoto) : targetVerdict(target, o, isGoto, chains);
        verdict = tv.verdict;
        if (tv.action) (actions ??= []).push(tv.action);
        break;
      }
      case '-f': case '--fragment':
        matches.push({ kind: 'unknown', text: `${neg ? '! ' : ''}-f` });
        break;
      case '-c': case '--set-counters':
        r.i += 2;
        break;
      default:
        // kube-proxy's restore input interleaves core options between a module and its
        // options (`-m tcp -p tcp -d X --dport 80`): a stray `--opt` belongs to the last module.
        if (tx.startsWith('--') && (lastModule ?? implicitModule) !== undefined) {
          r.i--;
          modules((lastModule ?? implicitModule)!, neg);
        } else {
          r.bad(`unexpected "${tx}" in rule`);
        }
    }
    neg = false;
  }
  return {
    table: head.table, chain: head.chain, index: head.index, text: head.text, line: head.line,
    matches: intern.list(matches), actions: actions ?? NO_ACTIONS, verdict,
  };
}

const optText = (mod: string, o: readonly ModOpt[]): string =>
  `-m ${mod}${o.map((x) => ` ${x.neg ? '! ' : ''}${x.name}${x.values.map((v) => (v.includes(' ') ? ` "${v}"` : ` ${v}`)).join('')}`).join('')}`;

function parsePorts(v: string): [number, number][] {
  return v.split(',').map((r) => {
    const [a, b] = r.split(':');
    const lo = Number(a);
    return [lo, b === undefined ? lo : Number(b)] as [number, number];
  });
}

function parseMark(v: string): { value: number; mask: number } {
  const [a, b] = v.split('/');
  return { value: Number(a) >>> 0, mask: b === undefined ? 0xffffffff : Number(b) >>> 0 };
}

function moduleMatches(mod: string, o: readonly ModOpt[]): Match[] {
  const unknown = (subset: readonly ModOpt[] = o): Match => ({ kind: 'unknown', text: optText(mod, subset) });
  const out: Match[] = [];
  switch (mod) {
    case 'tcp': case 'udp': case 'sctp': case 'udplite':
      for (const x of o) {
        if (x.name === '--dport' || x.name === '--destination-port') out.push({ kind: 'port', field: 'dport', ranges: parsePorts(x.values[0] ?? ''), neg: x.neg });
        else if (x.name === '--sport' || x.name === '--source-port') out.push({ kind: 'port', field: 'sport', ranges: parsePorts(x.values[0] ?? ''), neg: x.neg });
        else out.push(unknown([x]));
      }
      return out;
    case 'multiport':
      for (const x of o) {
        if (x.name === '--dports' || x.name === '--destination-ports') out.push({ kind: 'port', field: 'dport', ranges: parsePorts(x.values[0] ?? ''), neg: x.neg });
        else if (x.name === '--sports' || x.name === '--source-ports') out.push({ kind: 'port', field: 'sport', ranges: parsePorts(x.values[0] ?? ''), neg: x.neg });
        else out.push(unknown([x]));
      }
      return out;
    case 'comment':
      return [{ kind: 'comment', text: o[0]?.values[0] ?? '' }];
    case 'nfacct':
      // xt_nfacct counts and always matches.
      return [{ kind: 'counter', text: optText(mod, o) }];
    case 'conntrack': case 'state':
      for (const x of o) {
        if (x.name === '--ctstate' || x.name === '--state') out.push({ kind: 'ctstate', states: (x.values[0] ?? '').toUpperCase().split(','), neg: x.neg });
        else out.push(unknown([x]));
      }
      return out;
    case 'mark':
      for (const x of o) {
        if (x.name === '--mark') out.push({ kind: 'mark', ...parseMark(x.values[0] ?? '0'), neg: x.neg });
        else out.push(unknown([x]));
      }
      return out;
    case 'addrtype': {
      // --limit-iface-in/out restrict the address lookup to one interface; the tracer
      // checks against all node addresses, which is exact for kube-proxy's usage (LOCAL).
      for (const x of o) {
        if (x.name === '--src-type' || x.name === '--dst-type') {
          out.push({ kind: 'addrtype', field: x.name === '--src-type' ? 'src' : 'dst', types: (x.values[0] ?? '').toUpperCase().split(','), neg: x.neg });
        } else if (x.name !== '--limit-iface-in' && x.name !== '--limit-iface-out') {
          out.push(unknown([x]));
        }
      }
      return out;
    }
    case 'set':
      for (const x of o) {
        if (x.name === '--match-set') {
          const dirs = (x.values[1] ?? '').split(',').map((d) => (d === 'src' ? 'src' : 'dst') as 'src' | 'dst');
          out.push({ kind: 'ipset', name: x.values[0] ?? '', dirs, neg: x.neg });
        } else {
          out.push(unknown([x]));
        }
      }
      return out;
    case 'statistic': {
      const mode = o.find((x) => x.name === '--mode')?.values[0];
      const p = o.find((x) => x.name === '--probability');
      if (mode === 'random' && p && !p.neg && o.length === 2) return [{ kind: 'random', probability: Number(p.values[0]) }];
      return [unknown()];
    }
    case 'recent': {
      const name = o.find((x) => x.name === '--name')?.values[0] ?? 'DEFAULT';
      const op = o.find((x) => ['--rcheck', '--update', '--set', '--remove'].includes(x.name));
      const seconds = Number(o.find((x) => x.name === '--seconds')?.values[0] ?? 0);
      const understood = new Set(['--name', '--rcheck', '--update', '--set', '--remove', '--seconds', '--reap', '--mask', '--rsource']);
      if (!op || op.neg || o.some((x) => !understood.has(x.name))) return [unknown()];
      return [{ kind: 'recent', name, op: op.name.slice(2) as 'rcheck' | 'update' | 'set' | 'remove', seconds }];
    }
    case 'iprange':
      for (const x of o) {
        if (x.name === '--src-range' || x.name === '--dst-range') {
          // A range as the prefixes covering it would be exact but long; kube-proxy never
          // writes iprange, so only single-address and CIDR-aligned ranges are modelled.
          const [a, b] = (x.values[0] ?? '').split('-');
          const pa = a ? parsePrefix(a) : undefined;
          if (pa && (b === undefined || b === a)) out.push({ kind: 'addr', field: x.name === '--src-range' ? 'src' : 'dst', prefixes: [pa], neg: x.neg });
          else out.push(unknown([x]));
        } else {
          out.push(unknown([x]));
        }
      }
      return out;
    default:
      return [unknown()];
  }
}

const ACCEPT_V = Object.freeze({ verdict: Object.freeze({ kind: 'accept' as const }) });
const DROP_V = Object.freeze({ verdict: Object.freeze({ kind: 'drop' as const }) });
const REJECT_V = Object.freeze({ verdict: Object.freeze({ kind: 'reject' as const }) });
const RETURN_V = Object.freeze({ verdict: Object.freeze({ kind: 'return' as const }) });
const MASQ_V = Object.freeze({ verdict: Object.freeze({ kind: 'masquerade' as const }) });

/** Targets that change nothing the tracer looks at and continue with the next rule. */
const PASSIVE_TARGETS = new Set(['LOG', 'NFLOG', 'ULOG', 'CHECKSUM', 'TRACE', 'AUDIT']);

function targetVerdict(target: string, o: readonly ModOpt[], isGoto: boolean, chains: ReadonlyMap<string, Chain>): { verdict: Verdict; action?: Action } {
  const text = `-j ${target}${o.map((x) => ` ${x.name}${x.values.map((v) => ` ${v}`).join('')}`).join('')}`;
  const opt = (n: string): string | undefined => o.find((x) => x.name === n)?.values[0];
  switch (target) {
    case 'ACCEPT': return ACCEPT_V;
    case 'DROP': return DROP_V;
    case 'REJECT': return REJECT_V;
    case 'RETURN': return RETURN_V;
    case 'MASQUERADE': return MASQ_V;
    case 'SNAT': return { verdict: { kind: 'snat', to: opt('--to-source') ?? '' } };
    case 'DNAT': {
      const to = opt('--to-destination');
      if (!to) return { verdict: { kind: 'unknown', text } };
      return { verdict: { kind: 'dnat', to: splitNat(to) } };
    }
    case 'MARK': {
      let m: { value: number; mask: number } | undefined;
      const xmark = opt('--set-xmark');
      const set = opt('--set-mark');
      const or = opt('--or-mark');
      const xor = opt('--xor-mark');
      const and = opt('--and-mark');
      if (xmark !== undefined) m = parseMark(xmark);
      else if (set !== undefined) { const p = parseMark(set); m = { value: p.value, mask: p.mask === 0xffffffff ? 0xffffffff : p.mask }; }
      else if (or !== undefined) { const v = Number(or) >>> 0; m = { value: v, mask: v }; }
      else if (xor !== undefined) m = { value: Number(xor) >>> 0, mask: 0 };
      else if (and !== undefined) m = { value: 0, mask: (~Number(and)) >>> 0 };
      if (!m) return { verdict: { kind: 'unknown', text } };
      return { verdict: { kind: 'continue' }, action: { kind: 'mark', value: m.value, mask: m.mask } };
    }
    default:
      if (PASSIVE_TARGETS.has(target)) return { verdict: { kind: 'continue' } };
      // A user chain (declared before the rules in iptables-save output); an undeclared
      // bare name is taken as a chain too, and the tracer reports it if it does not exist.
      if (chains.has(target) || (o.length === 0 && !isBuiltinTargetName(target))) {
        return { verdict: isGoto ? { kind: 'goto', target } : { kind: 'jump', target } };
      }
      return { verdict: { kind: 'unknown', text } };
  }
}

/** Extension targets that look like chain names but are not (their options may be empty). */
function isBuiltinTargetName(t: string): boolean {
  return ['NOTRACK', 'CT', 'CONNMARK', 'TPROXY', 'NFQUEUE', 'QUEUE', 'REDIRECT', 'TCPMSS', 'TEE', 'CLASSIFY', 'DSCP', 'TOS', 'TTL', 'HMARK', 'CONNSECMARK', 'SECMARK', 'IDLETIMER', 'LED', 'RATEEST', 'SYNPROXY', 'NETMAP', 'CLUSTERIP', 'ECN', 'HL', 'MIRROR', 'SAME', 'TARPIT'].includes(t);
}

function splitNat(to: string): { addr: string; port?: number } {
  if (to.startsWith('[')) {
    const end = to.indexOf(']');
    const port = to.slice(end + 1).startsWith(':') ? Number(to.slice(end + 2).split('-')[0]) : undefined;
    return port === undefined ? { addr: to.slice(1, end) } : { addr: to.slice(1, end), port };
  }
  const colon = to.indexOf(':');
  if (colon < 0 || to.indexOf(':', colon + 1) >= 0) return { addr: to.split('-')[0]! };
  return { addr: to.slice(0, colon).split('-')[0]!, port: Number(to.slice(colon + 1).split('-')[0]) };
}

/** Which chains in a ruleset look like kube-proxy's (used to pick the iptables backend). */
export function kubeProxyChainCount(rs: Ruleset): number {
  let n = 0;
  for (const t of rs.tables) for (const name of t.chains.keys()) if (name.startsWith('KUBE-')) n++;
  return n;
}

/** True when a chain exists in any table of the ruleset. */
export function hasChain(rs: Ruleset, table: string, chain: string): Chain | undefined {
  return rs.tables.find((t) => t.name === table)?.chains.get(chain);
}
