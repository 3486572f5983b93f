// Faults in a real dual-stack dump, without Go or a lab: the v1.37.2 iptables recording
// (test/fixtures/kube-proxy-real/dual-stack/) with its ip6tables rules or its API objects
// changed the way a fault would change them. Each is found on the IPv6 path it concerns,
// and only there; the IPv4 paths of the same Services keep passing.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseClusterObjects, parseClusterText } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { scanSnapshot } from '../agent/scan.js';
import type { NodeSnapshot } from '../agent/snapshot.js';

const DIR = new URL('./fixtures/kube-proxy-real/dual-stack/v1.37.2-iptables/', import.meta.url).pathname;
const SR = ['service-routing.mode', 'service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules', 'service-routing.kube-proxy', 'no-nat.pod-to-pod'];
const clusterText = readFileSync(join(DIR, 'cluster.json'), 'utf8');
const recorded = readBundle(DIR);

/** The recording with its ip6tables-save text edited (a fresh snapshot object: nothing parsed is reused). */
function withIp6tables(edit: (text: string) => string): NodeSnapshot {
  const dp = recorded.dataplane!;
  return { ...recorded, dataplane: { ...dp, ip6tables: { ...dp.ip6tables, nft: edit(dp.ip6tables!.nft!) } } };
}

function scan(snapshot: NodeSnapshot, objects: string = clusterText): Finding[] {
  const cluster = parseClusterObjects(parseClusterText(objects, 'cluster.json'));
  return scanSnapshot(snapshot, cluster, { only: SR, now: new Date(snapshot.capturedAt) }).findings as Finding[];
}
const notPass = (fs: readonly Finding[]): string[] => fs.filter((f) => f.status !== 'pass').map((f) => `${f.status} ${f.check} ${f.subject}: ${f.message}`);

test('the recording passes as it is (the base every fault below changes)', (t) => {
  t.deepEqual(notPass(scan(recorded)), []);
});

test('an IPv6 endpoint\'s rule deleted from the KUBE-SVC chain: the IPv6 ClusterIP fails, the IPv4 one of the same Service passes', (t) => {
  const gone = '"shop/dual:http -> [fd00:10:244:1::31]:8080" -m statistic';
  const findings = scan(withIp6tables((text) => {
    const lines = text.split('\n');
    const i = lines.findIndex((l) => l.startsWith('-A KUBE-SVC-') && l.includes(gone));
    if (i < 0) throw new Error('no such rule in the recording');
    lines.splice(i, 1);
    return lines.join('\n');
  }));
  t.deepEqual(notPass(findings), ['fail service-routing.clusterip shop/dual:80/TCP: ClusterIP [fd00:10:96::30]:80/TCP: missing endpoint [fd00:10:244:1::31]:8080']);
  t.true(findings.some((f) => f.subject === 'shop/dual:80/TCP' && f.status === 'pass' && f.evidence!['path'] === 'ClusterIP 10.96.0.30:80/TCP'));
});

test('a masquerade of the IPv6 pod CIDR is found on both IPv6 pod-to-pod paths, with the ip6tables rule as evidence', (t) => {
  const findings = scan(withIp6tables((text) => text.replace(
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING\n-A POSTROUTING -s fd00:10:244::/56 -j MASQUERADE',
  )));
  const nat = findings.filter((f) => f.check === 'no-nat.pod-to-pod');
  t.deepEqual(nat.map((f) => `${f.status} ${f.subject}`), ['pass lab-node-a', 'pass node-b', 'fail lab-node-a', 'fail node-b']);
  t.is(nat[3]!.message, 'pod-to-pod traffic to node node-b (fd00:10:244:1::fa → fd00:10:244:2::a) is source-NATed (MASQUERADE): the receiving pod sees the node, not the pod — exclude the pod CIDR from the masquerade rule (e.g. kube-proxy --cluster-cidr, CNI ipMasq settings)');
  t.true((nat[3]!.evidence!['rules'] as string[]).some((r) => r.endsWith('-A POSTROUTING -s fd00:10:244::/56 -j MASQUERADE')));
  t.is(notPass(findings).length, 2);
});

test('a Node object without its IPv6 address: the IPv6 NodePorts are skipped with the reason, the IPv4 ones still judged', (t) => {
  const objects = JSON.parse(clusterText) as { items: { kind: string; metadata: { name: string }; status?: { addresses?: { address: string }[] } }[] };
  const node = objects.items.find((o) => o.kind === 'Node' && o.metadata.name === 'lab-node-a')!;
  node.status!.addresses = node.status!.addresses!.filter((a) => !a.address.includes(':'));
  const nodePorts = scan(recorded, JSON.stringify(objects)).filter((f) => f.check === 'service-routing.nodeport');
  t.deepEqual(nodePorts.map((f) => `${f.status} ${f.subject}: ${f.message.replace(/ from outside.*$/, '')}`).sort(), [
    'pass shop/dual-local:80/TCP: NodePort 192.168.50.2:30201/TCP',
    'pass shop/dual-np:80/TCP: NodePort 192.168.50.2:30200/TCP',
    'skip shop/dual-local:80/TCP: skipped: the IPv6 NodePort 30201/TCP has no node address to be traced to (its Node object lists no IPv6 InternalIP)',
    'skip shop/dual-np:80/TCP: skipped: the IPv6 NodePort 30200/TCP has no node address to be traced to (its Node object lists no IPv6 InternalIP)',
    'skip shop/v6only:8080/TCP: skipped: the IPv6 NodePort 30202/TCP has no node address to be traced to (its Node object lists no IPv6 InternalIP)',
  ]);
});
