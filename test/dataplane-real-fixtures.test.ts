// Real kube-proxy dumps, kept as bundles where Go and the lab are absent: each release and
// mode recorded by test/kube-proxy-real.test.ts (NETCONFORM_RECORD=1) from a real
// kube-proxy that programmed a lab node from a real API server (see each bundle's README.md).
// Scanned offline against the API objects recorded with it, every service-routing and no-nat
// check passes with the same counts as live; the per-release shapes netconform relies on are
// pinned (what changed from our generator is listed in the commit history and the report).
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

const bundles = existsSync(DIR) ? readdirSync(DIR).filter((d) => existsSync(join(DIR, d, 'node.txt'))).sort() : [];

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
