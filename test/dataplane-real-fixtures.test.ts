// Real kube-proxy dumps, kept as bundles where Go and the lab are absent: each release and
// mode recorded by test/kube-proxy-real.test.ts (NETCONFORM_RECORD=1) from a real
// kube-proxy that programmed a lab node from a real API server (see each bundle's README.md).
// Scanned offline against the API objects recorded with it, every service-routing and no-nat
// check passes with the same counts as live; the per-release shapes netconform relies on are
// pinned (what changed from our generator is listed in the commit history and the report).
// The dual-stack recordings (dual-stack/, by test/kube-proxy-dual-stack.test.ts) are judged
// the same way: every IPv4 and IPv6 path passes, with the live counts.
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseClusterObjects, parseClusterText } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { scanSnapshot } from '../agent/scan.js';
import { dataplaneOf } from '../agent/dataplane/load.js';

const DIR = new URL('./fixtures/kube-proxy-real/', import.meta.url).pathname;
const SR = ['service-routing.mode', 'service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules', 'service-routing.kube-proxy', 'no-nat.pod-to-pod'];
const CLUSTERIP = 15;
const NODEPORT = 5;

const bundlesIn = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((d) => existsSync(join(dir, d, 'node.txt'))).sort() : []);
const bundles = bundlesIn(DIR);
const DUAL_DIR = join(DIR, 'dual-stack');
const dualBundles = bundlesIn(DUAL_DIR);
/** Paths of the dual-stack cluster (kube-proxy-dual-stack.test.ts): each family of a Service port under one subject. */
const DUAL_CLUSTERIP = 16;
const DUAL_NODEPORT = 5;
const DUAL_NO_NAT = 4;

test('recordings exist for both pinned releases in both modes', (t) => {
  t.deepEqual(bundles.map((b) => b.replace(/^v\d+\.\d+\.\d+-/, '')).sort(), ['iptables', 'iptables', 'nftables', 'nftables']);
  t.is(new Set(bundles.map((b) => b.split('-')[0])).size, 2);
});

for (const b of bundles) {
  const mode = b.endsWith('-nftables') ? 'nftables' : 'iptables';
  test(`${b}: the recorded dump passes every service-routing and no-nat check offline, with the live counts`, (t) => {
    const dir = join(DIR, b);
    const cluster = parseClusterObjects(parseClusterText(readFileSync(join(dir, 'cluster.json'), 'utf8'), 'cluster.json'));
    const snapshot = readBundle(dir);
    // Timed cold (first scan in this worker for this dump) and warm (best of three more).
    const scan = () => scanSnapshot(snapshot, cluster, { only: SR, now: new Date(snapshot.capturedAt) });
    let t0 = performance.now();
    const r = scan();
    const cold = performance.now() - t0;
    let warm = Infinity;
    for (let i = 0; i < 3; i++) { t0 = performance.now(); scan(); warm = Math.min(warm, performance.now() - t0); }
    t.log(`scan of the real ${b} dump: ${cold.toFixed(1)} ms cold, ${warm.toFixed(1)} ms warm`);
    t.is(r.proxyMode, mode);
    const findings = r.findings as Finding[];
    t.deepEqual(findings.filter((f) => f.status !== 'pass').map((f) => `${f.status} ${f.check} ${f.subject}: ${f.message}`), []);
    t.is(findings.filter((f) => f.check === 'service-routing.clusterip').length, CLUSTERIP);
    t.is(findings.filter((f) => f.check === 'service-routing.nodeport').length, NODEPORT);
    t.is(findings.length, CLUSTERIP + NODEPORT + 3 + 2);
    // Every traced share of a multi-endpoint Service is even to the 6 digits evidence keeps.
    for (const f of findings.filter((x) => x.check === 'service-routing.clusterip')) {
      const p = Object.values((f.evidence!['probabilities'] ?? {}) as Record<string, number>);
      for (const x of p) t.true(Math.abs(x * p.length - 1) < 1e-5, `${f.subject}: ${JSON.stringify(p)}`);
    }
    const dp = dataplaneOf(snapshot)!;
    if (mode === 'iptables') t.truthy(dp.iptables?.tables.find((x) => x.name === 'nat')?.chains.get('KUBE-SERVICES'));
    else t.truthy(dp.nftables?.tables.find((x) => x.name === 'ip kube-proxy'));
  });
}

test('dual-stack recordings exist for both pinned releases in both modes', (t) => {
  t.deepEqual(dualBundles.map((b) => b.replace(/^v\d+\.\d+\.\d+-/, '')).sort(), ['iptables', 'iptables', 'nftables', 'nftables']);
  t.is(new Set(dualBundles.map((b) => b.split('-')[0])).size, 2);
});

for (const b of dualBundles) {
  const mode = b.endsWith('-nftables') ? 'nftables' : 'iptables';
  test(`dual-stack ${b}: the recorded dump passes every service-routing and no-nat check offline, IPv4 and IPv6, with the live counts`, (t) => {
    const dir = join(DUAL_DIR, b);
    const cluster = parseClusterObjects(parseClusterText(readFileSync(join(dir, 'cluster.json'), 'utf8'), 'cluster.json'));
    const snapshot = readBundle(dir);
    const r = scanSnapshot(snapshot, cluster, { only: SR, now: new Date(snapshot.capturedAt) });
    t.is(r.proxyMode, mode);
    const findings = r.findings as Finding[];
    t.deepEqual(findings.filter((f) => f.status !== 'pass').map((f) => `${f.status} ${f.check} ${f.subject}: ${f.message}`), []);
    const v6 = (check: string): number => findings.filter((f) => f.check === check && String(f.evidence?.['path'] ?? f.message).includes('[fd00:')).length;
    t.is(findings.filter((f) => f.check === 'service-routing.clusterip').length, DUAL_CLUSTERIP);
    t.is(v6('service-routing.clusterip'), 8);
    t.is(findings.filter((f) => f.check === 'service-routing.nodeport').length, DUAL_NODEPORT);
    t.is(v6('service-routing.nodeport'), 3);
    t.is(findings.filter((f) => f.check === 'no-nat.pod-to-pod').length, DUAL_NO_NAT);
    t.is(findings.length, DUAL_CLUSTERIP + DUAL_NODEPORT + 3 + DUAL_NO_NAT);
    const dp = dataplaneOf(snapshot)!;
    if (mode === 'iptables') t.truthy(dp.ip6tables?.tables.find((x) => x.name === 'nat')?.chains.get('KUBE-SERVICES'));
    else t.truthy(dp.nftables?.tables.find((x) => x.name === 'ip6 kube-proxy'));
  });
}
