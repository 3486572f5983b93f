// The packet tracer: evaluates one concrete packet through the rule model along a hook path
// (prerouting → input|forward → postrouting, or output → postrouting), every base chain of
// every table at each hook in priority order, as the kernel does. It follows jump/goto/return,
// forks on `statistic --mode random` and `numgen` with their probabilities, looks packets up
// in ipsets and nft sets/maps, and answers addrtype/fib from the node's own addresses.
// It returns every possible outcome with its probability and the rules that led there.
// A match it cannot evaluate ends that branch as `unknown` with the rule: never a guessed pass.
import { canonicalIp, formatIp, parseIp, parsePrefix, prefixContains, type IpAddr, type Prefix } from './addr.js';
import type { Backend, Chain, Hook, KeyField, Match, NamedSet, NatTarget, Rule, SetElement, Table, Verdict } from './model.js';
import { protoName, ruleOrigin } from './model.js';

export interface TracePacket {
  readonly src: string;
  readonly dst: string;
  /** tcp, udp, sctp, icmp … */
  readonly proto: string;
  readonly sport?: number;
  readonly dport?: number;
  /** Input interface (network origin); output interface when already known. */
  readonly iif?: string;
  readonly oif?: string;
  readonly mark?: number;
  /** Conntrack state of the packet, upper case (default NEW: a first packet, a fresh client). */
  readonly ctstate?: string;
}

export interface TraceEnv {
  /** Tables of the packet's family from every backend that is programmed on the node. */
  readonly tables: readonly Table[];
  readonly ipsets?: ReadonlyMap<string, NamedSet>;
  /** The node's own addresses (addrtype LOCAL, fib … type local, routing to input). */
  readonly localAddresses: readonly string[];
}

export interface TraceOptions {
  /** `network`: arrives on an interface (prerouting first); `local`: sent by a node process (output first). */
  readonly origin?: 'network' | 'local';
  /** Stop before this hook (Service routing needs no postrouting, whose rules depend on the route). */
  readonly stopBefore?: Hook;
  /** End a branch once it has been DNATed (Service routing: the dispatch is decided in prerouting). */
  readonly stopAfterDnat?: boolean;
  /** Bound on rule evaluations per branch (loops, pathological rule sets). */
  readonly maxSteps?: number;
  /** Filled with what the trace read: the chains it walked and the sets it looked packets up in (trace-memo.ts). */
  readonly deps?: TraceDeps;
}

/** What one trace read besides its packet and the environment's base chains and addresses. */
export interface TraceDeps {
  readonly chains: Map<Chain, Table>;
  /** nft sets and maps by their table; ipsets under the table `undefined`. */
  readonly sets: Map<NamedSet, Table | undefined>;
}

export interface PathStep {
  readonly hook: Hook;
  readonly backend: Backend;
  readonly table: string;
  readonly chain: string;
  readonly rule: number;
  readonly text: string;
  readonly origin: string;
}

export type TraceVerdict = 'accept' | 'drop' | 'reject' | 'unknown';

export interface TraceOutcome {
  readonly verdict: TraceVerdict;
  readonly probability: number;
  readonly dnat?: NatTarget;
  /** `masquerade`, or the SNAT source. */
  readonly snat?: string;
  readonly mark: number;
  readonly hooks: readonly Hook[];
  /** Rules that matched (or chose a branch), in order. */
  readonly path: readonly PathStep[];
  /** Affinity state the path records for the client (recent --set names, nft sets updated). */
  readonly affinity: readonly string[];
  /** Why the outcome is unknown: the rule and the part the model cannot evaluate. */
  readonly unknown?: { readonly step: PathStep; readonly reason: string };
}

interface State {
  src: IpAddr;
  dst: IpAddr;
  dport: number | undefined;
  sport: number | undefined;
  proto: string;
  iif: string | undefined;
  oif: string | undefined;
  mark: number;
  ctstate: string;
  dnat: NatTarget | undefined;
  snat: string | undefined;
  prob: number;
  path: PathStep[];
  hooks: Hook[];
  affinity: string[];
  steps: number;
}

/** A PathStep whose origin text is built only when read (most steps are never shown). */
class Step implements PathStep {
  readonly backend: Backend;
  readonly table: string;
  readonly chain: string;
  readonly rule: number;
  readonly text: string;
  constructor(readonly hook: Hook, private readonly t: Table, private readonly r: Rule) {
    this.backend = t.backend;
    this.table = t.name;
    this.chain = r.chain;
    this.rule = r.index;
    this.text = r.text;
  }
  get origin(): string {
    return ruleOrigin(this.t, this.r);
  }
  toJSON(): Omit<PathStep, never> {
    return { hook: this.hook, backend: this.backend, table: this.table, chain: this.chain, rule: this.rule, text: this.text, origin: this.origin };
  }
}

interface Frame {
  readonly chain: Chain;
  readonly next: number;
}

type End = 'accept' | 'drop' | 'reject';
interface Res {
  readonly s: State;
  readonly end: End | 'unknown';
  readonly unknown?: { readonly step: PathStep; readonly reason: string };
}

const HOOK_ORDER_NETWORK: readonly Hook[] = ['prerouting'];
const LOOPBACK4 = parsePrefix('127.0.0.0/8')!;
const LOOPBACK6 = parsePrefix('::1/128')!;
const MULTICAST4 = parsePrefix('224.0.0.0/4')!;
const MULTICAST6 = parsePrefix('ff00::/8')!;

function fork(s: State, factor: number): State {
  // Spelled out (not `{ ...s }`): this runs once per statistic rule of every traced Service.
  return {
    src: s.src, dst: s.dst, dport: s.dport, sport: s.sport, proto: s.proto, iif: s.iif, oif: s.oif, mark: s.mark,
    ctstate: s.ctstate, dnat: s.dnat, snat: s.snat, prob: s.prob * factor,
    path: s.path.slice(), hooks: s.hooks.slice(), affinity: s.affinity.slice(), steps: s.steps,
  };
}

function pushAll(out: Res[], rs: readonly Res[]): void {
  for (let k = 0; k < rs.length; k++) out.push(rs[k]!);
}

export function trace(packet: TracePacket, env: TraceEnv, opts: TraceOptions = {}): TraceOutcome[] {
  const src = parseIp(packet.src);
  const dst = parseIp(packet.dst);
  if (!src || !dst) throw new Error(`trace: "${!src ? packet.src : packet.dst}" is not an IP address`);
  const family = src.family;
  const tracer = new Tracer(env, family, opts.maxSteps ?? 100_000, opts.deps);
  const start: State = {
    src, dst, dport: packet.dport, sport: packet.sport ?? 40000, proto: protoName(packet.proto),
    iif: packet.iif, oif: packet.oif, mark: (packet.mark ?? 0) >>> 0, ctstate: (packet.ctstate ?? 'NEW').toUpperCase(),
    dnat: undefined, snat: undefined, prob: 1, path: [], hooks: [], affinity: [], steps: 0,
  };
  const first: readonly Hook[] = opts.origin === 'local' ? ['output'] : HOOK_ORDER_NETWORK;
  const results: Res[] = [];
  const walk = (s: State, hooks: readonly Hook[]): void => {
    const [hook, ...rest] = hooks;
    if (hook === undefined || hook === opts.stopBefore) { results.push({ s, end: 'accept' }); return; }
    for (const r of tracer.runHook(s, hook)) {
      if (r.end !== 'accept' || (opts.stopAfterDnat && r.s.dnat)) { results.push(r); continue; }
      let next = rest;
      if (rest.length === 0) {
        // The routing decision after prerouting: to the node itself, or forwarded.
        if (hook === 'prerouting') next = [tracer.isLocal(r.s.dst) ? 'input' : 'forward'];
        else if (hook === 'forward' || hook === 'output') next = ['postrouting'];
      }
      walk(r.s, next);
    }
  };
  walk(start, first);
  return results.map((r) => ({
    verdict: r.end,
    probability: r.s.prob,
    ...(r.s.dnat ? { dnat: r.s.dnat } : {}),
    ...(r.s.snat ? { snat: r.s.snat } : {}),
    mark: r.s.mark,
    hooks: r.s.hooks,
    path: r.s.path,
    affinity: r.s.affinity,
    ...(r.unknown ? { unknown: r.unknown } : {}),
  }));
}

interface ChainIndex {
  /** Rule positions with a positive single-host destination match, by address key. */
  readonly byDst: Map<string | number, number[]>;
  /** Rule positions without one (they apply to every destination). */
  readonly any: number[];
}

const NO = -1;
const UNKNOWN = -2;

/** Chains longer than this get a destination index (KUBE-SERVICES has one rule per Service port). */
const INDEX_MIN_RULES = 64;

/** Per-chain destination indexes, shared by every trace (rule sets are immutable once parsed). */
const INDEXES = new WeakMap<Chain, ChainIndex>();
/** Per-environment base chains by hook and local address keys, shared by the traces of one scan. */
const ENV_CACHE = new WeakMap<TraceEnv, { hooks: Map<string, { table: Table; chain: Chain }[]>; local: Set<string> }>();

class Tracer {
  private readonly indexes = INDEXES;
  private readonly localKeys: Set<string>;
  private readonly hookChains: Map<string, { table: Table; chain: Chain }[]>;
  private hook: Hook = 'prerouting';
  private baseChain: Chain | undefined;
  private table: Table | undefined;

  constructor(private readonly env: TraceEnv, private readonly family: 4 | 6, private readonly maxSteps: number, private readonly deps: TraceDeps | undefined) {
    let cached = ENV_CACHE.get(env);
    if (!cached) {
      const local = new Set<string>();
      for (const a of env.localAddresses) {
        const ip = parseIp(a.split('/')[0]!);
        if (ip) local.add(formatIp(ip));
      }
      cached = { hooks: new Map(), local };
      ENV_CACHE.set(env, cached);
    }
    this.localKeys = cached.local;
    this.hookChains = cached.hooks;
  }

  isLocal(ip: IpAddr): boolean {
    if (ip.family === 4 ? prefixContains(LOOPBACK4, ip) : prefixContains(LOOPBACK6, ip)) return true;
    return this.localKeys.has(formatIp(ip));
  }

  private chainsAt(hook: Hook): { table: Table; chain: Chain }[] {
    const key = `${this.family} ${hook}`;
    let list = this.hookChains.get(key);
    if (!list) {
      list = [];
      for (const table of this.env.tables) {
        if (table.family !== this.family && !table.name.startsWith('inet ')) continue;
        for (const chain of table.chains.values()) if (chain.base?.hook === hook) list.push({ table, chain });
      }
      list.sort((a, b) => a.chain.base!.priority - b.chain.base!.priority);
      this.hookChains.set(key, list);
    }
    return list;
  }

  runHook(s0: State, hook: Hook): Res[] {
    s0.hooks.push(hook);
    let live: State[] = [s0];
    const done: Res[] = [];
    for (const { table, chain } of this.chainsAt(hook)) {
      const base = chain.base!;
      const next: State[] = [];
      for (const s of live) {
        // Once a connection has a NAT binding for this direction, later nat chains are skipped.
        if (base.type === 'nat' && ((hook === 'prerouting' || hook === 'output') ? s.dnat : s.snat) !== undefined) { next.push(s); continue; }
        this.hook = hook;
        this.baseChain = chain;
        this.table = table;
        for (const r of this.runChain(s, table, chain, 0, [])) {
          if (r.end === 'accept') next.push(r.s);
          else done.push(r);
        }
      }
      live = next;
    }
    return [...done, ...live.map((s) => ({ s, end: 'accept' as const }))];
  }

  /** Rule lists read in this trace: a packed chain (iptables-packed.ts) reads its text on every `rules` read. */
  private readonly ruleLists = new Map<Chain, readonly Rule[]>();

  private rulesOf(chain: Chain): readonly Rule[] {
    let rules = this.ruleLists.get(chain);
    if (!rules) this.ruleLists.set(chain, (rules = chain.rules));
    return rules;
  }

  private step(rule: Rule, table: Table): PathStep {
    return new Step(this.hook, table, rule);
  }

  private unknown(s: State, rule: Rule, table: Table, reason: string): Res {
    const step = this.step(rule, table);
    s.path.push(step);
    return { s, end: 'unknown', unknown: { step, reason } };
  }

  private candidates(chain: Chain, rules: readonly Rule[], s: State): readonly number[] | undefined {
    if (rules.length < INDEX_MIN_RULES) return undefined;
    let idx = this.indexes.get(chain);
    if (!idx) {
      const byDst = new Map<string | number, number[]>();
      const any: number[] = [];
      rules.forEach((r, i) => {
        const m = r.matches.find((x) => x.kind === 'addr' && x.field === 'dst' && !x.neg && x.prefixes.length === 1 && x.prefixes[0]!.len === (x.prefixes[0]!.family === 4 ? 32 : 128));
        if (m && m.kind === 'addr') {
          const p = m.prefixes[0]!;
          const key = p.family === 4 ? p.net : p.net6.toString();
          let l = byDst.get(key);
          if (!l) byDst.set(key, (l = []));
          l.push(i);
        } else {
          any.push(i);
        }
      });
      idx = { byDst, any };
      this.indexes.set(chain, idx);
    }
    const key = s.dst.family === 4 ? s.dst.v4 : s.dst.v6.toString();
    const hit = idx.byDst.get(key);
    if (!hit) return idx.any;
    // Merge the two ascending lists.
    const out: number[] = [];
    let a = 0, b = 0;
    while (a < hit.length || b < idx.any.length) {
      if (b >= idx.any.length || (a < hit.length && hit[a]! < idx.any[b]!)) out.push(hit[a++]!);
      else out.push(idx.any[b++]!);
    }
    return out;
  }

  private runChain(s: State, table: Table, chain: Chain, start: number, stack: readonly Frame[]): Res[] {
    this.deps?.chains.set(chain, table);
    const out: Res[] = [];
    const rules = this.rulesOf(chain);
    const cand = this.candidates(chain, rules, s);
    let pos = 0;
    if (cand) {
      let lo = 0, hi = cand.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (cand[mid]! < start) lo = mid + 1; else hi = mid; }
      pos = lo;
    } else {
      pos = start;
    }
    const n = cand ? cand.length : rules.length;
    for (; pos < n; pos++) {
      const i = cand ? cand[pos]! : pos;
      const rule = rules[i]!;
      if (++s.steps > this.maxSteps) { out.push(this.unknown(s, rule, table, `more than ${this.maxSteps} rule evaluations (a loop?)`)); return out; }
      const p = this.evalMatches(rule, s, table);
      if (p === NO) continue;
      if (p === UNKNOWN) { out.push(this.unknown(s, rule, table, `cannot evaluate: ${this.unknownText}`)); return out; }
      if (p < 1) {
        const taken = fork(s, p);
        pushAll(out, this.applyRule(taken, table, chain, i, stack, rule));
        s = fork(s, 1 - p);
        continue;
      }
      pushAll(out, this.applyRule(s, table, chain, i, stack, rule));
      return out;
    }
    pushAll(out, this.endOfChain(s, table, stack));
    return out;
  }

  private endOfChain(s: State, table: Table, stack: readonly Frame[]): Res[] {
    if (stack.length === 0) {
      // Falling off a base chain (or a chain reached by goto from it): the base chain's policy.
      return [{ s, end: this.baseChain?.base?.policy === 'drop' ? 'drop' : 'accept' }];
    }
    const frame = stack[stack.length - 1]!;
    return this.runChain(s, table, frame.chain, frame.next, stack.slice(0, -1));
  }

  private applyRule(s: State, table: Table, chain: Chain, i: number, stack: readonly Frame[], rule: Rule): Res[] {
    s.path.push(this.step(rule, table));
    for (const m of rule.matches) if (m.kind === 'recent' && (m.op === 'set' || m.op === 'update')) s.affinity.push(`recent:${m.name}`);
    for (const a of rule.actions) {
      if (a.kind === 'mark') s.mark = (((s.mark & ~a.mask) >>> 0) ^ a.value) >>> 0;
      else s.affinity.push(`set:${a.set}`);
    }
    return this.applyVerdict(s, rule.verdict, table, chain, i, stack, rule);
  }

  private applyVerdict(s: State, v: Verdict, table: Table, chain: Chain, i: number, stack: readonly Frame[], rule: Rule): Res[] {
    switch (v.kind) {
      case 'continue': return this.runChain(s, table, chain, i + 1, stack);
      case 'accept': return [{ s, end: 'accept' }];
      case 'drop': return [{ s, end: 'drop' }];
      case 'reject': return [{ s, end: 'reject' }];
      case 'return': return this.endOfChain(s, table, stack);
      case 'jump': case 'goto': {
        const target = table.chains.get(v.target);
        if (!target) return [this.unknown(s, rule, table, `${v.kind} to chain "${v.target}" that does not exist`)];
        if (stack.length > 64) return [this.unknown(s, rule, table, 'jump depth above 64 (a loop?)')];
        return this.runChain(s, table, target, 0, v.kind === 'jump' ? [...stack, { chain, next: i + 1 }] : stack);
      }
      case 'dnat': return [this.dnat(s, v.to, rule, table)];
      case 'dnatMap': {
        const out: Res[] = [];
        const byIndex = new Map(v.entries);
        for (let k = 0; k < v.mod; k++) {
          const f = fork(s, 1 / v.mod);
          const to = byIndex.get(k);
          // A numgen value without a map entry fails the lookup: the rule does not apply.
          out.push(...(to ? [this.dnat(f, to, rule, table)] : this.runChain(f, table, chain, i + 1, stack)));
        }
        return out;
      }
      case 'snat': s.snat = v.to; return [{ s, end: 'accept' }];
      case 'masquerade': s.snat = 'masquerade'; return [{ s, end: 'accept' }];
      case 'vmap': {
        const el = v.map !== undefined ? this.lookupNft(table, v.map, v.keys, s) : this.lookupElements(v.inline ?? [], undefined, v.keys, s);
        if (el === 'missing') return [this.unknown(s, rule, table, `verdict map @${v.map ?? '?'} does not exist`)];
        if (!el || !el.value) return this.runChain(s, table, chain, i + 1, stack);
        return this.applyVerdict(s, el.value, table, chain, i, stack, rule);
      }
      case 'numgenVmap': {
        const out: Res[] = [];
        const byIndex = new Map(v.entries);
        for (let k = 0; k < v.mod; k++) {
          const f = fork(s, 1 / v.mod);
          const val = byIndex.get(k);
          out.push(...(val ? this.applyVerdict(f, val, table, chain, i, stack, rule) : this.runChain(f, table, chain, i + 1, stack)));
        }
        return out;
      }
      case 'unknown': return [this.unknown(s, rule, table, `cannot evaluate verdict: ${v.text}`)];
    }
  }

  private dnat(s: State, to: NatTarget, rule: Rule, table: Table): Res {
    const ip = parseIp(to.addr);
    if (!ip) return this.unknown(s, rule, table, `DNAT to "${to.addr}" is not an address`);
    s.dnat = to;
    s.dst = ip;
    if (to.port !== undefined) s.dport = to.port;
    return { s, end: 'accept' };
  }

  private fieldValue(f: KeyField, s: State): string | undefined {
    switch (f) {
      case 'saddr': return formatIp(s.src);
      case 'daddr': return formatIp(s.dst);
      case 'l4proto': return s.proto;
      case 'dport': return s.dport === undefined ? undefined : String(s.dport);
      case 'sport': return s.sport === undefined ? undefined : String(s.sport);
      case 'iifname': return s.iif;
      case 'oifname': return s.oif;
      case 'mark': return String(s.mark);
    }
  }

  private lookupNft(table: Table, name: string, keys: readonly KeyField[], s: State): SetElement | undefined | 'missing' {
    const set = table.sets.get(name);
    if (!set) return 'missing';
    this.deps?.sets.set(set, table);
    // Dynamic sets (ClientIP affinity) are filled by traffic: a fresh client is in none.
    if (set.dynamic) return undefined;
    return this.lookupElements(set.elements, set, keys, s);
  }

  private lookupElements(elements: readonly SetElement[], set: NamedSet | undefined, keys: readonly KeyField[], s: State): SetElement | undefined {
    const parts: string[] = [];
    for (const k of keys) {
      const v = this.fieldValue(k, s);
      if (v === undefined) return undefined;
      parts.push(v);
    }
    if (set) {
      const hit = set.index.get(parts.join(' . '));
      if (hit) return hit;
      return set.ranged.find((e) => elementMatches(e, parts, keys, s));
    }
    return elements.find((e) => elementMatches(e, parts, keys, s));
  }

  private unknownText = '';

  /** The probability that the rule matches (1 when certain), NO, or UNKNOWN (see unknownText). */
  private evalMatches(rule: Rule, s: State, table: Table): number {
    let p = 1;
    const ms = rule.matches;
    for (let k = 0; k < ms.length; k++) {
      const r = this.evalMatch(ms[k]!, s, table);
      if (r === false) return NO;
      if (r === true) continue;
      if (typeof r === 'number') { p *= r; continue; }
      this.unknownText = r.unknown;
      return UNKNOWN;
    }
    return p;
  }

  /** true/false, a probability for random matches, or what cannot be evaluated. */
  private evalMatch(m: Match, s: State, table: Table): boolean | number | { unknown: string } {
    switch (m.kind) {
      case 'addr': {
        const ip = m.field === 'src' ? s.src : s.dst;
        const ps = m.prefixes;
        let hit = false;
        for (let k = 0; k < ps.length && !hit; k++) hit = prefixContains(ps[k]!, ip);
        return hit !== m.neg;
      }
      case 'proto':
        return (m.proto === 'all' || m.proto === '0' || m.proto === s.proto) !== m.neg;
      case 'port': {
        const v = m.field === 'dport' ? s.dport : s.sport;
        if (v === undefined || (s.proto !== 'tcp' && s.proto !== 'udp' && s.proto !== 'sctp')) return false;
        const rs = m.ranges;
        let hit = false;
        for (let k = 0; k < rs.length && !hit; k++) hit = v >= rs[k]![0] && v <= rs[k]![1];
        return hit !== m.neg;
      }
      case 'iface': {
        const name = m.dir === 'in' ? s.iif : s.oif;
        if (name === undefined) return { unknown: `${m.neg ? '! ' : ''}${m.dir === 'in' ? '-i' : '-o'} ${m.name} (interface not known on this path)` };
        const last = m.name[m.name.length - 1];
        const hit = last === '+' || last === '*' ? name.startsWith(m.name.slice(0, -1)) : name === m.name;
        return hit !== m.neg;
      }
      case 'mark':
        return ((((s.mark & m.mask) >>> 0) === (m.value & m.mask) >>> 0)) !== m.neg;
      case 'ctstate': {
        const hit = m.states.some((st) => st === s.ctstate || (st === 'DNAT' && s.dnat !== undefined) || (st === 'SNAT' && s.snat !== undefined));
        return hit !== m.neg;
      }
      case 'addrtype': {
        const ip = m.field === 'src' ? s.src : s.dst;
        let hit = false;
        for (const t of m.types) {
          const r = this.addrType(ip, t);
          if (r === undefined) return { unknown: `addrtype ${t}` };
          if (r) hit = true;
        }
        return hit !== m.neg;
      }
      case 'ipset': {
        const set = this.env.ipsets?.get(m.name);
        if (!set) return { unknown: `ipset "${m.name}" (not in ipset save output)` };
        this.deps?.sets.set(set, undefined);
        return ipsetContains(set, m.dirs, s) !== m.neg;
      }
      case 'setLookup': {
        const el = this.lookupNft(table, m.set, m.keys, s);
        if (el === 'missing') return { unknown: `set @${m.set} does not exist` };
        return (el !== undefined) !== m.neg;
      }
      case 'random':
        return m.probability >= 1 ? true : m.probability <= 0 ? false : m.probability;
      case 'recent':
        // A fresh client has no recent entry: --rcheck/--update miss; --set/--remove match.
        return m.op === 'set' || m.op === 'remove';
      case 'comment': case 'counter':
        return true;
      case 'unknown':
        return { unknown: m.text };
    }
  }

  private addrType(ip: IpAddr, t: string): boolean | undefined {
    switch (t) {
      case 'LOCAL': return this.isLocal(ip);
      case 'MULTICAST': return prefixContains(ip.family === 4 ? MULTICAST4 : MULTICAST6, ip);
      case 'BROADCAST': return ip.family === 4 && ip.v4 === 0xffffffff;
      case 'UNICAST': return !this.isLocal(ip) && !prefixContains(ip.family === 4 ? MULTICAST4 : MULTICAST6, ip) && !(ip.family === 4 && ip.v4 === 0xffffffff);
      default: return undefined; // BLACKHOLE, UNREACHABLE, … depend on routes
    }
  }
}

function elementMatches(e: SetElement, parts: readonly string[], keys: readonly KeyField[], s: State): boolean {
  if (e.key.length !== parts.length) return false;
  for (let k = 0; k < parts.length; k++) {
    const pre = e.prefixes?.[k];
    if (pre) {
      const ip = keys[k] === 'saddr' ? s.src : keys[k] === 'daddr' ? s.dst : undefined;
      if (!ip || !prefixContains(pre, ip)) return false;
    } else if (e.key[k]!.includes('-') && /^\d+-\d+$/.test(e.key[k]!)) {
      const [lo, hi] = e.key[k]!.split('-').map(Number);
      const v = Number(parts[k]);
      if (!(v >= lo! && v <= hi!)) return false;
    } else if (e.key[k] !== parts[k]) {
      return false;
    }
  }
  return true;
}

/** `-m set --match-set NAME dir[,dir…]`: builds the key per set dimension and looks it up. */
function ipsetContains(set: NamedSet, dirs: readonly ('src' | 'dst')[], s: State): boolean {
  const type = set.type[0] ?? '';
  const dims = (type.split(':')[1] ?? '').split(',');
  const parts: string[] = [];
  const ips: (IpAddr | undefined)[] = [];
  for (let k = 0; k < dims.length; k++) {
    const dir = dirs[k] ?? dirs[dirs.length - 1] ?? 'dst';
    if (dims[k] === 'port') {
      const port = dir === 'src' ? s.sport : s.dport;
      parts.push(type.startsWith('bitmap') ? String(port) : `${s.proto}:${String(port)}`);
      ips.push(undefined);
    } else {
      const ip = dir === 'src' ? s.src : s.dst;
      parts.push(formatIp(ip));
      ips.push(ip);
    }
  }
  if (set.index.has(parts.join(' . '))) return true;
  return set.ranged.some((e) => e.key.every((kp, k) => {
    const pre: Prefix | undefined = e.prefixes?.[k];
    if (pre) return ips[k] !== undefined && prefixContains(pre, ips[k]!);
    return kp === parts[k];
  }));
}

/** Human-readable rendering of outcomes (the `trace` command and evidence). */
export function describeOutcome(o: TraceOutcome): string {
  const what = o.verdict === 'unknown'
    ? `UNKNOWN (${o.unknown?.reason ?? '?'})`
    : `${o.verdict.toUpperCase()}${o.dnat ? ` → DNAT ${o.dnat.addr.includes(':') ? `[${o.dnat.addr}]` : o.dnat.addr}${o.dnat.port !== undefined ? `:${o.dnat.port}` : ''}` : ''}${o.snat ? ` SNAT ${o.snat}` : ''}`;
  return `${(o.probability * 100).toFixed(2).padStart(6)}%  ${what}`;
}

export { canonicalIp };
