// What a kube-proxy mode switch (iptables or IPVS → nftables) depends on, per node, derived
// from the snapshot: the kernel and nft versions, kube-proxy's configuration and version,
// localhost NodePort users (route_localnet, conntrack, sockets), which node addresses NodePort
// traffic arrives on, other software's rules that lean on kube-proxy's iptables chains or
// marks, the INVALID-drop rule, and IPVS specifics. Pure; it travels in the fingerprint so
// `migrate check --collector` judges the fleet from what the agents sent. Lists are bounded
// (the fingerprint stays a few KB) and say how many were left out.
import type { NodeSnapshot } from './snapshot.js';
import { dataplaneOf, tablesFor, type Dataplane } from './dataplane/load.js';
import { leftoverIptablesChains, modeFacts, type ProgrammedMode } from './dataplane/mode.js';
import { canonicalIp, hostPort } from './dataplane/addr.js';
import { ruleOrigin, type Rule, type Table } from './dataplane/model.js';
import { isLoopback } from './inspect/conntrack.js';
import { isAvailable } from './inspect/kube-proxy.js';
import type { KubeProxyConfigFacts } from './inspect/kube-proxy-config.js';

/** Bound per list in the facts: enough to act on, small enough for the fingerprint. */
export const PROXY_FACT_LIST_LIMIT = 25;

export interface NodePortUse {
  readonly protocol: string;
  readonly port: number;
  /** `namespace/name[:port]` from kube-proxy's rule comment or map element, '' unknown. */
  readonly service: string;
}

export interface LocalhostNodePortClient extends NodePortUse {
  /** `127.0.0.1:31080` or `[::1]:31080`: what the client connects to. */
  readonly target: string;
  /** The client's `address:port`. */
  readonly client: string;
  readonly seenIn: 'conntrack' | 'socket';
}

export interface NodePortArrival extends NodePortUse {
  /** The node address the traffic arrived on. */
  readonly address: string;
  /** The link holding that address ('' unknown). */
  readonly interface: string;
  readonly connections: number;
}

export interface DependentRule {
  /** `[iptables-nft filter FORWARD #3] -A FORWARD … -j KUBE-MARK-MASQ` and where it came from. */
  readonly rule: string;
  readonly origin: string;
  /** What it leans on: a KUBE-* chain it jumps to, or the mark bits it reads or sets. */
  readonly dependsOn: string;
  /** Who wrote it, when its chain or comment says so ('' unknown). */
  readonly owner: string;
}

export interface ProxyFacts {
  /** Which facets were read, so "none seen" and "not looked at" stay apart. */
  readonly read: { readonly conntrack: boolean; readonly sockets: boolean; readonly rules: boolean; readonly sysctls: boolean; readonly config: boolean; readonly nft: boolean };
  readonly nftVersion: string;
  /** kube-proxy's own version (kubernetes_build_info on its /metrics), '' unknown. */
  readonly kubeProxyVersion: string;
  readonly config?: Omit<KubeProxyConfigFacts, 'text'>;
  readonly modes: { readonly present: readonly ProgrammedMode[]; readonly catching: readonly ProgrammedMode[] };
  /** kube-proxy-only iptables chains (KUBE-SERVICES, KUBE-SVC-*, …) on a node whose Services are routed by nftables. */
  readonly leftoverIptablesChains: number;
  /** Interfaces (`all` included) with net.ipv4.conf.*.route_localnet = 1. */
  readonly routeLocalnet: readonly string[];
  /** iptables mode's NodePort rule leaves 127.0.0.0/8 in (localhost NodePorts on). */
  readonly localhostNodePortRule: boolean;
  readonly nodePorts: number;
  readonly localhostClients: readonly LocalhostNodePortClient[];
  readonly localhostClientsTotal: number;
  readonly arrivals: readonly NodePortArrival[];
  /** The node's global addresses and the links that hold them (kube-ipvs0 excluded). */
  readonly nodeAddresses: readonly { readonly address: string; readonly interface: string }[];
  /** Without the Node object: the first global address per family of the default route's link. */
  readonly primaryGuess: readonly string[];
  readonly dependentRules: readonly DependentRule[];
  readonly dependentRulesTotal: number;
  /** iptables KUBE-FORWARD drops conntrack INVALID packets (nftables mode does not). */
  readonly invalidDropRule: string;
  readonly tcpBeLiberal: string;
  readonly ipvs?: {
    readonly schedulers: readonly { readonly scheduler: string; readonly virtualServers: readonly string[]; readonly total: number }[];
    /** Addresses on kube-ipvs0 (ClusterIPs, external and LB IPs that answer ping and every port today). */
    readonly boundAddresses: readonly string[];
    readonly boundTotal: number;
    readonly arpIgnore: string;
    readonly arpAnnounce: string;
  };
}

/** kube-proxy's own iptables chains (kubelet's KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT excluded). */
const KUBE_PROXY_CHAIN = /^KUBE-(SERVICES|NODEPORTS|NODE-PORT|EXTERNAL-SERVICES|FORWARD|PROXY-FIREWALL|PROXY-CANARY|POSTROUTING|MARK-MASQ|MARK-DROP|LOAD-BALANCER|SOURCE-RANGES-FIREWALL|IPVS-FILTER|IPVS-OUT-FILTER|LOOP-BACK|SVC-.*|SVL-.*|SEP-.*|EXT-.*|FW-.*|XLB-.*)$/;
/** Chains kubelet owns (iptables-ownership cleanup, 1.28: kubelet keeps only these). */
const KUBELET_CHAIN = /^KUBE-(FIREWALL|KUBELET-CANARY|IPTABLES-HINT)$/;

/** Owners recognised by chain name or rule comment. */
const OWNERS: readonly { readonly match: RegExp; readonly owner: string }[] = [
  { match: /^cali-|cali:/, owner: 'Calico' },
  { match: /^FLANNEL|flanneld/, owner: 'flannel' },
  { match: /^CILIUM|cilium/, owner: 'Cilium' },
  { match: /^ISTIO|istio/, owner: 'Istio' },
  { match: /^PROXY_INIT|linkerd/, owner: 'Linkerd' },
  { match: /^WEAVE/, owner: 'Weave Net' },
  { match: /^ANTREA/, owner: 'Antrea' },
  { match: /^AWS-|AWS, /, owner: 'Amazon VPC CNI' },
  { match: /^IP-MASQ|ip-masq/, owner: 'ip-masq-agent' },
  { match: /^KUBE-ROUTER|^KUBE-POD-FW|^KUBE-NWPLCY/, owner: 'kube-router' },
  { match: /^DOCKER/, owner: 'Docker' },
  { match: /^(ufw|f2b-|FIREWALLD|IN_|FWD_|OUT_)/, owner: 'host firewall' },
  { match: /metallb/i, owner: 'MetalLB' },
];

function ownerOf(chain: string, rule: Rule): string {
  const comment = rule.matches.find((m) => m.kind === 'comment');
  for (const o of OWNERS) if (o.match.test(chain) || (comment?.kind === 'comment' && o.match.test(comment.text))) return o.owner;
  return '';
}

function commentOf(rule: Rule): string {
  const c = rule.matches.find((m) => m.kind === 'comment');
  return c?.kind === 'comment' ? c.text : '';
}

/** The Service a kube-proxy comment names: `ns/name:port` from `"ns/name:port cluster IP"` and the like. */
function serviceFromComment(text: string): string {
  return /^([a-z0-9.-]+\/[a-z0-9.-]+(?::[a-z0-9-]+)?)/i.exec(text.trim())?.[1] ?? '';
}

/** NodePorts kube-proxy serves on this node, from its rules: protocol/port → Service. */
function nodePortsOf(dp: Dataplane | undefined, localAddresses: ReadonlySet<string>): Map<string, NodePortUse> {
  const out = new Map<string, NodePortUse>();
  if (!dp) return out;
  const add = (protocol: string, port: number, service: string): void => {
    const key = `${protocol.toLowerCase()}/${port}`;
    if (!out.has(key) || (!out.get(key)!.service && service)) out.set(key, { protocol: protocol.toLowerCase(), port, service });
  };
  for (const rs of [dp.iptables, dp.ip6tables]) {
    for (const r of rs?.tables.find((t) => t.name === 'nat')?.chains.get('KUBE-NODEPORTS')?.rules ?? []) {
      const port = r.matches.find((m) => m.kind === 'port' && m.field === 'dport' && !m.neg);
      const proto = r.matches.find((m) => m.kind === 'proto' && !m.neg);
      if (port?.kind === 'port' && proto?.kind === 'proto' && port.ranges.length === 1 && port.ranges[0]![0] === port.ranges[0]![1]) add(proto.proto, port.ranges[0]![0], serviceFromComment(commentOf(r)));
    }
  }
  for (const t of dp.nftables?.tables ?? []) {
    if (t.name !== 'ip kube-proxy' && t.name !== 'ip6 kube-proxy') continue;
    for (const e of t.sets.get('service-nodeports')?.elements ?? []) {
      const [proto, port] = e.key;
      const target = e.value?.kind === 'goto' || e.value?.kind === 'jump' ? e.value.target : '';
      // external-HASH-ns/name/proto/port: the Service is in the chain name.
      const svc = /^[a-z]+-[A-Z0-9]+-(.+)\/[a-z]+\/[^/]*$/.exec(target)?.[1] ?? serviceFromComment(e.comment ?? '');
      if (proto && port && /^\d+$/.test(port)) add(proto, Number(port), svc);
    }
  }
  for (const vs of dp.ipvs ?? []) {
    if (vs.protocol === 'FWM') continue;
    if (localAddresses.has(canonicalIp(vs.addr)) || isLoopback(vs.addr)) add(vs.protocol, vs.port, '');
  }
  return out;
}

function parsedDataplane(s: NodeSnapshot): Dataplane | undefined {
  try {
    return dataplaneOf(s);
  } catch {
    return undefined;
  }
}

/** kube-proxy's version from its /metrics scrape (`kubernetes_build_info{git_version="v1.33.1"}`). */
export function kubeProxyVersionOf(s: NodeSnapshot): string {
  const text = s.kubeProxy && isAvailable(s.kubeProxy.metrics) ? s.kubeProxy.text ?? '' : '';
  return /kubernetes_build_info\{[^}]*git_version="v?([0-9][^"]*)"/.exec(text)?.[1] ?? '';
}

function dependentRules(dp: Dataplane, markBits: number): DependentRule[] {
  const out: DependentRule[] = [];
  const tables: Table[] = [...(dp.iptables?.tables ?? []), ...(dp.ip6tables?.tables ?? []), ...(dp.nftables?.tables.filter((t) => !/ kube-proxy$/.test(t.name)) ?? [])];
  for (const t of tables) {
    for (const chain of t.chains.values()) {
      if (KUBE_PROXY_CHAIN.test(chain.name) || KUBELET_CHAIN.test(chain.name)) continue;
      for (const r of chain.rules) {
        const target = r.verdict.kind === 'jump' || r.verdict.kind === 'goto' ? r.verdict.target : '';
        let dependsOn = '';
        if (target.startsWith('KUBE-') && KUBE_PROXY_CHAIN.test(target)) {
          // kube-proxy hooks its own entry chains into the built-in chains, always with its comment.
          const own = chain.base !== undefined && /^kubernetes /.test(commentOf(r));
          if (!own) dependsOn = `jumps to ${target}`;
        }
        if (!dependsOn) {
          const reads = r.matches.find((m) => m.kind === 'mark' && (m.mask & markBits) !== 0 && (m.value & markBits) !== 0);
          const sets = r.actions.find((a) => a.kind === 'mark' && (a.value & markBits) !== 0);
          if (reads?.kind === 'mark') dependsOn = `matches kube-proxy's mark 0x${(reads.value & markBits).toString(16)}`;
          else if (sets?.kind === 'mark') dependsOn = `sets kube-proxy's mark 0x${(sets.value & markBits).toString(16)}`;
        }
        if (!dependsOn) continue;
        out.push({ rule: `[${t.backend} ${t.name} ${chain.name} #${r.index}] ${r.text}`, origin: ruleOrigin(t, r), dependsOn, owner: ownerOf(chain.name, r) });
      }
    }
  }
  return out;
}

export function proxyFacts(s: NodeSnapshot): ProxyFacts {
  const dp = parsedDataplane(s);
  const modes: { present: readonly ProgrammedMode[]; catching: readonly ProgrammedMode[] } = dp ? modeFacts(dp) : { present: [], catching: [] };
  const links = s.links ?? [];
  const nodeAddresses = links.filter((l) => l.name !== 'kube-ipvs0').flatMap((l) => l.addresses.filter((a) => a.scope === 'global').map((a) => ({ address: canonicalIp(a.address), interface: l.name })));
  const ifaceOf = new Map(nodeAddresses.map((a) => [a.address, a.interface]));
  const local = new Set(nodeAddresses.map((a) => a.address));
  const primaryGuess: string[] = [];
  for (const family of [4, 6] as const) {
    const def = (s.routes ?? []).find((r) => r.table === 254 && r.family === family && (r.dst === '0.0.0.0/0' || r.dst === '::/0' || r.dst === 'default'));
    const dev = def?.dev ?? def?.nexthops?.[0]?.dev;
    const a = links.find((l) => l.name === dev)?.addresses.find((x) => x.scope === 'global' && x.family === family);
    if (a) primaryGuess.push(canonicalIp(a.address));
  }
  const nodePorts = nodePortsOf(dp, local);
  const np = (protocol: string, port: number): NodePortUse | undefined => nodePorts.get(`${protocol.toLowerCase()}/${port}`);

  const clients: LocalhostNodePortClient[] = [];
  const seen = new Set<string>();
  const addClient = (c: LocalhostNodePortClient): void => {
    const key = `${c.protocol} ${c.client} ${c.target}`;
    if (!seen.has(key)) { seen.add(key); clients.push(c); }
  };
  const arrivals = new Map<string, { use: NodePortUse; address: string; interface: string; connections: number }>();
  for (const e of s.conntrack?.entries ?? []) {
    const use = np(e.protocol, e.dport);
    if (!use) continue;
    if (isLoopback(e.dst)) {
      addClient({ ...use, target: hostPort(e.dst, e.dport), client: hostPort(e.src, e.sport), seenIn: 'conntrack' });
    } else if (local.has(e.dst)) {
      const key = `${e.dst} ${use.protocol}/${use.port}`;
      const a = arrivals.get(key) ?? { use, address: e.dst, interface: ifaceOf.get(e.dst) ?? '', connections: 0 };
      a.connections++;
      arrivals.set(key, a);
    }
  }
  for (const c of s.hostConnections ?? []) {
    const use = np('tcp', c.remotePort);
    if (use) addClient({ ...use, target: hostPort(c.remote, c.remotePort), client: hostPort(c.local, c.localPort), seenIn: 'socket' });
  }

  const nat = dp?.iptables?.tables.find((t) => t.name === 'nat');
  const nodePortHook = nat?.chains.get('KUBE-SERVICES')?.rules.find((r) => r.verdict.kind === 'jump' && r.verdict.target === 'KUBE-NODEPORTS');
  const localhostNodePortRule = nodePortHook !== undefined && !nodePortHook.matches.some((m) => m.kind === 'addr' && m.field === 'dst' && m.neg && m.prefixes.some((p) => p.family === 4 && p.len === 8 && p.net === 0x7f000000))
    && !nodePortHook.matches.some((m) => m.kind === 'addr' && m.field === 'dst' && !m.neg);
  const filter = dp?.iptables?.tables.find((t) => t.name === 'filter');
  const invalid = filter?.chains.get('KUBE-FORWARD')?.rules.find((r) => r.verdict.kind === 'drop' && r.matches.some((m) => m.kind === 'ctstate' && !m.neg && m.states.includes('INVALID')));
  const bit = s.kubeProxyConfig?.masqueradeBit ?? 14;
  const deps = dp ? dependentRules(dp, (1 << bit) | 0x8000) : [];
  const leftover = dp ? leftoverIptablesChains(dp).length : 0;
  const sys = s.sysctls ?? {};
  const routeLocalnet = Object.entries(sys).filter(([k, v]) => /^net\.ipv4\.conf\.[^.]+\.route_localnet$/.test(k) && v === '1').map(([k]) => k.split('.')[3]!).sort();

  let ipvs: ProxyFacts['ipvs'];
  if (dp?.ipvs && dp.ipvs.length > 0) {
    const by = new Map<string, string[]>();
    for (const vs of dp.ipvs) {
      const list = by.get(vs.scheduler) ?? [];
      list.push(`${vs.protocol} ${vs.protocol === 'FWM' ? vs.addr : hostPort(vs.addr, vs.port)}`);
      by.set(vs.scheduler, list);
    }
    const bound = links.find((l) => l.name === 'kube-ipvs0')?.addresses.map((a) => canonicalIp(a.address)) ?? [];
    ipvs = {
      schedulers: [...by].sort(([a], [b]) => a.localeCompare(b)).map(([scheduler, v]) => ({ scheduler, virtualServers: v.slice(0, PROXY_FACT_LIST_LIMIT), total: v.length })),
      boundAddresses: bound.slice(0, PROXY_FACT_LIST_LIMIT), boundTotal: bound.length,
      arpIgnore: sys['net.ipv4.conf.all.arp_ignore'] ?? '', arpAnnounce: sys['net.ipv4.conf.all.arp_announce'] ?? '',
    };
  }
  const { text: _text, ...config } = s.kubeProxyConfig ?? { source: '' };
  return {
    read: {
      conntrack: s.conntrack !== undefined, sockets: s.hostConnections !== undefined, rules: dp !== undefined,
      sysctls: s.sysctls !== undefined, config: s.kubeProxyConfig !== undefined, nft: s.nftVersion !== undefined,
    },
    nftVersion: s.nftVersion ?? '',
    kubeProxyVersion: kubeProxyVersionOf(s),
    ...(s.kubeProxyConfig ? { config } : {}),
    modes: { present: modes.present, catching: modes.catching },
    leftoverIptablesChains: leftover,
    routeLocalnet,
    localhostNodePortRule,
    nodePorts: nodePorts.size,
    localhostClients: clients.slice(0, PROXY_FACT_LIST_LIMIT), localhostClientsTotal: clients.length,
    arrivals: [...arrivals.values()].sort((a, b) => b.connections - a.connections).slice(0, PROXY_FACT_LIST_LIMIT)
      .map((a) => ({ ...a.use, address: a.address, interface: a.interface, connections: a.connections })),
    nodeAddresses: nodeAddresses.slice(0, PROXY_FACT_LIST_LIMIT),
    primaryGuess,
    dependentRules: deps.slice(0, PROXY_FACT_LIST_LIMIT), dependentRulesTotal: deps.length,
    invalidDropRule: invalid ? `[${invalid.table} ${invalid.chain} #${invalid.index}] ${invalid.text}` : '',
    tcpBeLiberal: sys['net.netfilter.nf_conntrack_tcp_be_liberal'] ?? '',
    ...(ipvs ? { ipvs } : {}),
  };
}
