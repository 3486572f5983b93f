// Parses `iptables-save` / `ip6tables-save` output (and iptables-restore input, which is what
// kube-proxy writes) into the rule model: the streaming line parser (tables, chains, rule
// order). Each rule goes to the kube-proxy fast path (iptables-fast.ts), and when that declines
// to the general reader (iptables-rule.ts: tokenizer in iptables-tokenize.ts, the match-module
// and target table in iptables-modules.ts). kube-proxy's per-Service and per-endpoint chains
// keep no rule objects: their rules are checked as they stream in and read again from the
// dump text when asked for (iptables-packed.ts).
import { InputError, quoted } from '../../common/errors.js';
import type { Backend, BaseChainInfo, Chain, ChainType, Hook, Rule, Ruleset, Table } from './model.js';
import { fastRule } from './iptables-fast.js';
import { Interner, type RuleHead } from './iptables-intern.js';
import { parseRuleGeneral } from './iptables-rule.js';
import { isPackable, PackedChain } from './iptables-packed.js';

export { tokenize } from './iptables-tokenize.js';

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

export interface IptablesParseOptions {
  readonly backend: Backend;
  readonly family: 4 | 6;
  /** File name for errors and rule origins. */
  readonly file: string;
  /** Read kube-proxy's usual rule shapes without tokenising (default true; false: the general reader only). */
  readonly fastPath?: boolean;
  /** Keep kube-proxy's per-Service/endpoint chains as dump text (iptables-packed.ts; default true). */
  readonly packChains?: boolean;
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


/**
 * Parses iptables-save output as it arrives (push chunks of text, then end()), so a live
 * read can parse while the tool is still printing and never needs the whole dump as one
 * string. Rule texts are slices of the pushed chunks.
 */
export class IptablesSaveParser {
  private readonly tables: Table[] = [];
  private table: Table | undefined;
  /** Line of the open table's `*name`: a dump that ends before its COMMIT is cut short. */
  private tableLine = 0;
  private lineNo = 0;
  private carry = '';
  private readonly intern = new Interner();
  /** Rules of the chain being read, flushed to the chain in one exact-size array. */
  private pendingChain: MutableChain | undefined;
  private readonly pending: Rule[] = [];
  /** Interns the objects of packed rules, read only to check them: replaced often, as they are not kept. */
  private packIntern = new Interner();
  private packRead = 0;
  private readonly readRule = (rest: string, head: RuleHead, lineNo: number, table: Table, intern: Interner): Rule => parseRule(rest, head, this.opts, lineNo, table, intern);

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
      this.line(first, undefined, 0);
      pos = nl + 1;
    }
    while (pos < len) {
      const end = chunk.indexOf('\n', pos);
      if (end < 0) { this.carry = chunk.slice(pos); return; }
      this.line(chunk.slice(pos, end), chunk, pos);
      pos = end + 1;
    }
  }

  end(): Ruleset {
    if (this.carry !== '') {
      const last = this.carry;
      this.carry = '';
      // A last line without its newline inside a table is where the output was cut: say
      // that, rather than what the half line lacks.
      if (this.table && last.trim() !== 'COMMIT') throw this.cutShort(this.lineNo + 1);
      this.line(last, undefined, 0);
    }
    this.flush();
    if (this.table) throw this.cutShort(this.lineNo);
    return { backend: this.opts.backend, tables: this.tables };
  }

  /**
   * Reads a packed chain's new rule as any rule is read, so a malformed one fails here, with
   * its line, exactly as before; the rule itself is dropped (it is read again from the text).
   */
  private checkPacked(chain: PackedChain, rest: string, body: string, lineNo: number, table: Table): void {
    if (++this.packRead % 4096 === 0) this.packIntern = new Interner();
    const r = parseRule(rest, { table: table.name, chain: chain.name, index: chain.size, text: body, line: lineNo }, this.opts, lineNo, table, this.packIntern);
    const v = r.verdict;
    if ((v.kind === 'jump' || v.kind === 'goto') && !table.chains.has(v.target)) (chain.unresolved ??= []).push({ kind: v.kind, target: v.target, line: lineNo });
  }

  private cutShort(line: number): InputError {
    return new InputError(this.opts.file, `the dump ends inside table ${quoted(this.table!.name)} (begun on line ${this.tableLine}) without its COMMIT: the output is cut short`, line);
  }

  /** At COMMIT: every jump and goto names a chain the table declares (iptables-restore insists too). */
  private checkTargets(table: Table): void {
    for (const chain of table.chains.values()) {
      if (chain instanceof PackedChain && chain.packed) {
        // Its rules were checked as they were read; only targets declared later are left.
        for (const u of chain.unresolved ?? []) {
          if (!table.chains.has(u.target)) throw new InputError(this.opts.file, `rule in chain ${quoted(chain.name)} ${u.kind === 'jump' ? 'jumps' : 'goes'} to chain ${quoted(u.target)}, which table ${quoted(table.name)} does not declare`, u.line);
        }
        continue;
      }
      for (const r of chain.rules) {
        const v = r.verdict;
        if ((v.kind === 'jump' || v.kind === 'goto') && !table.chains.has(v.target)) {
          throw new InputError(this.opts.file, `rule in chain ${quoted(chain.name)} ${v.kind === 'jump' ? 'jumps' : 'goes'} to chain ${quoted(v.target)}, which table ${quoted(table.name)} does not declare`, r.line);
        }
      }
    }
  }

  private flush(): void {
    const c = this.pendingChain;
    if (!c) return;
    this.pendingChain = undefined;
    if (this.pending.length === 0) return; // (a packed chain's rules are not pending)
    if (c.rules.length === 0) c.rules = this.pending.slice();
    else for (const r of this.pending) c.rules.push(r);
    this.pending.length = 0;
  }

  /** One line; `chunk` is the pushed chunk it is a slice of, from `start` (undefined: a joined line). */
  private line(raw: string, chunk: string | undefined, start: number): void {
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
      if (this.table) throw new InputError(opts.file, `table ${quoted(name)} begins inside table ${quoted(this.table.name)} (begun on line ${this.tableLine}), which has no COMMIT`, lineNo);
      this.tableLine = lineNo;
      const existing = this.tables.find((t) => t.name === name);
      this.table = existing ?? { backend: opts.backend, source: opts.file, family: opts.family, name, chains: new Map(), sets: new Map() };
      if (!existing) this.tables.push(this.table);
      return;
    }
    if (line === 'COMMIT') {
      if (!this.table) throw new InputError(opts.file, 'COMMIT outside a table (no "*table" line before it)', lineNo);
      this.flush();
      this.checkTargets(this.table);
      this.table = undefined;
      return;
    }
    const table = this.table;
    if (c0 === 58 /* : */) {
      if (!table) throw new InputError(opts.file, 'chain declaration outside a table (missing "*table" line)', lineNo);
      const sp = line.indexOf(' ');
      const name = sp < 0 ? line.slice(1) : line.slice(1, sp);
      const policy = sp < 0 ? '-' : line.slice(sp + 1, line.indexOf(' ', sp + 1) < 0 ? undefined : line.indexOf(' ', sp + 1));
      if (!table.chains.has(name)) table.chains.set(name, this.opts.packChains !== false && isPackable(name) ? new PackedChain(name, table, this.readRule) : newChain(name, table.name, policy));
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
        if (!chain.base) throw new InputError(opts.file, `rule for undeclared chain ${quoted(chainName)}`, lineNo);
        table.chains.set(chainName, chain);
      }
      if (chain !== this.pendingChain) {
        this.flush();
        this.pendingChain = chain;
      }
      const insert = body.charCodeAt(1) === 73 /* I */;
      if (chain instanceof PackedChain) {
        // Packed while its rules are the next lines of one chunk, as iptables-save prints them.
        if (!insert && chunk !== undefined && body === raw && chain.tryAppend(chunk, start, start + raw.length, lineNo)) {
          this.checkPacked(chain, sp < 0 ? '' : body.slice(sp + 1), body, lineNo, table);
          return;
        }
        chain.unpack();
      }
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
    throw new InputError(opts.file, `unrecognised line ${quoted(line)}`, lineNo);
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

/** One rule: the fast path when allowed and it reads the line, else the general reader. */
function parseRule(rest: string, head: RuleHead, opts: IptablesParseOptions, lineNo: number, table: Table, intern: Interner): Rule {
  if (opts.fastPath !== false) {
    const fast = fastRule(rest, head, table, intern);
    if (fast) return fast;
  }
  return parseRuleGeneral(rest, head, opts.file, lineNo, table, intern);
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
