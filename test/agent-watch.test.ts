// The agent's own list + watch (kube/agent-watch.ts) against the real kube-apiserver and
// etcd, with the real @kubernetes/client-node, authenticated as the agent's ServiceAccount
// with a token the TokenRequest API bound to the agent's Pod, and authorised by exactly the
// ClusterRole in manifests/base/rbac.yaml: the first context equals the one `kubectl get -o
// json` gives; each watch event re-parses only the Service it touches and stamps changedAt
// on that Service alone; the server's bookmarks advance the resourceVersion; a real 410
// Gone (etcd compacted past the agent's resourceVersion) makes the agent list again and
// apply only the differences; a field selector narrows a kind to this node's objects; a
// request outside the role is refused by the real RBAC. One test (10,000 Services) still
// runs on the fake server: see its comment.
//
// The 410: the API server's watch cache answers a resumed watch from memory, so compacting
// etcd does not expire a cached kind (proven below for Services, Nodes and ServiceCIDRs).
// The control plane here turns the cache off for EndpointSlices alone
// (--watch-cache-sizes=endpointslices.discovery.k8s.io#0), so their watches are etcd's own
// and a compaction past the agent's resourceVersion gives the real "410 Expired" ERROR event.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseClusterObjects, serviceKey, type ClusterContext } from '../common/cluster.js';
import { createLogger } from '../common/log.js';
import { inClusterAvailable } from '../kube/config.js';
import { KubeConfig } from '@kubernetes/client-node';
import { loadKubeAccess } from '../kube/access.js';
import { UsageError } from '../common/errors.js';
import { AgentClusterWatch, type AgentClusterWatchOptions, type ContextUpdate } from '../kube/agent-watch.js';
import { RESOURCE_KINDS } from '../kube/kinds.js';
import { Reflector } from '../kube/reflector.js';
import { getJson } from '../kube/rest.js';
import { largeCluster, renderClusterJson } from '../agent/dataplane/testing/generate.js';
import { FakeApiServer, type Obj } from './kube/fake-apiserver.js';
import { endpointSlice, node, pod, service, smallCluster, WEB_PORTS } from './kube/fixtures.js';
import { ControlPlane } from './lab/control-plane.js';
import { applyFixture, deleteFixture } from './lab/apply-fixture.js';
import { ApiLink } from './lab/api-link.js';
import { AGENT_SA, NETCONFORM_NS, createPod, installNetconformRbac, podToken } from './lab/netconform-identity.js';

const NETWORK = new Set(['Node', 'Service', 'EndpointSlice', 'ServiceCIDR']);
const quiet = createLogger({ component: 'test' }, 'error', () => undefined);

let cp: ControlPlane;
/** The agent's bearer token: TokenRequest, bound to its Pod on node-a, the API server's audience. */
let agentToken: string;
/**
 * The API server's watch cache sends a BOOKMARK about once a minute and one ~2 s before it
 * closes a watch at its timeoutSeconds — measured on 1.37.2: watches of 8, 12, 20 and 30 s
 * got none at all, one of 70 s got them at 59.5 s and 68.4 s. So this watch lasts 70 s.
 */
const BOOKMARK_WATCH_SECONDS = 70;
let bookmarkWatch: Reflector | undefined;

test.before(async () => {
  cp = await ControlPlane.start({ apiServerFlags: ['--watch-cache-sizes=endpointslices.discovery.k8s.io#0'] });
  await installNetconformRbac(cp);
  const agentPod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-agent-a1', node: 'node-a', serviceAccount: AGENT_SA });
  agentToken = await podToken(cp, agentPod, AGENT_SA);
  // Watches Services for the whole file; the last test reads what the server sent it.
  bookmarkWatch = new Reflector({
    kubeConfig: await loadKubeAccess(cp.kubeconfig('agent-bookmarks', { token: agentToken })), kind: RESOURCE_KINDS.find((k) => k.kind === 'Service')!,
    logger: quiet, watchTimeoutSeconds: BOOKMARK_WATCH_SECONDS, onChange: () => undefined, onSynced: () => undefined,
  });
  bookmarkWatch.start();
});
test.after.always(async () => {
  await bookmarkWatch?.stop();
  await cp?.stop();
});

/** Where a test's objects live and what a kubectl file of them gives. */
interface Cluster {
  put(o: Obj): Promise<void>;
  remove(kind: string, ns: string | undefined, name: string): Promise<void>;
  /** What a kubectl file of the network objects gives (changedAt added where given). */
  expected(changedAt: Readonly<Record<string, number>>): Promise<ClusterContext>;
}

const withChangedAt = (ctx: ClusterContext, changedAt: Readonly<Record<string, number>>): ClusterContext =>
  ({ ...ctx, services: ctx.services.map((s) => (changedAt[`${s.namespace}/${s.name}`] !== undefined ? { ...s, changedAt: changedAt[`${s.namespace}/${s.name}`]! } : s)) });

/**
 * The real API server: fixtures written as their owners write them (applyFixture). The expected context is parsed from
 * `kubectl get nodes,services,endpointslices,servicecidrs -A -o json`: the file path.
 */
const realCluster: Cluster = {
  put: (o) => applyFixture(cp, o),
  remove: (kind, ns, name) => deleteFixture(cp, kind, ns, name),
  async expected(changedAt) {
    const items = (JSON.parse(cp.kubectl(['get', 'nodes,services,endpointslices,servicecidrs', '-A', '-o', 'json'])) as { items: Obj[] }).items;
    return withChangedAt(parseClusterObjects(items), changedAt);
  },
};

/** The fake server, for the one test that keeps it: the objects as the test last wrote them. */
class FakeCluster implements Cluster {
  private readonly map = new Map<string, Obj>();
  constructor(private readonly server: FakeApiServer) {}
  private key(o: Obj): string {
    const m = o['metadata'] as Obj;
    return `${String(o['kind'])}|${String(m['namespace'] ?? '')}/${String(m['name'])}`;
  }
  async put(o: Obj): Promise<void> {
    this.server.upsert(o);
    if (NETWORK.has(String(o['kind']))) this.map.set(this.key(o), o);
  }
  async remove(kind: string, ns: string | undefined, name: string): Promise<void> {
    this.server.remove(kind, ns, name);
    this.map.delete(`${kind}|${ns ?? ''}/${name}`);
  }
  async expected(changedAt: Readonly<Record<string, number>>): Promise<ClusterContext> {
    const objs = [...this.map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
    return withChangedAt(parseClusterObjects(objs), changedAt);
  }
}

interface Rig {
  readonly objects: Cluster;
  readonly watch: AgentClusterWatch;
  /** The agent's network path to the API server (real server only). */
  readonly link: ApiLink | undefined;
  readonly updates: { ctx: ClusterContext; update: ContextUpdate }[];
  clock: number;
  next(what: string, timeoutMs?: number): Promise<{ ctx: ClusterContext; update: ContextUpdate }>;
  close(): Promise<void>;
}

async function rig(seed: readonly Obj[], opts: Partial<AgentClusterWatchOptions> = {}, fake?: FakeApiServer): Promise<Rig> {
  const objects: Cluster = fake ? new FakeCluster(fake) : realCluster;
  for (const o of seed) await objects.put(o);
  const dir = mkdtempSync(join(tmpdir(), 'agent-watch-'));
  const link = fake ? undefined : await ApiLink.open(cp.port);
  const kubeConfig = await loadKubeAccess(fake ? fake.writeKubeconfig(join(dir, 'kubeconfig')) : cp.kubeconfig(`agent-${link!.port}`, { token: agentToken }, link!.url));
  const updates: Rig['updates'] = [];
  let seen = 0;
  let wake: (() => void) | undefined;
  const r: Rig = {
    objects, updates, link, clock: 1_000_000,
    watch: new AgentClusterWatch({
      kubeConfig, node: 'node-a', debounceMs: 20, maxDelayMs: 200, backoffInitialMs: 20, backoffMaxMs: 100,
      now: () => r.clock,
      logger: quiet,
      onChange: (ctx, update) => {
        updates.push({ ctx, update });
        wake?.();
      },
      ...opts,
    }),
    async next(what, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (updates.length <= seen) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      return updates[seen++]!;
    },
    async close() {
      await r.watch.stop();
      await link?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  r.watch.start();
  return r;
}

function sameContext(t: import('ava').ExecutionContext, got: ClusterContext, want: ClusterContext, what: string): void {
  if (isDeepStrictEqual(got, want)) {
    t.pass(what);
    return;
  }
  // Say where, without handing ava a 10,000-Service structure to diff.
  const i = got.services.findIndex((s, n) => !isDeepStrictEqual(s, want.services[n]));
  t.fail(`${what}: contexts differ${i >= 0 ? ` at service ${i}: got ${JSON.stringify(got.services[i])}, want ${JSON.stringify(want.services[i])}` : `: nodes ${JSON.stringify(got.nodes)} vs ${JSON.stringify(want.nodes)}; cidrs ${JSON.stringify(got.serviceCIDRs)} vs ${JSON.stringify(want.serviceCIDRs)}; services ${got.services.length} vs ${want.services.length}`}`);
}

const API_PORTS = [{ name: 'grpc', port: 9000, targetPort: 9000 }];

function seedCluster(): Obj[] {
  return [
    ...smallCluster(), // node-a, node-b, shop/web with one endpoint (and a namespace, pod, deployment the agent does not watch)
    service('shop', 'api', '10.96.0.30', API_PORTS),
    endpointSlice('shop', 'api', 'api-1', [{ ip: '10.244.0.7', node: 'node-a' }, { ip: '10.244.1.7', node: 'node-b' }], API_PORTS),
    service('default', 'db', '10.96.0.40', [{ name: '', port: 5432, targetPort: 5432 }]),
  ];
}

// The tests share one API server and the agent watches the whole cluster: one at a time.
test.serial('lists, then applies each watch event to the one Service it touches: exact contexts, changedAt only there', async (t) => {
  const r = await rig(seedCluster());
  t.teardown(() => r.close());
  const first = await r.next('the first context');
  t.true(first.update.initial);
  sameContext(t, first.ctx, await r.objects.expected({}), 'first context = the kubectl-file parse, no changedAt');
  // default/kubernetes is the API server's own Service (10.96.0.1:443); the ServiceCIDR
  // `kubernetes` it makes from --service-cluster-ip-range is in the context too.
  t.deepEqual(first.ctx.services.map((s) => `${s.namespace}/${s.name}`), ['default/db', 'default/kubernetes', 'shop/api', 'shop/web']);
  t.deepEqual(first.ctx.serviceCIDRs, ['10.96.0.0/16']);
  t.deepEqual(r.watch.work().serviceParses, 4);
  t.is(r.watch.current(), first.ctx);

  const changedAt: Record<string, number> = {};
  const step = async (what: string, at: number, act: () => Promise<void>, services: string[], nodes = false, parses = services.length): Promise<ClusterContext> => {
    const parsesBefore = r.watch.work().serviceParses;
    r.clock = at;
    await act();
    const u = await r.next(what);
    t.false(u.update.initial, what);
    t.deepEqual(u.update.changes, { services, nodes, serviceCIDRs: false }, what);
    for (const s of services) changedAt[s] = at;
    for (const s of services) if (!u.ctx.services.some((x) => `${x.namespace}/${x.name}` === s)) delete changedAt[s];
    sameContext(t, u.ctx, await r.objects.expected(changedAt), what);
    t.is(r.watch.work().serviceParses - parsesBefore, parses, `${what}: only the touched Services are parsed again`);
    return u.ctx;
  };

  await step('an endpoint added', 2_000_000, () => r.objects.put(endpointSlice('shop', 'web', 'web-abc12', [{ ip: '10.244.0.5', node: 'node-a' }, { ip: '10.244.1.9', node: 'node-b' }], WEB_PORTS)), ['shop/web']);
  const afterRemove = await step('an endpoint removed', 3_000_000, () => r.objects.put(endpointSlice('shop', 'api', 'api-1', [{ ip: '10.244.1.7', node: 'node-b' }], API_PORTS)), ['shop/api']);
  t.deepEqual(afterRemove.services.map((s) => [s.name, s.changedAt]), [['db', undefined], ['kubernetes', undefined], ['api', 3_000_000], ['web', 2_000_000]]);
  await step('a new Service with its slice', 4_000_000, async () => {
    // The slice first (alone it makes no Service, so no update), then its Service.
    const deltas = r.watch.work().deltas;
    await r.objects.put(endpointSlice('shop', 'cart', 'cart-x1', [{ ip: '10.244.1.20', node: 'node-b' }], WEB_PORTS));
    while (r.watch.work().deltas === deltas) await new Promise((res) => setTimeout(res, 10));
    await r.objects.put(service('shop', 'cart', '10.96.0.50', WEB_PORTS));
  }, ['shop/cart'], false, 1);
  const afterDelete = await step('a Service deleted', 5_000_000, () => r.objects.remove('Service', 'default', 'db'), ['default/db'], false, 0);
  t.deepEqual(afterDelete.services.map((s) => s.name), ['kubernetes', 'api', 'cart', 'web']);
  // A Node's podCIDR is immutable in the real API ("node updates may not change podCIDR
  // except from \"\" to valid"); what changes in place is its status, e.g. its address.
  const afterNode = await step('a Node address change', 6_000_000, () => r.objects.put(node('node-b', '10.244.1.0/24', '192.0.2.21')), [], true);
  t.deepEqual(afterNode.nodes.find((n) => n.name === 'node-b')?.internalIPs, ['192.0.2.21']);
  t.deepEqual(afterNode.services.map((s) => [s.name, s.changedAt]), [['kubernetes', undefined], ['api', 3_000_000], ['cart', 4_000_000], ['web', 2_000_000]]);

  // A change the checks do not see (a label) causes no update at all.
  const before = r.updates.length;
  r.clock = 7_000_000;
  await r.objects.put({ ...service('shop', 'web', '10.96.0.20', WEB_PORTS), metadata: { name: 'web', namespace: 'shop', labels: { team: 'x' } } });
  await new Promise((res) => setTimeout(res, 400));
  t.is(r.updates.length, before);
  t.is(r.watch.current()!.services.find((s) => s.name === 'web')!.changedAt, 2_000_000);
  const refused = await cp.request<{ message: string }>('PATCH', '/api/v1/nodes/node-b', { spec: { podCIDR: '10.244.7.0/24', podCIDRs: ['10.244.7.0/24'] } }, { contentType: 'application/merge-patch+json' });
  t.is(refused.status, 422, 'the real API refuses a podCIDR change');
});

test.serial('410 Gone from etcd: the agent lists again and applies only the differences; kinds in the watch cache are not expired', async (t) => {
  const r = await rig([
    { kind: 'Namespace', metadata: { name: 'gone' } },
    service('gone', 'web', '10.96.1.20', WEB_PORTS),
    endpointSlice('gone', 'web', 'web-abc12', [{ ip: '10.244.0.5', node: 'node-a' }], WEB_PORTS),
  ]);
  t.teardown(() => r.close());
  await r.next('the first context');
  const listed = r.watch.status();
  const parsesBefore = r.watch.work().serviceParses;
  // The node loses the API server; meanwhile a slice changes and etcd compacts past the
  // agent's resourceVersion (a second write makes sure the compaction is past the
  // revision the resumed watch asks for, not at it).
  r.link!.cut();
  r.clock = 8_000_000;
  await r.objects.put(endpointSlice('gone', 'web', 'web-abc12', [{ ip: '10.244.0.5', node: 'node-a', ready: false }], WEB_PORTS));
  await cp.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-the-change', namespace: 'default' } });
  const compactedAt = await cp.compactEtcd();
  t.true(compactedAt > Number(listed['EndpointSlice']!.resourceVersion) + 1);
  r.link!.restore();
  const u = await r.next('the context after the relist', 30_000);
  t.deepEqual(u.update.changes, { services: ['gone/web'], nodes: false, serviceCIDRs: false });
  sameContext(t, u.ctx, await r.objects.expected({ 'gone/web': 8_000_000 }), 'relisted context');
  t.false(u.ctx.services.find((s) => s.name === 'web' && s.namespace === 'gone')!.ports[0]!.endpoints[0]!.ready);
  t.is(r.watch.work().serviceParses - parsesBefore, 1, 'one Service parsed again, not all of them');
  const after = r.watch.status();
  t.is(after['EndpointSlice']!.expired, 1, 'etcd said 410 to the resumed EndpointSlice watch');
  t.is(after['EndpointSlice']!.lists, listed['EndpointSlice']!.lists + 1, 'listed again once');
  for (const kind of ['Service', 'Node', 'ServiceCIDR']) {
    t.is(after[kind]!.expired, 0, `${kind}: the watch cache resumed the watch from memory`);
    t.is(after[kind]!.lists, listed[kind]!.lists, `${kind}: not listed again`);
  }
});

test.serial('a field selector narrows a kind to this node\'s objects, in the list and in the watch', async (t) => {
  await cp.createNamespace('narrow');
  for (const p of [pod('narrow', 'web-0', 'node-a', '10.244.0.5'), pod('narrow', 'web-1', 'node-b', '10.244.1.5')]) await realCluster.put(p);
  const keys: string[] = [];
  let synced = false;
  const reflector = new Reflector({
    kubeConfig: await loadKubeAccess(cp.kubeconfig('agent-pods', { token: agentToken })),
    kind: RESOURCE_KINDS.find((k) => k.kind === 'Pod')!,
    fieldSelector: 'spec.nodeName=node-a',
    namespace: 'narrow',
    logger: quiet,
    onDelta: (d) => keys.push(`${d.type} ${d.key}`),
    onChange: () => undefined,
    onSynced: () => { synced = true; },
  });
  t.teardown(() => reflector.stop());
  reflector.start();
  const deadline = Date.now() + 10_000;
  while (reflector.stats().state !== 'watching' && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  t.true(synced);
  await realCluster.put(pod('narrow', 'web-2', 'node-b', '10.244.1.6'));
  await realCluster.put(pod('narrow', 'web-3', 'node-a', '10.244.0.6'));
  while (keys.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  await new Promise((res) => setTimeout(res, 300));
  t.deepEqual(keys, ['upsert narrow/web-0', 'upsert narrow/web-3']);
  t.is(reflector.stats().lists, 1);
});

test.serial('the agent holds exactly its ClusterRole: what it watches is allowed, anything else is refused by RBAC', async (t) => {
  const kc = await loadKubeAccess(cp.kubeconfig('agent-rbac', { token: agentToken }));
  for (const path of ['/api/v1/nodes', '/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices', '/apis/networking.k8s.io/v1/servicecidrs']) {
    await t.notThrowsAsync(getJson(kc, path, { limit: '1' }), path);
  }
  await t.notThrowsAsync(getJson(kc, '/api/v1/pods', { fieldSelector: 'spec.nodeName=node-a', limit: '1' }));
  const who = `system:serviceaccount:${NETCONFORM_NS}:${AGENT_SA}`;
  await t.throwsAsync(getJson(kc, '/api/v1/endpoints', {}), { message: `/api/v1/endpoints: HTTP 403: endpoints is forbidden: User "${who}" cannot list resource "endpoints" in API group "" at the cluster scope` });
  await t.throwsAsync(getJson(kc, '/api/v1/namespaces/netconform/secrets', {}), { message: `/api/v1/namespaces/netconform/secrets: HTTP 403: secrets is forbidden: User "${who}" cannot list resource "secrets" in API group "" in the namespace "netconform"` });
  const write = await cp.request<{ message: string }>('DELETE', '/api/v1/namespaces/default/services/kubernetes', undefined, { as: { token: agentToken } });
  t.is(write.status, 403);
  t.is(write.body.message, `services "kubernetes" is forbidden: User "${who}" cannot delete resource "services" in API group "" in the namespace "default"`);
  // A kind outside the role: the reflector says so and keeps retrying, it never crashes.
  const ns = new Reflector({
    kubeConfig: kc, kind: RESOURCE_KINDS.find((k) => k.kind === 'Namespace')!, logger: quiet, backoffInitialMs: 20, backoffMaxMs: 50,
    onChange: () => undefined, onSynced: () => undefined,
  });
  t.teardown(() => ns.stop());
  ns.start();
  const deadline = Date.now() + 10_000;
  while (ns.stats().errors < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  t.is(ns.stats().lastError, `/api/v1/namespaces: HTTP 403: namespaces is forbidden: User "${who}" cannot list resource "namespaces" in API group "" at the cluster scope`);
  t.false(ns.isSynced);
});

test.serial('in-cluster: the Pod\'s projected token, CA and namespace files are all the agent needs', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'agent-pod-'));
  const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
  let watch: AgentClusterWatch | undefined;
  t.teardown(async () => {
    await watch?.stop();
    rmSync(root, { recursive: true, force: true });
    for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  process.env['KUBERNETES_SERVICE_HOST'] = '127.0.0.1';
  process.env['KUBERNETES_SERVICE_PORT'] = String(cp.port);
  t.false(inClusterAvailable(root), 'no token mounted yet');
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'token'), agentToken);
  writeFileSync(join(sa, 'ca.crt'), readFileSync(cp.caFile));
  writeFileSync(join(sa, 'namespace'), NETCONFORM_NS);
  t.true(inClusterAvailable(root));
  const kubeConfig = await loadKubeAccess(undefined, '--kubeconfig', root);
  t.is(kubeConfig.getCurrentCluster()?.server, `https://127.0.0.1:${cp.port}`);
  let got: ClusterContext | undefined;
  watch = new AgentClusterWatch({ kubeConfig, node: 'node-a', debounceMs: 20, logger: quiet, onChange: (ctx) => { got = ctx; } });
  watch.start();
  const deadline = Date.now() + 15_000;
  while (!got && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  sameContext(t, got!, await realCluster.expected({}), 'the in-cluster agent sees what kubectl sees');
  t.true(Object.values(watch.status()).every((s) => s.errors === 0), 'every request carried the projected token and was allowed');
});

// Still on the fake server: 20,000 objects through the real API server's admission and etcd
// take minutes on a shared 2-core machine; this test measures our incremental apply at
// scale, and the list/watch contract it relies on is proven on the real server above.
test.serial('10,000 Services / 100,000 endpoints listed, then single events applied in milliseconds, exactly', async (t) => {
  t.timeout(240_000);
  const server = await FakeApiServer.start({ serveOptional: true });
  t.teardown(() => server.close());
  const desc = largeCluster('node-a', '192.0.2.10', 10_000, 10);
  const items = (JSON.parse(renderClusterJson(desc)) as { items: Obj[] }).items;
  const r = await rig(items, { debounceMs: 5, maxDelayMs: 50 }, server);
  t.teardown(() => r.close());
  const started = Date.now();
  const first = await r.next('the large first context', 180_000);
  const listMs = Date.now() - started;
  global.gc?.();
  const heapMb = Math.round(process.memoryUsage().heapUsed / 1e6);
  t.is(first.ctx.services.length, 10_000);
  t.is(first.ctx.services.reduce((n, s) => n + s.ports.reduce((m, p) => m + p.endpoints.length, 0), 0), 100_000);
  t.is(r.watch.work().serviceParses, 10_000, 'each Service parsed once for the first context');
  sameContext(t, first.ctx, await r.objects.expected({}), 'first large context');

  const svc = (i: number): Obj => items.find((o) => o['kind'] === 'Service' && (o['metadata'] as Obj)['name'] === desc.services[i]!.name)!;
  const slice = (i: number): Obj => items.find((o) => o['kind'] === 'EndpointSlice' && (o['metadata'] as Obj)['name'] === `${desc.services[i]!.name}-abc12`)!;
  const withEndpoints = (o: Obj, f: (eps: Obj[]) => Obj[]): Obj => ({ ...o, endpoints: f(o['endpoints'] as Obj[]) });
  const changedAt: Record<string, number> = {};
  const eventMs: number[] = [];
  const events: [string, () => Promise<void>, string[], number][] = [
    ['an endpoint added', () => r.objects.put(withEndpoints(slice(17), (e) => [...e, { addresses: ['10.244.200.1'], conditions: { ready: true }, nodeName: 'node-a' }])), [serviceKey(svc(17))], 1],
    ['an endpoint removed', () => r.objects.put(withEndpoints(slice(4242), (e) => e.slice(1))), [serviceKey(svc(4242))], 1],
    ['a new Service', () => r.objects.put(service('zz-new', 'extra', '10.100.0.1', WEB_PORTS)), ['zz-new/extra'], 1],
    ['a Service deleted', () => r.objects.remove('Service', desc.services[9000]!.namespace, desc.services[9000]!.name), [serviceKey(svc(9000))], 0],
    ['a Node podCIDR change', () => r.objects.put(node('node-a', '10.250.0.0/24', '192.0.2.10')), [], 0],
  ];
  for (const [i, [what, act, services, parses]] of events.entries()) {
    const parsesBefore = r.watch.work().serviceParses;
    r.clock = 10_000_000 + i;
    const t0 = process.hrtime.bigint();
    await act();
    const u = await r.next(what, 30_000);
    eventMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    t.deepEqual(u.update.changes.services, services, what);
    t.is(r.watch.work().serviceParses - parsesBefore, parses, `${what}: parses`);
    for (const s of services) changedAt[s] = 10_000_000 + i;
  }
  delete changedAt[serviceKey(svc(9000))];
  const last = r.watch.current()!;
  t.is(last.services.length, 10_000);
  t.deepEqual(last.services.filter((s) => s.changedAt !== undefined).map((s) => [`${s.namespace}/${s.name}`, s.changedAt]).sort(), Object.entries(changedAt).sort());
  sameContext(t, last, await r.objects.expected(changedAt), 'context after the events');
  t.deepEqual(last.nodes.find((n) => n.name === 'node-a')?.podCIDRs, ['10.250.0.0/24']);
  // Loose: an event travels server → watch → one parse → context in well under a second
  // even on a loaded 2-core machine; a full re-parse of 10k Services would not.
  t.log(`heap with the fake server, the test's objects and the agent's cache: ${heapMb} MB`);
  t.log(`list + first context ${listMs} ms; per event (incl. ${5} ms debounce): ${eventMs.map((m) => m.toFixed(1)).join(', ')} ms`);
  for (const [i, ms] of eventMs.entries()) t.true(ms < 1500, `${events[i]![0]} took ${ms.toFixed(0)} ms`);
});

// Last, so that the Service watch opened when the file started has lived past its 70 s.
test.serial('bookmarks: the server marks progress before it closes a watch, the agent resumes from there without listing', async (t) => {
  t.timeout(150_000);
  const deadline = Date.now() + 120_000;
  const w = bookmarkWatch!;
  while ((w.stats().watches < 2 || w.stats().bookmarks < 1) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 250));
  const s = w.stats();
  t.true(s.bookmarks >= 1, `bookmarks ${s.bookmarks}`);
  t.true(s.watches >= 2, `the server closed the ${BOOKMARK_WATCH_SECONDS} s watch and it was opened again (${s.watches} watches)`);
  t.is(s.lists, 1, 'resumed from the bookmark\'s resourceVersion: no list');
  t.is(s.expired, 0);
  t.is(s.errors, 0, s.lastError);
});

test('a kubeconfig whose user runs an exec plugin is loaded by the Kubernetes client; a token user and a broken file are not', async (t) => {
  const { writeFileSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'agent-kubeconfig-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = (user: string): string => `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://10.0.0.1:6443', insecure-skip-tls-verify: true } }]
users: [{ name: u, user: ${user} }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`;
  writeFileSync(join(dir, 'exec'), config('{ exec: { apiVersion: client.authentication.k8s.io/v1, command: /bin/true } }'));
  writeFileSync(join(dir, 'token'), config('{ tokenFile: tok }'));
  writeFileSync(join(dir, 'tok'), 'abc\n');
  const viaExec = await loadKubeAccess(join(dir, 'exec'));
  t.true(viaExec instanceof KubeConfig);
  const viaToken = await loadKubeAccess(join(dir, 'token'));
  t.false(viaToken instanceof KubeConfig);
  const opts: { headers?: Record<string, string>; rejectUnauthorized?: boolean } = {};
  await viaToken.applyToHTTPSOptions(opts);
  t.is(opts.headers?.['Authorization'], 'Bearer abc', 'tokenFile is read relative to the kubeconfig');
  t.false(opts.rejectUnauthorized);
  // The same kubeconfig as JSON (read without the YAML parser) gives the same access.
  writeFileSync(join(dir, 'token.json'), JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'x',
    clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.1:6443', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { tokenFile: 'tok' } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
  }));
  const fromJson: { headers?: Record<string, string>; rejectUnauthorized?: boolean } = {};
  await (await loadKubeAccess(join(dir, 'token.json'))).applyToHTTPSOptions(fromJson);
  t.deepEqual(fromJson, opts);
  const err = await t.throwsAsync(loadKubeAccess(join(dir, 'missing')));
  t.true(err instanceof UsageError);
  t.regex(err!.message, /cannot load .*missing: ENOENT/);
});
