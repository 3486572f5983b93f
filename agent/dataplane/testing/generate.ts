// Test and benchmark generator: renders what kube-proxy would program for a described
// cluster — iptables-restore input, an `nft -f` transaction (both endpoint layouts) and
// `ipvsadm -Sn` text — plus the cluster's API objects (`kubectl get -o json` shape). Faults
// are made by rendering the dataplane from a *different* description than the API objects
// (an endpoint added, removed, re-ported; a Service dropped or added), or with `uneven`.
// Follows reference/kube-proxy.md §1–3 (chain names hashed like kube-proxy's).
import { createHash } from 'node:crypto';

export type Proto = 'TCP' | 'UDP' | 'SCTP';

export interface DescEndpoint {
  readonly ip: string;
  readonly node: string;
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

export interface DescPort {
  readonly name: string;
  readonly port: number;
  readonly targetPort: number;
  readonly protocol?: Proto;
  readonly nodePort?: number;
  /** The Service names its target port (the EndpointSlice port carries the number, `targetPort`). */
  readonly targetPortName?: string;
}

export interface DescService {
  readonly namespace: string;
  readonly name: string;
  readonly type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  /** `None` for a headless Service, `''` for ExternalName. */
  readonly clusterIP: string;
  readonly ports: readonly DescPort[];
  readonly endpoints: readonly DescEndpoint[];
  readonly etp?: 'Cluster' | 'Local';
  readonly itp?: 'Cluster' | 'Local';
  /** ClientIP affinity timeout in seconds. */
  readonly affinity?: number;
  readonly externalIPs?: readonly string[];
  /** LoadBalancer: status.loadBalancer.ingress IPs and spec.loadBalancerSourceRanges. */
  readonly loadBalancer?: { readonly ingress: readonly string[]; readonly sourceRanges?: readonly string[] };
  /** ExternalName Services: the DNS name (no ClusterIP, no endpoints). */
  readonly externalName?: string;
  /**
   * Dual-stack or IPv6 Services (API objects only; the renderers here draw IPv4 rules): every
   * ClusterIP, the first being `clusterIP`, and the policy. Endpoints then go into one
   * EndpointSlice per address family, as the EndpointSlice controller writes them.
   */
  readonly clusterIPs?: readonly string[];
  readonly ipFamilyPolicy?: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
}

export interface ClusterDesc {
  readonly node: string;
  readonly nodeIP: string;
  readonly podCIDR: string;
  readonly clusterCIDR: string;
  readonly services: readonly DescService[];
  readonly otherNodes?: readonly { readonly name: string; readonly ip: string; readonly podCIDR: string; readonly ip6?: string; readonly podCIDR6?: string }[];
  /** A dual-stack node's IPv6 InternalIP and pod CIDR (Node objects only). */
  readonly nodeIP6?: string;
  readonly podCIDR6?: string;
}

export interface RenderOptions {
  /** Subjects (`ns/name:port/PROTO`) whose endpoint split is made uneven. */
  readonly uneven?: ReadonlySet<string>;
  /** Omit comments on SVC→SEP and SEP rules as kube-proxy does above 1,000 endpoints (default: automatic). */
  readonly largeCluster?: boolean;
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(buf: Uint8Array): string {
  let out = '', bits = 0, value = 0;
  for (const b of buf) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

export function hashName(s: string, n: number): string {
  return base32(createHash('sha256').update(s).digest()).slice(0, n);
}

const protoOf = (p: DescPort): Proto => p.protocol ?? 'TCP';
const lc = (p: Proto): string => p.toLowerCase();
const ep = (e: DescEndpoint, port: number): string => `${e.ip}:${port}`;
export const subjectOf = (s: DescService, p: DescPort): string => `${s.namespace}/${s.name}:${p.port}/${protoOf(p)}`;
const spnOf = (s: DescService, p: DescPort): string => `${s.namespace}/${s.name}${p.name ? `:${p.name}` : ''}`;

interface Categorized {
  readonly cluster: DescEndpoint[];
  readonly local: DescEndpoint[];
}

function categorize(s: DescService, node: string): Categorized {
  const usable = (eps: readonly DescEndpoint[]): DescEndpoint[] => {
    const ready = eps.filter((e) => e.ready !== false);
    return ready.length > 0 ? ready : eps.filter((e) => e.ready === false && e.serving === true && e.terminating === true);
  };
  return { cluster: usable(s.endpoints), local: usable(s.endpoints.filter((e) => e.node === node)) };
}

const routed = (s: DescService): boolean => s.clusterIP !== 'None' && s.clusterIP !== '';

function largeMode(desc: ClusterDesc, opts: RenderOptions): boolean {
  if (opts.largeCluster !== undefined) return opts.largeCluster;
  let n = 0;
  for (const s of desc.services) n += s.endpoints.length * s.ports.length;
  return n > 1000;
}

/** Probability for rule i of n as iptables-restore input (kube-proxy's `%0.10f`). */
function prob(i: number, n: number, uneven: boolean): string {
  return (uneven ? 0.5 : 1 / (n - i)).toFixed(10);
}

// ---- iptables ------------------------------------------------------------------------------

/** kube-proxy's iptables-restore input plus the jump rules it ensures in the built-in chains. */
export function renderIptables(desc: ClusterDesc, opts: RenderOptions = {}): string {
  const large = largeMode(desc, opts);
  const filterChains = ['KUBE-NODEPORTS', 'KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-PROXY-FIREWALL'];
  const filter: string[] = [
    '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
    '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
    '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
    '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
    '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
    '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
    '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  ];
  const natChains: string[] = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'];
  const nat: string[] = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ];
  const services: string[] = [];
  const nodeports: string[] = [];
  const perService: string[] = [];
  for (const s of desc.services) {
    if (!routed(s)) continue;
    const { cluster, local } = categorize(s, desc.node);
    const hasEndpoints = cluster.length > 0;
    for (const p of s.ports) {
      const pr = protoOf(p);
      const m = `-m ${lc(pr)} -p ${lc(pr)}`;
      const spn = spnOf(s, p);
      const h = hashName(spn + lc(pr), 16);
      const svc = `KUBE-SVC-${h}`, svl = `KUBE-SVL-${h}`, ext = `KUBE-EXT-${h}`;
      const internal = s.itp === 'Local' ? local : cluster;
      const external = s.etp === 'Local' ? local : cluster;
      const internalChain = s.itp === 'Local' ? svl : svc;
      const uneven = opts.uneven?.has(subjectOf(s, p)) ?? false;
      const externallyReachable = (p.nodePort ?? 0) > 0 || (s.externalIPs?.length ?? 0) > 0;
      if (internal.length > 0) {
        services.push(`-A KUBE-SERVICES -m comment --comment "${spn} cluster IP" ${m} -d ${s.clusterIP} --dport ${p.port} -j ${internalChain}`);
      } else {
        filter.push(`-A KUBE-SERVICES -m comment --comment "${spn} has no ${hasEndpoints ? 'local ' : ''}endpoints" ${m} -d ${s.clusterIP} --dport ${p.port} -j ${hasEndpoints ? 'DROP' : 'REJECT'}`);
      }
      for (const xip of s.externalIPs ?? []) {
        if (hasEndpoints) services.push(`-A KUBE-SERVICES -m comment --comment "${spn} external IP" ${m} -d ${xip} --dport ${p.port} -j ${ext}`);
        if (external.length === 0) filter.push(`-A KUBE-EXTERNAL-SERVICES -m comment --comment "${spn} has no ${hasEndpoints ? 'local ' : ''}endpoints" ${m} -d ${xip} --dport ${p.port} -j ${hasEndpoints ? 'DROP' : 'REJECT'}`);
      }
      if ((p.nodePort ?? 0) > 0) {
        if (hasEndpoints) nodeports.push(`-A KUBE-NODEPORTS -m comment --comment ${spn} ${m} --dport ${p.nodePort} -j ${ext}`);
        if (external.length === 0) filter.push(`-A KUBE-EXTERNAL-SERVICES -m comment --comment "${spn} has no ${hasEndpoints ? 'local ' : ''}endpoints" -m addrtype --dst-type LOCAL ${m} --dport ${p.nodePort} -j ${hasEndpoints ? 'DROP' : 'REJECT'}`);
      }
      if (hasEndpoints && externallyReachable) {
        natChains.push(ext);
        if (s.etp === 'Local') {
          perService.push(`-A ${ext} -m comment --comment "pod traffic for ${spn} external destinations" -s ${desc.clusterCIDR} -j ${svc}`);
          perService.push(`-A ${ext} -m comment --comment "masquerade LOCAL traffic for ${spn} external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`);
          perService.push(`-A ${ext} -m comment --comment "route LOCAL traffic for ${spn} external destinations" -m addrtype --src-type LOCAL -j ${svc}`);
          if (local.length > 0) perService.push(`-A ${ext} -j ${svl}`);
        } else {
          perService.push(`-A ${ext} -m comment --comment "masquerade traffic for ${spn} external destinations" -j KUBE-MARK-MASQ`);
          perService.push(`-A ${ext} -j ${svc}`);
        }
      }
      const sepName = (e: DescEndpoint): string => `KUBE-SEP-${hashName(spn + lc(pr) + ep(e, p.targetPort), 16)}`;
      const dispatch = (chain: string, eps: readonly DescEndpoint[], head: boolean): void => {
        natChains.push(chain);
        if (head) perService.push(`-A ${chain} -m comment --comment "${spn} cluster IP" ${m} -d ${s.clusterIP} --dport ${p.port} ! -s ${desc.clusterCIDR} -j KUBE-MARK-MASQ`);
        const c = (e: DescEndpoint): string => (large ? '' : `-m comment --comment "${spn} -> ${ep(e, p.targetPort)}" `);
        if (s.affinity) for (const e of eps) perService.push(`-A ${chain} ${c(e)}-m recent --name ${sepName(e)} --rcheck --seconds ${s.affinity} --reap -j ${sepName(e)}`);
        eps.forEach((e, i) => {
          const stat = i < eps.length - 1 ? `-m statistic --mode random --probability ${prob(i, eps.length, uneven)} ` : '';
          perService.push(`-A ${chain} ${c(e)}${stat}-j ${sepName(e)}`);
        });
      };
      const usesSvc = (s.itp !== 'Local' && internal.length > 0) || (hasEndpoints && externallyReachable);
      if (usesSvc && cluster.length > 0) dispatch(svc, cluster, true);
      if (local.length > 0 && (s.itp === 'Local' || (s.etp === 'Local' && externallyReachable))) dispatch(svl, local, s.itp === 'Local');
      const seps = new Map<string, DescEndpoint>();
      if (usesSvc) for (const e of cluster) seps.set(sepName(e), e);
      if (s.itp === 'Local' || s.etp === 'Local') for (const e of local) seps.set(sepName(e), e);
      for (const [name, e] of seps) {
        natChains.push(name);
        const c = large ? '' : `-m comment --comment ${spn} `;
        perService.push(`-A ${name} ${c}-s ${e.ip} -j KUBE-MARK-MASQ`);
        perService.push(`-A ${name} ${c}${s.affinity ? `-m recent --name ${name} --set ` : ''}${m} -j DNAT --to-destination ${ep(e, p.targetPort)}`);
      }
    }
  }
  services.push('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
  const decl = (builtin: readonly string[], chains: readonly string[]): string[] => [
    ...builtin.map((b) => `:${b} ACCEPT [0:0]`),
    ...[...new Set(chains)].map((c) => `:${c} - [0:0]`),
  ];
  return [
    '*filter', ...decl(['INPUT', 'FORWARD', 'OUTPUT'], filterChains), ...filter, 'COMMIT',
    '*nat', ...decl(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'], natChains), ...nat, ...services, ...nodeports, ...perService, 'COMMIT', '',
  ].join('\n');
}

// ---- nftables ------------------------------------------------------------------------------

export interface NftRenderOptions extends RenderOptions {
  /** `vmap`: per-endpoint chains chosen by `numgen … vmap` (1.29–1.35); `dnat-map`: `dnat … to numgen … map` (newer). */
  readonly layout?: 'vmap' | 'dnat-map';
}

/** kube-proxy's nftables transaction, chains and sets declared before the rules using them. */
export function renderNft(desc: ClusterDesc, opts: NftRenderOptions = {}): string {
  const T = 'ip kube-proxy';
  const decls: string[] = [
    `add table ${T} { comment "rules for kube-proxy" ; }`,
    `add set ${T} cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }`,
    `add set ${T} nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }`,
    `add map ${T} firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }`,
    `add map ${T} no-endpoint-nodeports { type inet_proto . inet_service : verdict ; }`,
    `add map ${T} no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; }`,
    `add map ${T} service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }`,
    `add map ${T} service-nodeports { type inet_proto . inet_service : verdict ; }`,
    ...['cluster-ips-check', 'firewall-check', 'mark-for-masquerade', 'masquerading', 'nodeport-endpoints-check', 'reject-chain', 'services', 'service-endpoints-check'].map((c) => `add chain ${T} ${c}`),
    `add chain ${T} filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }`,
    `add chain ${T} filter-output-pre-dnat { type filter hook output priority -110 ; }`,
    `add chain ${T} filter-forward { type filter hook forward priority 0 ; }`,
    `add chain ${T} filter-input { type filter hook input priority 0 ; }`,
    `add chain ${T} filter-output { type filter hook output priority 0 ; }`,
    `add chain ${T} nat-output { type nat hook output priority -100 ; }`,
    `add chain ${T} nat-postrouting { type nat hook postrouting priority 100 ; }`,
    `add chain ${T} nat-prerouting { type nat hook prerouting priority -100 ; }`,
  ];
  const rules: string[] = [
    `add rule ${T} cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"`,
    `add rule ${T} filter-prerouting-pre-dnat ct state new jump firewall-check`,
    `add rule ${T} filter-forward ct state new jump service-endpoints-check`,
    `add rule ${T} filter-forward ct state new jump cluster-ips-check`,
    `add rule ${T} filter-input ct state new jump nodeport-endpoints-check`,
    `add rule ${T} filter-input ct state new jump service-endpoints-check`,
    `add rule ${T} filter-output ct state new jump service-endpoints-check`,
    `add rule ${T} filter-output-pre-dnat ct state new jump firewall-check`,
    `add rule ${T} filter-output ct state new jump cluster-ips-check`,
    `add rule ${T} firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips`,
    `add rule ${T} mark-for-masquerade mark set mark or 0x4000`,
    `add rule ${T} masquerading mark and 0x4000 == 0 return`,
    `add rule ${T} masquerading mark set mark xor 0x4000`,
    `add rule ${T} masquerading masquerade fully-random`,
    `add rule ${T} nat-output jump services`,
    `add rule ${T} nat-postrouting jump masquerading`,
    `add rule ${T} nat-prerouting jump services`,
    `add rule ${T} nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports`,
    `add rule ${T} reject-chain reject`,
    `add rule ${T} services ip daddr . meta l4proto . th dport vmap @service-ips`,
    `add rule ${T} services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`,
    `add rule ${T} service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services`,
    `add element ${T} nodeport-ips { ${desc.nodeIP} }`,
  ];
  const elements: string[] = [];
  for (const s of desc.services) {
    if (!routed(s)) continue;
    const { cluster, local } = categorize(s, desc.node);
    const hasEndpoints = cluster.length > 0;
    elements.push(`add element ${T} cluster-ips { ${s.clusterIP} }`);
    for (const p of s.ports) {
      const pr = lc(protoOf(p));
      const base = `${s.namespace}/${s.name}/${pr}/${p.name}`;
      const h = hashName(base, 8);
      const svc = `service-${h}-${base}`, ext = `external-${h}-${base}`, loc = `local-${h}-${base}`;
      const internal = s.itp === 'Local' ? local : cluster;
      const external = s.etp === 'Local' ? local : cluster;
      const uneven = opts.uneven?.has(subjectOf(s, p)) ?? false;
      const reachable = (p.nodePort ?? 0) > 0 || (s.externalIPs?.length ?? 0) > 0;
      const spn = spnOf(s, p);
      const none = hasEndpoints ? 'drop' : 'goto reject-chain';
      if (internal.length > 0) elements.push(`add element ${T} service-ips { ${s.clusterIP} . ${pr} . ${p.port} : goto ${s.itp === 'Local' ? loc : svc} }`);
      else elements.push(`add element ${T} no-endpoint-services { ${s.clusterIP} . ${pr} . ${p.port} comment "${spn}" : ${none} }`);
      for (const xip of s.externalIPs ?? []) {
        if (hasEndpoints) elements.push(`add element ${T} service-ips { ${xip} . ${pr} . ${p.port} : goto ${ext} }`);
        if (external.length === 0) elements.push(`add element ${T} no-endpoint-services { ${xip} . ${pr} . ${p.port} comment "${spn}" : ${none} }`);
      }
      if ((p.nodePort ?? 0) > 0) {
        if (hasEndpoints) elements.push(`add element ${T} service-nodeports { ${pr} . ${p.nodePort} : goto ${ext} }`);
        if (external.length === 0) elements.push(`add element ${T} no-endpoint-nodeports { ${pr} . ${p.nodePort} comment "${spn}" : ${none} }`);
      }
      const epChain = (e: DescEndpoint): string => {
        const tail = `${base}__${e.ip}/${p.targetPort}`;
        return `endpoint-${hashName(tail, 8)}-${tail}`;
      };
      const affSet = (e: DescEndpoint): string => `affinity-${epChain(e).slice('endpoint-'.length)}`;
      const dispatch = (chain: string, eps: readonly DescEndpoint[], head: boolean): void => {
        decls.push(`add chain ${T} ${chain}`);
        if (head) rules.push(`add rule ${T} ${chain} ip daddr ${s.clusterIP} ip saddr != ${desc.clusterCIDR} jump mark-for-masquerade`);
        if (s.affinity) for (const e of eps) rules.push(`add rule ${T} ${chain} ip saddr @${affSet(e)} goto ${epChain(e)}`);
        // Uneven fault: the first endpoint takes two numgen slots.
        const slots = uneven && eps.length > 1 ? [eps[0]!, ...eps] : [...eps];
        if (opts.layout === 'dnat-map' && !s.affinity) {
          rules.push(`add rule ${T} ${chain} meta l4proto ${pr} dnat ip addr . port to numgen random mod ${slots.length} map { ${slots.map((e, i) => `${i} : ${e.ip} . ${p.targetPort}`).join(' , ')} }`);
        } else {
          rules.push(`add rule ${T} ${chain} numgen random mod ${slots.length} vmap { ${slots.map((e, i) => `${i} : goto ${epChain(e)}`).join(' , ')} }`);
        }
      };
      const usesSvc = (s.itp !== 'Local' && internal.length > 0) || (hasEndpoints && reachable);
      if (usesSvc && cluster.length > 0) dispatch(svc, cluster, true);
      if (local.length > 0 && (s.itp === 'Local' || (s.etp === 'Local' && reachable))) dispatch(loc, local, s.itp === 'Local');
      if (hasEndpoints && reachable) {
        decls.push(`add chain ${T} ${ext}`);
        if (s.etp === 'Local') {
          rules.push(`add rule ${T} ${ext} ip saddr ${desc.clusterCIDR} goto ${svc} comment "short-circuit pod traffic"`);
          rules.push(`add rule ${T} ${ext} fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"`);
          rules.push(`add rule ${T} ${ext} fib saddr type local goto ${svc} comment "short-circuit local traffic"`);
          if (local.length > 0) rules.push(`add rule ${T} ${ext} goto ${loc}`);
        } else {
          rules.push(`add rule ${T} ${ext} jump mark-for-masquerade`);
          rules.push(`add rule ${T} ${ext} goto ${svc}`);
        }
      }
      if (opts.layout !== 'dnat-map' || s.affinity) {
        const eps = new Map<string, DescEndpoint>();
        if (usesSvc) for (const e of cluster) eps.set(epChain(e), e);
        if (s.itp === 'Local' || s.etp === 'Local') for (const e of local) eps.set(epChain(e), e);
        for (const [chain, e] of eps) {
          decls.push(`add chain ${T} ${chain}`);
          if (s.affinity) decls.push(`add set ${T} ${affSet(e)} { type ipv4_addr ; flags dynamic,timeout ; timeout ${s.affinity}s ; }`);
          rules.push(`add rule ${T} ${chain} ip saddr ${e.ip} jump mark-for-masquerade`);
          if (s.affinity) rules.push(`add rule ${T} ${chain} update @${affSet(e)} { ip saddr }`);
          rules.push(`add rule ${T} ${chain} meta l4proto ${pr} dnat to ${e.ip}:${p.targetPort}`);
        }
      }
    }
  }
  return [...decls, ...rules, ...elements, ''].join('\n');
}

// ---- IPVS ----------------------------------------------------------------------------------

export function renderIpvsadm(desc: ClusterDesc, opts: RenderOptions = {}): string {
  const out: string[] = [];
  for (const s of desc.services) {
    if (!routed(s)) continue;
    const { cluster, local } = categorize(s, desc.node);
    for (const p of s.ports) {
      const flag = protoOf(p) === 'TCP' ? '-t' : protoOf(p) === 'UDP' ? '-u' : '--sctp-service';
      const uneven = opts.uneven?.has(subjectOf(s, p)) ?? false;
      const vs = (addr: string, port: number, eps: readonly DescEndpoint[]): void => {
        out.push(`-A ${flag} ${addr}:${port} -s ${uneven ? 'wrr' : 'rr'}${s.affinity ? ` -p ${s.affinity}` : ''}`);
        eps.forEach((e, i) => out.push(`-a ${flag} ${addr}:${port} -r ${e.ip}:${p.targetPort} -m -w ${uneven && i === 0 ? 2 : 1}`));
      };
      vs(s.clusterIP, p.port, s.itp === 'Local' ? local : cluster);
      if ((p.nodePort ?? 0) > 0) vs(desc.nodeIP, p.nodePort!, s.etp === 'Local' ? local : cluster);
    }
  }
  return out.join('\n') + '\n';
}

// ---- API objects ---------------------------------------------------------------------------

/** `kubectl get nodes,services,endpointslices -A -o json` for the described cluster. */
export function renderClusterJson(desc: ClusterDesc): string {
  const items: unknown[] = [];
  const nodes = [{ name: desc.node, ip: desc.nodeIP, podCIDR: desc.podCIDR, ip6: desc.nodeIP6, podCIDR6: desc.podCIDR6 }, ...(desc.otherNodes ?? [])];
  for (const n of nodes) {
    items.push({
      apiVersion: 'v1', kind: 'Node', metadata: { name: n.name },
      spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR, ...(n.podCIDR6 ? [n.podCIDR6] : [])] },
      status: { addresses: [n.ip, ...(n.ip6 ? [n.ip6] : [])].map((address) => ({ type: 'InternalIP', address })), allocatable: { pods: '110' } },
    });
  }
  for (const s of desc.services) {
    const type = s.type ?? 'ClusterIP';
    if (type === 'ExternalName') {
      items.push({
        apiVersion: 'v1', kind: 'Service', metadata: { namespace: s.namespace, name: s.name },
        spec: { type, externalName: s.externalName ?? 'example.com', ports: s.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPortName ?? p.targetPort, protocol: protoOf(p) })) },
      });
      continue;
    }
    items.push({
      apiVersion: 'v1', kind: 'Service', metadata: { namespace: s.namespace, name: s.name },
      spec: {
        type, clusterIP: s.clusterIP, clusterIPs: s.clusterIPs ?? [s.clusterIP], selector: { app: s.name },
        ...(s.ipFamilyPolicy ? { ipFamilyPolicy: s.ipFamilyPolicy, ipFamilies: (s.clusterIPs ?? [s.clusterIP]).map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4')) } : {}),
        ports: s.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPortName ?? p.targetPort, protocol: protoOf(p), ...(p.nodePort ? { nodePort: p.nodePort } : {}) })),
        ...(type !== 'ClusterIP' ? { externalTrafficPolicy: s.etp ?? 'Cluster' } : {}),
        internalTrafficPolicy: s.itp ?? 'Cluster',
        sessionAffinity: s.affinity ? 'ClientIP' : 'None',
        ...(s.affinity ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: s.affinity } } } : {}),
        ...(s.externalIPs ? { externalIPs: s.externalIPs } : {}),
        ...(s.loadBalancer?.sourceRanges ? { loadBalancerSourceRanges: s.loadBalancer.sourceRanges } : {}),
      },
      ...(s.loadBalancer ? { status: { loadBalancer: { ingress: s.loadBalancer.ingress.map((ip) => ({ ip, ipMode: 'VIP' })) } } } : {}),
    });
    // One slice per address family, as the EndpointSlice controller writes them (the IPv4 one
    // named as before); a Service without endpoints keeps one empty slice of its own family.
    const v6 = s.endpoints.filter((e) => e.ip.includes(':'));
    const v4 = s.endpoints.filter((e) => !e.ip.includes(':'));
    const v6Only = (s.clusterIPs ?? [s.clusterIP]).every((ip) => ip.includes(':'));
    const slices = [
      ...(v4.length > 0 || (v6.length === 0 && !v6Only) ? [['IPv4', v4, 'abc12'] as const] : []),
      ...(v6.length > 0 || (v4.length === 0 && v6Only) ? [['IPv6', v6, 'v6abc'] as const] : []),
    ];
    for (const [addressType, eps, suffix] of slices) {
      items.push({
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { namespace: s.namespace, name: `${s.name}-${suffix}`, labels: { 'kubernetes.io/service-name': s.name } },
        addressType,
        ports: s.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: protoOf(p) })),
        endpoints: eps.map((e) => ({
          addresses: [e.ip], nodeName: e.node,
          conditions: { ready: e.ready !== false, serving: e.serving ?? e.ready !== false, terminating: e.terminating ?? false },
        })),
      });
    }
  }
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

/** The small cluster the lab tests use: one of each Service shape kube-proxy treats differently. */
export function smallCluster(node: string, nodeIP = '192.168.50.2'): ClusterDesc {
  const other = 'node-b';
  return {
    node, nodeIP, podCIDR: '10.244.1.0/24', clusterCIDR: '10.244.0.0/16',
    otherNodes: [{ name: other, ip: '192.168.50.3', podCIDR: '10.244.2.0/24' }],
    services: [
      { namespace: 'shop', name: 'web', type: 'NodePort', clusterIP: '10.96.0.10',
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }, { name: 'https', port: 443, targetPort: 8443, nodePort: 30443 }],
        endpoints: [{ ip: '10.244.1.11', node }, { ip: '10.244.2.12', node: other }, { ip: '10.244.2.13', node: other }] },
      { namespace: 'shop', name: 'empty', clusterIP: '10.96.0.11', ports: [{ name: '', port: 80, targetPort: 80 }], endpoints: [] },
      { namespace: 'shop', name: 'single', clusterIP: '10.96.0.12', ports: [{ name: 'api', port: 8080, targetPort: 9090 }],
        endpoints: [{ ip: '10.244.2.20', node: other }, { ip: '10.244.2.21', node: other, ready: false }] },
      { namespace: 'shop', name: 'sticky', clusterIP: '10.96.0.13', affinity: 10800, ports: [{ name: 'http', port: 80, targetPort: 80 }],
        endpoints: [{ ip: '10.244.1.30', node }, { ip: '10.244.2.31', node: other }] },
      { namespace: 'kube-system', name: 'dns', clusterIP: '10.96.0.53',
        ports: [{ name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, targetPort: 53 }],
        endpoints: [{ ip: '10.244.1.40', node }, { ip: '10.244.2.41', node: other }] },
      { namespace: 'shop', name: 'local-ext', type: 'NodePort', clusterIP: '10.96.0.14', etp: 'Local',
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30081 }],
        endpoints: [{ ip: '10.244.1.50', node }, { ip: '10.244.2.51', node: other }] },
      { namespace: 'shop', name: 'remote-only', type: 'NodePort', clusterIP: '10.96.0.15', etp: 'Local',
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30082 }],
        endpoints: [{ ip: '10.244.2.60', node: other }] },
      { namespace: 'shop', name: 'local-int', clusterIP: '10.96.0.16', itp: 'Local',
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
        endpoints: [{ ip: '10.244.1.70', node }, { ip: '10.244.2.71', node: other }] },
      { namespace: 'shop', name: 'draining', clusterIP: '10.96.0.17', ports: [{ name: 'http', port: 80, targetPort: 8080 }],
        endpoints: [{ ip: '10.244.2.80', node: other, ready: false, serving: true, terminating: true }] },
      { namespace: 'shop', name: 'headless', clusterIP: 'None', ports: [{ name: 'http', port: 80, targetPort: 8080 }],
        endpoints: [{ ip: '10.244.1.90', node }] },
    ],
  };
}

/**
 * smallCluster plus every other Service shape kube-proxy distinguishes — the lab cluster the
 * real kube-proxy programs: a named targetPort, SCTP, LoadBalancer with an ingress IP and
 * source ranges, externalIPs, ExternalName (ignored by kube-proxy).
 */
export function everyShapeCluster(node: string, nodeIP = '192.168.50.2'): ClusterDesc {
  const small = smallCluster(node, nodeIP);
  const other = 'node-b';
  return {
    ...small,
    services: [
      ...small.services.map((s) => (s.name === 'web'
        ? { ...s, ports: s.ports.map((p) => (p.name === 'http' ? { ...p, targetPortName: 'web-http' } : p)) }
        : s)),
      { namespace: 'shop', name: 'sctp', clusterIP: '10.96.0.18', ports: [{ name: 'assoc', port: 9000, targetPort: 9000, protocol: 'SCTP' }],
        endpoints: [{ ip: '10.244.1.100', node }, { ip: '10.244.2.101', node: other }] },
      { namespace: 'shop', name: 'lb', type: 'LoadBalancer', clusterIP: '10.96.0.19',
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30090 }],
        endpoints: [{ ip: '10.244.1.110', node }, { ip: '10.244.2.111', node: other }],
        loadBalancer: { ingress: ['203.0.113.10'], sourceRanges: ['198.51.100.0/24'] } },
      { namespace: 'shop', name: 'ext-ip', clusterIP: '10.96.0.20', externalIPs: ['192.168.60.10'],
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
        endpoints: [{ ip: '10.244.1.120', node }, { ip: '10.244.2.121', node: other }] },
      { namespace: 'shop', name: 'elsewhere', type: 'ExternalName', externalName: 'example.com', clusterIP: '',
        ports: [{ name: 'http', port: 80, targetPort: 80 }], endpoints: [] },
    ],
  };
}

/**
 * The dual-stack lab cluster (API objects; the real kube-proxy draws the rules): a node with an
 * IPv4 and an IPv6 address and pod CIDR, Services RequireDualStack (ClusterIP, NodePort,
 * NodePort with externalTrafficPolicy=Local, UDP and TCP, ClientIP affinity), one
 * PreferDualStack with IPv6 first whose endpoints are IPv4 only, and one IPv6 SingleStack
 * NodePort. Each family has its own endpoints, in number too: judging one family against the
 * other's endpoints cannot pass.
 */
export function dualStackCluster(node: string, nodeIP = '192.168.50.2', nodeIP6 = 'fd00:50::2'): ClusterDesc {
  const other = 'node-b';
  const dual = (v4: string, v6: string) => ({ clusterIP: v4, clusterIPs: [v4, v6], ipFamilyPolicy: 'RequireDualStack' as const });
  return {
    node, nodeIP, nodeIP6, podCIDR: '10.244.1.0/24', podCIDR6: 'fd00:10:244:1::/64', clusterCIDR: '10.244.0.0/16',
    otherNodes: [{ name: other, ip: '192.168.50.3', podCIDR: '10.244.2.0/24', ip6: 'fd00:50::3', podCIDR6: 'fd00:10:244:2::/64' }],
    services: [
      { namespace: 'shop', name: 'dual', ...dual('10.96.0.30', 'fd00:10:96::30'), ports: [{ name: 'http', port: 80, targetPort: 8080 }],
        endpoints: [{ ip: '10.244.1.31', node }, { ip: '10.244.2.32', node: other },
          { ip: 'fd00:10:244:1::31', node }, { ip: 'fd00:10:244:2::32', node: other }, { ip: 'fd00:10:244:2::33', node: other }] },
      { namespace: 'shop', name: 'dual-np', type: 'NodePort', ...dual('10.96.0.31', 'fd00:10:96::31'),
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30200 }],
        endpoints: [{ ip: '10.244.1.41', node }, { ip: '10.244.2.42', node: other }, { ip: 'fd00:10:244:1::41', node }, { ip: 'fd00:10:244:2::42', node: other }] },
      { namespace: 'shop', name: 'dual-local', type: 'NodePort', etp: 'Local', ...dual('10.96.0.32', 'fd00:10:96::32'),
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30201 }],
        endpoints: [{ ip: '10.244.2.52', node: other }, { ip: 'fd00:10:244:1::51', node }, { ip: 'fd00:10:244:2::52', node: other }] },
      { namespace: 'shop', name: 'prefer', clusterIP: 'fd00:10:96::33', clusterIPs: ['fd00:10:96::33', '10.96.0.33'], ipFamilyPolicy: 'PreferDualStack',
        ports: [{ name: 'http', port: 80, targetPort: 8080 }], endpoints: [{ ip: '10.244.2.62', node: other }] },
      { namespace: 'shop', name: 'v6only', type: 'NodePort', clusterIP: 'fd00:10:96::34', clusterIPs: ['fd00:10:96::34'], ipFamilyPolicy: 'SingleStack',
        ports: [{ name: 'api', port: 8080, targetPort: 9090, nodePort: 30202 }],
        endpoints: [{ ip: 'fd00:10:244:2::60', node: other }, { ip: 'fd00:10:244:2::61', node: other, ready: false }] },
      { namespace: 'shop', name: 'sticky-dual', ...dual('10.96.0.35', 'fd00:10:96::35'), affinity: 10800, ports: [{ name: 'http', port: 80, targetPort: 80 }],
        endpoints: [{ ip: '10.244.1.70', node }, { ip: '10.244.2.71', node: other }, { ip: 'fd00:10:244:1::70', node }, { ip: 'fd00:10:244:2::71', node: other }] },
      { namespace: 'kube-system', name: 'dns', ...dual('10.96.0.53', 'fd00:10:96::53'),
        ports: [{ name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, targetPort: 53 }],
        endpoints: [{ ip: '10.244.1.40', node }, { ip: '10.244.2.41', node: other }, { ip: 'fd00:10:244:1::40', node }, { ip: 'fd00:10:244:2::41', node: other }] },
    ],
  };
}

/** A large ClusterIP-only cluster for the benchmark: `services` × `perService` endpoints. */
export function largeCluster(node: string, nodeIP: string, services: number, perService: number): ClusterDesc {
  const svcs: DescService[] = [];
  let epN = 0;
  for (let i = 0; i < services; i++) {
    const endpoints: DescEndpoint[] = [];
    for (let k = 0; k < perService; k++, epN++) {
      endpoints.push({ ip: `10.${64 + Math.floor(epN / 65536)}.${Math.floor(epN / 256) % 256}.${epN % 256}`, node: k === 0 && i % 10 === 0 ? node : `node-${k}` });
    }
    svcs.push({
      namespace: `ns-${Math.floor(i / 100)}`, name: `svc-${i}`, clusterIP: `10.96.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      ports: [{ name: 'http', port: 80, targetPort: 8080 }], endpoints,
    });
  }
  return { node, nodeIP, podCIDR: '10.244.1.0/24', clusterCIDR: '10.64.0.0/10', services: svcs };
}
