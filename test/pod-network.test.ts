// pod-network.* and cni.config against lab nodes on the real kernel. Every case scans the
// node live (netlink inside its namespace) and from a bundle captured with the real tools,
// and asserts both give the same findings.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLabNode, type LabNode, type LabOptions } from './lab/lab.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { captureBundle } from '../agent/inspect/capture.js';
import { scanSnapshot } from '../agent/scan.js';
import { parseClusterObjects, type ClusterContext } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'cni');

/** iptables-save text that makes the node look like kube-proxy runs in iptables mode. */
const KUBE_PROXY_IPTABLES = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-ERIFXISQEP7F7OF4 - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j KUBE-SVC-ERIFXISQEP7F7OF4
COMMIT
`;

interface NodeSpec {
  readonly name: string;
  readonly podCIDRs: readonly string[];
  readonly ip?: string;
  readonly maxPods?: number;
}

function cluster(nodes: readonly NodeSpec[], opts: { serviceCIDRs?: string[]; clusterCIDR?: string } = {}): ClusterContext {
  return parseClusterObjects(nodes.map((n) => ({
    apiVersion: 'v1', kind: 'Node', metadata: { name: n.name },
    spec: { podCIDR: n.podCIDRs[0], podCIDRs: n.podCIDRs },
    status: { addresses: n.ip ? [{ type: 'InternalIP', address: n.ip }] : [], ...(n.maxPods ? { allocatable: { pods: String(n.maxPods) } } : {}) },
  })), { serviceCIDRs: opts.serviceCIDRs ?? ['10.96.0.0/12'], ...(opts.clusterCIDR ? { clusterCIDR: opts.clusterCIDR } : {}) });
}

/** The lab node plus two others reachable over the stand-in uplink 192.168.50.0/24. */
function threeNodes(lab: LabNode, extra: Partial<NodeSpec> = {}): NodeSpec[] {
  return [
    { name: lab.nodeName, podCIDRs: [lab.podCIDR], ip: '192.168.50.10', maxPods: 110, ...extra },
    { name: 'node-b', podCIDRs: ['10.244.2.0/24'], ip: '192.168.50.11' },
    { name: 'node-c', podCIDRs: ['10.244.3.0/24'], ip: '192.168.50.12' },
  ];
}

const ROUTED: LabOptions = {
  uplinkAddress: '192.168.50.10/24',
  routes: ['10.244.2.0/24 via 192.168.50.11', '10.244.3.0/24 via 192.168.50.12'],
  iptables: KUBE_PROXY_IPTABLES,
};

async function lab(t: ExecutionContext, opts: LabOptions): Promise<LabNode> {
  const l = await createLabNode(opts);
  t.teardown(() => l.destroy());
  return l;
}

function tmp(t: ExecutionContext): string {
  const d = mkdtempSync(join(tmpdir(), 'nc-podnet-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/**
 * Scans the lab node live and from a captured bundle; asserts both agree and returns the
 * findings of the given checks. `cni` names a fixture under test/fixtures/cni.
 */
async function scanBoth(t: ExecutionContext, node: LabNode, only: readonly string[], ctx: ClusterContext | undefined, cni?: string, edit?: (bundleDir: string) => void): Promise<readonly Finding[]> {
  const dir = tmp(t);
  const binDir = join(dir, 'bin');
  mkdirSync(binDir);
  if (cni) for (const b of readFileSync(join(FIXTURES, cni, 'cni-bin.txt'), 'utf8').split('\n').filter(Boolean)) writeFileSync(join(binDir, b), '');
  const confDir = cni ? join(FIXTURES, cni, 'net.d') : join(dir, 'no-net.d');
  const live = await inspectNetns(node.netns, { node: node.nodeName, cniConfDir: confDir, cniBinDir: binDir });
  const bundleDir = join(dir, 'bundle');
  await captureBundle(bundleDir, live, { netns: node.netns });
  const liveFindings = scanSnapshot(live, ctx, { only }).findings;
  const bundleFindings = scanSnapshot(readBundle(bundleDir), ctx, { only }).findings;
  t.deepEqual(bundleFindings, liveFindings, 'bundle scan differs from live scan');
  if (edit) {
    edit(bundleDir);
    return scanSnapshot(readBundle(bundleDir), ctx, { only }).findings;
  }
  return liveFindings;
}

const brief = (fs: readonly Finding[]): string[][] => fs.map((f) => [f.status, f.subject, f.message]);

test.serial('healthy kubenet-style node: every pod-network check and cni.config pass, live and from the bundle', async (t) => {
  const node = await lab(t, ROUTED);
  const ctx = cluster(threeNodes(node), { clusterCIDR: '10.244.0.0/16' });
  const fs = await scanBoth(t, node, ['pod-network.sysctl', 'pod-network.bridge', 'pod-network.pod-cidr', 'pod-network.cidr-capacity', 'pod-network.routes', 'cni.config'], ctx, 'bridge');
  const v = node.pods.map((p) => p.hostVeth);
  t.deepEqual(brief(fs), [
    ['pass', 'net.ipv4.ip_forward', 'IPv4 forwarding is on'],
    ['pass', 'net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-iptables is 1 (10-bridge.conflist puts pods on bridge cbr0 and kube-proxy is in iptables mode)'],
    ['pass', 'cbr0', 'cbr0 is up and carries gateway 10.244.1.1/24 of pod CIDR 10.244.1.0/24 (Node spec.podCIDRs)'],
    ['pass', 'cbr0', 'all 2 pod veths are attached to cbr0'],
    ['pass', 'cbr0', 'hairpin mode is on for all 2 pod ports of cbr0'],
    ['pass', '10.244.1.0/24', 'pod CIDR 10.244.1.0/24 (Node spec.podCIDRs, CNI IPAM range (10-bridge.conflist), cbr0 address) overlaps no other node, Service CIDR or node address'],
    ['pass', '10.244.1.0/24', '10.244.1.0/24 has 253 pod addresses for maxPods 110'],
    ['pass', '10.244.0.0/16', '10.244.0.0/16 holds 256 node pod CIDRs of /24; 3 in use'],
    ['pass', 'node-b', '10.244.2.0/24 of node-b is routed: 10.244.2.0/24 via 192.168.50.11 dev eth0'],
    ['pass', 'node-c', '10.244.3.0/24 of node-c is routed: 10.244.3.0/24 via 192.168.50.12 dev eth0'],
    ['pass', '10-bridge.conflist', '10-bridge.conflist is the active CNI config: bridge (network "kubenet-like", cniVersion 1.0.0, plugins bridge, portmap)'],
    ['pass', '10-bridge.conflist', 'all plugin binaries of 10-bridge.conflist are installed (bridge, host-local, portmap)'],
    ['pass', '10-bridge.conflist', "IPAM range 10.244.1.0/24 matches the node's pod CIDR"],
  ]);
  t.deepEqual(fs.find((f) => f.message.startsWith('all 2 pod veths'))?.evidence, { bridge: 'cbr0', attached: v });
});

test.serial('bridge missing: pods whose veths have no bridge fail pod-network.bridge', async (t) => {
  const node = await lab(t, { bridge: null, pods: 1 });
  const fs = await scanBoth(t, node, ['pod-network.bridge'], cluster(threeNodes(node)));
  t.deepEqual(brief(fs), [
    ['fail', 'cbr0', 'cbr0 does not exist, yet 1 pod veth exists — pods have no bridge to reach their gateway; is the kubelet running with --network-plugin=kubenet?'],
  ]);
  t.is(fs[0]!.severity, 'critical');
  t.deepEqual(fs[0]!.evidence, { bridge: 'cbr0', origin: 'kubenet', podVeths: [node.pods[0]!.hostVeth] });
});

test.serial('bridge missing on a node without pods is only a warning', async (t) => {
  const node = await lab(t, { bridge: null, pods: 0 });
  const fs = await scanBoth(t, node, ['pod-network.bridge'], undefined);
  t.deepEqual(brief(fs), [
    ['warn', 'cbr0', 'cbr0 does not exist; no pod has started on this node yet (it is created with the first pod) — is the kubelet running with --network-plugin=kubenet?'],
  ]);
});

test.serial('bridge down fails', async (t) => {
  const node = await lab(t, { bridgeUp: false, pods: 1 });
  const fs = await scanBoth(t, node, ['pod-network.bridge'], cluster(threeNodes(node)));
  t.deepEqual(brief(fs).filter((f) => f[0] !== 'pass'), [
    ['fail', 'cbr0', 'cbr0 is down; pods on it cannot reach their gateway or anything beyond — ip link set cbr0 up, and find what took it down'],
  ]);
  t.deepEqual(fs[0]!.evidence, { bridge: 'cbr0', up: false, operState: 'DOWN' });
});

test.serial('bridge without the gateway address fails with the kubenet hint', async (t) => {
  const node = await lab(t, { bridgeAddress: false, pods: 1 });
  const fs = await scanBoth(t, node, ['pod-network.bridge'], cluster(threeNodes(node)));
  t.deepEqual(brief(fs).filter((f) => f[0] !== 'pass'), [
    ['fail', 'cbr0', 'cbr0 has no address in 10.244.1.0/24; kubenet sets 10.244.1.1/24 — is the kubelet running with --network-plugin=kubenet?'],
  ]);
});

test.serial('bridge without the gateway and without cluster context: no address at all fails', async (t) => {
  const node = await lab(t, { bridgeAddress: false, pods: 1 });
  const fs = await scanBoth(t, node, ['pod-network.bridge'], undefined);
  t.deepEqual(brief(fs).filter((f) => f[0] !== 'pass'), [
    ['fail', 'cbr0', "cbr0 has no address, so pods have no gateway; the node's pod CIDR is unknown too — is the kubelet running with --network-plugin=kubenet? (pass --cluster to compare with the Node's spec.podCIDR)"],
  ]);
});

test.serial('a veth left off the bridge, and hairpin off, fail', async (t) => {
  const node = await lab(t, { pods: [{}, { attached: false }], hairpin: false });
  const fs = await scanBoth(t, node, ['pod-network.bridge'], cluster(threeNodes(node)));
  const [v0, v1] = node.pods.map((p) => p.hostVeth);
  t.deepEqual(brief(fs), [
    ['pass', 'cbr0', 'cbr0 is up and carries gateway 10.244.1.1/24 of pod CIDR 10.244.1.0/24 (Node spec.podCIDRs)'],
    ['fail', 'cbr0', `1 pod veth is not attached to cbr0 (${v1}): those pods have no network — ip link set <veth> master cbr0, or delete the pod so the plugin rebuilds it`],
    ['fail', 'cbr0', `hairpin mode is off on 1 port of cbr0 (${v0}): a pod cannot reach itself through its own Service; kubenet sets it with --hairpin-mode=hairpin-veth — ip link set <veth> type bridge_slave hairpin on`],
  ]);
  t.deepEqual(fs[1]!.evidence, { bridge: 'cbr0', detached: [v1] });
});

test.serial('kubenet promiscuous-bridge mode does not expect hairpin on ports', async (t) => {
  const node = await lab(t, { pods: 1, hairpin: false });
  await node.exec('ip', ['link', 'set', 'cbr0', 'promisc', 'on']);
  const fs = await scanBoth(t, node, ['pod-network.bridge'], cluster(threeNodes(node)));
  t.true(fs.every((f) => f.status === 'pass'));
  t.false(fs.some((f) => f.message.includes('hairpin')));
});

test.serial('routed CNI (calico): no bridge to check, bridge-nf not required', async (t) => {
  const node = await lab(t, { bridge: null, pods: 1, sysctls: { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '0' }, iptables: KUBE_PROXY_IPTABLES });
  const fs = await scanBoth(t, node, ['pod-network.bridge', 'pod-network.sysctl'], cluster(threeNodes(node)), 'calico');
  t.deepEqual(brief(fs), [
    ['pass', 'net.ipv4.ip_forward', 'IPv4 forwarding is on'],
    ['pass', 'net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-iptables is 0; not required: calico (10-calico.conflist) attaches pods without a Linux bridge'],
    ['skip', node.nodeName, 'no pod bridge to check: calico (10-calico.conflist) attaches pods without a Linux bridge'],
  ]);
});

test.serial('ip_forward off fails pod-network.sysctl', async (t) => {
  const node = await lab(t, { pods: 1, sysctls: { 'net.ipv4.ip_forward': '0', 'net.bridge.bridge-nf-call-iptables': '1' }, iptables: KUBE_PROXY_IPTABLES });
  const fs = await scanBoth(t, node, ['pod-network.sysctl'], undefined);
  t.deepEqual(brief(fs)[0], ['fail', 'net.ipv4.ip_forward', 'net.ipv4.ip_forward is 0; pods cannot reach other nodes or Services — set it to 1 (sysctl -w net.ipv4.ip_forward=1 and persist it in /etc/sysctl.d)']);
  t.is(fs[0]!.severity, 'critical');
});

test.serial('bridge-nf-call-iptables 0 on a bridge node in iptables mode fails; absent (bundle without the key) fails with modprobe advice', async (t) => {
  const node = await lab(t, { pods: 1, sysctls: { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '0' }, iptables: KUBE_PROXY_IPTABLES });
  const fs = await scanBoth(t, node, ['pod-network.sysctl'], undefined);
  t.deepEqual(brief(fs)[1], ['fail', 'net.bridge.bridge-nf-call-iptables', "net.bridge.bridge-nf-call-iptables is 0: traffic between pods on the bridge bypasses kube-proxy's rules (pod veths are ports of bridge cbr0 and kube-proxy is in iptables mode) — sysctl -w net.bridge.bridge-nf-call-iptables=1 and persist it in /etc/sysctl.d"]);

  // br_netfilter is built into this kernel, so "not loaded" is a bundle whose sysctl.txt lacks the keys.
  const missing = await scanBoth(t, node, ['pod-network.sysctl'], undefined, undefined, (dir) => {
    const file = join(dir, 'sysctl.txt');
    writeFileSync(file, readFileSync(file, 'utf8').split('\n').filter((l) => !l.startsWith('net.bridge.')).join('\n'));
  });
  t.deepEqual(brief(missing)[1], ['fail', 'net.bridge.bridge-nf-call-iptables', "net.bridge.bridge-nf-call-iptables does not exist: br_netfilter is not loaded, so traffic between pods on the bridge bypasses kube-proxy's rules (pod veths are ports of bridge cbr0 and kube-proxy is in iptables mode) — modprobe br_netfilter and list it in /etc/modules-load.d/"]);
});

test.serial('a missing route to another node\'s pod CIDR fails, a blackhole fails, a wrong gateway fails', async (t) => {
  const node = await lab(t, { pods: 1, uplinkAddress: '192.168.50.10/24', routes: ['10.244.2.0/24 via 192.168.50.12', 'blackhole 10.244.4.0/24'] });
  const ctx = cluster([...threeNodes(node), { name: 'node-d', podCIDRs: ['10.244.4.0/24'], ip: '192.168.50.13' }]);
  const fs = await scanBoth(t, node, ['pod-network.routes'], ctx);
  t.deepEqual(brief(fs), [
    ['fail', 'node-b', "the route to node-b's pod CIDR 10.244.2.0/24 goes via node-c's address 192.168.50.12: packets reach the wrong node — replace it with ip route add 10.244.2.0/24 via 192.168.50.11"],
    ['fail', 'node-c', "no route to node-c's pod CIDR 10.244.3.0/24: pods here cannot reach pods there — add ip route add 10.244.3.0/24 via 192.168.50.12 (or fix the CNI / cloud routes that should program it)"],
    ['fail', 'node-d', 'traffic to node-d\'s pod CIDR 10.244.4.0/24 is dropped by "blackhole 10.244.4.0/24" — remove it and add ip route add 10.244.4.0/24 via 192.168.50.13'],
  ]);
});

test.serial('a default route alone warns; an overlay device route passes', async (t) => {
  const node = await lab(t, { pods: 1, uplinkAddress: '192.168.50.10/24', routes: ['default via 192.168.50.1'] });
  await node.exec('ip', ['link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'dev', 'eth0']);
  await node.exec('ip', ['link', 'set', 'flannel.1', 'up']);
  await node.exec('ip', ['route', 'add', '10.244.3.0/24', 'via', '10.244.3.0', 'dev', 'flannel.1', 'onlink']);
  const fs = await scanBoth(t, node, ['pod-network.routes'], cluster(threeNodes(node)));
  t.deepEqual(brief(fs), [
    ['warn', 'node-b', "only the default route (0.0.0.0/0 via 192.168.50.1 dev eth0) covers node-b's pod CIDR 10.244.2.0/24: that works only if the network beyond routes pod CIDRs (a cloud route table) — otherwise add ip route add 10.244.2.0/24 via 192.168.50.11"],
    ['pass', 'node-c', '10.244.3.0/24 of node-c is routed into overlay device flannel.1 (vxlan): 10.244.3.0/24 via 10.244.3.0 dev flannel.1'],
  ]);
});

test.serial('overlapping CIDRs: another node, the Service CIDR and a host interface', async (t) => {
  const node = await lab(t, { pods: 1, uplinkAddress: '10.244.200.10/16' });
  const ctx = cluster([
    { name: node.nodeName, podCIDRs: ['10.244.1.0/24'], ip: '10.244.200.10' },
    { name: 'node-b', podCIDRs: ['10.244.1.128/25'], ip: '192.168.50.11' },
  ], { serviceCIDRs: ['10.244.0.0/20'] });
  const fs = await scanBoth(t, node, ['pod-network.pod-cidr'], ctx);
  t.deepEqual(brief(fs), [
    ['fail', '10.244.1.0/24', "10.244.1.0/24 overlaps node node-b's pod CIDR 10.244.1.128/25: both nodes hand out the same pod IPs — reassign one of the Nodes' spec.podCIDR (delete and re-register the node)"],
    ['fail', '10.244.1.0/24', 'host interface eth0 is on 10.244.0.0/16 (10.244.200.10/16), which overlaps pod CIDR 10.244.1.0/24: pod and host traffic cannot be told apart — choose a cluster CIDR disjoint from the node network'],
    ['fail', '10.244.1.0/24', '10.244.1.0/24 overlaps the Service CIDR 10.244.0.0/20: a pod IP can equal a ClusterIP, and kube-proxy DNATs it away — the cluster CIDR and --service-cluster-ip-range must be disjoint'],
  ]);
});

test.serial('pod CIDR sources disagree: Node spec vs bridge address', async (t) => {
  const node = await lab(t, { pods: 1, podCIDR: '10.244.7.0/24' });
  const ctx = cluster([{ name: node.nodeName, podCIDRs: ['10.244.1.0/24'] }]);
  const fs = await scanBoth(t, node, ['pod-network.pod-cidr'], ctx);
  t.deepEqual(brief(fs), [
    ['fail', '10.244.1.0/24', "pod CIDR sources disagree: Node spec.podCIDRs says 10.244.1.0/24 but cbr0 address says 10.244.7.0/24 — pods get addresses another node may own; make the CNI config and bridge follow the Node's spec.podCIDR"],
  ]);
});

test.serial('a pod CIDR too small for maxPods fails, one under twice maxPods warns; a nearly full cluster CIDR warns', async (t) => {
  const small = await lab(t, { pods: 1, podCIDR: '10.244.1.0/26' });
  const fs = await scanBoth(t, small, ['pod-network.cidr-capacity'], cluster([{ name: small.nodeName, podCIDRs: ['10.244.1.0/26'], maxPods: 110 }], { clusterCIDR: '10.244.0.0/16' }));
  t.deepEqual(brief(fs), [
    ['fail', '10.244.1.0/26', '10.244.1.0/26 has 61 pod addresses but the node allows maxPods 110: pods past 61 stay ContainerCreating ("no IP addresses available") — give nodes a larger pod CIDR (kube-controller-manager --node-cidr-mask-size) or lower the kubelet\'s --max-pods'],
    ['pass', '10.244.0.0/16', '10.244.0.0/16 holds 1024 node pod CIDRs of /26; 1 in use'],
  ]);

  const mid = await lab(t, { pods: 1, podCIDR: '10.244.1.0/25' });
  const nodes = [{ name: mid.nodeName, podCIDRs: ['10.244.1.0/25'] }, { name: 'b', podCIDRs: ['10.244.0.0/25'] }, { name: 'c', podCIDRs: ['10.244.0.128/25'] }, { name: 'd', podCIDRs: ['10.244.1.128/25'] }];
  const fs2 = await scanBoth(t, mid, ['pod-network.cidr-capacity'], cluster(nodes, { clusterCIDR: '10.244.0.0/23' }));
  t.deepEqual(brief(fs2), [
    ['warn', '10.244.1.0/25', '10.244.1.0/25 has 125 pod addresses, less than twice maxPods 110 (kubelet default; the Node reports none): addresses of deleted pods get reused quickly — give nodes a larger pod CIDR (kube-controller-manager --node-cidr-mask-size) or lower the kubelet\'s --max-pods'],
    ['warn', '10.244.0.0/23', '10.244.0.0/23 holds 4 node pod CIDRs of /25 and 4 are taken (100 %): only 0 more nodes can join — plan a wider cluster CIDR'],
  ]);
  const five = [...nodes, { name: 'e', podCIDRs: [] }];
  const fs3 = await scanBoth(t, mid, ['pod-network.cidr-capacity'], cluster(five, { clusterCIDR: '10.244.0.0/23' }));
  t.deepEqual(brief(fs3)[1], ['fail', '10.244.0.0/23', '10.244.0.0/23 holds 4 node pod CIDRs of /25 but the cluster has 5 nodes: the rest get no pod CIDR and stay NotReady — widen the cluster CIDR or shrink --node-cidr-mask-size']);
});

test.serial('cni.config on a lab node: IPAM range that does not match the pod CIDR fails, live and from the bundle', async (t) => {
  const node = await lab(t, { pods: 1 });
  const fs = await scanBoth(t, node, ['cni.config'], cluster(threeNodes(node)), 'ipam-mismatch');
  t.deepEqual(brief(fs).filter((f) => f[0] !== 'pass'), [
    ['fail', '10-bridge.conflist', "IPAM range 10.244.2.0/24 in 10-bridge.conflist does not match the node's pod CIDR 10.244.1.0/24: pods get addresses that other nodes own or that nothing routes here — regenerate the config from spec.podCIDR (or use \"subnet\": \"usePodCidr\")"],
  ]);
});
