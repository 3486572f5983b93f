// The node's connection-tracking table as `conntrack -L` prints it, reduced to the entries a
// kube-proxy mode switch can break: connections to a loopback address (127.0.0.0/8, ::1 —
// localhost NodePorts work only in iptables mode, through route_localnet) and connections
// whose destination was rewritten (DNAT: Service and NodePort traffic, the reply comes from
// another address or port). Everything else is ordinary traffic and would only make the
// facet large, so it is dropped while reading. A line looks like
//   tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=41234 dport=30080 src=10.244.1.5 dst=10.244.1.1 sport=8080 dport=41234 [ASSURED] mark=0 use=1
// (`-o extended` adds `ipv4     2 ` in front; UDP has no state; ICMP has type/code/id, no ports).
import { InputError } from '../../common/errors.js';
import { canonicalIp } from '../dataplane/addr.js';

export const CONNTRACK_FILES = { v4: 'conntrack.txt', v6: 'conntrack6.txt' } as const;

export interface ConntrackEntry {
  readonly protocol: string;
  readonly family: 4 | 6;
  /** TCP state (ESTABLISHED, TIME_WAIT, …); '' for protocols without one. */
  readonly state: string;
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  /** The reply direction's source: the address the connection was DNATed to. */
  readonly replySrc: string;
  readonly replySport: number;
}

export interface ConntrackFacts {
  readonly entries: readonly ConntrackEntry[];
  /** Entries read in all (kept or not), for evidence ("12 of 4,311 tracked connections"). */
  readonly total: number;
  /** Kept entries beyond MAX_CONNTRACK_ENTRIES, dropped to bound the snapshot. */
  readonly truncated: number;
}

/** Enough to name every client of every NodePort on a busy node; beyond it we count. */
export const MAX_CONNTRACK_ENTRIES = 20_000;

export function isLoopback(ip: string): boolean {
  const c = canonicalIp(ip);
  // An IPv4 client of a dual-stack socket shows as ::ffff:127.x.y.z (or ::ffff:7f…) in tcp6.
  return c.startsWith('127.') || c === '::1' || /^::ffff:(127\.|7f)/i.test(c);
}

/** Kept: to a loopback address, or DNATed (the reply's source is not the original destination). */
export function keepConntrackEntry(e: ConntrackEntry): boolean {
  return isLoopback(e.dst) || canonicalIp(e.replySrc) !== canonicalIp(e.dst) || e.replySport !== e.dport;
}

/** Parses `conntrack -L` output (either family, with or without `-o extended`). */
export function parseConntrackList(text: string, file: string): ConntrackFacts {
  const entries: ConntrackEntry[] = [];
  let total = 0, truncated = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    // conntrack prints its summary ("… flow entries have been shown.") on stderr, but a
    // bundle made with 2>&1 carries it: not an entry.
    if (line === '' || line.startsWith('#') || line.startsWith('conntrack v')) continue;
    const f = line.split(/\s+/);
    let k = 0;
    if (f[0] === 'ipv4' || f[0] === 'ipv6') k = 2;
    const protocol = f[k];
    if (!protocol || !/^[a-z0-9-]+$/.test(protocol) || !/^\d+$/.test(f[k + 1] ?? '')) {
      throw new InputError(file, `expected "PROTO NUMBER [TIMEOUT] [STATE] src=… dst=…" (conntrack -L), got ${JSON.stringify(line.slice(0, 80))}`, i + 1);
    }
    let state = '';
    const orig: Record<string, string> = {}, reply: Record<string, string> = {};
    for (const tok of f.slice(k + 2)) {
      const eq = tok.indexOf('=');
      if (eq < 0) {
        if (/^[A-Z_]+$/.test(tok) && state === '' && Object.keys(orig).length === 0) state = tok;
        continue;
      }
      const key = tok.slice(0, eq), value = tok.slice(eq + 1);
      // The second src= starts the reply tuple.
      const into = key === 'src' && 'src' in orig ? reply : 'src' in reply ? reply : orig;
      if (!(key in into)) into[key] = value;
    }
    if (!orig['src'] || !orig['dst'] || !reply['src']) throw new InputError(file, `expected an original and a reply tuple (src=… dst=… … src=…), got ${JSON.stringify(line.slice(0, 80))}`, i + 1);
    total++;
    const port = (v: string | undefined): number => (v !== undefined && /^\d+$/.test(v) ? Number(v) : 0);
    const e: ConntrackEntry = {
      protocol, family: orig['src'].includes(':') ? 6 : 4, state,
      src: canonicalIp(orig['src']), dst: canonicalIp(orig['dst']), sport: port(orig['sport']), dport: port(orig['dport']),
      replySrc: canonicalIp(reply['src']), replySport: port(reply['sport']),
    };
    if (!keepConntrackEntry(e)) continue;
    if (entries.length >= MAX_CONNTRACK_ENTRIES) truncated++;
    else entries.push(e);
  }
  return { entries, total, truncated };
}

export function mergeConntrack(a: ConntrackFacts | undefined, b: ConntrackFacts | undefined): ConntrackFacts | undefined {
  if (!a || !b) return a ?? b;
  return { entries: [...a.entries, ...b.entries], total: a.total + b.total, truncated: a.truncated + b.truncated };
}

/** The kept entries in `conntrack -L` form, so a bundle written from a snapshot reads back the same. */
export function formatConntrackList(facts: ConntrackFacts, family: 4 | 6): string {
  return facts.entries.filter((e) => e.family === family).map((e) => {
    const ports = (sp: number, dp: number): string => (sp || dp ? ` sport=${sp} dport=${dp}` : '');
    return `${e.protocol} ${e.protocol === 'tcp' ? 6 : e.protocol === 'udp' ? 17 : 0} 0${e.state ? ` ${e.state}` : ''} src=${e.src} dst=${e.dst}${ports(e.sport, e.dport)} src=${e.replySrc} dst=${e.src}${ports(e.replySport, e.sport)} mark=0 use=1\n`;
  }).join('');
}
