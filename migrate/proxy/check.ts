// `netconform migrate check --to kube-proxy-nftables`: what switching kube-proxy from iptables
// or IPVS mode to nftables mode would break, node by node, before it happens — and, during
// the move, which nodes are in which mode and which are caught between two. The differences
// are the ones kubernetes.io documents ("Virtual IPs and Service Proxies", section
// "Migrating from iptables mode to nftables") plus KEP-6032 for localhost NodePorts.
// Blockers: the switch will certainly break something this node does today. Warnings:
// behaviour that changes silently, or a fact netconform could not read. Pure.
import type { NodeFingerprint } from '../../agent/fingerprint.js';
import type { NodeSnapshot } from '../../agent/snapshot.js';
import { fingerprintNode } from '../../agent/fingerprint.js';
import type { ProxyFacts } from '../../agent/proxy-facts.js';
import { containsIp, parseCidr, parseIp } from '../../common/cidr.js';
import type { ClusterInventory } from '../inventory.js';
import type { MigrationChange, MigrationItem, MigrationReport, ProxyFleet } from '../check.js';
import type { ProxyModeTarget } from './profiles.js';
import { proxyModeCheck } from '../../agent/checks/service-routing/mode.js';
import { clusterIPCheck } from '../../agent/checks/service-routing/clusterip.js';

/** What the operator plans, beyond the target mode. */
export interface ProxyMigrationPlan {
  /** The kube-proxy release that will run nftables mode (`1.36`); default: the node's current kube-proxy. */
  readonly targetVersion?: string;
  /** KEP-6032's opt-in userspace proxy for localhost NodePorts will be enabled. */
  readonly localhostNodePortProxy?: boolean;
}

/** What the judge may know about the cluster beyond the node (all optional). */
export interface ProxyClusterFacts {
  /** The node's addresses from its Node object (InternalIP first): kube-proxy's "primary" addresses. */
  readonly nodeIPs?: readonly string[];
  readonly serviceByAddress?: Readonly<Record<string, string>>;
  /** The kube-proxy ConfigMap's configuration, when the node's /configz was not read. */
  readonly config?: NonNullable<ProxyFacts['config']>;
  /** MetalLB runs in the cluster (its DaemonSet was seen). */
  readonly metallb?: boolean;
}

/** `1.33.2` < `1.33.10`; missing parts count as 0; non-numbers compare as unknown (false). */
export function versionOlder(version: string, min: string): boolean {
  const v = /^v?(\d+(?:\.\d+)*)/.exec(version)?.[1]?.split('.').map(Number);
  const m = /^v?(\d+(?:\.\d+)*)/.exec(min)?.[1]?.split('.').map(Number);
  if (!v || !m) return false;
  for (let i = 0; i < Math.max(v.length, m.length); i++) {
    const a = v[i] ?? 0, b = m[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}

const minor = (v: string): string => /^v?(\d+\.\d+)/.exec(v)?.[1] ?? v;
const list = (xs: readonly string[], total = xs.length): string => `${xs.join(', ')}${total > xs.length ? ` … (${total} in all)` : ''}`;

function inCidrs(address: string, cidrs: readonly string[]): boolean {
  const ip = parseIp(address);
  if (!ip) return false;
  return cidrs.some((c) => {
    const p = parseCidr(c);
    return p !== undefined && containsIp(p, ip);
  });
}

/** The blockers and warnings for one node: the function a real-switch test calls. */
export function judgeProxyNode(fp: NodeFingerprint, target: ProxyModeTarget, plan: ProxyMigrationPlan = {}, cluster: ProxyClusterFacts = {}): { blockers: MigrationItem[]; warnings: MigrationItem[] } {
  const blockers: MigrationItem[] = [];
  const warnings: MigrationItem[] = [];
  const node = fp.node;
  const p = fp.proxy;
  if (!p) {
    warnings.push({ id: 'facts-missing', subject: node, message: `${node}'s fingerprint has no kube-proxy facts (an agent older than the kube-proxy mode migration): nothing about this node is judged`, evidence: {}, fix: 'upgrade the agent, or capture a bundle with netconform-agent capture and pass it with --from' });
    return { blockers, warnings };
  }
  const mode = fp.proxyMode;
  const version = plan.targetVersion ?? p.kubeProxyVersion;
  const versionSaid = version ? `kube-proxy ${minor(version)}` : 'the target kube-proxy';
  const config = p.config ?? cluster.config;

  // The release: nftables mode exists from 1.29 (alpha), GA 1.33 (KEP-3866).
  if (version && versionOlder(version, target.firstVersion)) {
    blockers.push({ id: 'proxy-version', subject: node, message: `${versionSaid} has no nftables mode (alpha from ${target.firstVersion}, GA in ${target.gaVersion}, KEP-3866)`, evidence: { version }, fix: `upgrade kube-proxy to ${target.gaVersion} or later first` });
  } else if (version && versionOlder(version, target.gaVersion)) {
    warnings.push({ id: 'proxy-version', subject: node, message: `nftables mode is ${versionOlder(version, '1.31') ? 'alpha' : 'beta'} in ${versionSaid} (GA in ${target.gaVersion}, KEP-3866) and needs the NFTablesProxyMode feature gate`, evidence: { version }, fix: `move to kube-proxy ${target.gaVersion} or later, or enable the feature gate knowingly` });
  } else if (!version) {
    warnings.push({ id: 'facts-missing', subject: node, message: 'kube-proxy\'s version is unknown (no kubernetes_build_info in kube-proxy-metrics.txt and no --kube-proxy-version): version-dependent findings assume the newest behaviour', evidence: {}, fix: 'pass --kube-proxy-version, or capture with kube-proxy\'s /metrics reachable' });
  }

  // Kernel and nft: kube-proxy refuses nftables mode on kernels before 5.13; the host's nft must be ≥ 1.0.1.
  if (fp.kernel && versionOlder(fp.kernel, target.kernelMin.value)) {
    blockers.push({ id: 'kernel-too-old', subject: node, message: `kernel ${fp.kernel} is older than ${target.kernelMin.value}: kube-proxy refuses nftables mode ("requires kernel ${target.kernelMin.value} or later")`, evidence: { kernel: fp.kernel, minimum: target.kernelMin.value, source: target.kernelMin.source }, fix: `upgrade the node's kernel to ${target.kernelMin.value} or later` });
  } else if (!fp.kernel) {
    warnings.push({ id: 'facts-missing', subject: node, message: 'kernel version unknown (no kernel.osrelease in sysctl.txt)', evidence: {}, fix: 'capture sysctl -a with the bundle' });
  }
  if (p.nftVersion && versionOlder(p.nftVersion, target.nftMin.value)) {
    blockers.push({ id: 'nft-too-old', subject: node, message: `nft ${p.nftVersion} on the host is older than ${target.nftMin.value}: once kube-proxy writes its table, older nft parses every table and can crash or be locked out (nft ≤ 0.9.8 becomes unusable)`, evidence: { nft: p.nftVersion, minimum: target.nftMin.value, source: target.nftMin.source }, fix: `install nftables ${target.nftMin.value} or later on the node` });
  } else if (!p.read.nft) {
    warnings.push({ id: 'facts-missing', subject: node, message: `the host's nft version is unknown (no nft-version.txt): kube-proxy's nftables mode needs nft ${target.nftMin.value} or later on the node`, evidence: {}, fix: 'run nft --version on the node (the bundle file nft-version.txt)' });
  }

  // Localhost NodePorts: only iptables mode serves 127.0.0.1:<nodePort> (route_localnet); nftables never does.
  if (p.localhostClients.length > 0) {
    const proxyVersionOk = !version || !versionOlder(version, target.localhostProxy.value);
    const tcpOnly = p.localhostClients.filter((c) => c.protocol === 'tcp');
    const coveredByProxy = plan.localhostNodePortProxy === true && proxyVersionOk;
    const stillBroken = coveredByProxy ? p.localhostClients.filter((c) => c.protocol !== 'tcp') : p.localhostClients;
    const describe = (cs: typeof p.localhostClients): string[] => cs.map((c) => `${c.client} → ${c.target}/${c.protocol}${c.service ? ` (${c.service})` : ''} [${c.seenIn}]`);
    const evidence = { clients: describe(p.localhostClients), total: p.localhostClientsTotal, routeLocalnet: p.routeLocalnet };
    if (stillBroken.length > 0) {
      const why = plan.localhostNodePortProxy && !proxyVersionOk
        ? ` — the plan names KEP-6032's userspace proxy, but it arrives in kube-proxy ${target.localhostProxy.value} (alpha) and the target is ${minor(version)}`
        : plan.localhostNodePortProxy ? ' — KEP-6032\'s userspace proxy carries TCP only' : '';
      blockers.push({
        id: 'localhost-nodeport', subject: node,
        message: `${stillBroken.length === p.localhostClients.length ? p.localhostClientsTotal : stillBroken.length} client${p.localhostClientsTotal === 1 ? '' : 's'} on the node connect${p.localhostClientsTotal === 1 ? 's' : ''} to a NodePort on a loopback address (${list(describe(stillBroken).slice(0, 5), stillBroken.length)}): iptables mode serves them through route_localnet${p.routeLocalnet.length ? ` (set on ${p.routeLocalnet.join(', ')})` : ''}, nftables mode never does${why}`,
        evidence,
        fix: proxyVersionOk && version && !plan.localhostNodePortProxy && tcpOnly.length === stillBroken.length
          ? `point the clients at the node's address or the Service's ClusterIP, or enable KEP-6032's userspace proxy (kube-proxy ${target.localhostProxy.value}+, alpha, TCP only) and say so with --localhost-nodeport-proxy`
          : 'point the clients at the node\'s address or the Service\'s ClusterIP before switching',
      });
    } else {
      warnings.push({ id: 'localhost-nodeport', subject: node, message: `${p.localhostClientsTotal} TCP client${p.localhostClientsTotal === 1 ? '' : 's'} use localhost NodePorts (${list(describe(tcpOnly).slice(0, 5), tcpOnly.length)}); the plan serves them with KEP-6032's userspace proxy, alpha in kube-proxy ${target.localhostProxy.value}: a userspace hop, not the kernel path`, evidence: { ...evidence, source: target.localhostProxy.source }, fix: 'enable the proxy on this node before switching and re-run migrate check afterwards' });
    }
  } else if (p.localhostNodePortRule || p.routeLocalnet.length > 0) {
    const unseen = !p.read.conntrack && !p.read.sockets;
    warnings.push({
      id: 'localhost-nodeport', subject: node,
      message: `localhost NodePorts work on this node today (${[p.localhostNodePortRule ? 'iptables NodePort rule accepts 127.0.0.0/8' : '', p.routeLocalnet.length ? `route_localnet=1 on ${p.routeLocalnet.join(', ')}` : ''].filter(Boolean).join('; ')}) and stop in nftables mode; ${unseen ? 'no conntrack table or sockets were read, so clients could not be looked for' : 'no client was seen in conntrack or sockets at capture time — a client that connects rarely would still break'}`,
      evidence: { routeLocalnet: p.routeLocalnet, nodePorts: p.nodePorts },
      fix: unseen ? 'capture conntrack.txt (conntrack -L --dst-nat) and proc-net-tcp.txt and re-run' : 'look for 127.0.0.1:<nodePort> in node-level configuration (registries, health checks) before switching',
    });
  }

  // NodePort addresses: nftables mode serves NodePorts only on the node's primary addresses
  // unless nodePortAddresses is set; iptables and IPVS modes serve every local address.
  const configured = config?.nodePortAddresses?.filter((a) => a !== 'primary') ?? [];
  const primary = cluster.nodeIPs && cluster.nodeIPs.length > 0 ? cluster.nodeIPs : p.primaryGuess;
  const primarySource = cluster.nodeIPs && cluster.nodeIPs.length > 0 ? 'the Node object\'s addresses' : 'the default route\'s link (no Node object given)';
  const off = p.arrivals.filter((a) => configured.length > 0 ? !inCidrs(a.address, configured) : !primary.includes(a.address));
  if (off.length > 0 && !(configured.length === 0 && primary.length === 0)) {
    const addrs = [...new Set(off.map((a) => `${a.address}${a.interface ? ` (${a.interface})` : ''}`))];
    blockers.push({
      id: 'nodeport-address', subject: node,
      message: `NodePort traffic arrives on ${list(addrs)}, not ${configured.length ? `in nodePortAddresses ${configured.join(', ')}` : `a primary address (${primary.join(', ')}, from ${primarySource})`}: nftables mode serves NodePorts only on the primary addresses by default (--nodeport-addresses primary), so ${off.map((a) => `${a.protocol}/${a.port}${a.service ? ` ${a.service}` : ''} on ${a.address}`).slice(0, 5).join(', ')} would be refused${config ? '' : ' (kube-proxy\'s configuration was not read: nodePortAddresses assumed unset)'}`,
      evidence: { arrivals: off, primary, configured },
      fix: `set nodePortAddresses in the KubeProxyConfiguration to CIDRs covering ${addrs.map((a) => a.split(' ')[0]).join(', ')} (0.0.0.0/0 keeps every address, as iptables mode does) before switching, or move the clients to ${primary.join(', ') || 'the primary address'}`,
    });
  } else if (!p.read.conntrack && p.nodePorts > 0) {
    warnings.push({ id: 'facts-missing', subject: node, message: `${p.nodePorts} NodePorts are served here but no conntrack table was read: which node addresses NodePort traffic arrives on is unknown (nftables mode serves only the primary ones by default)`, evidence: {}, fix: 'capture conntrack.txt (conntrack -L --dst-nat) and re-run' });
  }

  // Other software's rules leaning on kube-proxy's iptables chains or marks.
  for (const r of p.dependentRules) {
    warnings.push({
      id: 'kube-chain-dependency', subject: node,
      message: `${r.owner || 'a rule of unknown owner'} ${r.dependsOn}: ${r.rule} — nftables mode removes kube-proxy's iptables chains and marks in its own table`,
      evidence: { rule: r.rule, origin: r.origin, owner: r.owner, dependsOn: r.dependsOn },
      fix: r.dependsOn.startsWith('jumps') ? `update ${r.owner || 'its owner'} to a release that does not depend on kube-proxy's iptables chains, or drop the rule` : `check that ${r.owner || 'its owner'} still works when kube-proxy marks packets in nftables (table ip kube-proxy) rather than iptables`,
    });
  }
  if (p.dependentRulesTotal > p.dependentRules.length) {
    warnings.push({ id: 'kube-chain-dependency', subject: node, message: `${p.dependentRulesTotal - p.dependentRules.length} more rules depend on kube-proxy's iptables chains or marks (first ${p.dependentRules.length} listed)`, evidence: { total: p.dependentRulesTotal } });
  }

  // Silent changes.
  if (p.invalidDropRule && p.tcpBeLiberal !== '1' && config?.conntrackTcpBeLiberal !== true) {
    warnings.push({ id: 'conntrack-invalid', subject: node, message: `iptables mode drops packets conntrack marks INVALID (${p.invalidDropRule}); nftables mode does not, so out-of-window TCP packets reach pods instead of being dropped`, evidence: { rule: p.invalidDropRule, tcpBeLiberal: p.tcpBeLiberal }, fix: 'if workloads saw spurious connection resets before, set net.netfilter.nf_conntrack_tcp_be_liberal=1 (conntrack.tcpBeLiberal in kube-proxy 1.29+)' });
  }
  if (mode === 'ipvs' || p.ipvs) {
    warnings.push({ id: 'ipvs-deprecated', subject: node, message: `IPVS mode is deprecated since Kubernetes ${target.ipvsDeprecatedIn} and its removal is planned: this node must move`, evidence: { mode } });
  }
  if (p.ipvs) {
    if (p.ipvs.boundTotal > 0) {
      const named = p.ipvs.boundAddresses.map((a) => (cluster.serviceByAddress?.[a] ? `${cluster.serviceByAddress[a]} (${a})` : a));
      warnings.push({ id: 'ipvs-address-binding', subject: node, message: `${p.ipvs.boundTotal} Service addresses are bound on kube-ipvs0 (${list(named, p.ipvs.boundTotal)}): today they answer ping and every port; in nftables mode they answer only their Service ports (other ports are rejected, ping goes unanswered)`, evidence: { addresses: p.ipvs.boundAddresses, total: p.ipvs.boundTotal }, fix: 'move health checks that ping ClusterIPs or probe unlisted ports to the Service ports' });
    }
    for (const s of p.ipvs.schedulers) {
      const what = s.scheduler === 'rr' ? 'round robin becomes a random choice per connection (even over many connections, uneven over a few)'
        : ['sh', 'mh', 'dh'].includes(s.scheduler) ? `the ${s.scheduler} hashing scheduler keeps a client on one endpoint; nftables picks at random per connection — use sessionAffinity: ClientIP where stickiness matters`
        : `the ${s.scheduler} scheduler (${s.scheduler.endsWith('lc') ? 'least connections' : 'weighted or other'}) balances by load; nftables picks at random per connection`;
      const named = s.virtualServers.map((vs) => { const a = /\s\[?([0-9a-f.:]+?)\]?:\d+$/.exec(vs)?.[1]; return a && cluster.serviceByAddress?.[a] ? `${vs} (${cluster.serviceByAddress[a]})` : vs; });
      warnings.push({ id: 'ipvs-scheduler', subject: node, message: `${s.total} virtual server${s.total === 1 ? ' uses' : 's use'} IPVS scheduler ${s.scheduler} (${list(named.slice(0, 5), s.total)}): ${what}`, evidence: { scheduler: s.scheduler, virtualServers: s.virtualServers, total: s.total } });
    }
    const strict = config?.ipvsStrictArp === true || (p.ipvs.arpIgnore === '1' && p.ipvs.arpAnnounce === '2');
    if (strict) {
      warnings.push({ id: 'ipvs-strict-arp', subject: node, message: `IPVS strictARP is on (${config?.ipvsStrictArp === true ? 'ipvs.strictARP: true' : ''}${p.ipvs.arpIgnore ? `${config?.ipvsStrictArp === true ? ', ' : ''}arp_ignore=${p.ipvs.arpIgnore} arp_announce=${p.ipvs.arpAnnounce}` : ''})${cluster.metallb ? ' and MetalLB runs in the cluster, which needs it with IPVS' : ''}: nftables mode neither needs nor manages it; the sysctls stay as kube-proxy left them`, evidence: { strictARP: config?.ipvsStrictArp ?? null, arpIgnore: p.ipvs.arpIgnore, arpAnnounce: p.ipvs.arpAnnounce, metallb: cluster.metallb ?? false }, fix: 'keep the sysctls while MetalLB L2 announces from this node, or reset them knowingly after the move' });
    }
  }

  // A node already caught between two modes.
  if (p.modes.catching.length > 1) {
    warnings.push({ id: 'mixed-proxy-modes', subject: node, message: `rules of two kube-proxy modes catch Service traffic (${p.modes.catching.join(' and ')}): the node is mid-switch or the old mode was not cleaned`, evidence: { catching: p.modes.catching, present: p.modes.present }, fix: 'run kube-proxy --cleanup for the old mode (or restart kube-proxy, which cleans other modes at start-up)' });
  } else if (p.leftoverIptablesChains > 0) {
    warnings.push({ id: 'mixed-proxy-modes', subject: node, message: `${p.leftoverIptablesChains} iptables-mode KUBE-* chains are left although nftables routes the Services: leftovers of the switch`, evidence: { leftoverIptablesChains: p.leftoverIptablesChains }, fix: 'run kube-proxy --cleanup (iptables mode) on the node, after the rules that depended on them are gone' });
  }
  return { blockers, warnings };
}

/** Nodes per proxy mode, and the nodes caught between two. */
export function proxyFleet(nodes: readonly NodeFingerprint[]): ProxyFleet {
  const proxyModes: Record<string, number> = {};
  const mixed: ProxyFleet['mixed'][number][] = [];
  for (const n of nodes) {
    proxyModes[n.proxyMode || 'unknown'] = (proxyModes[n.proxyMode || 'unknown'] ?? 0) + 1;
    const p = n.proxy;
    if (p && (p.modes.catching.length > 1 || p.leftoverIptablesChains > 0)) mixed.push({ node: n.node, modes: p.modes.catching.length > 1 ? p.modes.catching : p.modes.present, leftoverIptablesChains: p.leftoverIptablesChains });
  }
  return { proxyModes, mixed };
}

/** What netconform reports differently once a node runs nftables mode. */
function proxyChanges(nodes: readonly NodeFingerprint[]): MigrationChange[] {
  const out: MigrationChange[] = [];
  if (nodes.some((n) => n.proxyMode === 'iptables' || n.proxyMode === 'ipvs')) {
    out.push({ check: proxyModeCheck.id, message: 'the mode becomes nftables; iptables KUBE-* chains still present afterwards are reported as leftovers of the switch' });
    out.push({ check: clusterIPCheck.id, message: 'Services are traced through table ip/ip6 kube-proxy (verdict maps) instead of KUBE-SERVICES chains or IPVS; compare per-Service verdicts with netconform diff --cluster' });
  }
  if (nodes.some((n) => n.proxyMode === 'ipvs')) out.push({ check: 'dataplane', message: 'kube-ipvs0 and its addresses disappear; Services are read from table ip kube-proxy instead of IPVS virtual servers' });
  return out;
}

function clusterFactsFor(node: string, inv: ClusterInventory | undefined): ProxyClusterFacts {
  if (!inv) return {};
  const n = inv.nodes.find((x) => x.name === node);
  return {
    ...(n && n.internalIPs.length > 0 ? { nodeIPs: n.internalIPs } : {}),
    ...(inv.serviceByAddress ? { serviceByAddress: inv.serviceByAddress } : {}),
    ...(inv.kubeProxyConfig ? { config: inv.kubeProxyConfig } : {}),
    metallb: inv.dataPathDaemonSets.some((d) => d.what.startsWith('MetalLB')),
  };
}

export function proxyMigrationCheck(target: ProxyModeTarget, nodes: readonly NodeFingerprint[], inv: ClusterInventory | undefined, plan: ProxyMigrationPlan = {}): MigrationReport {
  const blockers: MigrationItem[] = [];
  const warnings: MigrationItem[] = [];
  for (const n of nodes) {
    if (n.proxyMode === target.mode && (n.proxy?.modes.catching.length ?? 0) <= 1 && (n.proxy?.leftoverIptablesChains ?? 0) === 0) continue; // already moved, cleanly
    const r = judgeProxyNode(n, target, plan, clusterFactsFor(n.node, inv));
    blockers.push(...r.blockers);
    warnings.push(...r.warnings);
  }
  return { target: { id: target.id, title: target.title }, ready: blockers.length === 0, nodes, blockers, warnings, changes: proxyChanges(nodes), fleet: proxyFleet(nodes) };
}

/** One node's blockers and warnings straight from its snapshot (a bundle or a live read). */
export function proxyMigrationItems(snapshot: NodeSnapshot, target: ProxyModeTarget, plan: ProxyMigrationPlan = {}, inv?: ClusterInventory): { blockers: MigrationItem[]; warnings: MigrationItem[] } {
  const fp = fingerprintNode(snapshot);
  return judgeProxyNode(fp, target, plan, clusterFactsFor(fp.node, inv));
}
