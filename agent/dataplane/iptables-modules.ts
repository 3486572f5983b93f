// The match-module and target table: what `-m MOD --opt …` and `-j TARGET --opt …` mean in
// the rule model. A module or option the model does not evaluate is kept verbatim as an
// `unknown` match: nothing is dropped.
import { parsePrefix } from './addr.js';
import type { Action, Chain, Match, Verdict } from './model.js';
import type { ModOpt } from './iptables-tokenize.js';

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

/** Matches for `-m MOD` with its options. */
export function moduleMatches(mod: string, o: readonly ModOpt[]): Match[] {
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

/** Verdict (and action) of `-j`/`-g TARGET` with its options; `chains` tells user chains from extension targets. */
export function targetVerdict(target: string, o: readonly ModOpt[], isGoto: boolean, chains: ReadonlyMap<string, Chain>): { verdict: Verdict; action?: Action } {
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
      // Any name that is not a target is a chain, whatever follows it: iptables itself takes a
      // name as a chain when the table has one, else loads the extension of that name or fails.
      // So a jump here is checked against the table's chains (at COMMIT, or by the reader when
      // options follow, which a jump to a chain never has) and is never left `unknown`.
      if (chains.has(target) || !isTargetName(target)) {
        return { verdict: isGoto ? { kind: 'goto', target } : { kind: 'jump', target } };
      }
      return { verdict: { kind: 'unknown', text } };
  }
}

/**
 * Every target iptables (1.8, its extensions) and xtables-addons define: built-in verdicts
 * and extension targets, which are not chains (iptables refuses a chain named like one).
 * A name outside this list is read as a chain, and refused when the table does not declare it.
 */
const TARGET_NAMES: ReadonlySet<string> = new Set([
  // built-in verdicts
  'ACCEPT', 'DROP', 'RETURN', 'QUEUE',
  // iptables extensions (libxt_*, libipt_*, libip6t_*)
  'AUDIT', 'CHECKSUM', 'CLASSIFY', 'CLUSTERIP', 'CONNMARK', 'CONNSECMARK', 'CT', 'DNAT', 'DNPT', 'DSCP', 'ECN',
  'HL', 'HMARK', 'IDLETIMER', 'LED', 'LOG', 'MARK', 'MASQUERADE', 'MIRROR', 'NETMAP', 'NFLOG', 'NFQUEUE', 'NOTRACK',
  'RATEEST', 'REDIRECT', 'REJECT', 'SAME', 'SECMARK', 'SET', 'SNAT', 'SNPT', 'SYNPROXY', 'TCPMSS', 'TCPOPTSTRIP',
  'TEE', 'TOS', 'TPROXY', 'TRACE', 'TTL', 'ULOG',
  // xtables-addons
  'ACCOUNT', 'CHAOS', 'DELUDE', 'DHCPMAC', 'DNETMAP', 'ECHO', 'IPMARK', 'LOGMARK', 'PROTO', 'STEAL', 'SYSRQ', 'TARPIT',
]);

/** Whether `-j NAME` names a target (built-in or extension) rather than a chain. */
export function isTargetName(name: string): boolean {
  return TARGET_NAMES.has(name);
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
