// Objects shared by every iptables rule that says the same thing, and the builders both rule
// readers (the general one in iptables-rule.ts, the kube-proxy fast path in iptables-fast.ts)
// use, so they produce the very same objects.
import { parsePrefix, type Prefix } from './addr.js';
import type { Action, Match, Table, Verdict } from './model.js';
import { moduleMatches, targetVerdict } from './iptables-modules.js';
import type { ModOpt } from './iptables-tokenize.js';

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
export class Interner {
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
  /** One-match lists by their (shared) match. */
  private readonly singles = new Map<Match, readonly Match[]>();

  /**
   * An exact-size copy of a rule's match list; one-match lists are shared. Longer lists are
   * not interned: at 10k Services they are nearly all distinct (a trie keyed by their members
   * held 53 MB during the parse to save 10 MB in the model, and cost 13% of the parse time).
   */
  list(ms: readonly Match[]): readonly Match[] {
    if (ms.length === 0) return NO_MATCHES;
    if (ms.length > 1) return ms.slice();
    const m = ms[0]!;
    let l = this.singles.get(m);
    if (!l) this.singles.set(m, (l = [m]));
    return l;
  }
}

export const NO_MATCHES: readonly Match[] = Object.freeze([]);

/** Where a rule sits and what it said: the parts of a Rule the readers do not compute. */
export interface RuleHead {
  readonly table: string;
  readonly chain: string;
  readonly index: number;
  readonly text: string;
  readonly line: number;
}

/** Scratch list reused by every rule; each rule keeps an exact-size copy. */
export const SCRATCH: Match[] = [];

/** `-s`/`-d` VALUE as a match, shared per distinct text (a ClusterIP or the cluster CIDR recurs in many rules); the bad part when it is not an address. */
export function addrMatch(intern: Interner, v: string, src: boolean, neg: boolean): Match | string {
  let e = intern.addrs.get(v);
  if (!e) {
    // Sized up front: a list grown by push keeps 17 slots (152 bytes), and nearly every
    // address here is one prefix (110k of them at 10k Services: 16 MB of spare capacity).
    const parts = v.indexOf(',') < 0 ? [v] : v.split(',');
    const list = new Array<Prefix>(parts.length);
    for (let i = 0; i < parts.length; i++) {
      const p = parsePrefix(parts[i]!);
      if (!p) return parts[i]!;
      list[i] = p;
    }
    e = intern.put(intern.addrs, v, { prefixes: list, m: [] });
  }
  const slot = (src ? 0 : 2) + (neg ? 1 : 0);
  let m = e.m[slot];
  if (!m) e.m[slot] = m = { kind: 'addr', field: src ? 'src' : 'dst', prefixes: e.prefixes, neg };
  return m;
}

/** An option-less `-j`/`-g` target, shared per table (whether a name is a chain depends on the table). */
export function plainTarget(intern: Interner, table: Table, target: string, isGoto: boolean): { verdict: Verdict; action?: Action } {
  let perTable = intern.targets.get(table);
  if (!perTable) intern.targets.set(table, (perTable = new Map()));
  const key = isGoto ? `-g ${target}` : target;
  const tv = perTable.get(key);
  return tv ?? intern.put(perTable, key, targetVerdict(table.chains.get(target)?.name ?? target, NO_OPTS, isGoto, table.chains));
}

/** Module matches for `-m MOD` and the raw text of its options, shared per distinct text. */
export function moduleMatchesInterned(intern: Interner, mod: string, initialNeg: boolean, raw: string, o: () => readonly ModOpt[]): readonly Match[] {
  // (`-m comment --comment "ns/svc:port"` recurs in every rule of a Service.)
  const key = `${initialNeg ? '!' : ''}${mod}\0${raw}`;
  return intern.modules.get(key) ?? intern.put(intern.modules, key, moduleMatches(mod, o()));
}

export const NO_OPTS: readonly ModOpt[] = Object.freeze([]);
