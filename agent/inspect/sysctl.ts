// Kernel settings the checks read. Live: /proc/sys of the agent's network namespace.
// Bundle: `sysctl -a` text. Both keep the same keys, so snapshots compare equal.
import { readFileSync, readdirSync } from 'node:fs';
import { InputError } from '../../common/errors.js';

/** Keys the checks care about; `*` matches one path segment (an interface name). */
export const SYSCTL_KEYS: readonly string[] = [
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.ipv4.conf.*.rp_filter',
  'net.ipv4.conf.*.route_localnet',
  'net.ipv4.vs.conntrack',
  'net.netfilter.nf_conntrack_max',
  // The kube-proxy mode migration: conntrack liberal mode (what iptables mode's INVALID drop
  // works around) and the ARP settings IPVS strictARP sets.
  'net.netfilter.nf_conntrack_tcp_be_liberal',
  'net.ipv4.conf.all.arp_ignore',
  'net.ipv4.conf.all.arp_announce',
  // The kernel release, for the migration fingerprint (a target CNI's minimum kernel).
  'kernel.osrelease',
];

const KEY_PATTERNS = SYSCTL_KEYS.map((k) => new RegExp('^' + k.replace(/\./g, '\\.').replace(/\*/g, '[^.]+') + '$'));

export function isWantedSysctl(key: string): boolean {
  return KEY_PATTERNS.some((re) => re.test(key));
}

/** Reads the wanted keys from /proc/sys. Absent keys (e.g. br_netfilter not loaded) stay absent. */
export function readSysctlsLive(procSys = '/proc/sys'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of SYSCTL_KEYS) {
    for (const concrete of expandKey(procSys, key)) {
      try {
        out[concrete] = readFileSync(`${procSys}/${concrete.replace(/\./g, '/')}`, 'utf8').trim();
      } catch {
        // Missing is a fact the checks report; nothing to do here.
      }
    }
  }
  return sortKeys(out);
}

function expandKey(procSys: string, key: string): string[] {
  const star = key.indexOf('*');
  if (star < 0) return [key];
  const parent = key.slice(0, star - 1);
  const rest = key.slice(star + 1);
  try {
    // Interface names may contain dots, which sysctl shows as '/': keep them out.
    return readdirSync(`${procSys}/${parent.replace(/\./g, '/')}`).filter((n) => !n.includes('.')).map((n) => `${parent}.${n}${rest}`);
  } catch {
    return [];
  }
}

/** Parses `sysctl -a` output (`key = value` per line). */
export function parseSysctlText(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new InputError(file, `expected "key = value", got ${JSON.stringify(line.slice(0, 80))}`, i + 1);
    const key = line.slice(0, eq).trim().replace(/\//g, '.');
    if (/\s/.test(key)) throw new InputError(file, `expected "key = value" with a key like net.ipv4.ip_forward, got ${JSON.stringify(line.slice(0, 80))}`, i + 1);
    if (isWantedSysctl(key)) out[key] = line.slice(eq + 1).trim();
  }
  return sortKeys(out);
}

export function formatSysctlText(values: Readonly<Record<string, string>>): string {
  return Object.entries(values).map(([k, v]) => `${k} = ${v}\n`).join('');
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
