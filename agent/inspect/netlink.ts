// Live links, addresses and routes of the caller's network namespace, read over rtnetlink
// (the `netlink` package). No `ip` output is parsed here. Bridge port hairpin mode comes from
// the link's IFLA_LINKINFO → IFLA_INFO_SLAVE_DATA → IFLA_BRPORT_MODE, which the kernel sends
// with every bridge port in a plain link dump.
import { createRtNetlink, parseAttributes } from 'netlink';
import { formatIp, parseCidr, type IpFamily } from '../../common/cidr.js';
import {
  OPERSTATES, compareAddresses, compareRoutes, scopeName, sortLinks,
  type AddressFacts, type LinkFacts, type NextHopFacts, type RouteFacts,
} from './network.js';

const AF_INET = 2;
const AF_INET6 = 10;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_SLAVE_KIND = 4;
const IFLA_INFO_SLAVE_DATA = 5;
const IFLA_BRPORT_MODE = 4;
const RTA_GATEWAY = 5;

export interface NetworkFacts {
  readonly links: LinkFacts[];
  readonly routes: RouteFacts[];
}

export async function readNetworkLive(): Promise<NetworkFacts> {
  const socket = createRtNetlink();
  try {
    const [linkMsgs, addrMsgs, routeMsgs] = [await socket.getLinks(), await socket.getAddresses(), await socket.getRoutes()];
    const names = new Map<number, string>();
    for (const l of linkMsgs) if (l.data.index !== undefined && l.attrs.ifname !== undefined) names.set(l.data.index, l.attrs.ifname);

    const addrsByIndex = new Map<number, AddressFacts[]>();
    for (const a of addrMsgs) {
      const family = familyOf(a.data.family);
      const raw = a.attrs.local ?? a.attrs.address;
      if (!family || !raw || a.data.index === undefined) continue;
      let list = addrsByIndex.get(a.data.index);
      if (!list) addrsByIndex.set(a.data.index, (list = []));
      list.push({ family, address: bufferToIp(family, raw), prefixLength: a.data.prefixlen ?? 0, scope: scopeName(a.data.scope ?? 0) });
    }

    const links: LinkFacts[] = [];
    for (const l of linkMsgs) {
      const index = l.data.index;
      if (index === undefined) continue;
      const info = l.attrs.linkinfo ? parseLinkInfo(l.attrs.linkinfo) : {};
      const iflink = l.attrs.link && l.attrs.link.length >= 4 ? l.attrs.link.readUInt32LE(0) : 0;
      // A peer in another namespace may have the same ifindex as this link (each netns counts from 1).
      const hasPeer = iflink !== 0 && (iflink !== index || l.attrs.linkNetnsid !== undefined);
      const master = l.attrs.master !== undefined ? names.get(l.attrs.master) ?? `if${l.attrs.master}` : undefined;
      links.push({
        index,
        name: l.attrs.ifname ?? `if${index}`,
        kind: info.kind ?? '',
        ...(info.slaveKind !== undefined ? { slaveKind: info.slaveKind } : {}),
        up: l.data.flags?.up === true,
        operState: OPERSTATES[l.attrs.operstate ?? 0] ?? String(l.attrs.operstate),
        mtu: l.attrs.mtu ?? 0,
        promiscuous: l.data.flags?.promisc === true,
        ...(master !== undefined ? { master } : {}),
        ...(hasPeer ? { peerIndex: iflink } : {}),
        ...(hasPeer && l.attrs.linkNetnsid !== undefined ? { peerNetnsId: l.attrs.linkNetnsid } : {}),
        ...(info.hairpin !== undefined ? { hairpin: info.hairpin } : {}),
        addresses: (addrsByIndex.get(index) ?? []).sort(compareAddresses),
      });
    }

    const routes: RouteFacts[] = [];
    for (const r of routeMsgs) {
      const family = familyOf(r.data.family);
      if (!family) continue;
      const prefix = r.data.dstLen ?? 0;
      const dstAddr = r.attrs.dst ? bufferToIp(family, r.attrs.dst) : family === 4 ? '0.0.0.0' : '::';
      const dst = parseCidr(`${dstAddr}/${prefix}`);
      const gateway = r.attrs.gateway ? bufferToIp(family, r.attrs.gateway) : undefined;
      const dev = r.attrs.oif !== undefined ? names.get(r.attrs.oif) ?? `if${r.attrs.oif}` : undefined;
      const nexthops = r.attrs.multipath ? parseMultipath(r.attrs.multipath, family, names) : undefined;
      routes.push({
        table: r.attrs.table ?? r.data.table ?? 254,
        family,
        dst: dst ? `${formatIp(family, dst.network)}/${prefix}` : `${dstAddr}/${prefix}`,
        ...(gateway !== undefined ? { gateway } : {}),
        ...(dev !== undefined ? { dev } : {}),
        type: routeTypeName(r.data.type),
        ...(nexthops && nexthops.length > 0 ? { nexthops } : {}),
      });
    }
    return { links: sortLinks(links), routes: routes.sort(compareRoutes) };
  } finally {
    socket.socket.close();
  }
}

function familyOf(f: number | undefined): IpFamily | undefined {
  return f === AF_INET ? 4 : f === AF_INET6 ? 6 : undefined;
}

function bufferToIp(family: IpFamily, buf: Buffer): string {
  let v = 0n;
  const n = family === 4 ? 4 : 16;
  for (let i = 0; i < n && i < buf.length; i++) v = (v << 8n) | BigInt(buf[i]!);
  return formatIp(family, v);
}

function routeTypeName(t: unknown): string {
  if (typeof t === 'string') return t.toLowerCase();
  const names = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];
  return typeof t === 'number' ? names[t] ?? String(t) : 'unicast';
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString('utf8');
}

/** IFLA_LINKINFO: kind, slave kind and — for bridge ports — the hairpin mode. */
function parseLinkInfo(buf: Buffer): { kind?: string; slaveKind?: string; hairpin?: boolean } {
  const out: { kind?: string; slaveKind?: string; hairpin?: boolean } = {};
  let slaveData: Buffer | undefined;
  parseAttributes(buf, (a) => {
    if (a.type === IFLA_INFO_KIND) out.kind = cString(a.data);
    else if (a.type === IFLA_INFO_SLAVE_KIND) out.slaveKind = cString(a.data);
    else if (a.type === IFLA_INFO_SLAVE_DATA) slaveData = a.data;
  });
  if (out.slaveKind === 'bridge' && slaveData) {
    parseAttributes(slaveData, (a) => {
      if (a.type === IFLA_BRPORT_MODE && a.data.length >= 1) out.hairpin = a.data[0] === 1;
    });
  }
  return out;
}

/** RTA_MULTIPATH: a sequence of struct rtnexthop {u16 len; u8 flags; u8 hops; i32 ifindex} + attributes. */
function parseMultipath(buf: Buffer, family: IpFamily, names: ReadonlyMap<number, string>): NextHopFacts[] {
  const hops: NextHopFacts[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 8 || off + len > buf.length) break;
    const ifindex = buf.readInt32LE(off + 4);
    let gateway: string | undefined;
    if (len > 8) {
      parseAttributes(buf.subarray(off + 8, off + len), (a) => {
        if (a.type === RTA_GATEWAY) gateway = bufferToIp(family, a.data);
      });
    }
    const dev = ifindex > 0 ? names.get(ifindex) ?? `if${ifindex}` : undefined;
    hops.push({ ...(gateway !== undefined ? { gateway } : {}), ...(dev !== undefined ? { dev } : {}) });
    off += (len + 3) & ~3;
  }
  return hops;
}
