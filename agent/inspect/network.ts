// Link, address and route facts, filled live from rtnetlink (netlink.ts) or from `ip -j`
// bundle files (ip-json.ts). Both produce exactly these shapes, in the same canonical order
// (links by ifindex, addresses by family then value, routes by family, table, destination),
// and leave a field out rather than set it to undefined, so the two compare equal.
import { parseIp } from '../../common/cidr.js';

export interface AddressFacts {
  readonly family: 4 | 6;
  /** Canonical text (`10.244.1.1`, `fe80::1`). */
  readonly address: string;
  readonly prefixLength: number;
  /** global, site, link, host, nowhere, or the number when unnamed. */
  readonly scope: string;
}

export interface LinkFacts {
  readonly index: number;
  readonly name: string;
  /** rtnetlink IFLA_INFO_KIND: bridge, veth, vxlan, …; '' for plain devices (lo, physical). */
  readonly kind: string;
  /** IFLA_INFO_SLAVE_KIND: `bridge` for a bridge port, `bond` for a bond member. */
  readonly slaveKind?: string;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  /** IFLA_OPERSTATE as `ip` prints it: UP, DOWN, UNKNOWN, LOWERLAYERDOWN … */
  readonly operState: string;
  readonly mtu: number;
  /** IFF_PROMISC was requested (kubenet's promiscuous-bridge hairpin mode sets it on cbr0). */
  readonly promiscuous: boolean;
  /** Name of the bridge (or other master) this link is enslaved to. */
  readonly master?: string;
  /** IFLA_LINK: the veth peer's ifindex (or a tunnel's lower device), when not the link itself. */
  readonly peerIndex?: number;
  /** The peer lives in another network namespace (IFLA_LINK_NETNSID present): a pod's veth. */
  readonly peerNetnsId?: number;
  /** Bridge port hairpin mode (IFLA_BRPORT_MODE), when the link is a bridge port. */
  readonly hairpin?: boolean;
  readonly addresses: readonly AddressFacts[];
}

export interface NextHopFacts {
  readonly gateway?: string;
  readonly dev?: string;
}

export interface RouteFacts {
  /** Routing table id (254 main, 255 local, 253 default; -1 for a table name the bundle reader cannot map). */
  readonly table: number;
  readonly family: 4 | 6;
  /** Canonical destination prefix, `0.0.0.0/0` or `::/0` for default. */
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  /** unicast, local, broadcast, blackhole, unreachable, prohibit, multicast, … */
  readonly type: string;
  /** Multipath routes: each next hop (gateway/dev are then absent on the route itself). */
  readonly nexthops?: readonly NextHopFacts[];
}

export const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'] as const;

const SCOPES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
export function scopeName(scope: number): string {
  return SCOPES[scope] ?? String(scope);
}

const TABLES: Record<string, number> = { local: 255, main: 254, default: 253, unspec: 0 };
/** `ip` prints well-known tables by name and others by number. */
export function tableId(name: string | number | undefined): number {
  if (name === undefined) return 254;
  if (typeof name === 'number') return name;
  if (/^\d+$/.test(name)) return Number(name);
  return TABLES[name] ?? -1;
}

/** Canonical order so live and bundle snapshots compare equal. */
export function sortLinks<T extends LinkFacts>(links: T[]): T[] {
  return links.sort((a, b) => a.index - b.index);
}

export function compareAddresses(a: AddressFacts, b: AddressFacts): number {
  if (a.family !== b.family) return a.family - b.family;
  const va = parseIp(a.address)?.value ?? 0n, vb = parseIp(b.address)?.value ?? 0n;
  return va < vb ? -1 : va > vb ? 1 : a.prefixLength - b.prefixLength;
}

export function compareRoutes(a: RouteFacts, b: RouteFacts): number {
  const key = (r: RouteFacts): string => [r.family, String(r.table).padStart(4, '0'), r.type, r.dst, r.dev ?? '', r.gateway ?? '', JSON.stringify(r.nexthops ?? [])].join('|');
  const ka = key(a), kb = key(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
