// `ip -j` output ⇄ link/route facts: the bundle side of network inspection.
//   ip-link.json   `ip -j -d link show`        (kind, master, veth peer, hairpin)
//   ip-addr.json   `ip -j addr show`           (addresses, joined to links by ifindex)
//   ip-route.json  `ip -j route show table all`
// Parsers are pure and strict about shape: a file that is not what `ip` writes is an
// InputError naming the file and the entry. The renderers write the same formats (only the
// fields the parsers read) for a bundle made from a snapshot when the `ip` tool is absent.
import { InputError } from '../../common/errors.js';
import { parseJsonInput } from '../../common/json-input.js';
import { formatCidr, formatIp, parseCidr, parseIp, type IpFamily } from '../../common/cidr.js';
import {
  compareAddresses, compareRoutes, sortLinks, tableId,
  type AddressFacts, type LinkFacts, type NextHopFacts, type RouteFacts,
} from './network.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a JSON array file, with line/column on syntax errors. */
export function parseJsonArray(text: string, file: string): Obj[] {
  const v = parseJsonInput(text, file);
  if (!Array.isArray(v)) throw new InputError(file, `expected a JSON array (the output of ip -j), got ${v === null ? 'null' : typeof v}`);
  return v.map((e, i) => {
    if (!isObj(e)) throw new InputError(file, `entry ${i}: expected an object, got ${JSON.stringify(e)?.slice(0, 60)}`);
    return e;
  });
}

function field<T>(file: string, i: number, o: Obj, key: string, check: (v: unknown) => v is T, what: string): T {
  const v = o[key];
  if (!check(v)) throw new InputError(file, `entry ${i}${typeof o['ifname'] === 'string' ? ` (${o['ifname']})` : ''}: "${key}" must be ${what}, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isStrArr = (v: unknown): v is string[] => Array.isArray(v) && v.every(isStr);

/** Joins `ip -j -d link show` and `ip -j addr show` into link facts. */
export function parseIpLinks(linkText: string, linkFile: string, addrText: string, addrFile: string): LinkFacts[] {
  const linkEntries = parseJsonArray(linkText, linkFile);
  const addrEntries = parseJsonArray(addrText, addrFile);
  const byName = new Map<string, number>();
  for (const [i, o] of linkEntries.entries()) byName.set(field(linkFile, i, o, 'ifname', isStr, 'a string'), field(linkFile, i, o, 'ifindex', isNum, 'a number'));

  const addrsByIndex = new Map<number, AddressFacts[]>();
  for (const [i, o] of addrEntries.entries()) {
    const index = field(addrFile, i, o, 'ifindex', isNum, 'a number');
    const info = o['addr_info'] ?? [];
    if (!Array.isArray(info)) throw new InputError(addrFile, `entry ${i}: "addr_info" must be an array`);
    const list: AddressFacts[] = [];
    for (const [j, a] of info.entries()) {
      // `ip addr` prints an empty object for an address it filtered out; skip those.
      if (!isObj(a) || a['local'] === undefined) continue;
      const fam = a['family'] === 'inet' ? 4 : a['family'] === 'inet6' ? 6 : undefined;
      if (!fam) continue;
      const local = a['local'];
      const ip = isStr(local) ? parseIp(local) : undefined;
      if (!ip) throw new InputError(addrFile, `entry ${i} addr_info[${j}]: "local" is not an IP address: ${JSON.stringify(local)}`);
      const prefixLength = a['prefixlen'];
      if (!isNum(prefixLength)) throw new InputError(addrFile, `entry ${i} addr_info[${j}]: "prefixlen" must be a number`);
      list.push({ family: fam, address: formatIp(ip.family, ip.value), prefixLength, scope: isStr(a['scope']) ? a['scope'] : isNum(a['scope']) ? String(a['scope']) : 'global' });
    }
    addrsByIndex.set(index, [...(addrsByIndex.get(index) ?? []), ...list]);
  }

  const links: LinkFacts[] = [];
  for (const [i, o] of linkEntries.entries()) {
    const index = o['ifindex'] as number;
    const name = o['ifname'] as string;
    const flags = o['flags'] === undefined ? [] : field(linkFile, i, o, 'flags', isStrArr, 'an array of strings');
    const linkinfo = isObj(o['linkinfo']) ? o['linkinfo'] : {};
    const slaveData = isObj(linkinfo['info_slave_data']) ? linkinfo['info_slave_data'] : {};
    const kind = isStr(linkinfo['info_kind']) ? linkinfo['info_kind'] : '';
    const slaveKind = isStr(linkinfo['info_slave_kind']) ? linkinfo['info_slave_kind'] : undefined;
    let peerIndex: number | undefined;
    if (isNum(o['link_index'])) peerIndex = o['link_index'];
    else if (isStr(o['link'])) {
      // Same-namespace peer: printed by name, or `ifN` when ip could not name it.
      peerIndex = byName.get(o['link']) ?? (/^if(\d+)$/.test(o['link']) ? Number(o['link'].slice(2)) : undefined);
    }
    const master = isStr(o['master']) ? o['master'] : undefined;
    const hairpin = slaveKind === 'bridge' && typeof slaveData['hairpin'] === 'boolean' ? slaveData['hairpin'] : undefined;
    links.push({
      index,
      name,
      kind,
      ...(slaveKind !== undefined ? { slaveKind } : {}),
      up: flags.includes('UP'),
      operState: isStr(o['operstate']) ? o['operstate'] : 'UNKNOWN',
      mtu: isNum(o['mtu']) ? o['mtu'] : 0,
      promiscuous: flags.includes('PROMISC'),
      ...(master !== undefined ? { master } : {}),
      ...(peerIndex !== undefined ? { peerIndex } : {}),
      ...(peerIndex !== undefined && isNum(o['link_netnsid']) ? { peerNetnsId: o['link_netnsid'] } : {}),
      ...(hairpin !== undefined ? { hairpin } : {}),
      addresses: (addrsByIndex.get(index) ?? []).sort(compareAddresses),
    });
  }
  return sortLinks(links);
}

/** Parses `ip -j route show table all` (IPv4 and IPv6 entries, any table). */
export function parseIpRoutes(text: string, file: string): RouteFacts[] {
  const routes: RouteFacts[] = [];
  for (const [i, o] of parseJsonArray(text, file).entries()) {
    const dstText = field(file, i, o, 'dst', isStr, 'a string');
    const gateway = isStr(o['gateway']) ? o['gateway'] : undefined;
    const nexthopsRaw = Array.isArray(o['nexthops']) ? o['nexthops'].filter(isObj) : undefined;
    const family = routeFamily(dstText, gateway, nexthopsRaw, o);
    const dst = dstText === 'default' ? parseCidr(family === 4 ? '0.0.0.0/0' : '::/0') : parseCidr(dstText);
    if (!dst) throw new InputError(file, `entry ${i}: "dst" is not a prefix: ${JSON.stringify(dstText)}`);
    const gw = gateway !== undefined ? parseIp(gateway) : undefined;
    if (gateway !== undefined && !gw) throw new InputError(file, `entry ${i}: "gateway" is not an IP address: ${JSON.stringify(gateway)}`);
    const nexthops: NextHopFacts[] | undefined = nexthopsRaw?.map((h) => {
      const hg = isStr(h['gateway']) ? parseIp(h['gateway']) : undefined;
      return { ...(hg ? { gateway: formatIp(hg.family, hg.value) } : {}), ...(isStr(h['dev']) ? { dev: h['dev'] } : {}) };
    });
    const table = o['table'];
    routes.push({
      table: tableId(isStr(table) || isNum(table) ? table : undefined),
      family,
      dst: formatCidr(dst),
      ...(gw ? { gateway: formatIp(gw.family, gw.value) } : {}),
      ...(isStr(o['dev']) ? { dev: o['dev'] } : {}),
      type: isStr(o['type']) ? o['type'] : 'unicast',
      ...(nexthops && nexthops.length > 0 ? { nexthops } : {}),
    });
  }
  return routes.sort(compareRoutes);
}

/** `ip -j route` does not print the family; `default` needs it from the gateway or IPv6-only keys. */
function routeFamily(dst: string, gateway: string | undefined, hops: Obj[] | undefined, o: Obj): IpFamily {
  if (dst !== 'default') return dst.includes(':') ? 6 : 4;
  const gw = gateway ?? hops?.map((h) => h['gateway']).find(isStr) ?? (isStr(o['prefsrc']) ? o['prefsrc'] : undefined);
  if (gw !== undefined) return gw.includes(':') ? 6 : 4;
  return o['pref'] !== undefined ? 6 : 4; // RTA_PREF is printed for IPv6 routes only
}

const TABLE_NAMES: Record<number, string> = { 255: 'local', 253: 'default' };

/** `ip -j -d link show` for these links (the fields parseIpLinks reads). */
export function renderIpLinkJson(links: readonly LinkFacts[]): string {
  const names = new Map(links.map((l) => [l.index, l.name]));
  return JSON.stringify(links.map((l) => ({
    ifindex: l.index,
    ...(l.peerIndex !== undefined && l.peerNetnsId === undefined ? { link: names.get(l.peerIndex) ?? `if${l.peerIndex}` } : {}),
    ...(l.peerIndex !== undefined && l.peerNetnsId !== undefined ? { link_index: l.peerIndex } : {}),
    ifname: l.name,
    flags: [...(l.promiscuous ? ['PROMISC'] : []), ...(l.up ? ['UP'] : [])],
    mtu: l.mtu,
    ...(l.master !== undefined ? { master: l.master } : {}),
    operstate: l.operState,
    ...(l.peerNetnsId !== undefined ? { link_netnsid: l.peerNetnsId } : {}),
    ...(l.kind || l.slaveKind ? {
      linkinfo: {
        ...(l.kind ? { info_kind: l.kind } : {}),
        ...(l.slaveKind ? { info_slave_kind: l.slaveKind } : {}),
        ...(l.hairpin !== undefined ? { info_slave_data: { hairpin: l.hairpin } } : {}),
      },
    } : {}),
  }))) + '\n';
}

/** `ip -j addr show` for these links. */
export function renderIpAddrJson(links: readonly LinkFacts[]): string {
  return JSON.stringify(links.map((l) => ({
    ifindex: l.index,
    ifname: l.name,
    addr_info: l.addresses.map((a) => ({ family: a.family === 4 ? 'inet' : 'inet6', local: a.address, prefixlen: a.prefixLength, scope: a.scope })),
  }))) + '\n';
}

/** `ip -j route show table all` for these routes. */
export function renderIpRouteJson(routes: readonly RouteFacts[]): string {
  return JSON.stringify(routes.map((r) => {
    const c = parseCidr(r.dst);
    const hostLen = r.family === 4 ? 32 : 128;
    const dst = c && c.prefix === 0 ? 'default' : c && c.prefix === hostLen ? formatIp(c.family, c.network) : r.dst;
    return {
      ...(r.type !== 'unicast' ? { type: r.type } : {}),
      dst,
      ...(r.gateway !== undefined ? { gateway: r.gateway } : {}),
      ...(r.dev !== undefined ? { dev: r.dev } : {}),
      ...(r.table !== 254 ? { table: TABLE_NAMES[r.table] ?? String(r.table) } : {}),
      ...(r.family === 6 ? { pref: 'medium' } : {}),
      ...(r.nexthops ? { nexthops: r.nexthops.map((h) => ({ ...h })) } : {}),
    };
  })) + '\n';
}
