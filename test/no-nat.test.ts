import test from 'ava';
import { createLabNode } from './lab/lab.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { scanSnapshot } from '../agent/scan.js';
import { parseClusterObjects, type ClusterContext } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';

const node = (name: string, cidr: string, ip: string): unknown => ({
  kind: 'Node', metadata: { name }, spec: { podCIDRs: [cidr] }, status: { addresses: [{ type: 'InternalIP', address: ip }] },
});

function cluster(self: string): ClusterContext {
  return parseClusterObjects([node(self, '10.244.1.0/24', '192.0.2.10'), node('node-b', '10.244.2.0/24', '192.0.2.11')]);
}

const KUBE_PROXY_POSTROUTING = [
  '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
  ':KUBE-POSTROUTING - [0:0]', ':KUBE-MARK-MASQ - [0:0]',
  '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
  '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
  '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
  '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
  '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
];

async function scan(t: import('ava').ExecutionContext, rules: string[] | undefined, nft?: string): Promise<Array<[string, string, string]>> {
  const lab = await createLabNode({
    pods: 1, uplinkAddress: '192.0.2.10/24', routes: ['10.244.2.0/24 via 192.0.2.11 dev eth0'],
    ...(rules ? { iptables: [...rules, 'COMMIT', ''].join('\n') } : {}), ...(nft ? { nft } : {}),
  });
  t.teardown(() => lab.destroy());
  const snapshot = await inspectNetns(lab.netns, { node: lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent' });
  const findings: readonly Finding[] = scanSnapshot(snapshot, cluster(lab.nodeName), { only: ['no-nat.pod-to-pod'] }).findings;
  return findings.map((f) => [f.status, f.subject === lab.nodeName ? 'self' : f.subject, f.message]);
}

test('kube-proxy\'s own masquerade (marked Service traffic only) leaves pod-to-pod traffic alone', async (t) => {
  t.deepEqual(await scan(t, KUBE_PROXY_POSTROUTING), [
    ['pass', 'self', 'pod-to-pod traffic on this node (10.244.1.250 → 10.244.1.251) keeps the pod\'s source address'],
    ['pass', 'node-b', 'pod-to-pod traffic to node node-b (10.244.1.250 → 10.244.2.10) keeps the pod\'s source address'],
  ]);
});

test('a masquerade of the whole pod CIDR is found on both paths, with the rule as evidence', async (t) => {
  const lab = await createLabNode({
    pods: 1, uplinkAddress: '192.0.2.10/24', routes: ['10.244.2.0/24 via 192.0.2.11 dev eth0'],
    iptables: [...KUBE_PROXY_POSTROUTING, '-A POSTROUTING -s 10.244.0.0/16 -j MASQUERADE', 'COMMIT', ''].join('\n'),
  });
  t.teardown(() => lab.destroy());
  const snapshot = await inspectNetns(lab.netns, { node: lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent' });
  const findings = scanSnapshot(snapshot, cluster(lab.nodeName), { only: ['no-nat.pod-to-pod'] }).findings;
  t.deepEqual(findings.map((f) => [f.status, f.severity, f.subject === lab.nodeName ? 'self' : f.subject]), [['fail', 'high', 'self'], ['fail', 'high', 'node-b']]);
  t.is(findings[1]!.message, 'pod-to-pod traffic to node node-b (10.244.1.250 → 10.244.2.10) is source-NATed (MASQUERADE): the receiving pod sees the node, not the pod — exclude the pod CIDR from the masquerade rule (e.g. kube-proxy --cluster-cidr, CNI ipMasq settings)');
  t.deepEqual((findings[1]!.evidence as { rules: string[] }).rules.filter((r) => r.includes('MASQUERADE') && r.includes('10.244.0.0/16')), ['[iptables-nft nat POSTROUTING #2] -A POSTROUTING -s 10.244.0.0/16 -j MASQUERADE']);
});

test('flannel\'s ipMasq rules return pod-to-pod traffic before masquerading the rest', async (t) => {
  t.deepEqual((await scan(t, [
    ...KUBE_PROXY_POSTROUTING,
    '-A POSTROUTING -s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN',
    '-A POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully',
  ])).map((r) => r.slice(0, 2)), [['pass', 'self'], ['pass', 'node-b']]);
});

test('an nftables masquerade that skips the local pod CIDR still NATs traffic to other nodes', async (t) => {
  const nft = [
    'table ip cni-nat {',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    '    ip saddr 10.244.1.0/24 ip daddr != 10.244.1.0/24 masquerade',
    '  }',
    '}',
  ].join('\n') + '\n';
  t.deepEqual((await scan(t, undefined, nft)).map((r) => r.slice(0, 2)), [['pass', 'self'], ['fail', 'node-b']]);
});

test('without a pod CIDR from the cluster or a pod bridge the check says what it lacks', async (t) => {
  const lab = await createLabNode({ pods: 0, bridge: null, iptables: [...KUBE_PROXY_POSTROUTING, 'COMMIT', ''].join('\n') });
  t.teardown(() => lab.destroy());
  const snapshot = await inspectNetns(lab.netns, { node: lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent' });
  const findings = scanSnapshot(snapshot, undefined, { only: ['no-nat.pod-to-pod'] }).findings;
  t.deepEqual(findings.map((f) => [f.status, f.message]), [['skip', 'skipped: this node\'s IPv4 pod CIDR is unknown (no Node spec.podCIDRs in the cluster context and no pod bridge address)']]);
});
