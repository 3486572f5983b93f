// The upstream rule dumps (test/fixtures/upstream/) parse, and scanned with a cluster
// context written for their scenario, every service-routing result passes — from the files
// (as a bundle) and, for iptables and nftables, loaded into a real lab namespace.
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readClusterFile } from '../common/cluster.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { scanSnapshot } from '../agent/scan.js';
import type { Finding } from '../common/findings.js';
import type { NodeSnapshot } from '../agent/snapshot.js';
import { parseIptablesSave } from '../agent/dataplane/iptables-save.js';
import { parseNftJson } from '../agent/dataplane/nft-json.js';
import { parseIpvsadm } from '../agent/dataplane/ipvs.js';
import { createLabNode, type LabNode } from './lab/lab.js';
import { fileURLToPath } from 'node:url';
import { systemTool } from '../agent/inspect/dataplane.js';

// Vendored copies of the shared upstream dumps, with their origins (test/fixtures/upstream/README.md).
const UPSTREAM = fileURLToPath(new URL('./fixtures/upstream/', import.meta.url));
const FIX = new URL('./fixtures/dataplane/', import.meta.url).pathname;
const SR = ['service-routing.mode', 'service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules'];
const upstream = (f: string): string => readFileSync(join(UPSTREAM, f), 'utf8');

/** kube-proxy's restore input lacks the jump rules it ensures separately in the built-in chains. */
export function withKubeProxyJumps(restoreInput: string): string {
  const jumps: Record<string, string[]> = {
    filter: [
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      '-A INPUT -j KUBE-FIREWALL',
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -j KUBE-FIREWALL',
    ],
    nat: [
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ],
  };
  // Insert after each table's chain declarations (rules may only name declared chains).
  const out: string[] = [];
  let table = '';
  let pending: string[] = [];
  for (const line of restoreInput.split('\n')) {
    if (line.startsWith('*')) { table = line.slice(1); pending = jumps[table] ?? []; }
    else if (pending.length > 0 && !line.startsWith(':')) { out.push(...pending); pending = []; }
    out.push(line);
  }
  return out.join('\n');
}

/** kube-proxy's nft transaction order declares chains after rules that jump to them; nft -f needs them first. */
export function declarationsFirst(script: string): string {
  const lines = script.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const decl = lines.filter((l) => /^add (table|set|map|chain) /.test(l));
  return [...decl, ...lines.filter((l) => !decl.includes(l)), ''].join('\n');
}

/** `nft -f -` with the system nft: under npx, PATH's `nft` is @vercel/nft (the lab's own nft loader hits that). */
export async function loadNft(lab: LabNode, script: string): Promise<void> {
  await lab.exec(systemTool('nft'), ['-f', '-'], script);
}

function srFindings(snapshot: NodeSnapshot, clusterFile: string): Finding[] {
  return scanSnapshot(snapshot, readClusterFile(join(FIX, clusterFile)), { only: SR }).findings as Finding[];
}

function assertAllPass(t: import('ava').ExecutionContext, findings: readonly Finding[], minimum: number): void {
  const bad = findings.filter((f) => f.status !== 'pass');
  t.deepEqual(bad.map((f) => `${f.status} ${f.check} ${f.subject}: ${f.message}`), []);
  t.true(findings.length >= minimum, `only ${findings.length} results`);
}

function bundle(files: Record<string, string>, node: string): NodeSnapshot {
  const dir = mkdtempSync(join(tmpdir(), 'nc-dp-'));
  try {
    writeFileSync(join(dir, 'node.txt'), node + '\n');
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return readBundle(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('upstream iptables restore input parses: chains, rules, kept unknowns none, probabilities and DNATs typed', (t) => {
  const rs = parseIptablesSave(upstream('iptables-overall.txt'), { backend: 'iptables-nft', family: 4, file: 'iptables-overall.txt' });
  const nat = rs.tables.find((x) => x.name === 'nat')!;
  t.is(nat.chains.get('KUBE-SERVICES')!.rules.length, 10);
  const svc4 = nat.chains.get('KUBE-SVC-4SW47YFZTEDKD3PK')!.rules;
  t.deepEqual(svc4[1]!.matches.find((m) => m.kind === 'random'), { kind: 'random', probability: 0.5 });
  t.deepEqual(nat.chains.get('KUBE-SEP-C6EBXVWJJZMIWKLZ')!.rules[1]!.verdict, { kind: 'dnat', to: { addr: '10.180.0.5', port: 80 } });
  t.deepEqual(nat.chains.get('KUBE-MARK-MASQ')!.rules[0]!.actions, [{ kind: 'mark', value: 0x4000, mask: 0x4000 }]);
  const unknown = rs.tables.flatMap((x) => [...x.chains.values()].flatMap((c) => c.rules.flatMap((r) => r.matches.filter((m) => m.kind === 'unknown'))));
  t.deepEqual(unknown, []);
});

test('upstream iptables fixture (with kube-proxy\'s jump rules) scans all-pass from a bundle', (t) => {
  const snap = bundle({ 'iptables-save.txt': withKubeProxyJumps(upstream('iptables-overall.txt')) }, 'test-node');
  const f = srFindings(snap, 'upstream-cluster.yaml');
  assertAllPass(t, f, 9);
  t.deepEqual(f.filter((x) => x.check === 'service-routing.clusterip').map((x) => x.subject),
    ['ns1/svc1:80/TCP', 'ns2/svc2:80/TCP', 'ns3/svc3:80/TCP', 'ns4/svc4:80/TCP', 'ns5/svc5:80/TCP', 'ns6/svc6:80/TCP']);
  t.deepEqual(f.filter((x) => x.check === 'service-routing.nodeport').map((x) => x.subject), ['ns2/svc2:80/TCP', 'ns3/svc3:80/TCP', 'ns5/svc5:80/TCP']);
  const svc4 = f.find((x) => x.subject === 'ns4/svc4:80/TCP' && x.check === 'service-routing.clusterip')!;
  t.deepEqual(svc4.evidence?.['probabilities'], { '10.180.0.4:80': 0.5, '10.180.0.5:80': 0.5 });
  t.deepEqual(f.find((x) => x.subject === 'ns5/svc5:80/TCP' && x.check === 'service-routing.clusterip')!.evidence?.['affinity'], { expected: 'ClientIP', observed: 'ClientIP' });
});

test('real flannel iptables-save (legacy 1.4.21 formatting) scans all-pass', (t) => {
  const snap = bundle({ 'iptables-save.txt': upstream('iptables-save-flannel-real.txt') }, 'node-1');
  t.is(snap.dataplane?.iptables?.legacy !== undefined, true, 'v1.4.21 output is the legacy backend');
  const f = srFindings(snap, 'flannel-cluster.yaml');
  assertAllPass(t, f, 10);
  const k8s = f.find((x) => x.subject === 'default/kubernetes:443/TCP')!;
  t.deepEqual(k8s.evidence?.['observed'], ['192.168.1.5:6443']);
});

test('upstream nftables transaction, loaded with nft -f in a lab namespace, reads back and scans all-pass', async (t) => {
  const lab = await createLabNode({ pods: 0, bridge: null });
  t.teardown(() => lab.destroy());
  await loadNft(lab, declarationsFirst(upstream('nftables-overall.txt')));
  const snap = await inspectNetns(lab.netns, { node: 'test-node', cniConfDir: '/nonexistent', cniBinDir: '/nonexistent' });
  t.truthy(snap.dataplane?.nftJson, JSON.stringify(Object.keys(snap)));
  const rs = parseNftJson(snap.dataplane!.nftJson!, { file: 'nft.json' });
  const kp = rs.tables.find((x) => x.name === 'ip kube-proxy')!;
  t.is(kp.sets.get('service-ips')!.elements.length, 9);
  const f = srFindings(snap, 'upstream-cluster.yaml');
  assertAllPass(t, f, 9);
  t.deepEqual(f.find((x) => x.subject === 'ns4/svc4:80/TCP' && x.check === 'service-routing.clusterip')!.evidence?.['probabilities'], { '10.180.0.4:80': 0.5, '10.180.0.5:80': 0.5 });
});

test('upstream iptables fixture loaded with iptables-restore (nfacct matches dropped) scans all-pass live', async (t) => {
  const text = withKubeProxyJumps(upstream('iptables-overall.txt')).replace(/ -m nfacct --nfacct-name \S+/g, '');
  const lab = await createLabNode({ pods: 0, bridge: null, iptables: text.split('\n').filter((l) => !l.startsWith('#')).join('\n') });
  t.teardown(() => lab.destroy());
  const snap = await inspectNetns(lab.netns, { node: 'test-node', cniConfDir: '/nonexistent', cniBinDir: '/nonexistent' });
  t.truthy(snap.dataplane?.iptables?.nft);
  assertAllPass(t, srFindings(snap, 'upstream-cluster.yaml'), 9);
});

test('upstream ipvsadm -Ln example parses and scans all-pass', (t) => {
  const vs = parseIpvsadm(upstream('ipvsadm-example.txt'), 'ipvsadm-example.txt');
  t.deepEqual(vs.map((v) => `${v.protocol} ${v.addr}:${v.port} ${v.scheduler} p=${v.persistent} ${v.realServers.map((r) => `${r.addr}:${r.port}/${r.forward}/${r.weight}`).join(',')}`), [
    'TCP 10.0.0.1:443 rr p=10800 192.168.0.1:6443/masq/1',
    'TCP 10.0.0.10:53 rr p=0 172.17.0.2:53/masq/1',
    'UDP 10.0.0.10:53 rr p=0 172.17.0.2:53/masq/1',
  ]);
  const snap = bundle({ 'ipvsadm.txt': upstream('ipvsadm-example.txt') }, 'node-1');
  assertAllPass(t, srFindings(snap, 'ipvsadm-example-cluster.yaml'), 5);
});
