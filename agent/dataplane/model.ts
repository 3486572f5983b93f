// The one rule model for iptables-save text and `nft -j` JSON. Parsers (iptables-save.ts,
// nft-json.ts) produce it; the tracer and the checks only ever see this data. Every rule keeps
// the text it came from, for evidence people read — code never parses that text again.
import type { Prefix } from './addr.js';

export type Backend = 'iptables-nft' | 'iptables-legacy' | 'nftables';
export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
export type ChainType = 'filter' | 'nat' | 'route';

export interface BaseChainInfo {
  readonly hook: Hook;
  readonly priority: number;
  readonly type: ChainType;
  readonly policy: 'accept' | 'drop';
}

/** A value a packet is looked up by (nft key expressions, ipset dimensions). */
export type KeyField = 'saddr' | 'daddr' | 'l4proto' | 'sport' | 'dport' | 'iifname' | 'oifname' | 'mark';

export type Match =
  | { readonly kind: 'addr'; readonly field: 'src' | 'dst'; readonly prefixes: readonly Prefix[]; readonly neg: boolean }
  | { readonly kind: 'proto'; readonly proto: string; readonly neg: boolean }
  | { readonly kind: 'port'; readonly field: 'sport' | 'dport'; readonly ranges: readonly (readonly [number, number])[]; readonly neg: boolean }
  /** Interface name; `name` ending in `+` (iptables) or `*` (nft) is a prefix. */
  | { readonly kind: 'iface'; readonly dir: 'in' | 'out'; readonly name: string; readonly neg: boolean }
  | { readonly kind: 'mark'; readonly value: number; readonly mask: number; readonly neg: boolean }
  /** Conntrack states, upper case: NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED, DNAT, SNAT. */
  | { readonly kind: 'ctstate'; readonly states: readonly string[]; readonly neg: boolean }
  /** `-m addrtype` / nft `fib … type`: address types, upper case (LOCAL, UNICAST, …). */
  | { readonly kind: 'addrtype'; readonly field: 'src' | 'dst'; readonly types: readonly string[]; readonly neg: boolean }
  /** `-m set --match-set NAME src,dst`. */
  | { readonly kind: 'ipset'; readonly name: string; readonly dirs: readonly ('src' | 'dst')[]; readonly neg: boolean }
  /** nft `KEY @set` lookup in a named set of the rule's table. */
  | { readonly kind: 'setLookup'; readonly keys: readonly KeyField[]; readonly set: string; readonly neg: boolean }
  /** `-m statistic --mode random --probability P`: the tracer forks here. */
  | { readonly kind: 'random'; readonly probability: number }
  /** `-m recent` (kube-proxy's ClientIP affinity). */
  | { readonly kind: 'recent'; readonly name: string; readonly op: 'rcheck' | 'update' | 'set' | 'remove'; readonly seconds: number }
  | { readonly kind: 'comment'; readonly text: string }
  /** Always true, no effect on the verdict (nfacct, counters). */
  | { readonly kind: 'counter'; readonly text: string }
  /** Anything the model does not evaluate: kept verbatim; reaching it makes the outcome unknown. */
  | { readonly kind: 'unknown'; readonly text: string };

export type Action =
  /** mark = (mark & ~mask) ^ value (iptables --set-xmark semantics; every mark op maps to it). */
  | { readonly kind: 'mark'; readonly value: number; readonly mask: number }
  /** nft `update @set { ip saddr }` (affinity). */
  | { readonly kind: 'setUpdate'; readonly set: string };

export interface NatTarget {
  readonly addr: string;
  readonly port?: number;
}

export type Verdict =
  | { readonly kind: 'continue' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'reject' }
  | { readonly kind: 'return' }
  | { readonly kind: 'jump'; readonly target: string }
  | { readonly kind: 'goto'; readonly target: string }
  | { readonly kind: 'dnat'; readonly to: NatTarget }
  /** nft `dnat … to numgen random mod N map { i : addr . port }`. */
  | { readonly kind: 'dnatMap'; readonly mod: number; readonly entries: readonly (readonly [number, NatTarget])[] }
  | { readonly kind: 'snat'; readonly to: string }
  | { readonly kind: 'masquerade' }
  /** Verdict map keyed by packet fields: a named map of the table, or inline entries. */
  | { readonly kind: 'vmap'; readonly keys: readonly KeyField[]; readonly map?: string; readonly inline?: readonly SetElement[] }
  /** `numgen random mod N vmap { i : verdict }`: the tracer forks N ways. */
  | { readonly kind: 'numgenVmap'; readonly mod: number; readonly entries: readonly (readonly [number, Verdict])[] }
  | { readonly kind: 'unknown'; readonly text: string };

export interface Rule {
  readonly table: string;
  readonly chain: string;
  /** 1-based position in its chain. */
  readonly index: number;
  /** The rule as its source printed it (iptables-save line; nft rendered from JSON). */
  readonly text: string;
  /** Line in the iptables-save file, or the nft rule handle (see ruleOrigin). */
  readonly line: number;
  readonly matches: readonly Match[];
  readonly actions: readonly Action[];
  readonly verdict: Verdict;
}

export interface Chain {
  readonly name: string;
  readonly base?: BaseChainInfo;
  readonly rules: Rule[];
  /** The number of rules, where it is known without reading them (a packed chain reads its rules from the dump text on every `rules`). */
  readonly size?: number;
}

/** One element of an nft set or map, or an ipset entry: key parts canonicalised. */
export interface SetElement {
  /** Canonical key parts: addresses via canonicalIp, protocols lower-case names, ports as decimal. */
  readonly key: readonly string[];
  /** Key parts that are prefixes/ranges (matched by containment, not equality). */
  readonly prefixes?: readonly (Prefix | undefined)[];
  readonly value?: Verdict;
  readonly comment?: string;
}

export interface NamedSet {
  readonly name: string;
  /** nft types (`ipv4_addr`, `inet_proto`, `inet_service`) or ipset type (`hash:ip,port`). */
  readonly type: readonly string[];
  readonly isMap: boolean;
  /** Filled by the data plane at run time (affinity, flags dynamic/timeout). */
  readonly dynamic: boolean;
  readonly elements: readonly SetElement[];
  /** Exact-key index: key parts joined with ' . '. Built by the parser. */
  readonly index: ReadonlyMap<string, SetElement>;
  /** Elements holding a prefix part (scanned linearly). */
  readonly ranged: readonly SetElement[];
}

export interface Table {
  readonly backend: Backend;
  /** The file the table was read from (rule origins, evidence). */
  readonly source: string;
  readonly family: 4 | 6;
  readonly name: string;
  readonly chains: Map<string, Chain>;
  readonly sets: Map<string, NamedSet>;
}

export interface Ruleset {
  readonly backend: Backend;
  readonly tables: readonly Table[];
}

export interface IpvsRealServer {
  readonly addr: string;
  readonly port: number;
  readonly forward: 'masq' | 'route' | 'tunnel' | 'local';
  readonly weight: number;
}

export interface IpvsVirtualServer {
  readonly protocol: 'TCP' | 'UDP' | 'SCTP' | 'FWM';
  readonly addr: string;
  readonly port: number;
  readonly scheduler: string;
  /** Persistence timeout in seconds (ClientIP affinity), 0 when not persistent. */
  readonly persistent: number;
  readonly realServers: readonly IpvsRealServer[];
  readonly text: string;
}

/** Where a rule came from, for evidence: `iptables-save.txt:123` or `nft.json handle 45`. */
export function ruleOrigin(table: Table, rule: Rule): string {
  return table.backend === 'nftables' ? `${table.source} handle ${rule.line}` : `${table.source}:${rule.line}`;
}

/**
 * The list copied into an array exactly as long. A list grown by push keeps spare slots (17
 * for its first push): in a model of hundreds of thousands of one- and two-item lists that
 * was most of their memory. For lists kept in the model; not worth it for short-lived ones.
 */
export function exactSize<T>(list: readonly T[]): T[] {
  const out = new Array<T>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = list[i]!;
  return out;
}

export const CONTINUE: Verdict = Object.freeze({ kind: 'continue' });
export const NO_ACTIONS: readonly Action[] = Object.freeze([]);

export function buildSetIndex(elements: readonly SetElement[]): { index: Map<string, SetElement>; ranged: SetElement[] } {
  const index = new Map<string, SetElement>();
  const ranged: SetElement[] = [];
  for (const e of elements) {
    if (e.prefixes && e.prefixes.some((p) => p !== undefined)) ranged.push(e);
    else index.set(e.key.join(' . '), e);
  }
  return { index, ranged };
}

const PROTO_NUMBERS: Record<string, string> = { '6': 'tcp', '17': 'udp', '132': 'sctp', '1': 'icmp', '58': 'ipv6-icmp' };

/** Protocol as a lower-case name (`6` → `tcp`). */
export function protoName(p: string | number): string {
  const s = String(p).toLowerCase();
  return PROTO_NUMBERS[s] ?? s;
}
