// The collector's Kubernetes watcher against the real kube-apiserver and etcd, with the
// real @kubernetes/client-node, as the collector's ServiceAccount (a token bound to its Pod)
// holding exactly manifests/base/rbac.yaml's netconform-collector ClusterRole: contexts
// from the listed objects, changes pushed and coalesced, watches resumed after the network
// drops them, a real 410 Gone relisted, status churn ignored, pages followed. Three tests
// keep the fake server, each for a reason it states: the real one cannot be made to do it.
//
// Services bypass the API server's watch cache here (--watch-cache-sizes=services#0): a
// resumed Service watch then reads etcd, and etcd's compaction gives the real 410.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterContext } from '../common/cluster.js';
import { createLogger, type Logger } from '../common/log.js';
import { loadKubeConfig } from '../kube/config.js';
import { ClusterWatcher, type ClusterWatcherOptions } from '../kube/watcher.js';
import { FakeApiServer, type FakeApiServerOptions, type Obj } from './kube/fake-apiserver.js';
import { endpointSlice, namespace, node, service, smallCluster, WEB_PORTS } from './kube/fixtures.js';
import { ControlPlane } from './lab/control-plane.js';
import { applyFixture, deleteFixture } from './lab/apply-fixture.js';
import { ApiLink } from './lab/api-link.js';
import { COLLECTOR_SA, NETCONFORM_NS, createPod, installNetconformRbac, podToken } from './lab/netconform-identity.js';

interface Emitted {
  readonly ctx: ClusterContext;
  readonly version: number;
}

interface Rig {
  readonly watcher: ClusterWatcher;
  readonly contexts: Emitted[];
  readonly logs: string[];
  /** Resolves with the first context (emitted from now on, or the latest) that satisfies `pred`. */
  waitFor(pred: (ctx: ClusterContext) => boolean, what: string, timeoutMs?: number): Promise<Emitted>;
  close(): Promise<void>;
}

interface FakeRig extends Rig {
  readonly server: FakeApiServer;
}

let cp: ControlPlane;
let collectorToken: string;

test.before(async () => {
  cp = await ControlPlane.start({ apiServerFlags: ['--watch-cache-sizes=services#0'] });
  await installNetconformRbac(cp);
  const pod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-collector-0', node: 'node-cp', serviceAccount: COLLECTOR_SA });
  collectorToken = await podToken(cp, pod, COLLECTOR_SA);
  for (const o of smallCluster()) await put(o);
});
test.after.always(async () => { await cp?.stop(); });

const put = (o: Obj): Promise<void> => applyFixture(cp, o);
const remove = (kind: string, ns: string | undefined, name: string): Promise<void> => deleteFixture(cp, kind, ns, name);

function collect(watcherOpts: Partial<ClusterWatcherOptions>, kubeConfig: ClusterWatcherOptions['kubeConfig'], cleanup: () => Promise<void>): Rig {
  const contexts: Emitted[] = [];
  const logs: string[] = [];
  const logger: Logger = createLogger({ component: 'test' }, 'debug', (line) => logs.push(line));
  let notify: (() => void) | undefined;
  const watcher = new ClusterWatcher({
    kubeConfig, logger, debounceMs: 50, maxDelayMs: 500, backoffInitialMs: 20, backoffMaxMs: 200,
    onContext: (ctx, version) => {
      contexts.push({ ctx, version });
      notify?.();
    },
    ...watcherOpts,
  });
  watcher.start();
  return {
    watcher, contexts, logs,
    async waitFor(pred, what, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = contexts.find((c) => pred(c.ctx));
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what} (got ${contexts.length} contexts)`);
        await new Promise<void>((resolve) => {
          notify = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
    async close() {
      await watcher.stop();
      await cleanup();
    },
  };
}

/** The collector's watcher on the real API server, through a link the test can cut. */
async function rig(watcherOpts: Partial<ClusterWatcherOptions> = {}): Promise<Rig & { link: ApiLink }> {
  const link = await ApiLink.open(cp.port);
  const kubeConfig = loadKubeConfig(cp.kubeconfig(`collector-${link.port}`, { token: collectorToken }, link.url));
  return { ...collect(watcherOpts, kubeConfig, () => link.close()), link };
}

const endpointsOf = (ctx: ClusterContext, ns: string, name: string): string[] =>
  ctx.services.find((s) => s.namespace === ns && s.name === name)?.ports.flatMap((p) => p.endpoints.filter((e) => e.ready).map((e) => `${e.address}:${e.port}`)) ?? [];
const servicesIn = (ctx: ClusterContext, ns: string): string[] => ctx.services.filter((s) => s.namespace === ns).map((s) => s.name).sort();

const settle = (ms = 300): Promise<void> => new Promise((r) => setTimeout(r, ms));

// The tests share one API server and the watcher sees the whole cluster: one at a time,
// each in namespaces (and with nodes) of its own.
test.serial('builds the cluster context from the listed objects, over TLS with a bound ServiceAccount token', async (t) => {
  const r = await rig();
  try {
    const first = await r.waitFor((c) => servicesIn(c, 'shop').length > 0, 'first context');
    t.is(first.version, 1);
    const ctx = first.ctx;
    t.deepEqual(ctx.nodes.filter((n) => n.name.startsWith('node-') && n.name !== 'node-cp').map((n) => [n.name, n.podCIDRs[0], n.internalIPs[0], n.maxPods]), [
      ['node-a', '10.244.0.0/24', '192.0.2.10', 110],
      ['node-b', '10.244.1.0/24', '192.0.2.11', 110],
    ]);
    t.deepEqual(ctx.services.map((s) => `${s.namespace}/${s.name}`), ['default/kubernetes', 'shop/web']);
    t.deepEqual(endpointsOf(ctx, 'shop', 'web'), ['10.244.0.5:8080']);
    t.is(ctx.services.find((s) => s.name === 'web')!.clusterIPs[0], '10.96.0.20');
    t.is(ctx.namespaces.find((n) => n.name === 'shop')?.labels['pod-security.kubernetes.io/enforce'], 'baseline');
    // Workloads for PSA what-if: kind set, status and the server's managedFields dropped.
    const pod = ctx.workloads.find((w) => w.kind === 'Pod' && w.metadata?.name === 'web-0');
    t.truthy(pod);
    t.is(pod?.apiVersion, 'v1');
    t.is(pod?.['status'], undefined);
    t.is(pod?.metadata?.['managedFields'], undefined);
    t.truthy(ctx.workloads.find((w) => w.kind === 'Deployment' && w.metadata?.name === 'web'));
    t.true(r.watcher.synced);
    // ServiceCIDR is GA and served: the API server's own, from --service-cluster-ip-range.
    t.deepEqual(ctx.serviceCIDRs, ['10.96.0.0/16']);
    // Every kind was listed once (the role allows each), then watched.
    const kinds = r.watcher.status().kinds;
    t.is(Object.keys(kinds).length, 14);
    t.deepEqual(Object.entries(kinds).filter(([, s]) => s.lists !== 1 || s.errors !== 0).map(([k, s]) => `${k}: ${s.lists} lists, ${s.lastError}`), []);
    t.true(Object.values(kinds).every((s) => /^\d+$/.test(s.resourceVersion)));
  } finally {
    await r.close();
  }
});

test.serial('a Service gaining an endpoint emits a new context that reflects it', async (t) => {
  await put(namespace('w2'));
  await put(node('node-w2', '10.244.9.0/24', '192.0.2.29'));
  await put(service('w2', 'web', '10.96.0.120', WEB_PORTS));
  await put(endpointSlice('w2', 'web', 'web-abc12', [{ ip: '10.244.0.15', node: 'node-a' }], WEB_PORTS));
  const r = await rig();
  try {
    const first = await r.waitFor((c) => endpointsOf(c, 'w2', 'web').length === 1, 'first context');
    await put(endpointSlice('w2', 'web', 'web-abc12', [
      { ip: '10.244.0.15', node: 'node-a' },
      { ip: '10.244.1.17', node: 'node-b' },
    ], WEB_PORTS));
    const next = await r.waitFor((c) => endpointsOf(c, 'w2', 'web').length === 2, 'second endpoint');
    t.true(next.version > first.version);
    t.deepEqual(endpointsOf(next.ctx, 'w2', 'web').sort(), ['10.244.0.15:8080', '10.244.1.17:8080']);
    t.is(next.ctx.services.find((s) => s.namespace === 'w2')!.ports[0]!.endpoints.find((e) => e.address === '10.244.1.17')?.nodeName, 'node-b');

    // A new Service with its slice, then the removal of a Node.
    await put(service('w2', 'api', '10.96.0.130', WEB_PORTS));
    await put(endpointSlice('w2', 'api', 'api-x1', [{ ip: '10.244.1.19', node: 'node-b' }], WEB_PORTS));
    await remove('Node', undefined, 'node-w2');
    const later = await r.waitFor((c) => servicesIn(c, 'w2').length === 2 && !c.nodes.some((n) => n.name === 'node-w2'), 'api service and node-w2 gone');
    t.deepEqual(endpointsOf(later.ctx, 'w2', 'api'), ['10.244.1.19:8080']);
  } finally {
    await r.close();
  }
});

test.serial('watches cut by the network resume from the last resourceVersion, without a relist', async (t) => {
  const r = await rig();
  try {
    await r.waitFor((c) => servicesIn(c, 'shop').length === 1, 'first context');
    await settle(200);
    const before = r.watcher.status().kinds;
    r.link.cut();
    // Changed while the watches are down: must arrive through the resumed watch.
    await put(namespace('late', { team: 'x' }));
    r.link.restore();
    const ctx = await r.waitFor((c) => c.namespaces.some((n) => n.name === 'late'), 'namespace created while disconnected');
    t.is(ctx.ctx.namespaces.find((n) => n.name === 'late')?.labels['team'], 'x');
    const after = r.watcher.status().kinds;
    t.deepEqual(Object.keys(after).filter((k) => after[k]!.lists !== before[k]!.lists), [], 'no relist');
    t.true(Object.keys(after).every((k) => after[k]!.watches > before[k]!.watches), 'every kind watched again');
    t.true(after['Namespace']!.errors > before['Namespace']!.errors, 'the cut was seen');
  } finally {
    await r.close();
  }
});

test.serial('410 Gone in the watch stream (etcd compacted past the version) makes the watcher list again', async (t) => {
  await put(namespace('w4'));
  const r = await rig();
  try {
    await r.waitFor((c) => servicesIn(c, 'shop').length === 1, 'first context');
    await settle(200);
    const before = r.watcher.status().kinds;
    r.link.cut();
    await put(service('w4', 'after-410', '10.96.0.141', WEB_PORTS));
    await put(service('w4', 'also-after', '10.96.0.142', WEB_PORTS));
    await cp.compactEtcd();
    r.link.restore();
    await r.waitFor((c) => servicesIn(c, 'w4').length === 2, 'services after the relist');
    const after = r.watcher.status().kinds;
    t.is(after['Service']!.lists, before['Service']!.lists + 1);
    t.is(after['Service']!.expired, 1);
    t.is(after['Namespace']!.expired, 0, 'a kind in the watch cache resumes from memory after a compaction');
    t.true(r.logs.some((l) => l.includes('410 Gone')));
  } finally {
    await r.close();
  }
});

// Fake server: the real one answers a watch from a compacted version with HTTP 200 and an
// ERROR event (the test above), never with HTTP 410; kept for a proxy or server that does.
test.serial('HTTP 410 on a watch from a compacted version makes the watcher list again', async (t) => {
  const r = await fakeRig({ expiredAs: 'http' });
  try {
    await r.waitFor((c) => c.services.length === 1, 'first context');
    await r.server.waitForWatches(undefined);
    r.server.upsert(service('shop', 'gone-by', '10.96.0.42', WEB_PORTS));
    r.server.compact();
    r.server.dropWatches();
    r.server.upsert(service('shop', 'after-compaction', '10.96.0.43', WEB_PORTS));
    const got = await r.waitFor((c) => c.services.some((s) => s.name === 'after-compaction'), 'relisted');
    t.true(got.ctx.services.some((s) => s.name === 'gone-by'));
    t.true(r.server.requests.some((q) => q.watch && q.status === 410));
    t.true(r.watcher.status().kinds['Service']!.lists >= 2);
  } finally {
    await r.close();
  }
});

// Fake server: the real one validates every object and writes well-formed JSON lines, so
// malformed objects and junk in the stream cannot come from it.
test.serial('malformed objects and lines are logged and skipped; the watcher carries on', async (t) => {
  // Present at the first list …
  const r = await fakeRig({}, {}, (s) => {
    s.putRaw('Service', 'no-metadata', { spec: { ports: 5 } });
    s.putRaw('Service', 'bad-type', { metadata: { name: 'weird', namespace: 'shop' }, spec: { type: 'Teleport', ports: 'x' } });
    s.putRaw('EndpointSlice', 'unlabelled', { metadata: { name: 'orphan', namespace: 'shop' }, endpoints: 7 });
    s.putRaw('Node', 'status-is-text', { metadata: { name: 'odd-node' }, spec: { podCIDRs: 'nope' }, status: 'broken' });
  });
  try {
    await r.waitFor((c) => c.services.length === 1, 'first context');
    await r.server.waitForWatches(undefined);
    // … and arriving through the watch, with junk lines in the stream.
    r.server.sendRawLine('Service', '{not json');
    r.server.sendRawLine('Service', JSON.stringify({ type: 'MYSTERY', object: {} }));
    r.server.putRaw('Service', 'watch-no-name', { metadata: { namespace: 'shop' } });
    r.server.upsert(service('shop', 'good-after-junk', '10.96.0.50', WEB_PORTS));
    const got = await r.waitFor((c) => c.services.some((s) => s.name === 'good-after-junk'), 'good service after junk');
    t.deepEqual(got.ctx.services.map((s) => s.name).sort(), ['good-after-junk', 'web']);
    t.true(got.ctx.nodes.some((n) => n.name === 'odd-node' && n.podCIDRs.length === 0), 'odd node kept with what can be read');
    const warnings = r.logs.filter((l) => l.includes('"level":"warn"'));
    t.true(warnings.some((l) => l.includes('malformed object')), 'no-name objects logged');
    t.true(warnings.some((l) => l.includes('Teleport')), 'unknown service type logged');
    t.true(warnings.some((l) => l.includes('service-name label')), 'orphan slice logged');
    t.true(warnings.some((l) => l.includes('MYSTERY')), 'unknown event type logged');
    t.true(r.watcher.status().kinds['Service']!.skipped >= 2);
  } finally {
    await r.close();
  }
});

test.serial('a burst of watch events yields few coalesced contexts, the last one complete', async (t) => {
  await put(namespace('load'));
  const r = await rig({ debounceMs: 1000, maxDelayMs: 5000 });
  try {
    const first = await r.waitFor((c) => servicesIn(c, 'shop').length === 1, 'first context');
    await settle(300);
    const t0 = Date.now();
    // 600 writes, eight at a time, as fast as the API server takes them.
    const writes = Array.from({ length: 300 }, (_, i) => [
      service('load', `svc-${i}`, `10.96.${2 + Math.floor(i / 250)}.${(i % 250) + 1}`, WEB_PORTS),
      endpointSlice('load', `svc-${i}`, `svc-${i}-a`, [{ ip: `10.244.0.${(i % 250) + 1}`, node: 'node-a' }], WEB_PORTS),
    ]);
    for (let i = 0; i < writes.length; i += 8) await Promise.all(writes.slice(i, i + 8).map(async ([s, e]) => { await put(s!); await put(e!); }));
    const writeMs = Date.now() - t0;
    const last = await r.waitFor((c) => servicesIn(c, 'load').length === 300 && c.services.filter((s) => s.namespace === 'load' && s.ports[0]!.endpoints.length === 1).length === 300, 'all 300 services with their endpoint', 60_000);
    await settle(1500);
    const after = r.contexts.filter((c) => c.version > first.version);
    // While writes keep coming less than debounceMs apart, a context goes out every maxDelayMs.
    const bound = Math.ceil(writeMs / 5000) + 2;
    t.true(after.length <= bound, `600 events over ${writeMs} ms gave ${after.length} contexts (at most ${bound})`);
    t.is(r.contexts.at(-1)!.version, last.version);
  } finally {
    await r.close();
  }
});

test.serial('status-only churn (pod phase to Running, node heartbeat) emits no new context; a pod that ends emits one', async (t) => {
  await put(namespace('churn'));
  await put({ kind: 'Pod', metadata: { name: 'job-0', namespace: 'churn' }, spec: { nodeName: 'node-a', restartPolicy: 'Never', containers: [{ name: 'app', image: 'registry.example/app:1' }] } });
  const r = await rig();
  try {
    await r.waitFor((c) => c.workloads.some((w) => w.metadata?.name === 'job-0'), 'first context');
    await settle(300);
    const count = r.contexts.length;
    const podStatus = (phase: string, ready: string): Obj => ({ kind: 'Pod', metadata: { name: 'job-0', namespace: 'churn' }, spec: {}, status: { phase, conditions: [{ type: 'Ready', status: ready }] } });
    await cp.applyStatus({ apiVersion: 'v1', ...podStatus('Running', 'True') }, 'lab-kubelet');
    const nodeA = smallCluster().find((o) => o['kind'] === 'Node')!;
    await cp.applyStatus({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' }, status: { ...(nodeA['status'] as object), conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ok', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] } }, 'lab-kubelet');
    await settle(600);
    t.is(r.contexts.length, count);
    // A terminal phase is kept (a finished pod holds no address: the migration inventory
    // does not count it), so it is one change, and only the phase is kept of the status.
    await cp.applyStatus({ apiVersion: 'v1', ...podStatus('Succeeded', 'False') }, 'lab-kubelet');
    await settle(600);
    t.is(r.contexts.length, count + 1);
    t.deepEqual(r.watcher.objects().find((o) => o.kind === 'Pod' && o.metadata?.name === 'job-0')?.['status'], { phase: 'Succeeded' });
  } finally {
    await r.close();
  }
});

// Fake server: the real one cannot be made to fail a list with a 5xx on demand.
test.serial('server errors are retried with backoff until the lists succeed', async (t) => {
  const server = await FakeApiServer.start();
  server.failNext('Service', 500, 3);
  server.failNext('Node', 503, 2);
  for (const o of smallCluster()) server.upsert(o);
  const dir = mkdtempSync(join(tmpdir(), 'kube-watcher-'));
  const logs: string[] = [];
  const contexts: ClusterContext[] = [];
  const watcher = new ClusterWatcher({
    kubeConfig: loadKubeConfig(server.writeKubeconfig(join(dir, 'kubeconfig'))),
    logger: createLogger({ component: 'test' }, 'warn', (l) => logs.push(l)),
    debounceMs: 20,
    backoffInitialMs: 20,
    backoffMaxMs: 100,
    onContext: (ctx) => contexts.push(ctx),
  });
  watcher.start();
  try {
    await watcher.waitSynced();
    await settle(150);
    t.is(contexts.length, 1);
    t.is(contexts[0]!.services.length, 1);
    t.is(watcher.status().kinds['Service']!.errors, 3);
    t.is(watcher.status().kinds['Node']!.errors, 2);
    t.true(logs.some((l) => l.includes('retrying') && l.includes('HTTP 500')));
  } finally {
    await watcher.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('ServiceCIDR objects give the context its service CIDRs; pages are followed', async (t) => {
  await cp.create({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'extra' }, spec: { cidrs: ['10.97.0.0/16'] } });
  const r = await rig({ pageLimit: 2 });
  try {
    const got = await r.waitFor((c) => c.serviceCIDRs.length === 2, 'both service CIDRs');
    // In the order of the objects' names, as the API lists them: extra, then kubernetes.
    t.deepEqual(got.ctx.serviceCIDRs, ['10.97.0.0/16', '10.96.0.0/16']);
    const nodes = (JSON.parse(cp.kubectl(['get', 'nodes', '-o', 'json'])) as { items: unknown[] }).items.length;
    t.true(nodes > 2, `${nodes} nodes: more than one page of 2`);
    t.is(got.ctx.nodes.length, nodes, 'every node read across the pages');
    t.is(r.watcher.status().kinds['Node']!.objects, nodes);
  } finally {
    await r.close();
  }
});

async function fakeRig(
  serverOpts: FakeApiServerOptions = {},
  watcherOpts: Partial<ClusterWatcherOptions> = {},
  seed: (server: FakeApiServer) => void = () => undefined,
): Promise<FakeRig> {
  const server = await FakeApiServer.start(serverOpts);
  for (const o of smallCluster()) server.upsert(o);
  seed(server);
  const dir = mkdtempSync(join(tmpdir(), 'kube-watcher-'));
  const kubeConfig = loadKubeConfig(server.writeKubeconfig(join(dir, 'kubeconfig')));
  const rig = collect(watcherOpts, kubeConfig, async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { ...rig, server };
}

