// Real kernel: a lab node with kube-proxy-shaped iptables rules in which shop/single still
// routes to an endpoint the API no longer lists (10.244.2.99:9090), and a kube-proxy
// metrics endpoint served on 127.0.0.1:10249 inside the lab namespace. The agent scans the
// namespace live (the scrape happens from inside it) and from bundles it captured:
//   kube-proxy reports changes pending        → the mismatch warns "converging"
//   synced after the change, nothing pending  → the mismatch fails as always
//   pending and no sync for > stall           → service-routing.kube-proxy fails
//   no metrics, within --settle of the change → converging; past it → fail
//   a running agent's kube-proxy answered, then went silent: skip within the stall window,
//   fail past it, pass once it answers again (the agent's SteadyScanner remembers)
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClusterObjects, parseClusterText, type ClusterContext } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { InputError } from '../common/errors.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { captureBundle } from '../agent/inspect/capture.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { scanSnapshot } from '../agent/scan.js';
import { formatAge } from '../agent/dataplane/convergence.js';
import { SteadyScanner } from '../agent/steady-scan.js';
import type { NodeSnapshot } from '../agent/snapshot.js';
import { renderClusterJson, renderIptables, smallCluster, type ClusterDesc } from '../agent/dataplane/testing/generate.js';
import { createLabNode, type LabNode } from './lab/lab.js';
import { kubeProxyMetricsText, serveInNetns, type SyncState } from './support/kube-proxy-metrics.js';

const ONLY = ['service-routing.clusterip', 'service-routing.nodeport', 'service-routing.kube-proxy'];
const SUBJECT = 'shop/single:8080/TCP';
const PATH = 'ClusterIP 10.96.0.12:8080/TCP';
const STALE = 'stale endpoint 10.244.2.99:9090';
const SETTLE_MS = 30_000;
const STALL_MS = 300_000;

interface Lab { lab: LabNode; cluster: ClusterContext; url: string; dir: string; write: (s: SyncState) => void; stopServer: () => Promise<void> }

async function makeLab(): Promise<Lab> {
  const lab = await createLabNode({ pods: 0, bridge: 'cbr0', uplinkAddress: '192.168.50.2/24' });
  try {
    const api = smallCluster(lab.nodeName);
    const rules: ClusterDesc = { ...api, services: api.services.map((s) => (s.name === 'single' ? { ...s, endpoints: [...s.endpoints, { ip: '10.244.2.99', node: 'node-b' }] } : s)) };
    await lab.exec('iptables-restore', ['-w'], renderIptables(rules));
    const cluster = parseClusterObjects(parseClusterText(renderClusterJson(api), 'cluster.json'));
    const dir = mkdtempSync(join(tmpdir(), 'nc-kp-'));
    const file = join(dir, 'served-metrics.txt');
    writeFileSync(file, '');
    const server = await serveInNetns(lab.netns, file, 10249);
    return { lab, cluster, url: server.url, dir, write: (s) => server.write(kubeProxyMetricsText(s)), stopServer: server.stop };
  } catch (e) {
    await lab.destroy();
    throw e;
  }
}

const withChange = (c: ClusterContext, changedAt: number): ClusterContext => ({
  ...c, services: c.services.map((s) => (s.namespace === 'shop' && s.name === 'single' ? { ...s, changedAt } : s)),
});
const inspect = (l: Lab): Promise<NodeSnapshot> => inspectNetns(l.lab.netns, {
  node: l.lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent',
  kubeProxy: { url: l.url, settleMs: SETTLE_MS, stallMs: STALL_MS },
});
const scan = (snap: NodeSnapshot, c: ClusterContext): Finding[] => scanSnapshot(snap, c, { only: ONLY }).findings as Finding[];
const notPass = (fs: readonly Finding[]): string[] => fs.filter((f) => f.status !== 'pass').map((f) => `${f.status} ${f.check} ${f.subject}`).sort();
const get = (fs: readonly Finding[], check: string, subject: string): Finding => {
  const f = fs.find((x) => x.check === `service-routing.${check}` && x.subject === subject);
  if (!f) throw new Error(`no ${check} finding for ${subject}: ${JSON.stringify(fs.map((x) => [x.check, x.subject]))}`);
  return f;
};
const ageAt = (snap: NodeSnapshot, ms: number): number => Date.parse(snap.capturedAt) - ms;
const secs = (ms: number): number => Math.round(ms / 100) / 10;

/** The scan of the live snapshot, and of the bundle `capture` writes from it, must agree. */
async function liveAndBundle(l: Lab, name: string, c: ClusterContext): Promise<{ snap: NodeSnapshot; live: Finding[]; bundle: Finding[] }> {
  const snap = await inspect(l);
  const out = join(l.dir, name);
  const files = await captureBundle(out, snap, { netns: l.lab.netns });
  if (!files.includes('kube-proxy-metrics.txt')) throw new Error(`capture wrote no kube-proxy-metrics.txt: ${files.join(', ')}`);
  const fromBundle = readBundle(out, undefined, { settleMs: SETTLE_MS, stallMs: STALL_MS });
  return { snap, live: scan(snap, c), bundle: scan(fromBundle, c) };
}

test.serial('kube-proxy converging, synced, stalled; and the settle window without metrics — live and from bundles', async (t) => {
  t.timeout(120_000);
  const l = await makeLab();
  t.teardown(async () => { await l.stopServer(); await l.lab.destroy(); rmSync(l.dir, { recursive: true, force: true }); });

  // 1. kube-proxy has 2 endpoint changes pending: the stale endpoint is convergence, not a fault.
  {
    const lastSyncMs = Date.now() - 3000;
    const c = withChange(l.cluster, Date.now() - 5000);
    l.write({ lastSyncMs, endpointsPending: 2, servicesPending: 0 });
    const { snap, live, bundle } = await liveAndBundle(l, 'pending', c);
    for (const fs of [live, bundle]) {
      t.deepEqual(notPass(fs), [`warn service-routing.clusterip ${SUBJECT}`]);
      const f = get(fs, 'clusterip', SUBJECT);
      t.is(f.severity, 'low');
      t.is(f.message, `${PATH}: converging — kube-proxy reports 2 endpoint changes and 0 service changes pending, last sync ${formatAge(ageAt(snap, lastSyncMs))} ago; not programmed yet: ${STALE}`);
      t.deepEqual(f.evidence!['stale'], ['10.244.2.99:9090']);
      const kp = f.evidence!['kubeProxy'] as Record<string, unknown>;
      t.is(kp['endpointChangesPending'], 2);
      t.is(kp['serviceChangesPending'], 0);
      t.is(kp['lastSyncAgeSeconds'], secs(ageAt(snap, lastSyncMs)));
      t.is(kp['meanSyncSeconds'], 0.02);
      t.is(f.evidence!['serviceChangedAgeSeconds'], secs(ageAt(snap, c.services.find((s) => s.name === 'single')!.changedAt!)));
      t.is(get(fs, 'kube-proxy', `${l.lab.nodeName} kube-proxy`).message, `kube-proxy is converging: 2 endpoint changes and 0 service changes pending, last sync ${formatAge(ageAt(snap, lastSyncMs))} ago (within 5m)`);
    }
    t.is(get(live, 'clusterip', SUBJECT).evidence!['kubeProxy'] && (get(live, 'clusterip', SUBJECT).evidence!['kubeProxy'] as Record<string, unknown>)['source'], l.url);
    t.is((get(bundle, 'clusterip', SUBJECT).evidence!['kubeProxy'] as Record<string, unknown>)['source'], join(l.dir, 'pending', 'kube-proxy-metrics.txt'));
  }

  // 2. kube-proxy synced after the change and nothing is pending: the stale endpoint is real.
  {
    const lastSyncMs = Date.now() - 1000;
    const c = withChange(l.cluster, Date.now() - 10_000);
    l.write({ lastSyncMs, endpointsPending: 0, servicesPending: 0 });
    const { snap, live, bundle } = await liveAndBundle(l, 'synced', c);
    for (const fs of [live, bundle]) {
      t.deepEqual(notPass(fs), [`fail service-routing.clusterip ${SUBJECT}`]);
      const f = get(fs, 'clusterip', SUBJECT);
      t.is(f.severity, 'high');
      t.is(f.message, `${PATH}: ${STALE}`);
      t.is((f.evidence!['kubeProxy'] as Record<string, unknown>)['endpointChangesPending'], 0);
      t.is(get(fs, 'kube-proxy', `${l.lab.nodeName} kube-proxy`).message, `kube-proxy is in sync: nothing pending, last sync ${formatAge(ageAt(snap, lastSyncMs))} ago`);
    }
    // The same scrape, but the Service changed after that sync: kube-proxy has not seen it yet.
    const later = withChange(l.cluster, Date.parse(snap.capturedAt) - 200);
    const f = get(scan(snap, later), 'clusterip', SUBJECT);
    t.is(f.status, 'warn');
    t.is(f.message, `${PATH}: converging — the Service changed 0s ago, after kube-proxy's last sync ${formatAge(ageAt(snap, lastSyncMs))} ago; not programmed yet: ${STALE}`);
  }

  // 3. Changes pending and no sync for 10 minutes: kube-proxy is stalled.
  {
    const lastSyncMs = Date.now() - 600_000;
    l.write({ lastSyncMs, endpointsPending: 3, servicesPending: 1 });
    const { snap, live, bundle } = await liveAndBundle(l, 'stalled', withChange(l.cluster, Date.now() - 5000));
    for (const fs of [live, bundle]) {
      t.deepEqual(notPass(fs), [`fail service-routing.kube-proxy ${l.lab.nodeName} kube-proxy`, `warn service-routing.clusterip ${SUBJECT}`]);
      const f = get(fs, 'kube-proxy', `${l.lab.nodeName} kube-proxy`);
      t.is(f.severity, 'high');
      t.is(f.message, `kube-proxy is stalled: 3 endpoint changes and 1 service change pending and its last successful sync was ${formatAge(ageAt(snap, lastSyncMs))} ago (more than 5m); Service changes are not reaching this node's dataplane — check kube-proxy's logs`);
      t.is(f.evidence!['endpointChangesPending'], 3);
      t.is(f.evidence!['serviceChangesPending'], 1);
      t.is(f.evidence!['lastSyncAgeSeconds'], secs(ageAt(snap, lastSyncMs)));
      t.is(f.evidence!['stallSeconds'], 300);
    }
  }

  // 4. No metrics (nothing listens any more): the settle window decides.
  await l.stopServer();
  {
    const snap = await inspect(l);
    const now = Date.parse(snap.capturedAt);
    const recent = scan(snap, withChange(l.cluster, now - 5000));
    t.deepEqual(notPass(recent), [`skip service-routing.kube-proxy ${l.lab.nodeName} kube-proxy`, `warn service-routing.clusterip ${SUBJECT}`]);
    t.is(get(recent, 'kube-proxy', `${l.lab.nodeName} kube-proxy`).message, `skipped: kube-proxy's metrics are unavailable (${l.url}: ECONNREFUSED)`);
    const f = get(recent, 'clusterip', SUBJECT);
    t.is(f.message, `${PATH}: converging — the Service changed 5s ago, within the 30s settle window, and kube-proxy's metrics are unavailable (${l.url}: ECONNREFUSED); not programmed yet: ${STALE}`);
    t.is(f.evidence!['settleSeconds'], 30);
    const old = scan(snap, withChange(l.cluster, now - 31_000));
    t.deepEqual(notPass(old), [`fail service-routing.clusterip ${SUBJECT}`, `skip service-routing.kube-proxy ${l.lab.nodeName} kube-proxy`]);
    t.is(get(old, 'clusterip', SUBJECT).message, `${PATH}: ${STALE}`);
    // No changedAt (a cluster file) and no metrics: judged as always.
    t.deepEqual(notPass(scan(snap, l.cluster)), [`fail service-routing.clusterip ${SUBJECT}`, `skip service-routing.kube-proxy ${l.lab.nodeName} kube-proxy`]);
    // A bundle without kube-proxy-metrics.txt: no facet, judged as always, even with changedAt.
    const out = join(l.dir, 'no-metrics');
    const files = await captureBundle(out, snap, { netns: l.lab.netns });
    t.false(files.includes('kube-proxy-metrics.txt'));
    const fromBundle = readBundle(out);
    t.is(fromBundle.kubeProxy, undefined);
    const fs = scan(fromBundle, withChange(l.cluster, now - 5000));
    t.deepEqual(notPass(fs), [`fail service-routing.clusterip ${SUBJECT}`, `skip service-routing.kube-proxy ${l.lab.nodeName} kube-proxy`]);
    t.is(get(fs, 'kube-proxy', `${l.lab.nodeName} kube-proxy`).message, "skipped: no kube-proxy-metrics.txt (a scrape of kube-proxy's /metrics)");
  }
});

test.serial('a running agent: kube-proxy answered, then went silent — skip within the stall window, fail past it, pass when it answers again', async (t) => {
  t.timeout(120_000);
  const l = await makeLab();
  let serverUp = true;
  t.teardown(async () => { if (serverUp) await l.stopServer(); await l.lab.destroy(); rmSync(l.dir, { recursive: true, force: true }); });
  const stallMs = 2000;
  const scanner = new SteadyScanner({
    reverifyMs: 0,
    inspect: () => inspectNetns(l.lab.netns, { node: l.lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent', kubeProxy: { url: l.url, settleMs: SETTLE_MS, stallMs } }),
  });
  const kubeProxy = async (): Promise<Finding> => {
    const r = await scanner.scan(l.cluster);
    return get(r.result.findings as Finding[], 'kube-proxy', `${l.lab.nodeName} kube-proxy`);
  };
  l.write({ lastSyncMs: Date.now() - 1000, endpointsPending: 0, servicesPending: 0 });
  t.is((await kubeProxy()).status, 'pass');

  await l.stopServer();
  serverUp = false;
  const unavailable = `${l.url}: ECONNREFUSED`;
  const soon = await kubeProxy();
  t.is(soon.status, 'skip');
  t.regex(soon.message, new RegExp(`^skipped: kube-proxy's metrics are unavailable \\(${unavailable.replace(/[.:/]/g, '\\$&')}\\); it last answered \\d+s ago, and silence longer than 2s fails$`));
  t.like(soon.evidence, { source: l.url, unavailable, stallSeconds: 2 });

  await new Promise((r) => setTimeout(r, stallMs + 200));
  const silent = await kubeProxy();
  t.is(silent.status, 'fail');
  t.is(silent.severity, 'high');
  const ev = silent.evidence as Record<string, unknown>;
  t.true((ev['silentSeconds'] as number) > 2, JSON.stringify(ev));
  t.is(silent.message, `kube-proxy has not answered for ${formatAge((ev['silentSeconds'] as number) * 1000)} (more than 2s): ${unavailable}; its rules are still on the node, frozen at its last sync, and no Service change since reaches this node's dataplane — check that kube-proxy is running`);
  t.is(ev['lastAnsweredAt'], (soon.evidence as Record<string, unknown>)['lastAnsweredAt']);

  // A one-off scan of the same node remembers nothing: it cannot tell stopped from never there.
  const once = get(scan(await inspect(l), l.cluster), 'kube-proxy', `${l.lab.nodeName} kube-proxy`);
  t.is(once.message, `skipped: kube-proxy's metrics are unavailable (${unavailable})`);

  // kube-proxy is back (a new server on the same port): in sync again.
  const back = await serveInNetns(l.lab.netns, join(l.dir, 'served-metrics.txt'), 10249);
  t.teardown(() => back.stop());
  back.write(kubeProxyMetricsText({ lastSyncMs: Date.now() - 500, endpointsPending: 0, servicesPending: 0 }));
  const again = await kubeProxy();
  t.is(again.status, 'pass');
  t.regex(again.message, /^kube-proxy is in sync: nothing pending, last sync \d+s ago$/);
});

test('a malformed kube-proxy-metrics.txt in a bundle is an error naming its line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nc-kp-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'kube-proxy-metrics.txt'), '# TYPE kubeproxy_sync_proxy_rules_endpoint_changes_pending gauge\nkubeproxy_sync_proxy_rules_endpoint_changes_pending{a="1" 3\n');
  const e = t.throws(() => readBundle(dir), { instanceOf: InputError })!;
  t.is(e.message, `${join(dir, 'kube-proxy-metrics.txt')}:2:59: expected "," or "}" after a label, found "3"`);
});
