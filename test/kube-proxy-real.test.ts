// The real kube-proxy, per release (the newest and the oldest supported minor, as
// scripts/k8s-bins.sh pins them) and per mode (iptables, nftables), programming a lab node
// (network namespace) from a real API server that holds every Service shape kube-proxy
// distinguishes (generate.ts everyShapeCluster + the API server's own default/kubernetes).
// After kube-proxy's own metric says it synced, netconform scans the namespace live: every
// service-routing and no-nat check passes, with exact counts per check. The dumps are
// recorded as bundles in test/fixtures/kube-proxy-real/ (NETCONFORM_RECORD=1) so the parser
// tests keep them where Go is absent (dataplane-real-fixtures.test.ts).
import test from 'ava';
import { join } from 'node:path';
import type { ClusterContext } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { scanSnapshot } from '../agent/scan.js';
import type { NodeSnapshot } from '../agent/snapshot.js';
import { everyShapeCluster } from '../agent/dataplane/testing/generate.js';
import { ControlPlane } from './lab/control-plane.js';
import { k8sVersions } from './lab/k8s-bins.js';
import { createLabNode, type LabNode } from './lab/lab.js';
import { LabKubeProxy, type KubeProxyMode } from './lab/kube-proxy.js';
import { recordKubeProxyRun, scanAfterKubeProxySync, type KubeProxyRun } from './lab/kube-proxy-run.js';
import { clusterContext, createClusterObjects, replaceEndpointSlice } from './lab/api-objects.js';
import { systemTool } from '../agent/inspect/dataplane.js';
import { createWireLab, type WireLab } from './lab/wire.js';
import { onTheWire, probesFromFindings } from './support/wire-judge.js';

const NODE = 'lab-node-a';
const NODE_IP = '192.168.50.2';
const CLUSTER_CIDR = '10.244.0.0/16';
const SR = ['service-routing.mode', 'service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules', 'service-routing.kube-proxy', 'no-nat.pod-to-pod'];
const RECORD = process.env.NETCONFORM_RECORD === '1';
const FIXTURES = new URL('./fixtures/kube-proxy-real/', import.meta.url).pathname;

/** Every ClusterIP Service port of the lab cluster (headless and ExternalName have none). */
export const CLUSTERIP_SUBJECTS = [
  'default/kubernetes:443/TCP',
  'kube-system/dns:53/TCP', 'kube-system/dns:53/UDP',
  'shop/draining:80/TCP', 'shop/empty:80/TCP', 'shop/ext-ip:80/TCP', 'shop/lb:80/TCP', 'shop/local-ext:80/TCP',
  'shop/local-int:80/TCP', 'shop/remote-only:80/TCP', 'shop/sctp:9000/SCTP', 'shop/single:8080/TCP', 'shop/sticky:80/TCP',
  'shop/web:443/TCP', 'shop/web:80/TCP',
];
export const NODEPORT_SUBJECTS = ['shop/lb:80/TCP', 'shop/local-ext:80/TCP', 'shop/remote-only:80/TCP', 'shop/web:443/TCP', 'shop/web:80/TCP'];

let cp: ControlPlane;
let cluster: ClusterContext;

test.before(async () => {
  cp = await ControlPlane.start();
  await createClusterObjects(cp, everyShapeCluster(NODE, NODE_IP));
  cluster = clusterContext(cp);
});
test.after.always(async () => { await cp?.stop(); });

type Run = KubeProxyRun;

const withKubeProxy = (t: import('ava').ExecutionContext, version: string, mode: KubeProxyMode): Promise<Run> => scanAfterKubeProxySync(t, cp, cluster, {
  lab: { pods: 0, bridge: 'cbr0', podCIDR: '10.244.1.0/24', uplinkAddress: `${NODE_IP}/24` }, nodeName: NODE, version, mode, clusterCIDR: CLUSTER_CIDR, only: SR,
});

const notPass = (fs: readonly Finding[]): string[] => fs.filter((f) => f.status !== 'pass').map((f) => `${f.status} ${f.check} ${f.subject}: ${f.message}`).sort();
const subjects = (fs: readonly Finding[], check: string): string[] => fs.filter((f) => f.check === check).map((f) => f.subject).sort();
const get = (fs: readonly Finding[], check: string, subject: string): Finding => {
  const f = fs.find((x) => x.check === `service-routing.${check}` && x.subject === subject);
  if (!f) throw new Error(`no ${check} finding for ${subject}`);
  return f;
};

function record(version: string, mode: KubeProxyMode, run: Run): void {
  recordKubeProxyRun(join(FIXTURES, `${version}-${mode}`), cp, run, `kube-proxy ${version}, mode ${mode}: recorded by test/kube-proxy-real.test.ts with NETCONFORM_RECORD=1`, [
    `The real kube-proxy (built by scripts/k8s-bins.sh) ran in a lab network namespace as node ${NODE}`,
    `(${NODE_IP}, pod CIDR 10.244.1.0/24, clusterCIDR ${CLUSTER_CIDR}) against a real kube-apiserver holding`,
    'everyShapeCluster (agent/dataplane/testing/generate.ts); after its sync metric reported the sync,',
  ]);
}

// ---- on the wire ----------------------------------------------------------------------------

const DESC = everyShapeCluster(NODE, NODE_IP);
const OUTSIDE_IP = '192.168.50.100';

async function wireLab(t: import('ava').ExecutionContext, lab: LabNode, tag: string, spare: readonly string[] = []): Promise<WireLab> {
  const local = new Set<string>(), remote = new Set<string>(spare);
  for (const s of DESC.services) for (const e of s.endpoints) (e.node === NODE ? local : remote).add(e.ip);
  const w = await createWireLab(lab, {
    localEndpoints: [...local], remoteEndpoints: [...remote], remoteCIDR: '10.244.2.0/24',
    tcpPorts: [80, 53, 8080, 8443, 9090], udpPorts: [53], clientPodIP: '10.244.1.200', outsideIP: OUTSIDE_IP, nodeIP: NODE_IP, tag,
  });
  t.teardown(() => w.stop());
  return w;
}

const versions = (): string[] => [k8sVersions().kubernetes, k8sVersions().kubernetesOld];

for (const which of ['newest', 'oldest'] as const) {
  for (const mode of ['iptables', 'nftables'] as const) {
    test.serial(`kube-proxy ${which} release, ${mode} mode: after its sync every service-routing and no-nat check passes, with exact counts`, async (t) => {
      t.timeout(180_000);
      const version = which === 'newest' ? versions()[0]! : versions()[1]!;
      const run = await withKubeProxy(t, version, mode);
      const { findings } = run;
      t.log(`kube-proxy ${version} ${mode}: first sync ${run.syncSeconds.toFixed(1)} s after start`);
      if (RECORD) record(version, mode, run);
      t.deepEqual(notPass(findings), []);
      t.deepEqual(subjects(findings, 'service-routing.clusterip'), CLUSTERIP_SUBJECTS);
      t.deepEqual(subjects(findings, 'service-routing.nodeport'), NODEPORT_SUBJECTS);
      t.deepEqual(subjects(findings, 'service-routing.mode'), [NODE]);
      t.is(get(findings, 'mode', NODE).message, `kube-proxy mode: ${mode}`);
      t.deepEqual(subjects(findings, 'service-routing.stale-rules'), [NODE]);
      t.deepEqual(subjects(findings, 'service-routing.kube-proxy'), [`${NODE} kube-proxy`]);
      t.regex(get(findings, 'kube-proxy', `${NODE} kube-proxy`).message, /^kube-proxy is in sync: nothing pending, last sync \d+s ago$/);
      t.is(findings.filter((f) => f.check === 'no-nat.pod-to-pod').length, 2);
      t.is(findings.length, CLUSTERIP_SUBJECTS.length + NODEPORT_SUBJECTS.length + 3 + 2);
      // The shapes, as judged: several endpoints evenly; ETP=Local; ITP=Local; terminating fallback; no endpoints.
      const web = get(findings, 'clusterip', 'shop/web:80/TCP').evidence!;
      t.deepEqual(web['expected'], ['10.244.1.11:8080', '10.244.2.12:8080', '10.244.2.13:8080']);
      t.deepEqual(web['observed'], web['expected']);
      t.deepEqual(get(findings, 'nodeport', 'shop/local-ext:80/TCP').evidence!['observed'], ['10.244.1.50:8080']);
      t.is(get(findings, 'nodeport', 'shop/remote-only:80/TCP').evidence!['dropped'], 1);
      t.deepEqual(get(findings, 'clusterip', 'shop/local-int:80/TCP').evidence!['observed'], ['10.244.1.70:8080']);
      t.deepEqual(get(findings, 'clusterip', 'shop/draining:80/TCP').evidence!['observed'], ['10.244.2.80:8080']);
      t.is(get(findings, 'clusterip', 'shop/empty:80/TCP').evidence!['rejected'], 1);
      t.is(get(findings, 'clusterip', 'default/kubernetes:443/TCP').evidence!['rejected'], 1);
      t.deepEqual(get(findings, 'clusterip', 'shop/single:8080/TCP').evidence!['observed'], ['10.244.2.20:9090']);
      t.deepEqual(get(findings, 'clusterip', 'shop/sticky:80/TCP').evidence!['affinity'], { expected: 'ClientIP', observed: 'ClientIP' });
      t.deepEqual(get(findings, 'clusterip', 'shop/sctp:9000/SCTP').evidence!['observed'], ['10.244.1.100:9000', '10.244.2.101:9000']);

      // On the wire: every traced path, from a pod (ClusterIP) and from outside the node (NodePort).
      const w = await wireLab(t, run.lab, which === 'newest' ? `n${mode[0]}` : `o${mode[0]}`);
      const { probes, skipped } = probesFromFindings(findings);
      t.is(probes.length, CLUSTERIP_SUBJECTS.length + NODEPORT_SUBJECTS.length - 1);
      t.deepEqual(skipped, ['clusterip shop/sctp:9000/SCTP (no SCTP sockets on this kernel)']);
      const t1 = Date.now();
      const { problems, tallies } = await onTheWire(w, probes);
      t.log(`on the wire: ${probes.length} paths, ${Object.values(tallies).reduce((a, r) => a + Object.values(r.by).reduce((x, y) => x + y, 0) + Object.values(r.errors).reduce((x, y) => x + y, 0), 0)} connections in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
      t.deepEqual(problems, []);
      // Beyond what the checks trace: externalIPs from outside spread like the ClusterIP; the
      // load balancer's source ranges drop an outside client that is not in them.
      const ext = await w.fromOutside([
        { id: 'ext', proto: 'tcp', host: '192.168.60.10', port: 80, n: 60 },
        { id: 'lb', proto: 'tcp', host: '203.0.113.10', port: 80, n: 2, concurrency: 2 },
      ]);
      t.deepEqual(Object.keys(ext['ext']!.by).sort(), ['10.244.1.120', '10.244.2.121']);
      t.deepEqual(ext['lb'], { by: {}, src: {}, errors: { timeout: 2 } });
    });
  }
}

// ---- faults the way they happen ---------------------------------------------------------------

const SINGLE = 'shop/single:8080/TCP';
const withSingle = (endpoints: readonly { ip: string; ready?: boolean }[]) => ({
  ...DESC, services: DESC.services.map((s) => (s.name === 'single' ? { ...s, endpoints: endpoints.map((e) => ({ node: 'node-b', ...e })) } : s)),
});
const ORIGINAL_SINGLE = [{ ip: '10.244.2.20' }, { ip: '10.244.2.21', ready: false }];

/** Addresses the faults move shop/single's endpoints to (served on node-b like the others). */
const SPARE = ['10.244.2.22', '10.244.2.23', '10.244.2.24'];

async function scanNow(run: { lab: LabNode; kp: LabKubeProxy }, stallMs = 300_000): Promise<{ findings: Finding[]; snapshot: NodeSnapshot; cluster: ClusterContext }> {
  const c = clusterContext(cp);
  const snapshot = await inspectNetns(run.lab.netns, {
    node: NODE, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent',
    kubeProxy: { url: run.kp.metricsUrl, settleMs: 30_000, stallMs },
  });
  return { findings: scanSnapshot(snapshot, c, { only: SR }).findings as Finding[], snapshot, cluster: c };
}

const brief = (fs: readonly Finding[]): string[] => fs.filter((f) => f.status !== 'pass').map((f) => `${f.status} ${f.check} ${f.subject}`).sort();

/** Wire probes for shop/single as the API now says (the scan's own trace of a healthy node would give the same). */
function singleProbe(endpoints: readonly string[]) {
  const probabilities = Object.fromEntries(endpoints.map((e) => [e, 1 / endpoints.length]));
  return { subject: SINGLE, from: 'pod' as const, target: { id: SINGLE, proto: 'tcp' as const, host: '10.96.0.12', port: 8080, n: 120 }, expect: { kind: 'spread' as const, probabilities } };
}

// Each fault run takes 2–3 minutes (kube-proxy restarts, a minSyncPeriod hold, waits on its
// sync metric). NETCONFORM_KPROXY_FAULTS=newest runs them for the newest release only.
const faultReleases = process.env.NETCONFORM_KPROXY_FAULTS === 'newest' ? ['newest'] as const : ['newest', 'oldest'] as const;
for (const which of faultReleases) {
  for (const mode of ['iptables', 'nftables'] as const) {
    test.serial(`kube-proxy ${which} release, ${mode} mode: damaged rules, an old dump restored, kube-proxy stopped, converging and stalled — each found with its subject, confirmed on the wire, and recovered`, async (t) => {
      t.timeout(300_000);
      const version = which === 'newest' ? versions()[0]! : versions()[1]!;
      await replaceEndpointSlice(cp, withSingle(ORIGINAL_SINGLE), 'shop', 'single');
      const lab = await createLabNode({ pods: 0, bridge: 'cbr0', podCIDR: '10.244.1.0/24', uplinkAddress: `${NODE_IP}/24` });
      t.teardown(() => lab.destroy());
      const t0 = Date.now();
      // minSyncPeriod 20s: a change soon after two syncs stays pending — real convergence to observe.
      const kp = await LabKubeProxy.start(cp, { netns: lab.netns, nodeName: NODE, mode, version, clusterCIDR: CLUSTER_CIDR, minSyncPeriod: '20s' });
      t.teardown(() => kp.stop());
      t.teardown(() => replaceEndpointSlice(cp, withSingle(ORIGINAL_SINGLE), 'shop', 'single'));
      await kp.waitForSync(t0, 90_000);
      const w = await wireLab(t, lab, `${which[0]}${mode[0]}f`, SPARE);
      const run = { lab, kp };
      // Each measurement is of the rules as they are now: connections of an earlier phase left
      // unreplied conntrack entries (no DNAT) that a reused source port would otherwise hit.
      const wire = async (endpoints: readonly string[]): Promise<string[]> => {
        await lab.exec('conntrack', ['-F']).catch(() => undefined);
        return (await onTheWire(w, [singleProbe(endpoints)])).problems;
      };
      t.deepEqual(brief((await scanNow(run)).findings), []);
      t.deepEqual(await wire(['10.244.2.20']), []);

      // 1. Another tool deletes shop/single's entry rule (iptables) or map element (nftables).
      if (mode === 'iptables') {
        const rules = (await lab.exec('iptables', ['-w', '-t', 'nat', '-S', 'KUBE-SERVICES'])).split('\n').filter((l) => l.startsWith('-A '));
        const n = rules.findIndex((l) => l.includes('-d 10.96.0.12/32'));
        t.true(n >= 0, rules.join('\n'));
        await lab.exec('iptables', ['-w', '-t', 'nat', '-D', 'KUBE-SERVICES', String(n + 1)]);
      } else {
        await lab.exec(systemTool('nft'), ['delete', 'element', 'ip', 'kube-proxy', 'service-ips', '{', '10.96.0.12', '.', 'tcp', '.', '8080', '}']);
      }
      {
        const { findings } = await scanNow(run);
        t.deepEqual(brief(findings), [`fail service-routing.clusterip ${SINGLE}`]);
        const f = get(findings, 'clusterip', SINGLE);
        t.log(`deleted entry: ${f.message}`);
        t.regex(f.message, /^ClusterIP 10\.96\.0\.12:8080\/TCP: /);
        t.deepEqual(f.evidence!['observed'], []);
        t.deepEqual(f.evidence!['missing'], ['10.244.2.20:9090']);
        const onWire = await wire(['10.244.2.20']);
        t.is(onWire.length, 1, onWire.join('\n'));
        t.regex(onWire[0]!, /^shop\/single:8080\/TCP: 120 of 120 unanswered/);
      }
      // kube-proxy restarted (a full sync) repairs it.
      await kp.kill();
      let mark = Date.now();
      kp.launch();
      await kp.waitForSync(mark, 90_000);
      t.deepEqual(brief((await scanNow(run)).findings), []);
      t.deepEqual(await wire(['10.244.2.20']), []);

      // 2. An old dump restored over kube-proxy's rules after an endpoint change.
      const save = mode === 'iptables' ? await lab.exec('iptables-save', []) : await lab.exec(systemTool('nft'), ['list', 'table', 'ip', 'kube-proxy']);
      mark = Date.now();
      await replaceEndpointSlice(cp, withSingle([{ ip: '10.244.2.20' }, { ip: '10.244.2.22' }]), 'shop', 'single');
      await kp.waitForSync(mark, 60_000);
      t.deepEqual(brief((await scanNow(run)).findings), []);
      t.deepEqual(await wire(['10.244.2.20', '10.244.2.22']), []);
      if (mode === 'iptables') {
        await lab.exec('iptables-restore', ['-w'], save);
      } else {
        await lab.exec(systemTool('nft'), ['delete', 'table', 'ip', 'kube-proxy']);
        await lab.exec(systemTool('nft'), ['-f', '-'], save);
      }
      {
        const { findings } = await scanNow(run);
        t.deepEqual(brief(findings), [`fail service-routing.clusterip ${SINGLE}`]);
        const f = get(findings, 'clusterip', SINGLE);
        t.is(f.message, 'ClusterIP 10.96.0.12:8080/TCP: missing endpoint 10.244.2.22:9090');
        t.is((f.evidence!['kubeProxy'] as Record<string, unknown>)['endpointChangesPending'], 0);
        const onWire = await wire(['10.244.2.20', '10.244.2.22']);
        t.is(onWire.length, 1, onWire.join('\n'));
        t.regex(onWire[0]!, /disagrees with the traced probabilities/);
      }

      // 3. kube-proxy stopped while the endpoints change: the node keeps the old routes.
      await kp.kill();
      await replaceEndpointSlice(cp, withSingle([{ ip: '10.244.2.23' }]), 'shop', 'single');
      {
        const { findings } = await scanNow(run);
        t.deepEqual(brief(findings), [`fail service-routing.clusterip ${SINGLE}`, `skip service-routing.kube-proxy ${NODE} kube-proxy`]);
        t.regex(get(findings, 'clusterip', SINGLE).message, /missing endpoint 10\.244\.2\.23:9090; stale endpoint/);
        t.regex(get(findings, 'kube-proxy', `${NODE} kube-proxy`).message, /^skipped: kube-proxy's metrics are unavailable \(.*ECONNREFUSED\)$/);
        t.is((await wire(['10.244.2.23'])).length, 1);
      }
      mark = Date.now();
      kp.launch();
      await kp.waitForSync(mark, 90_000);

      // 4. Two quick changes: kube-proxy syncs the first at once and holds the second for
      //    minSyncPeriod (20 s; its rate limiter allows a burst of two syncs). Its real metrics
      //    say the change is pending, and the mismatch is a warning, not a failure.
      mark = Date.now();
      await replaceEndpointSlice(cp, withSingle([{ ip: '10.244.2.23' }, { ip: '10.244.2.24' }]), 'shop', 'single');
      await kp.waitForSync(mark, 60_000);
      mark = Date.now();
      await replaceEndpointSlice(cp, withSingle([{ ip: '10.244.2.24' }, { ip: '10.244.2.22' }]), 'shop', 'single');
      {
        // The watch event reaches kube-proxy within a moment; wait for its own word that it is pending.
        const deadline = Date.now() + 10_000;
        for (;;) {
          const m = await kp.metrics();
          if ((m?.endpointChangesPending ?? 0) > 0 || m?.unsyncedSinceSeconds !== undefined) break;
          if (Date.now() > deadline) throw new Error(`kube-proxy never reported the change pending: ${JSON.stringify(m)}\n${kp.logTail(8)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        const { findings } = await scanNow(run);
        t.deepEqual(brief(findings), [`warn service-routing.clusterip ${SINGLE}`]);
        const f = get(findings, 'clusterip', SINGLE);
        t.regex(f.message, /^ClusterIP 10\.96\.0\.12:8080\/TCP: converging — kube-proxy reports 1 endpoint change and 0 service changes pending, a sync queued \d+s ago not completed, last sync \d+s ago; not programmed yet: missing endpoint 10\.244\.2\.22:9090; stale endpoint 10\.244\.2\.23:9090$/);
        t.is(f.severity, 'low');
        t.regex(get(findings, 'kube-proxy', `${NODE} kube-proxy`).message, /^kube-proxy is converging: /);
      }
      await kp.waitForSync(mark, 60_000);
      t.deepEqual(brief((await scanNow(run)).findings), []);
      t.deepEqual(await wire(['10.244.2.24', '10.244.2.22']), []);

      // 5. kube-proxy's writes fail (iptables-restore / nft -f refused) while a change waits:
      //    converging at first, stalled once the stall window (3 s here) has passed without a sync.
      kp.failSyncs(true);
      mark = Date.now();
      await replaceEndpointSlice(cp, withSingle([{ ip: '10.244.2.24' }]), 'shop', 'single');
      // kube-proxy tries once its rate limiter allows (≤ 20 s), and fails: its log says so.
      for (const deadline = Date.now() + 30_000; !kp.logTail(200).includes('made to fail') && Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 200));
      }
      {
        const m = await kp.metrics();
        t.true(m?.unsyncedSinceSeconds !== undefined, JSON.stringify(m));
        t.is(m?.endpointChangesPending, 0, 'kube-proxy zeroes the pending gauge when a sync starts, also one that fails');
        const { findings } = await scanNow(run, 3000);
        t.deepEqual(brief(findings), [`fail service-routing.kube-proxy ${NODE} kube-proxy`, `warn service-routing.clusterip ${SINGLE}`]);
        t.regex(get(findings, 'kube-proxy', `${NODE} kube-proxy`).message, /^kube-proxy is stalled: 0 endpoint changes and 0 service changes pending, a sync queued \d+s ago not completed and its last successful sync was \d+s ago \(more than 3s\)/);
      }
      kp.failSyncs(false);
      // kube-proxy retries a failed sync only after syncPeriod (1 h here): its restart resyncs.
      await kp.kill();
      mark = Date.now();
      kp.launch();
      await kp.waitForSync(mark, 90_000);
      t.deepEqual(brief((await scanNow(run)).findings), []);
      t.deepEqual(await wire(['10.244.2.24']), []);
    });
  }
}
