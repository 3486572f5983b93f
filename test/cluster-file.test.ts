// A cluster file is a List or objects of known shape, or a clear error naming file, line
// and path — never "nothing there" (which would skip every cluster check and exit 0).
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readClusterFile } from '../common/cluster.js';
import { InputError } from '../common/errors.js';
import { runProgram } from './support/processes.js';
import { tempDir } from './support/tmp.js';

function refused(t: import('ava').ExecutionContext, text: string, expected: string, name = 'cluster.yaml'): void {
  const file = join(tempDir(t, 'nc-cluster-'), name);
  writeFileSync(file, text);
  const err = t.throws(() => readClusterFile(file), { instanceOf: InputError });
  t.is(err?.message, `${file}${expected}`);
}

test('the reported defect: a --cluster file that is a YAML list of strings exits 2 naming the file and what was expected', async (t) => {
  const dir = tempDir(t, 'nc-cluster-');
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, '- node-a\n- node-b\n');
  writeFileSync(join(dir, 'node.txt'), 'node-a\n');
  const r = await runProgram('agent', ['scan', '--from', dir, '--cluster', file]);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.is(r.stderr, `netconform-agent: ${file}:1: [0]: expected a Kubernetes object (a mapping with apiVersion, kind and metadata), got the string "node-a"\n`);
});

test('documents and list items that are not Kubernetes objects are refused with line and path', (t) => {
  refused(t, '', ': no Kubernetes objects in it (expected the output of kubectl get … -o yaml or -o json)');
  refused(t, '# only a comment\n', ': no Kubernetes objects in it (expected the output of kubectl get … -o yaml or -o json)');
  refused(t, 'just a string\n', ':1: expected a Kubernetes object (a mapping with apiVersion, kind and metadata), got the string "just a string"');
  refused(t, 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata: {name: a}\n- 42\n', ':7: items[1]: expected a Kubernetes object (a mapping with kind and metadata), got the number 42');
  refused(t, 'apiVersion: v1\nmetadata: {name: a}\n', ':1: expected a Kubernetes object: "kind" must be a non-empty string, got nothing');
  refused(t, 'apiVersion: 1\nkind: Node\nmetadata: {name: a}\n', ':1: expected a Kubernetes object: "apiVersion" must be a string, got the number 1');
  refused(t, 'apiVersion: v1\nkind: List\nitems: {a: 1}\n', ':1: List.items must be a list, got a mapping');
  refused(t, 'apiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\n- x\n', ':5: document 2 [0]: expected a Kubernetes object (a mapping with apiVersion, kind and metadata), got the string "x"');
  refused(t, '{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Node","metadata":{}}]}', ': items[0] (Node): metadata.name: expected a non-empty string, got nothing', 'cluster.json');
  refused(t, '["a"]', ': [0]: expected a Kubernetes object (a mapping with apiVersion, kind and metadata), got the string "a"', 'cluster.json');
  refused(t, '{"kind": ', ':1:10: invalid JSON: Unexpected end of JSON input', 'cluster.json');
});

test('fields the node checks read must have the API types', (t) => {
  const svc = (spec: string): string => `apiVersion: v1\nkind: Service\nmetadata: {namespace: shop, name: web}\nspec: ${spec}\n`;
  refused(t, svc('{ports: [{port: http}]}'), ':1: (Service shop/web): spec.ports[0].port: expected an integer 1..65535, got the string "http"');
  refused(t, svc('{ports: [{protocol: TCP}]}'), ':1: (Service shop/web): spec.ports[0].port: expected an integer 1..65535, got nothing');
  refused(t, svc('{type: Internal, ports: [{port: 80}]}'), ':1: (Service shop/web): spec.type: expected one of ClusterIP, NodePort, LoadBalancer, ExternalName, got the string "Internal"');
  refused(t, svc('{ports: [{port: 80, protocol: ICMP}]}'), ':1: (Service shop/web): spec.ports[0].protocol: expected TCP, UDP or SCTP, got the string "ICMP"');
  refused(t, svc('{clusterIPs: 10.96.0.1}'), ':1: (Service shop/web): spec.clusterIPs: expected a list of strings, got the string "10.96.0.1"');
  refused(t, 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: discovery.k8s.io/v1\n  kind: EndpointSlice\n  metadata: {namespace: shop, name: web-1, labels: {kubernetes.io/service-name: web}}\n  endpoints: [{addresses: [10.244.1.5], conditions: {ready: "yes"}}]\n',
    ':4: items[0] (EndpointSlice shop/web-1): endpoints[0].conditions.ready: expected true or false, got the string "yes"');
  refused(t, 'apiVersion: v1\nkind: Node\nmetadata: {name: a, labels: {zone: 3}}\n', ':1: (Node a): metadata.labels.zone: expected a string, got the number 3');
  refused(t, 'apiVersion: v1\nkind: Node\nmetadata: {name: a}\nstatus: {addresses: [{type: InternalIP}]}\n', ':1: (Node a): status.addresses[0].address: expected a string, got nothing');
});

test('hostile YAML is refused, not expanded or recursed into', (t) => {
  // A "billion laughs": each alias level multiplies the size.
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 12; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  const file = join(tempDir(t, 'nc-cluster-'), 'laughs.yaml');
  writeFileSync(file, `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n${lines.map((l) => '  ' + l).join('\n')}\n`);
  const err = t.throws(() => readClusterFile(file), { instanceOf: InputError });
  t.regex(err!.message, new RegExp(`^${file.replace(/[.]/g, '\\.')}:1: unusable YAML in document 1: Excessive alias count`));

  const deep = join(tempDir(t, 'nc-cluster-'), 'deep.json');
  writeFileSync(deep, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":${'['.repeat(5000)}${']'.repeat(5000)}}`);
  t.is(t.throws(() => readClusterFile(deep), { instanceOf: InputError })?.message, `${deep}: nested deeper than 200 levels; not the output it should be`);
});

test('valid files still read: Lists, typed lists without item kinds, several documents, unknown kinds ignored', (t) => {
  const dir = tempDir(t, 'nc-cluster-');
  const file = join(dir, 'c.yaml');
  writeFileSync(file, [
    'apiVersion: v1', 'kind: NodeList', 'items:', '- metadata: {name: node-b}', '  spec: {podCIDR: 10.244.2.0/24}', '---',
    'apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: anything, namespace: x}', 'data: {k: v}', '---',
    'apiVersion: v1', 'kind: Service', 'metadata: {name: web, namespace: shop}', 'spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}', '---', '',
  ].join('\n'));
  const ctx = readClusterFile(file);
  t.deepEqual(ctx.nodes.map((n) => [n.name, n.podCIDRs]), [['node-b', ['10.244.2.0/24']]]);
  t.deepEqual(ctx.services.map((s) => [s.namespace, s.name, s.clusterIPs, s.ports.map((p) => p.port)]), [['shop', 'web', ['10.96.0.10'], [80]]]);
  const empty = join(dir, 'empty-list.yaml');
  writeFileSync(empty, 'apiVersion: v1\nkind: List\nitems: []\n');
  t.deepEqual(readClusterFile(empty).nodes, []);
});
