// Parses `nft -j list ruleset` (libnftables JSON, schema 1) into the rule model. The JSON is
// `unknown` until narrowed here; a statement or expression the model does not evaluate is
// kept verbatim (as JSON) in an `unknown` match or verdict, never dropped. Rule text for
// evidence is rendered back to nft syntax from the JSON, since that is what people read.
import { InputError, quoted } from '../../common/errors.js';
import { canonicalIp, parsePrefix, type Prefix } from './addr.js';
import { nftItems, type NftItem } from './nft-schema.js';
import { parseJsonInput } from '../../common/json-input.js';
import {
  buildSetIndex, exactSize, NO_ACTIONS, protoName,
  type Action, type BaseChainInfo, type ChainType, type Hook, type KeyField, type Match, type NamedSet, type NatTarget,
  type Rule, type Ruleset, type SetElement, type Table, type Verdict,
} from './model.js';

type J = Record<string, unknown>;
const isObj = (v: unknown): v is J => typeof v === 'object' && v !== null && !Array.isArray(v);
const HOOKS: readonly Hook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

export interface NftParseOptions {
  readonly file: string;
  /** Skip tables iptables-nft owns (filter, nat, mangle, raw, security in ip/ip6): they are read from iptables-save. */
  readonly skipXtablesTables?: boolean;
}

const XT_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

export function parseNftJson(text: string, opts: NftParseOptions): Ruleset {
  return parseNftDoc(parseJsonInput(text, opts.file), opts);
}

/** The rule model of an already parsed `nft -j` document (the live read parses its tables once). */
export function parseNftDoc(doc: unknown, opts: NftParseOptions): Ruleset {
  const items = nftItems(doc, opts.file);
  const tables = new Map<string, Table>();
  const key = (family: string, name: string): string => `${family} ${name}`;
  const tableOf = (o: J, what: string, idx: number): Table | undefined => {
    const family = String(o['family'] ?? '');
    const name = String(o['table'] ?? '');
    const t = tables.get(key(family, name));
    if (!t && !(opts.skipXtablesTables && XT_TABLES.has(name))) {
      if (family === 'ip' || family === 'ip6' || family === 'inet') throw new InputError(opts.file, `nftables[${idx}].${what}: refers to table ${family} ${name}, which the ruleset does not declare`);
    }
    return t;
  };
  // Objects come tables → sets/maps → chains → rules in `nft list ruleset` order, but do not rely on it.
  const pending: NftItem[] = [];
  for (const item of items) {
    const { kind, o } = item;
    if (kind === 'table') {
      const family = String(o['family']);
      const name = String(o['name']);
      if (family !== 'ip' && family !== 'ip6' && family !== 'inet') continue; // bridge/arp/netdev carry no Service traffic
      if (opts.skipXtablesTables && (family === 'ip' || family === 'ip6') && XT_TABLES.has(name)) continue;
      tables.set(key(family, name), { backend: 'nftables', source: opts.file, family: family === 'ip6' ? 6 : 4, name: `${family} ${name}`, chains: new Map(), sets: new Map() });
    } else {
      pending.push(item);
    }
  }
  for (const pass of ['set', 'chain', 'rule'] as const) {
    for (const { kind, o, idx } of pending) {
      if (pass === 'set' && (kind === 'set' || kind === 'map')) {
        const t = tableOf(o, kind, idx);
        if (t) t.sets.set(String(o['name']), parseSet(o, kind === 'map'));
      } else if (pass === 'chain' && kind === 'chain') {
        const t = tableOf(o, kind, idx);
        if (!t) continue;
        const name = String(o['name']);
        const base = baseInfo(o);
        t.chains.set(name, { name, ...(base ? { base } : {}), rules: [] });
      } else if (pass === 'rule' && kind === 'rule') {
        const t = tableOf(o, kind, idx);
        if (!t) continue;
        const chainName = String(o['chain']);
        const chain = t.chains.get(chainName);
        if (!chain) throw new InputError(opts.file, `nftables[${idx}].rule: (handle ${String(o['handle'])}) is in chain ${chainName}, which table ${t.name} does not declare`);
        checkChainRefs(ruleChainRefs(o), t, `nftables[${idx}].rule`, opts.file);
        chain.rules.push(parseRule(o, t.name, chainName, chain.rules.length + 1));
      } else if (pass === 'rule' && kind === 'map') {
        const t = tableOf(o, kind, idx);
        if (t) checkChainRefs(mapChainRefs(o), t, `nftables[${idx}].map`, opts.file);
      }
    }
  }
  for (const t of tables.values()) for (const c of t.chains.values()) (c as { rules: Rule[] }).rules = exactSize(c.rules);
  return { backend: 'nftables', tables: [...tables.values()] };
}

/** A jump or goto found in the JSON, with its path below the ruleset object. */
interface ChainRef {
  readonly path: string;
  readonly target: string;
}

/** The chain a verdict object (`{"jump": {"target": …}}`, `{"goto": …}`) names, else undefined. */
function verdictTarget(v: unknown): { kind: string; target: string } | undefined {
  if (!isObj(v)) return undefined;
  for (const kind of ['jump', 'goto']) {
    const x = v[kind];
    if (isObj(x) && typeof x['target'] === 'string') return { kind, target: x['target'] };
  }
  return undefined;
}

/** Verdicts of a vmap's data when inline (`{"set": [[key, verdict], …]}`); a named map is checked as a map. */
function vmapRefs(data: unknown, at: string, out: ChainRef[]): void {
  if (!isObj(data) || !Array.isArray(data['set'])) return;
  (data['set'] as unknown[]).forEach((e, j) => {
    const v = Array.isArray(e) ? verdictTarget(e[1]) : undefined;
    if (v) out.push({ path: `${at}.data.set[${j}][1].${v.kind}.target`, target: v.target });
  });
}

/** Every chain a rule can send a packet to: its jump/goto statements and the verdicts of its inline vmaps. */
function ruleChainRefs(o: J): ChainRef[] {
  const out: ChainRef[] = [];
  const exprs = Array.isArray(o['expr']) ? (o['expr'] as unknown[]) : [];
  exprs.forEach((s, i) => {
    const v = verdictTarget(s);
    if (v) out.push({ path: `.expr[${i}].${v.kind}.target`, target: v.target });
    else if (isObj(s) && isObj(s['vmap'])) vmapRefs(s['vmap']['data'], `.expr[${i}].vmap`, out);
  });
  return out;
}

/** Chains a verdict map's elements name (`[key, {"goto": {"target": …}}]`). */
function mapChainRefs(o: J): ChainRef[] {
  const out: ChainRef[] = [];
  const elems = Array.isArray(o['elem']) ? (o['elem'] as unknown[]) : [];
  elems.forEach((e, i) => {
    const v = Array.isArray(e) ? verdictTarget(e[1]) : undefined;
    if (v) out.push({ path: `.elem[${i}][1].${v.kind}.target`, target: v.target });
  });
  return out;
}

/**
 * A jump or goto names a chain of its own table: nft refuses to load one that does not
 * (`Could not process rule: No such file or directory`), so a dump that holds one is not
 * what nft printed; read on, the tracer would judge a path that cannot exist.
 */
function checkChainRefs(refs: readonly ChainRef[], t: Table, at: string, file: string): void {
  for (const r of refs) {
    if (!t.chains.has(r.target)) throw new InputError(file, `${at}${r.path}: refers to chain ${quoted(r.target)}, which table ${t.name} does not declare`);
  }
}

function baseInfo(o: J): BaseChainInfo | undefined {
  const hook = o['hook'];
  if (typeof hook !== 'string' || !(HOOKS as readonly string[]).includes(hook)) return undefined;
  const type: ChainType = o['type'] === 'nat' ? 'nat' : o['type'] === 'route' ? 'route' : 'filter';
  const prio = typeof o['prio'] === 'number' ? o['prio'] : 0;
  return { hook: hook as Hook, priority: prio, type, policy: o['policy'] === 'drop' ? 'drop' : 'accept' };
}

// ---- values --------------------------------------------------------------------------

/** Canonical text of a scalar set-key part (address, protocol name, port). */
function scalar(v: unknown): string | undefined {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    if (v.includes('.') || v.includes(':')) return canonicalIp(v);
    return protoName(v);
  }
  return undefined;
}

function keyPart(v: unknown): { text: string; prefix?: Prefix } | undefined {
  const s = scalar(v);
  if (s !== undefined) return { text: s };
  if (isObj(v) && isObj(v['prefix'])) {
    const p = parsePrefix(`${String(v['prefix']['addr'])}/${String(v['prefix']['len'])}`);
    return p ? { text: `${String(v['prefix']['addr'])}/${String(v['prefix']['len'])}`, prefix: p } : undefined;
  }
  if (isObj(v) && Array.isArray(v['range'])) {
    const [a, b] = v['range'] as unknown[];
    if (typeof a === 'number' && typeof b === 'number') return { text: `${a}-${b}` };
    const pa = typeof a === 'string' ? parsePrefix(a) : undefined;
    if (pa && a === b) return { text: String(a), prefix: pa };
  }
  return undefined;
}

function elementKey(v: unknown): { key: string[]; prefixes: (Prefix | undefined)[]; comment?: string } | undefined {
  let comment: string | undefined;
  if (isObj(v) && isObj(v['elem'])) {
    comment = typeof v['elem']['comment'] === 'string' ? v['elem']['comment'] : undefined;
    v = v['elem']['val'];
  }
  const parts = isObj(v) && Array.isArray(v['concat']) ? (v['concat'] as unknown[]) : [v];
  const key: string[] = [];
  const prefixes: (Prefix | undefined)[] = [];
  for (const p of parts) {
    const k = keyPart(p);
    if (!k) return undefined;
    key.push(k.text);
    prefixes.push(k.prefix && !(k.prefix.len === (k.prefix.family === 4 ? 32 : 128)) ? k.prefix : undefined);
  }
  return { key: exactSize(key), prefixes: exactSize(prefixes), ...(comment !== undefined ? { comment } : {}) };
}

function parseSet(o: J, isMap: boolean): NamedSet {
  const type = Array.isArray(o['type']) ? (o['type'] as unknown[]).map(String) : [String(o['type'] ?? '')];
  const flags = Array.isArray(o['flags']) ? (o['flags'] as unknown[]).map(String) : typeof o['flags'] === 'string' ? [o['flags']] : [];
  const elements: SetElement[] = [];
  for (const e of Array.isArray(o['elem']) ? (o['elem'] as unknown[]) : []) {
    const raw = isMap && Array.isArray(e) ? e[0] : e;
    const k = elementKey(raw);
    if (!k) continue;
    const value = isMap && Array.isArray(e) ? verdictValue(e[1]) : undefined;
    elements.push({ key: k.key, ...(k.prefixes.some((p) => p) ? { prefixes: k.prefixes } : {}), ...(value ? { value } : {}), ...(k.comment !== undefined ? { comment: k.comment } : {}) });
  }
  const { index, ranged } = buildSetIndex(elements);
  return {
    name: String(o['name']), type, isMap,
    dynamic: flags.includes('dynamic') || flags.includes('timeout') || typeof o['timeout'] === 'number',
    elements, index, ranged,
  };
}

/** A map value: a verdict object (`{"goto":{"target":…}}`, `{"drop":null}`), else unknown. */
function verdictValue(v: unknown): Verdict {
  if (isObj(v)) {
    if ('accept' in v) return { kind: 'accept' };
    if ('drop' in v) return { kind: 'drop' };
    if ('return' in v) return { kind: 'return' };
    if ('continue' in v) return { kind: 'continue' };
    if (isObj(v['jump']) && typeof v['jump']['target'] === 'string') return { kind: 'jump', target: v['jump']['target'] };
    if (isObj(v['goto']) && typeof v['goto']['target'] === 'string') return { kind: 'goto', target: v['goto']['target'] };
  }
  return { kind: 'unknown', text: JSON.stringify(v) };
}

// ---- expressions ------------------------------------------------------------------------

function keyField(e: unknown): KeyField | undefined {
  if (!isObj(e)) return undefined;
  if (isObj(e['payload'])) {
    const proto = e['payload']['protocol'];
    const field = e['payload']['field'];
    if ((proto === 'ip' || proto === 'ip6') && field === 'saddr') return 'saddr';
    if ((proto === 'ip' || proto === 'ip6') && field === 'daddr') return 'daddr';
    if ((proto === 'th' || proto === 'tcp' || proto === 'udp' || proto === 'sctp') && field === 'dport') return 'dport';
    if ((proto === 'th' || proto === 'tcp' || proto === 'udp' || proto === 'sctp') && field === 'sport') return 'sport';
    return undefined;
  }
  if (isObj(e['meta'])) {
    const k = e['meta']['key'];
    if (k === 'l4proto') return 'l4proto';
    if (k === 'iifname') return 'iifname';
    if (k === 'oifname') return 'oifname';
    if (k === 'mark') return 'mark';
  }
  return undefined;
}

function keyFields(e: unknown): KeyField[] | undefined {
  const parts = isObj(e) && Array.isArray(e['concat']) ? (e['concat'] as unknown[]) : [e];
  const out: KeyField[] = [];
  for (const p of parts) {
    const f = keyField(p);
    if (!f) return undefined;
    out.push(f);
  }
  return out;
}

/** Transport protocol implied by `tcp dport …` style payloads (nft adds the l4proto check itself). */
function impliedProto(e: unknown): string | undefined {
  if (isObj(e) && isObj(e['payload'])) {
    const p = e['payload']['protocol'];
    if (p === 'tcp' || p === 'udp' || p === 'sctp') return p;
  }
  return undefined;
}

function prefixesOf(right: unknown): Prefix[] | undefined {
  const items = isObj(right) && Array.isArray(right['set']) ? (right['set'] as unknown[]) : [right];
  const out: Prefix[] = [];
  for (const it of items) {
    const k = keyPart(it);
    if (!k) return undefined;
    const p = k.prefix ?? parsePrefix(k.text);
    if (!p) return undefined;
    out.push(p);
  }
  return exactSize(out);
}

function portRanges(right: unknown): [number, number][] | undefined {
  const items = isObj(right) && Array.isArray(right['set']) ? (right['set'] as unknown[]) : [right];
  const out: [number, number][] = [];
  for (const it of items) {
    if (typeof it === 'number') out.push([it, it]);
    else if (isObj(it) && Array.isArray(it['range']) && typeof it['range'][0] === 'number' && typeof it['range'][1] === 'number') out.push([it['range'][0], it['range'][1]]);
    else return undefined;
  }
  return out;
}

function strings(right: unknown): string[] | undefined {
  const items = isObj(right) && Array.isArray(right['set']) ? (right['set'] as unknown[]) : Array.isArray(right) ? right : [right];
  return items.every((x) => typeof x === 'string') ? (items as string[]) : undefined;
}

/** Turns one `match` statement into model matches, or undefined when not modelled. */
function parseMatchStmt(m: J): Match[] | undefined {
  const op = m['op'];
  const left = m['left'];
  const right = m['right'];
  const neg = op === '!=';
  if (op !== '==' && op !== '!=' && op !== 'in') return undefined;
  // Named set lookup: `ip daddr @cluster-ips`, `ip daddr . meta l4proto . th dport @s`.
  if (typeof right === 'string' && right.startsWith('@')) {
    const keys = keyFields(left);
    return keys ? [{ kind: 'setLookup', keys, set: right.slice(1), neg }] : undefined;
  }
  const field = keyField(left);
  const proto = impliedProto(left);
  const pre: Match[] = proto ? [{ kind: 'proto', proto, neg: false }] : [];
  switch (field) {
    case 'saddr': case 'daddr': {
      const prefixes = prefixesOf(right);
      return prefixes ? [{ kind: 'addr', field: field === 'saddr' ? 'src' : 'dst', prefixes, neg }] : undefined;
    }
    case 'sport': case 'dport': {
      const ranges = portRanges(right);
      return ranges ? [...pre, { kind: 'port', field, ranges, neg }] : undefined;
    }
    case 'l4proto': {
      const names = isObj(right) && Array.isArray(right['set']) ? (right['set'] as unknown[]) : [right];
      if (names.length !== 1 || (typeof names[0] !== 'string' && typeof names[0] !== 'number')) return undefined;
      return [{ kind: 'proto', proto: protoName(names[0]), neg }];
    }
    case 'iifname': case 'oifname': {
      if (typeof right !== 'string') return undefined;
      return [{ kind: 'iface', dir: field === 'iifname' ? 'in' : 'out', name: right, neg }];
    }
    case 'mark':
      if (typeof right !== 'number') return undefined;
      return [{ kind: 'mark', value: right >>> 0, mask: 0xffffffff, neg }];
    default:
      break;
  }
  // `mark and 0x4000 == 0`
  if (isObj(left) && Array.isArray(left['&'])) {
    const [a, b] = left['&'] as unknown[];
    if (keyField(a) === 'mark' && typeof b === 'number' && typeof right === 'number') {
      return [{ kind: 'mark', value: right >>> 0, mask: b >>> 0, neg }];
    }
    return undefined;
  }
  if (isObj(left) && isObj(left['ct']) && left['ct']['key'] === 'state') {
    const states = strings(right);
    return states ? [{ kind: 'ctstate', states: states.map((s) => s.toUpperCase()), neg }] : undefined;
  }
  // `ct status dnat` (kube-proxy ≥ 1.36's hairpin masquerade): whether the connection was
  // DNATed/SNATed — what the tracer knows of its packet. Other status bits stay unknown.
  if (isObj(left) && isObj(left['ct']) && left['ct']['key'] === 'status') {
    const bits = strings(right);
    if (!bits || bits.length !== 1 || (bits[0] !== 'dnat' && bits[0] !== 'snat')) return undefined;
    return [{ kind: 'ctstate', states: [bits[0].toUpperCase()], neg }];
  }
  if (isObj(left) && isObj(left['fib']) && left['fib']['result'] === 'type') {
    const flags = Array.isArray(left['fib']['flags']) ? (left['fib']['flags'] as unknown[]) : [left['fib']['flags']];
    const types = strings(right);
    // `fib saddr type local` / `fib daddr type local`; with `iif`/`oif` flags the lookup is
    // per interface, which the tracer does not model.
    if (!types || flags.length !== 1 || (flags[0] !== 'saddr' && flags[0] !== 'daddr')) return undefined;
    return [{ kind: 'addrtype', field: flags[0] === 'saddr' ? 'src' : 'dst', types: types.map((t) => t.toUpperCase()), neg }];
  }
  return undefined;
}

function natTarget(addr: unknown, port: unknown): NatTarget | undefined {
  if (typeof addr !== 'string') return undefined;
  return typeof port === 'number' ? { addr: canonicalIp(addr), port } : { addr: canonicalIp(addr) };
}

function parseRule(o: J, table: string, chain: string, index: number): Rule {
  const exprs = Array.isArray(o['expr']) ? (o['expr'] as unknown[]) : [];
  const matches: Match[] = [];
  const actions: Action[] = [];
  let verdict: Verdict = { kind: 'continue' };
  const unknownStmt = (s: unknown): void => {
    matches.push({ kind: 'unknown', text: render(s) });
  };
  for (const s of exprs) {
    if (!isObj(s)) { unknownStmt(s); continue; }
    const [kind] = Object.keys(s);
    const v = s[kind!];
    switch (kind) {
      case 'match': {
        const ms = isObj(v) ? parseMatchStmt(v) : undefined;
        if (ms) matches.push(...ms);
        else unknownStmt(s);
        break;
      }
      case 'counter': case 'log': case 'comment':
        break;
      case 'accept': verdict = { kind: 'accept' }; break;
      case 'drop': verdict = { kind: 'drop' }; break;
      case 'reject': verdict = { kind: 'reject' }; break;
      case 'return': verdict = { kind: 'return' }; break;
      case 'continue': verdict = { kind: 'continue' }; break;
      case 'jump': case 'goto':
        if (isObj(v) && typeof v['target'] === 'string') verdict = { kind, target: v['target'] };
        else verdict = { kind: 'unknown', text: render(s) };
        break;
      case 'masquerade':
        verdict = { kind: 'masquerade' };
        break;
      case 'snat':
        verdict = isObj(v) && typeof v['addr'] === 'string' ? { kind: 'snat', to: v['addr'] } : { kind: 'unknown', text: render(s) };
        break;
      case 'dnat': {
        verdict = { kind: 'unknown', text: render(s) };
        if (!isObj(v)) break;
        const direct = natTarget(v['addr'], v['port']);
        if (direct) { verdict = { kind: 'dnat', to: direct }; break; }
        // `dnat ip addr . port to numgen random mod N map { i : addr . port }`
        const map = isObj(v['addr']) && isObj(v['addr']['map']) ? v['addr']['map'] : undefined;
        const ng = map && isObj(map['key']) && isObj(map['key']['numgen']) ? map['key']['numgen'] : undefined;
        const data = map && isObj(map['data']) && Array.isArray(map['data']['set']) ? (map['data']['set'] as unknown[]) : undefined;
        if (ng && ng['mode'] === 'random' && typeof ng['mod'] === 'number' && data && (ng['offset'] ?? 0) === 0) {
          const entries: [number, NatTarget][] = [];
          for (const e of data) {
            if (!Array.isArray(e) || typeof e[0] !== 'number') { entries.length = 0; break; }
            const val: unknown = e[1];
            const t = isObj(val) && Array.isArray(val['concat']) ? natTarget(val['concat'][0], val['concat'][1]) : natTarget(val, v['port']);
            if (!t) { entries.length = 0; break; }
            entries.push([e[0], t]);
          }
          if (entries.length > 0) verdict = { kind: 'dnatMap', mod: ng['mod'], entries: exactSize(entries) };
        }
        break;
      }
      case 'mangle': {
        const m = isObj(v) ? markAction(v) : undefined;
        if (m) actions.push(m);
        else verdict = { kind: 'unknown', text: render(s) };
        break;
      }
      case 'set': {
        // `update @affinity-… { ip saddr }`: records the client for affinity.
        if (isObj(v) && (v['op'] === 'update' || v['op'] === 'add') && typeof v['set'] === 'string') actions.push({ kind: 'setUpdate', set: v['set'].replace(/^@/, '') });
        else unknownStmt(s);
        break;
      }
      case 'vmap': {
        verdict = { kind: 'unknown', text: render(s) };
        if (!isObj(v)) break;
        const key = v['key'];
        const data = v['data'];
        const ng = isObj(key) && isObj(key['numgen']) ? key['numgen'] : undefined;
        if (ng) {
          if (ng['mode'] !== 'random' || typeof ng['mod'] !== 'number' || (ng['offset'] ?? 0) !== 0 || !isObj(data) || !Array.isArray(data['set'])) break;
          const entries: [number, Verdict][] = [];
          for (const e of data['set'] as unknown[]) if (Array.isArray(e) && typeof e[0] === 'number') entries.push([e[0], verdictValue(e[1])]);
          verdict = { kind: 'numgenVmap', mod: ng['mod'], entries: exactSize(entries) };
          break;
        }
        const keys = keyFields(key);
        if (!keys) break;
        if (typeof data === 'string' && data.startsWith('@')) { verdict = { kind: 'vmap', keys, map: data.slice(1) }; break; }
        if (isObj(data) && Array.isArray(data['set'])) {
          const inline: SetElement[] = [];
          for (const e of data['set'] as unknown[]) {
            if (!Array.isArray(e)) continue;
            const k = elementKey(e[0]);
            if (k) inline.push({ key: k.key, ...(k.prefixes.some((p) => p) ? { prefixes: k.prefixes } : {}), value: verdictValue(e[1]) });
          }
          verdict = { kind: 'vmap', keys, inline };
        }
        break;
      }
      default:
        unknownStmt(s);
    }
  }
  const comment = typeof o['comment'] === 'string' ? o['comment'] : undefined;
  if (comment !== undefined) matches.push({ kind: 'comment', text: comment });
  const text = exprs.map(render).join(' ') + (comment !== undefined ? ` comment "${comment}"` : '');
  return { table, chain, index, text, line: typeof o['handle'] === 'number' ? o['handle'] : 0, matches: exactSize(matches), actions: actions.length === 0 ? NO_ACTIONS : exactSize(actions), verdict };
}

/** `mark set mark or 0x4000` / `xor` / `and` / a constant, as xmark (value, mask). */
function markAction(v: J): Action | undefined {
  if (keyField(v['key']) !== 'mark') return undefined;
  const val = v['value'];
  if (typeof val === 'number') return { kind: 'mark', value: val >>> 0, mask: 0xffffffff };
  if (!isObj(val)) return undefined;
  const [op] = Object.keys(val);
  const args = val[op!];
  if (!Array.isArray(args) || keyField(args[0]) !== 'mark' || typeof args[1] !== 'number') return undefined;
  const n = args[1] >>> 0;
  if (op === '|') return { kind: 'mark', value: n, mask: n };
  if (op === '^') return { kind: 'mark', value: n, mask: 0 };
  if (op === '&') return { kind: 'mark', value: 0, mask: (~n) >>> 0 };
  return undefined;
}

// ---- rendering back to nft syntax (evidence only) ----------------------------------------

function renderExpr(e: unknown): string {
  if (typeof e === 'string' || typeof e === 'number') return String(e);
  if (Array.isArray(e)) return e.map(renderExpr).join(', ');
  if (!isObj(e)) return JSON.stringify(e);
  if (isObj(e['payload'])) return `${String(e['payload']['protocol'])} ${String(e['payload']['field'])}`;
  if (isObj(e['meta'])) return `meta ${String(e['meta']['key'])}`;
  if (isObj(e['ct'])) return `ct ${String(e['ct']['key'])}`;
  if (isObj(e['fib'])) {
    const f = e['fib']['flags'];
    return `fib ${Array.isArray(f) ? f.join(' . ') : String(f)} ${String(e['fib']['result'])}`;
  }
  if (isObj(e['prefix'])) return `${String(e['prefix']['addr'])}/${String(e['prefix']['len'])}`;
  if (Array.isArray(e['range'])) return `${renderExpr(e['range'][0])}-${renderExpr(e['range'][1])}`;
  if (Array.isArray(e['concat'])) return (e['concat'] as unknown[]).map(renderExpr).join(' . ');
  if (Array.isArray(e['set'])) {
    return `{ ${(e['set'] as unknown[]).map((x) => (Array.isArray(x) ? `${renderExpr(x[0])} : ${renderExpr(x[1])}` : renderExpr(x))).join(', ')} }`;
  }
  if (isObj(e['numgen'])) return `numgen ${String(e['numgen']['mode'])} mod ${String(e['numgen']['mod'])}`;
  if (isObj(e['map'])) return `${renderExpr(e['map']['key'])} map ${renderExpr(e['map']['data'])}`;
  if (isObj(e['elem'])) return renderExpr(e['elem']['val']);
  for (const op of ['&', '|', '^']) if (Array.isArray(e[op])) return (e[op] as unknown[]).map(renderExpr).join(` ${op === '&' ? 'and' : op === '|' ? 'or' : 'xor'} `);
  if (isObj(e['goto'])) return `goto ${String(e['goto']['target'])}`;
  if (isObj(e['jump'])) return `jump ${String(e['jump']['target'])}`;
  for (const k of ['accept', 'drop', 'return', 'continue']) if (k in e) return k;
  return JSON.stringify(e);
}

function render(s: unknown): string {
  if (!isObj(s)) return JSON.stringify(s);
  const [kind] = Object.keys(s);
  const v = s[kind!];
  switch (kind) {
    case 'match': {
      if (!isObj(v)) break;
      const op = v['op'] === '==' || v['op'] === 'in' ? '' : ` ${String(v['op'])}`;
      return `${renderExpr(v['left'])}${op} ${renderExpr(v['right'])}`;
    }
    case 'jump': case 'goto': return `${kind} ${isObj(v) ? String(v['target']) : ''}`;
    case 'accept': case 'drop': case 'return': case 'continue': return kind;
    case 'reject': return 'reject';
    case 'counter': return 'counter';
    case 'masquerade': return `masquerade${isObj(v) && v['flags'] ? ` ${Array.isArray(v['flags']) ? v['flags'].join(',') : String(v['flags'])}` : ''}`;
    case 'dnat': case 'snat':
      if (!isObj(v)) break;
      return `${kind} to ${renderExpr(v['addr'])}${v['port'] !== undefined ? `:${renderExpr(v['port'])}` : ''}`;
    case 'mangle': return isObj(v) ? `${renderExpr(v['key'])} set ${renderExpr(v['value'])}` : JSON.stringify(s);
    case 'vmap': return isObj(v) ? `${renderExpr(v['key'])} vmap ${renderExpr(v['data'])}` : JSON.stringify(s);
    case 'set': return isObj(v) ? `${String(v['op'])} ${String(v['set'])} { ${renderExpr(v['elem'])} }` : JSON.stringify(s);
    default: break;
  }
  return JSON.stringify(s);
}
