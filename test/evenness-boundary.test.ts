// The evenness judgement at its boundary (agent/dataplane/routing.ts, SHARE_TOLERANCE): a
// split just outside the tolerance must fail as uneven — 0.335 / 0.3325 / 0.3325 and the
// closer 0.3337 / 0.33315 / 0.33315 — while what kube-proxy really writes passes: its
// `%0.10f` probabilities as the kernel stores them (2^-31 steps, printed with 11 digits by
// iptables-save), the 5-digit probabilities of old releases, and nftables' `numgen mod N`.
// Rules are loaded into a lab namespace and read back live, as on a node; the real
// kube-proxy dumps in test/fixtures/kube-proxy-real/ pass in dataplane-real-fixtures.test.ts.
import test from 'ava';
import { parseClusterObjects, parseClusterText } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { systemTool } from '../agent/inspect/dataplane.js';
import { scanSnapshot } from '../agent/scan.js';
import { hashName, renderClusterJson, renderIptables, renderNft, smallCluster } from '../agent/dataplane/testing/generate.js';
import { createLabNode } from './lab/lab.js';

const SUBJECT = 'shop/web:80/TCP';
const EPS = ['10.244.1.11:8080', '10.244.2.12:8080', '10.244.2.13:8080'];

async function scanWeb(load: (exec: (cmd: string, args: readonly string[], input?: string) => Promise<string>, node: string) => Promise<unknown>): Promise<Finding> {
  const lab = await createLabNode({ pods: 0, bridge: 'cbr0', uplinkAddress: '192.168.50.2/24' });
  try {
    await load(lab.exec, lab.nodeName);
    const cluster = parseClusterObjects(parseClusterText(renderClusterJson(smallCluster(lab.nodeName)), 'cluster.json'));
    const snap = await inspectNetns(lab.netns, { node: lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent' });
    const f = scanSnapshot(snap, cluster, { only: ['service-routing.clusterip'] }).findings.find((x) => x.subject === SUBJECT);
    if (!f) throw new Error(`no finding for ${SUBJECT}`);
    return f as Finding;
  } finally {
    await lab.destroy();
  }
}

/** shop/web:http's KUBE-SVC chain with its two statistic probabilities replaced. */
function iptablesWith(node: string, p0: string, p1: string): string {
  const chain = `KUBE-SVC-${hashName('shop/web:httptcp', 16)}`;
  let k = 0;
  const text = renderIptables(smallCluster(node)).split('\n').map((l) => {
    if (!l.startsWith(`-A ${chain} `) || !l.includes('--probability')) return l;
    return l.replace(/--probability \S+/, `--probability ${k++ === 0 ? p0 : p1}`);
  }).join('\n');
  if (k !== 2) throw new Error(`expected 2 statistic rules in ${chain}, replaced ${k}`);
  return text;
}

/** shop/web:http's numgen vmap with `slots[i]` numbers going to endpoint i (mod = their sum). */
function nftWith(node: string, slots: readonly number[]): string {
  const base = 'shop/web/tcp/http';
  const chain = `service-${hashName(base, 8)}-${base}`;
  const ends = EPS.map((e) => { const tail = `${base}__${e.replace(':', '/')}`; return `endpoint-${hashName(tail, 8)}-${tail}`; });
  const mod = slots.reduce((a, b) => a + b, 0);
  const entries: string[] = [];
  slots.forEach((n, i) => { for (let j = 0; j < n; j++) entries.push(`${entries.length} : goto ${ends[i]}`); });
  let replaced = 0;
  const text = renderNft(smallCluster(node)).split('\n').map((l) => {
    if (!l.startsWith(`add rule ip kube-proxy ${chain} numgen`)) return l;
    replaced++;
    return `add rule ip kube-proxy ${chain} numgen random mod ${mod} vmap { ${entries.join(' , ')} }`;
  }).join('\n');
  if (replaced !== 1) throw new Error(`expected one numgen rule in ${chain}, found ${replaced}`);
  return text;
}

const shares = (f: Finding): number[] => EPS.map((e) => (f.evidence!['probabilities'] as Record<string, number>)[e]!);

test('iptables: 0.335 / 0.3325 / 0.3325 fails as uneven, naming every share', async (t) => {
  const f = await scanWeb((exec, node) => exec('iptables-restore', ['-w'], iptablesWith(node, '0.3350000000', '0.5000000000')));
  t.is(f.status, 'fail');
  t.is(f.message, `ClusterIP 10.96.0.10:80/TCP: uneven load balancing: 10.244.1.11:8080 gets 33.50%, 10.244.2.12:8080 gets 33.25%, 10.244.2.13:8080 gets 33.25% instead of 33.33% each`);
  t.deepEqual(shares(f), [0.335, 0.3325, 0.3325]);
});

test('iptables: 0.3337 / 0.33315 / 0.33315 (0.11% off an even share) still fails as uneven', async (t) => {
  const f = await scanWeb((exec, node) => exec('iptables-restore', ['-w'], iptablesWith(node, '0.3337000000', '0.5000000000')));
  t.is(f.status, 'fail');
  t.regex(f.message, /uneven load balancing/);
});

test("iptables: kube-proxy's %0.10f probabilities, stored in 2^-31 steps, pass; so do old releases' 5 digits", async (t) => {
  const now = await scanWeb((exec, node) => exec('iptables-restore', ['-w'], iptablesWith(node, (1 / 3).toFixed(10), (1 / 2).toFixed(10))));
  t.is(now.status, 'pass', now.message);
  for (const p of shares(now)) t.true(Math.abs(p - 1 / 3) < 1e-6, String(p));
  const old = await scanWeb((exec, node) => exec('iptables-restore', ['-w'], iptablesWith(node, (1 / 3).toFixed(5), (1 / 2).toFixed(5))));
  t.is(old.status, 'pass', old.message);
});

test('nftables: numgen mod 400 split 134 / 133 / 133 (0.335 / 0.3325 / 0.3325) fails as uneven; mod 3 and mod 399 pass', async (t) => {
  const uneven = await scanWeb((exec, node) => exec(systemTool('nft'), ['-f', '-'], nftWith(node, [134, 133, 133])));
  t.is(uneven.status, 'fail');
  t.deepEqual(shares(uneven), [0.335, 0.3325, 0.3325]);
  t.regex(uneven.message, /uneven load balancing: 10\.244\.1\.11:8080 gets 33\.50%, 10\.244\.2\.12:8080 gets 33\.25%/);
  const even = await scanWeb((exec, node) => exec(systemTool('nft'), ['-f', '-'], nftWith(node, [133, 133, 133])));
  t.is(even.status, 'pass', even.message);
  const kubeProxy = await scanWeb((exec, node) => exec(systemTool('nft'), ['-f', '-'], nftWith(node, [1, 1, 1])));
  t.is(kubeProxy.status, 'pass', kubeProxy.message);
});
