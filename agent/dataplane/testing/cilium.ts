// Test generator: what Cilium's kube-proxy replacement writes into its LB maps for a
// described cluster, as a `bpftool batch file` script (map create + map update lines) over
// a bpffs directory. Mirrors Cilium's lbmap: one backend entry per endpoint (active, or
// terminating), per frontend a slot-0 entry (count = selectable backends, flags) and slots
// 1..count naming backend ids; NodePorts on the node address and on the zero address;
// TWO_SCOPES frontends with a scope-internal twin when external and internal traffic
// policies differ. Selectable backends: ready ones, else serving-and-terminating ones.
// Faults are made as for kube-proxy (generate.ts): render from a different description.
import { parseIp } from '../addr.js';
import { IPPROTO, SCOPE_EXT, SCOPE_INT, SVC_FLAG, SVC_FLAG2 } from '../cilium-maps.js';
import type { ClusterDesc, DescEndpoint } from './generate.js';

export interface CiliumRenderOptions {
  /** Write proto 0 (IPPROTO_ANY) in frontend keys, as releases before the protocol field was used do. */
  readonly protoAny?: boolean;
}

const hex = (bytes: readonly number[]): string => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
const le16 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff];
const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const be16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];

function addrBytes(ip: string): number[] {
  const p = parseIp(ip);
  if (!p) throw new Error(`not an IP: ${ip}`);
  if (p.family === 4) return [(p.v4 >>> 24) & 0xff, (p.v4 >>> 16) & 0xff, (p.v4 >>> 8) & 0xff, p.v4 & 0xff];
  const out: number[] = [];
  for (const g of expand6(ip)) out.push((g >> 8) & 0xff, g & 0xff);
  return out;
}

function expand6(ip: string): number[] {
  const [head, tail] = ip.includes('::') ? ip.split('::') as [string, string] : [ip, undefined];
  const h = head ? head.split(':').map((x) => parseInt(x, 16)) : [];
  const t = tail ? tail.split(':').map((x) => parseInt(x, 16)) : [];
  return tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

const family = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

/** The map paths the script creates under `globals` (`<bpffs>/tc/globals`). */
export function ciliumMapPaths(globals: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of [4, 6]) for (const m of ['services_v2', 'backends_v3', 'reverse_nat']) out[`cilium_lb${f}_${m}`] = `${globals}/cilium_lb${f}_${m}`;
  return out;
}

export function renderCiliumBatch(desc: ClusterDesc, globals: string, opts: CiliumRenderOptions = {}): string {
  const paths = ciliumMapPaths(globals);
  const lines: string[] = [];
  for (const f of [4, 6] as const) {
    const alen = f === 4 ? 4 : 16;
    // BPF object names are at most 15 characters; Cilium's are truncated the same way.
    lines.push(`map create ${paths[`cilium_lb${f}_services_v2`]} type hash key ${alen + 8} value 12 entries 65536 name cilium_lb${f}_serv flags 1`);
    lines.push(`map create ${paths[`cilium_lb${f}_backends_v3`]} type hash key 4 value ${alen + 8} entries 65536 name cilium_lb${f}_back flags 1`);
    lines.push(`map create ${paths[`cilium_lb${f}_reverse_nat`]} type hash key 2 value ${alen + 2} entries 65536 name cilium_lb${f}_reve flags 1`);
  }
  const backendIds = new Map<string, number>();
  let nextBackend = 1;
  let nextRevNat = 1;
  const backend = (ip: string, port: number, proto: number, terminating: boolean): number => {
    const k = `${ip}:${port}`;
    let id = backendIds.get(k);
    if (id !== undefined) return id;
    backendIds.set(k, (id = nextBackend++));
    const value = [...addrBytes(ip), ...be16(port), proto, terminating ? 1 : 0, ...le16(0), 0, 0];
    lines.push(`map update pinned ${paths[`cilium_lb${family(ip)}_backends_v3`]} key hex ${hex(le32(id))} value hex ${hex(value)}`);
    return id;
  };
  const frontend = (ip: string, port: number, proto: number, scope: number, ids: readonly number[], flags: number, flags2: number, affinity: number, revNat: number): void => {
    const f = family(ip);
    const map = paths[`cilium_lb${f}_services_v2`];
    const key = (slot: number): string => hex([...addrBytes(ip), ...be16(port), ...le16(slot), opts.protoAny ? 0 : proto, scope, 0, 0]);
    const value = (first: number, count: number): string => hex([...le32(first), ...le16(count), ...le16(revNat), flags, flags2, 0, 0]);
    lines.push(`map update pinned ${map} key hex ${key(0)} value hex ${value(affinity, ids.length)}`);
    ids.forEach((id, i) => lines.push(`map update pinned ${map} key hex ${key(i + 1)} value hex ${value(id, 0)}`));
  };
  const revNat = (ip: string, port: number): number => {
    const id = nextRevNat++;
    lines.push(`map update pinned ${paths[`cilium_lb${family(ip)}_reverse_nat`]} key hex ${hex(le16(id))} value hex ${hex([...addrBytes(ip), ...be16(port)])}`);
    return id;
  };
  const selectable = (eps: readonly DescEndpoint[]): DescEndpoint[] => {
    const ready = eps.filter((e) => e.ready !== false);
    return ready.length > 0 ? ready : eps.filter((e) => e.ready === false && e.serving === true && e.terminating === true);
  };
  for (const s of desc.services) {
    if (s.clusterIP === 'None' || s.clusterIP === '') continue;
    for (const p of s.ports) {
      const proto = IPPROTO[p.protocol ?? 'TCP']!;
      // Every endpoint Cilium keeps: ready ones (active) and terminating ones (drained, or the fallback).
      for (const e of s.endpoints) if (e.ready !== false || e.terminating) backend(e.ip, p.targetPort, proto, e.ready === false);
      const ids = (eps: readonly DescEndpoint[]): number[] => eps.map((e) => backendIds.get(`${e.ip}:${p.targetPort}`)!);
      const cluster = ids(selectable(s.endpoints));
      const local = ids(selectable(s.endpoints.filter((e) => e.node === desc.node)));
      const internal = s.itp === 'Local' ? local : cluster;
      const external = s.etp === 'Local' ? local : cluster;
      const aff = s.affinity ? SVC_FLAG.affinity : 0;
      const intLocal = s.itp === 'Local' ? SVC_FLAG2.intLocal : 0;
      frontend(s.clusterIP, p.port, proto, SCOPE_EXT, internal, aff, intLocal, s.affinity ?? 0, revNat(s.clusterIP, p.port));
      if (!p.nodePort) continue;
      const two = (s.etp ?? 'Cluster') !== (s.itp ?? 'Cluster');
      const zero = family(s.clusterIP) === 4 && family(desc.nodeIP) === 4 ? '0.0.0.0' : family(desc.nodeIP) === 6 ? '::' : '0.0.0.0';
      for (const addr of [desc.nodeIP, zero]) {
        const flags = SVC_FLAG.nodePort | (addr === zero ? 0 : SVC_FLAG.routable) | (s.etp === 'Local' ? SVC_FLAG.extLocal : 0) | aff;
        const flags2 = intLocal | (two ? SVC_FLAG2.twoScopes : 0);
        const rn = revNat(addr, p.nodePort);
        frontend(addr, p.nodePort, proto, SCOPE_EXT, external, flags, flags2, s.affinity ?? 0, rn);
        if (two) frontend(addr, p.nodePort, proto, SCOPE_INT, internal, flags, flags2, s.affinity ?? 0, rn);
      }
    }
  }
  return lines.join('\n') + '\n';
}
