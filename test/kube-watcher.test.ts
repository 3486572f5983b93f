// The collector's Kubernetes watcher against a real list/watch HTTP server, with the real
// @kubernetes/client-node: contexts from fixtures, changes pushed and coalesced, dropped
// watches resumed, 410 Gone relisted, failures backed off, malformed objects skipped.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterContext } from '../common/cluster.js';
import { createLogger, type Logger } from '../common/log.js';
import { loadKubeConfig } from '../kube/config.js';
import { ClusterWatcher, type ClusterWatcherOptions } from '../kube/watcher.js';
import { FakeApiServer, type FakeApiServerOptions } from './kube/fake-apiserver.js';
import { endpointSlice, namespace, service, smallCluster, WEB_PORTS } from './kube/fixtures.js';

interface Emitted {
  readonly ctx: ClusterContext;
  readonly version: number;
}

interface Rig {
  readonly server: FakeApiServer;
  readonly watcher: ClusterWatcher;
  readonly contexts: Emitted[];
  readonly logs: string[];
  /** Resolves with the first context (emitted from now on, or the latest) that satisfies `pred`. */
  waitFor(pred: (ctx: ClusterContext) => boolean, what: string, timeoutMs?: number): Promise<Emitted>;
  close(): Promise<void>;
}

async function rig(
  serverOpts: FakeApiServerOptions = {},
  watcherOpts: Partial<ClusterWatcherOptions> = {},
  seed: (server: FakeApiServer) => void = () => undefined,
): Promise<Rig> {
  const server = await FakeApiServer.start(serverOpts);
  for (const o of smallCluster()) server.upsert(o);
  seed(server);
  const dir = mkdtempSync(join(tmpdir(), 'kube-watcher-'));
  const kubeConfig = loadKubeConfig(server.writeKubeconfig(join(dir, 'kubeconfig')));
  const contexts: Emitted[] = [];
  const logs: string[] = [];
  const logger: Logger = createLogger({ component: 'test' }, 'debug', (line) => logs.push(line));
  let notify: (() => void) | undefined;
  const watcher = new ClusterWatcher({
    kubeConfig,
    logger,
    debounceMs: 50,
    maxDelayMs: 500,
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    onContext: (ctx, version) => {
      contexts.push({ ctx, version });
      notify?.();
    },
    ...watcherOpts,
  });
  watcher.start();
  return {
    server,
    watcher,
    contexts,
    logs,
    async waitFor(pred, what, timeoutMs = 10_000) {
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
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const endpointsOf = (ctx: ClusterContext, ns: string, name: string): string[] =>
  ctx.services.find((s) => s.namespace === ns && s.name === name)?.ports.flatMap((p) => p.endpoints.filter((e) => e.ready).map((e) => `${e.address}:${e.port}`)) ?? [];

const settle = (ms = 300): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('builds the cluster context from the listed objects, over TLS with token auth', async (t) => {
  const r = await rig({ tls: true });
  try {
    const first = await r.waitFor((c) => c.services.length > 0, 'first context');
    t.is(first.version, 1);
    const ctx = first.ctx;
    t.deepEqual(ctx.nodes.map((n) => [n.name, n.podCIDRs[0], n.internalIPs[0], n.maxPods]), [
      ['node-a', '10.244.0.0/24', '192.0.2.10', 110],
      ['node-b', '10.244.1.0/24', '192.0.2.11', 110],
    ]);
    t.deepEqual(ctx.services.map((s) => `${s.namespace}/${s.name}`), ['shop/web']);
    t.deepEqual(endpointsOf(ctx, 'shop', 'web'), ['10.244.0.5:8080']);
    t.is(ctx.services[0]!.clusterIPs[0], '10.96.0.20');
    t.is(ctx.namespaces.find((n) => n.name === 'shop')?.labels['pod-security.kubernetes.io/enforce'], 'baseline');
    // Workloads for PSA what-if: kind set, status and managedFields dropped.
    const pod = ctx.workloads.find((w) => w.kind === 'Pod');
    t.truthy(pod);
    t.is(pod?.apiVersion, 'v1');
    t.is(pod?.['status'], undefined);
    t.is(pod?.metadata?.['managedFields'], undefined);
    t.truthy(ctx.workloads.find((w) => w.kind === 'Deployment' && w.metadata?.name === 'web'));
    t.true(r.watcher.synced);
    t.is(r.watcher.status().kinds['ServiceCIDR']?.state, 'absent', 'ServiceCIDR not served: marked absent, not an error');
    // Every kind was listed once, and a watch resumes at the list's resourceVersion.
    const lists = r.server.requests.filter((q) => !q.watch && q.status === 200);
    t.is(lists.length, 13);
    await r.server.waitForWatches(['Service']);
    const svcWatch = r.server.requests.find((q) => q.watch && q.path === '/api/v1/services');
    t.truthy(svcWatch?.resourceVersion);
    t.not(svcWatch?.resourceVersion, '0');
  } finally {
    await r.close();
  }
});

test('a Service gaining an endpoint emits a new context that reflects it', async (t) => {
  const r = await rig();
  try {
    const first = await r.waitFor((c) => endpointsOf(c, 'shop', 'web').length === 1, 'first context');
    await r.server.waitForWatches(['EndpointSlice']);
    r.server.upsert(endpointSlice('shop', 'web', 'web-abc12', [
      { ip: '10.244.0.5', node: 'node-a' },
      { ip: '10.244.1.7', node: 'node-b' },
    ], WEB_PORTS));
    const next = await r.waitFor((c) => endpointsOf(c, 'shop', 'web').length === 2, 'second endpoint');
    t.true(next.version > first.version);
    t.deepEqual(endpointsOf(next.ctx, 'shop', 'web').sort(), ['10.244.0.5:8080', '10.244.1.7:8080']);
    t.is(next.ctx.services[0]!.ports[0]!.endpoints.find((e) => e.address === '10.244.1.7')?.nodeName, 'node-b');

    // A new Service with its slice, then the removal of a Node.
    r.server.upsert(service('shop', 'api', '10.96.0.30', WEB_PORTS));
    r.server.upsert(endpointSlice('shop', 'api', 'api-x1', [{ ip: '10.244.1.9', node: 'node-b' }], WEB_PORTS));
    r.server.remove('Node', undefined, 'node-b');
    const later = await r.waitFor((c) => c.services.length === 2 && c.nodes.length === 1, 'api service and node-b gone');
    t.deepEqual(endpointsOf(later.ctx, 'shop', 'api'), ['10.244.1.9:8080']);
  } finally {
    await r.close();
  }
});

test('a dropped watch connection resumes from the last resourceVersion, without a relist', async (t) => {
  const r = await rig();
  try {
    await r.waitFor((c) => c.services.length === 1, 'first context');
    await r.server.waitForWatches(undefined);
    const listsBefore = r.server.requests.filter((q) => !q.watch).length;
    const rvBefore = r.server.resourceVersion;
    t.true(r.server.dropWatches() >= 12);
    // Changed while the watches are down: must arrive through the resumed watch.
    r.server.upsert(namespace('late', { team: 'x' }));
    const ctx = await r.waitFor((c) => c.namespaces.some((n) => n.name === 'late'), 'namespace created while disconnected');
    t.is(ctx.ctx.namespaces.find((n) => n.name === 'late')?.labels['team'], 'x');
    await r.server.waitForWatches(undefined);
    t.is(r.server.requests.filter((q) => !q.watch).length, listsBefore, 'no relist');
    const resumed = r.server.requests.filter((q) => q.watch && q.path === '/api/v1/namespaces').at(-1);
    t.is(resumed?.resourceVersion, rvBefore, 'watch resumed at the last version seen');
  } finally {
    await r.close();
  }
});

test('410 Gone inside the watch stream makes the watcher list again', async (t) => {
  const r = await rig();
  try {
    await r.waitFor((c) => c.services.length === 1, 'first context');
    await r.server.waitForWatches(undefined);
    const listsBefore = r.watcher.status().kinds['Service']!.lists;
    r.server.expireWatches();
    r.server.upsert(service('shop', 'after-410', '10.96.0.41', WEB_PORTS));
    await r.waitFor((c) => c.services.some((s) => s.name === 'after-410'), 'service after relist');
    const st = r.watcher.status().kinds['Service']!;
    t.is(st.lists, listsBefore + 1);
    t.true(st.expired >= 1);
    t.true(r.logs.some((l) => l.includes('410 Gone')));
  } finally {
    await r.close();
  }
});

test('HTTP 410 on a watch from a compacted version makes the watcher list again', async (t) => {
  const r = await rig({ expiredAs: 'http' });
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

test('malformed objects and lines are logged and skipped; the watcher carries on', async (t) => {
  // Present at the first list …
  const r = await rig({}, {}, (s) => {
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

test('a burst of watch events yields a few coalesced contexts, the last one complete', async (t) => {
  const r = await rig({}, { debounceMs: 250, maxDelayMs: 5000 });
  try {
    const first = await r.waitFor((c) => c.services.length === 1, 'first context');
    await r.server.waitForWatches(undefined);
    for (let i = 0; i < 300; i++) {
      r.server.upsert(service('load', `svc-${i}`, `10.96.1.${i % 250}`, WEB_PORTS));
      r.server.upsert(endpointSlice('load', `svc-${i}`, `svc-${i}-a`, [{ ip: `10.244.0.${i % 250}`, node: 'node-a' }], WEB_PORTS));
    }
    const last = await r.waitFor((c) => c.services.length === 301, 'all 300 services');
    await settle(400);
    const after = r.contexts.filter((c) => c.version > first.version);
    t.true(after.length <= 6, `600 events gave ${after.length} contexts`);
    t.is(r.contexts.at(-1)!.version, last.version);
    t.is(last.ctx.services.filter((s) => s.ports[0]!.endpoints.length === 1).length, 301);
  } finally {
    await r.close();
  }
});

test('status-only churn (pod phase to Running, node heartbeat) emits no new context; a pod that ends emits one', async (t) => {
  const r = await rig();
  try {
    await r.waitFor((c) => c.services.length === 1, 'first context');
    await r.server.waitForWatches(undefined);
    await settle(200);
    const count = r.contexts.length;
    const pod = smallCluster().find((o) => o['kind'] === 'Pod')!;
    r.server.upsert({ ...pod, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    const node = smallCluster().find((o) => o['kind'] === 'Node')!;
    r.server.upsert({ ...node, status: { ...(node['status'] as object), conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2025-01-01T00:05:00Z' }] } });
    await settle(400);
    t.is(r.contexts.length, count);
    // A terminal phase is kept (a finished pod holds no address: the migration inventory
    // does not count it), so it is one change, and only the phase is kept of the status.
    r.server.upsert({ ...pod, status: { phase: 'Succeeded', conditions: [{ type: 'Ready', status: 'False' }] } });
    await settle(400);
    t.is(r.contexts.length, count + 1);
    t.deepEqual(r.watcher.objects().find((o) => o.kind === 'Pod')?.['status'], { phase: 'Succeeded' });
  } finally {
    await r.close();
  }
});

test('server errors are retried with backoff until the lists succeed', async (t) => {
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

test('ServiceCIDR objects, when served, give the context its service CIDRs; pages are followed', async (t) => {
  const r = await rig({ serveOptional: true }, { pageLimit: 2 });
  try {
    r.server.upsert({ kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs: ['10.96.0.0/16'] } });
    const got = await r.waitFor((c) => c.serviceCIDRs.length === 1, 'service CIDR');
    t.deepEqual(got.ctx.serviceCIDRs, ['10.96.0.0/16']);
    t.is(got.ctx.nodes.length, 2, 'both nodes read across two pages');
    t.true(r.server.requests.some((q) => q.path === '/api/v1/nodes' && !q.watch) && r.watcher.status().kinds['Node']!.objects === 2);
  } finally {
    await r.close();
  }
});
