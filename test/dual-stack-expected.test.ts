// What netconform expects of a dual-stack kube-proxy, from the API objects alone: one
// expected port per IP family, each with only that family's endpoints (kube-proxy runs a
// proxier per family, each reading only the EndpointSlices of its addressType), and the
// node's address and pod CIDR of each family. Before this, both ClusterIPs of a dual-stack
// Service were judged against the endpoints of both families (so every dual-stack path
// failed with "missing endpoints" of the other family) and NodePorts only on the IPv4 address.
import test from 'ava';
import { parseClusterObjects, parseClusterText } from '../common/cluster.js';
import { dualStackCluster, renderClusterJson } from '../agent/dataplane/testing/generate.js';
import { expectedServicePorts } from '../agent/dataplane/expected.js';
import { nodeView, podSource } from '../agent/dataplane/routing.js';
import type { NodeSnapshot } from '../agent/snapshot.js';

const cluster = parseClusterObjects(parseClusterText(renderClusterJson(dualStackCluster('node-a')), 'dual.json'));
const entries = expectedServicePorts(cluster, 'node-a');
const of = (subject: string) => entries.filter((e) => e.subject === subject).map((e) => ({ family: e.family, clusterIPs: e.clusterIPs, internal: e.internal, external: e.external, internalEmpty: e.internalEmpty }));

test('a RequireDualStack Service port is one expected port per family, each with its own endpoints', (t) => {
  t.deepEqual(of('shop/dual:80/TCP'), [
    { family: 4, clusterIPs: ['10.96.0.30'], internal: ['10.244.1.31:8080', '10.244.2.32:8080'], external: ['10.244.1.31:8080', '10.244.2.32:8080'], internalEmpty: 'drop' },
    { family: 6, clusterIPs: ['fd00:10:96::30'], internal: ['[fd00:10:244:1::31]:8080', '[fd00:10:244:2::32]:8080', '[fd00:10:244:2::33]:8080'], external: ['[fd00:10:244:1::31]:8080', '[fd00:10:244:2::32]:8080', '[fd00:10:244:2::33]:8080'], internalEmpty: 'drop' },
  ]);
  // externalTrafficPolicy=Local per family: no IPv4 endpoint here, one IPv6 endpoint here.
  t.deepEqual(of('shop/dual-local:80/TCP').map((e) => [e.family, e.external]), [[4, []], [6, ['[fd00:10:244:1::51]:8080']]]);
});

test('a family without endpoints rejects on its own, the other family routes (PreferDualStack, IPv6 first)', (t) => {
  t.deepEqual(of('shop/prefer:80/TCP'), [
    { family: 6, clusterIPs: ['fd00:10:96::33'], internal: [], external: [], internalEmpty: 'reject' },
    { family: 4, clusterIPs: ['10.96.0.33'], internal: ['10.244.2.62:8080'], external: ['10.244.2.62:8080'], internalEmpty: 'drop' },
  ]);
});

test('an IPv6 SingleStack Service is one IPv6 expected port', (t) => {
  t.deepEqual(of('shop/v6only:8080/TCP'), [{ family: 6, clusterIPs: ['fd00:10:96::34'], internal: ['[fd00:10:244:2::60]:9090'], external: ['[fd00:10:244:2::60]:9090'], internalEmpty: 'drop' }]);
  t.is(entries.length, 2 + 2 + 2 + 2 + 1 + 2 + 2 * 2); // dual, dual-np, dual-local, prefer, v6only, sticky-dual, dns (2 ports)
});

const snapshot = (links: NodeSnapshot['links']): NodeSnapshot => ({ node: 'node-a', capturedAt: '2026-12-07T00:00:00Z', links } as NodeSnapshot);
const dualLinks: NodeSnapshot['links'] = [
  { name: 'lo', kind: 'loopback', addresses: [{ family: 4, address: '127.0.0.1', prefixLength: 8, scope: 'host' }, { family: 6, address: '::1', prefixLength: 128, scope: 'host' }] },
  { name: 'cbr0', kind: 'bridge', addresses: [{ family: 4, address: '10.244.1.1', prefixLength: 24, scope: 'global' }, { family: 6, address: 'fd00:10:244:1::1', prefixLength: 64, scope: 'global' }] },
  { name: 'eth0', kind: 'veth', addresses: [{ family: 4, address: '192.168.50.2', prefixLength: 24, scope: 'global' }, { family: 6, address: 'fe80::1', prefixLength: 64, scope: 'link' }, { family: 6, address: 'fd00:50::2', prefixLength: 64, scope: 'global' }] },
] as unknown as NodeSnapshot['links'];

test('the node view knows the node address and pod CIDR of each family; pod sources come from the family\'s pod CIDR', (t) => {
  const v = nodeView(snapshot(dualLinks), cluster);
  t.deepEqual(v.nodeIPs, { 4: '192.168.50.2', 6: 'fd00:50::2' });
  t.deepEqual(v.uplinkIifs, { 4: 'eth0', 6: 'eth0' });
  t.is(v.nodeIP, '192.168.50.2');
  t.is(v.podCIDR, '10.244.1.0/24');
  t.is(v.podCIDR6, 'fd00:10:244:1::/64');
  t.is(podSource(v, [], 6), 'fd00:10:244:1::fa');
  t.is(podSource(v, ['[fd00:10:244:1::fa]:80'], 6), 'fd00:10:244:1::f9');
  t.is(podSource(v, ['10.244.1.250:80'], 4), '10.244.1.249');
  // Without a Node object: the links say it (a global IPv6 address, never the link-local one).
  const bare = nodeView(snapshot(dualLinks), undefined);
  t.deepEqual(bare.nodeIPs, { 4: '192.168.50.2', 6: 'fd00:50::2' });
  // A Node object that names only an IPv4 address: the node has no IPv6 NodePort address.
  const v4only = parseClusterObjects([{ kind: 'Node', metadata: { name: 'node-a' }, spec: { podCIDRs: ['10.244.1.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: '192.168.50.2' }] } }]);
  t.deepEqual(nodeView(snapshot(dualLinks), v4only).nodeIPs, { 4: '192.168.50.2' });
});
