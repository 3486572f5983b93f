// netconform as deployed, against the real components (issue #21): a lab node (network
// namespace) programmed by the real kube-proxy (newest pinned release, iptables mode) from a
// real kube-apiserver holding every Service shape; a real collector process serving TLS,
// authenticating the agent by TokenReview against that API server and writing
// wgpolicyk8s.io ClusterPolicyReports (the upstream CRDs installed); and a real
// `netconform-agent run` inspecting the node's namespace (--netns), watching the API with
// its Pod-bound ServiceAccount token, scraping kube-proxy's metrics inside the namespace and
// reporting over TLS with a Pod-bound token for the collector's audience.
// Healthy → another tool deletes shop/single's entry rule → the collector's metrics and the
// node's ClusterPolicyReport name that exact check and Service → kube-proxy restarted (a full
// sync) repairs the rule → both are back to passing → kube-proxy stops (its rules stay) →
// after the stall window the node's kube-proxy check fails there → started again, it passes.
// Every wait is on a real signal:
// kube-proxy's sync metric and the collector's /metrics.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { everyShapeCluster } from '../agent/dataplane/testing/generate.js';
import { ControlPlane } from './lab/control-plane.js';
import { createLabNode } from './lab/lab.js';
import { LabKubeProxy } from './lab/kube-proxy.js';
import { clusterContext, createClusterObjects, replaceEndpointSlice } from './lab/api-objects.js';
import { createWireLab } from './lab/wire.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { scanSnapshot } from '../agent/scan.js';
import type { Finding } from '../common/findings.js';
import { AGENT_SA, COLLECTOR_AUDIENCE, COLLECTOR_SA, NETCONFORM_NS, createPod, installNetconformRbac, podToken, prometheusScraperToken } from './lab/netconform-identity.js';
import { httpsGet } from './support/net.js';
import { makePki } from './support/pki.js';
import { eventually, sample, startCollectorProcess, startProgram } from './support/processes.js';

const NODE = 'lab-node-a';
const NODE_IP = '192.168.50.2';
const CLUSTER_CIDR = '10.244.0.0/16';
const SINGLE = 'shop/single:8080/TCP';
const SR_CHECKS = ['service-routing.clusterip', 'service-routing.kube-proxy', 'service-routing.mode', 'service-routing.nodeport', 'service-routing.stale-rules'];
const CRDS = new URL('./fixtures/policyreport/crds/', import.meta.url).pathname;
const REPORT = `/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/netconform-node-${NODE}`;

interface Result { policy: string; rule: string; result: string; message?: string }

test.serial('live agent as deployed: real kube-proxy, TLS + TokenReview, PolicyReports — a deleted rule is named by check and Service, a kube-proxy restart clears it, and a stopped kube-proxy fails after the stall window', async (t) => {
  t.timeout(300_000);
  const started = Date.now();
  const cp = await ControlPlane.start();
  t.teardown(() => cp.stop());
  await createClusterObjects(cp, everyShapeCluster(NODE, NODE_IP));
  await installNetconformRbac(cp, { policyReports: true });
  const crds = ['wgpolicyk8s.io_clusterpolicyreports.yaml', 'wgpolicyk8s.io_policyreports.yaml'];
  cp.kubectl(['apply', '--server-side', ...crds.flatMap((f) => ['-f', `${CRDS}${f}`])]);
  cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crds.map((f) => `crd/${f.replace(/^([^_]+)_(.+)\.yaml$/, '$2.$1')}`)]);

  const dir = mkdtempSync(join(tmpdir(), 'nc-live-agent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makePki(dir, 'live');

  // The lab node and the real kube-proxy in it.
  const lab = await createLabNode({ pods: 0, bridge: 'cbr0', podCIDR: '10.244.1.0/24', uplinkAddress: `${NODE_IP}/24` });
  t.teardown(() => lab.destroy());
  let mark = Date.now();
  const kp = await LabKubeProxy.start(cp, { netns: lab.netns, nodeName: NODE, mode: 'iptables', clusterCIDR: CLUSTER_CIDR });
  t.teardown(() => kp.stop());
  await kp.waitForSync(mark, 90_000);

  // The collector: its own Pod-bound ServiceAccount token, TLS, TokenReview, PolicyReports.
  const collectorPod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-collector-0', node: 'node-cp', serviceAccount: COLLECTOR_SA });
  const collectorKubeconfig = cp.kubeconfig('collector', { token: await podToken(cp, collectorPod, COLLECTOR_SA) });
  const collector = await startCollectorProcess(['--tls-cert', pki.cert, '--tls-key', pki.key, '--kubeconfig', collectorKubeconfig,
    '--policy-reports', 'wgpolicyk8s', '--metrics-detail', '--log-level', 'debug']);
  t.teardown(() => collector.stop('SIGKILL'));

  // The agent, as its DaemonSet Pod on this node: one token for the API, one for the collector.
  const agentPod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-agent-live', node: NODE, serviceAccount: AGENT_SA });
  const agentKubeconfig = cp.kubeconfig('agent', { token: await podToken(cp, agentPod, AGENT_SA) });
  const tokenFile = join(dir, 'agent.token');
  writeFileSync(tokenFile, `${await podToken(cp, agentPod, AGENT_SA, { audiences: [COLLECTOR_AUDIENCE] })}\n`);
  const agent = startProgram('agent', ['run', '--collector', collector.address, '--collector-ca', pki.ca, '--token-file', tokenFile,
    '--netns', lab.netns, '--node', NODE, '--interval', '2s', '--kubeconfig', agentKubeconfig, '--service-cidr', '10.96.0.0/12',
    '--kube-proxy-metrics', kp.metricsUrl, '--kube-proxy-stall', '10s', '--log-level', 'debug']);
  t.teardown(() => agent.stop('SIGKILL'));

  // /metrics over the collector's TLS, as Prometheus scrapes it (a token allowed get /metrics).
  const prometheus = await prometheusScraperToken(cp);
  const scrape = async (): Promise<string> => {
    const r = await httpsGet(collector.httpPort, '/metrics', pki.ca, prometheus);
    if (r.status !== 200) throw new Error(`/metrics: ${r.status}`);
    return r.body;
  };
  const srStatus = async (): Promise<Record<string, number | undefined>> => {
    const m = await scrape();
    return Object.fromEntries(SR_CHECKS.map((c) => [c, sample(m, 'netconform_check_status', { node: NODE, check: c })]));
  };
  const srFailing = async (): Promise<number | undefined> => {
    const m = await scrape();
    const n = SR_CHECKS.map((c) => sample(m, 'netconform_findings', { node: NODE, check: c, status: 'fail' }) ?? 0);
    return n.reduce((a, b) => a + b, 0);
  };
  /** The node's ClusterPolicyReport results of service-routing that do not pass, as `policy result rule`. */
  const reportNotPassing = async (): Promise<string[] | undefined> => {
    const r = await cp.request('GET', REPORT);
    if (r.status !== 200) return undefined;
    const results = ((r.body as { results?: Result[] }).results ?? []);
    return results.filter((x) => x.policy.startsWith('service-routing.') && x.result !== 'pass').map((x) => `${x.policy} ${x.result} ${x.rule}`).sort();
  };
  const reportPassing = async (): Promise<string[]> => {
    const r = await cp.request('GET', REPORT);
    return ((r.body as { results?: Result[] }).results ?? []).filter((x) => x.policy.startsWith('service-routing.') && x.result === 'pass').map((x) => x.policy).sort();
  };
  const allPass = Object.fromEntries(SR_CHECKS.map((c) => [c, 0]));

  // 1. Healthy: every service-routing check passes on the collector and in the report.
  await agent.waitForLog((l) => l.msg === 'report acknowledged', 90_000, 'the first ack');
  await eventually(async () => JSON.stringify(await srStatus()) === JSON.stringify(allPass) || undefined, 60_000, 'every service-routing check passing');
  t.is(sample(await scrape(), 'netconform_agent_connected', { node: NODE }), 1);
  t.is(await srFailing(), 0);
  await eventually(async () => (await reportNotPassing())?.length === 0 || undefined, 30_000, 'the ClusterPolicyReport with nothing failing');
  t.deepEqual(await reportPassing(), SR_CHECKS);

  // 2. Another tool deletes shop/single's entry rule from KUBE-SERVICES inside the node.
  const rules = (await lab.exec('iptables', ['-w', '-t', 'nat', '-S', 'KUBE-SERVICES'])).split('\n').filter((l) => l.startsWith('-A '));
  const n = rules.findIndex((l) => l.includes('-d 10.96.0.12/32'));
  t.true(n >= 0, rules.join('\n'));
  await lab.exec('iptables', ['-w', '-t', 'nat', '-D', 'KUBE-SERVICES', String(n + 1)]);
  const broken = { ...allPass, 'service-routing.clusterip': 4 };
  await eventually(async () => JSON.stringify(await srStatus()) === JSON.stringify(broken) || undefined, 60_000, 'service-routing.clusterip failing on the collector');
  const m = await scrape();
  t.is(sample(m, 'netconform_findings', { node: NODE, check: 'service-routing.clusterip', status: 'fail' }), 1);
  t.is(await srFailing(), 1);
  const failing = await eventually(async () => { const r = await reportNotPassing(); return r && r.length > 0 ? r : undefined; }, 30_000, 'the ClusterPolicyReport failing');
  t.deepEqual(failing, [`service-routing.clusterip fail ${SINGLE}`]);
  const result = ((await cp.request('GET', REPORT)).body as { results: Result[] }).results.find((x) => x.rule === SINGLE)!;
  t.is(result.message, 'ClusterIP 10.96.0.12:8080/TCP: no rule sends it anywhere (Service missing from the dataplane); missing endpoint 10.244.2.20:9090');

  // 3. kube-proxy restarted: its first sync is a full one and puts the rule back.
  await kp.kill();
  mark = Date.now();
  kp.launch();
  await kp.waitForSync(mark, 90_000);
  await eventually(async () => JSON.stringify(await srStatus()) === JSON.stringify(allPass) || undefined, 60_000, 'every service-routing check passing again');
  t.is(await srFailing(), 0);
  await eventually(async () => (await reportNotPassing())?.length === 0 || undefined, 30_000, 'the ClusterPolicyReport passing again');
  t.deepEqual(await reportPassing(), SR_CHECKS);
  // 4. kube-proxy stops and stays stopped; its rules stay behind, still right for now. After
  //    the 10 s stall window the running agent (which saw it answer) fails its kube-proxy check.
  await kp.kill();
  const stopped = { ...allPass, 'service-routing.kube-proxy': 4 };
  await eventually(async () => JSON.stringify(await srStatus()) === JSON.stringify(stopped) || undefined, 90_000, 'service-routing.kube-proxy failing on the collector');
  // The report is written on its own interval: it shows the skip of the window first.
  const silent = await eventually(async () => { const r = await reportNotPassing(); return r?.some((x) => x.includes(' fail ')) ? r : undefined; }, 30_000, 'the ClusterPolicyReport failing');
  t.deepEqual(silent, [`service-routing.kube-proxy fail ${NODE} kube-proxy`]);
  const silentResult = ((await cp.request('GET', REPORT)).body as { results: Result[] }).results.find((x) => x.policy === 'service-routing.kube-proxy')!;
  t.regex(silentResult.message!, /^kube-proxy has not answered for \d+s \(more than 10s\): http:\/\/127\.0\.0\.1:10249\/metrics: ECONNREFUSED; its rules are still on the node, frozen at its last sync, and no Service change since reaches this node's dataplane — check that kube-proxy is running$/);

  // 5. kube-proxy started again: it answers and syncs, and the check passes.
  mark = Date.now();
  kp.launch();
  await kp.waitForSync(mark, 90_000);
  await eventually(async () => JSON.stringify(await srStatus()) === JSON.stringify(allPass) || undefined, 60_000, 'every service-routing check passing after kube-proxy is back');
  await eventually(async () => (await reportNotPassing())?.length === 0 || undefined, 30_000, 'the ClusterPolicyReport passing after kube-proxy is back');

  // Nothing the agent asked of the API server was refused.
  t.deepEqual(agent.logs.filter((l) => l.msg === 'list/watch failed; retrying').map((l) => l['error']), []);
  t.log(`runtime ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

// A half-done switch from iptables to nftables mode: kube-proxy runs in nftables mode and has
// synced, while the KUBE-* rules an iptables-mode kube-proxy programmed are still there (its
// recorded dump restored into the node, as when the switch skipped `kube-proxy --cleanup`).
// shop/single's endpoint moved after that dump, so a real packet tells which mode DNATs it.
const DUMP = new URL('./fixtures/kube-proxy-real/v1.37.2-iptables/iptables-save.txt', import.meta.url).pathname;

test.serial('half-done mode switch: nftables-mode kube-proxy over iptables-mode KUBE-* rules fails service-routing.mode for the node, and a real packet shows which mode DNATs', async (t) => {
  t.timeout(180_000);
  const cp = await ControlPlane.start();
  t.teardown(() => cp.stop());
  const desc = everyShapeCluster(NODE, NODE_IP);
  await createClusterObjects(cp, desc);
  // After the dump was recorded (endpoint 10.244.2.20), shop/single moved to 10.244.2.22.
  const moved = { ...desc, services: desc.services.map((s) => (s.name === 'single' ? { ...s, endpoints: [{ node: 'node-b', ip: '10.244.2.22' }] } : s)) };
  await replaceEndpointSlice(cp, moved, 'shop', 'single');
  const lab = await createLabNode({ pods: 0, bridge: 'cbr0', podCIDR: '10.244.1.0/24', uplinkAddress: `${NODE_IP}/24` });
  t.teardown(() => lab.destroy());
  const mark = Date.now();
  const kp = await LabKubeProxy.start(cp, { netns: lab.netns, nodeName: NODE, mode: 'nftables', clusterCIDR: CLUSTER_CIDR });
  // nftables mode's --cleanup leaves iptables rules alone: remove the restored ones too.
  t.teardown(async () => { await lab.exec('iptables', ['-w', '-t', 'nat', '-F']).catch(() => undefined); await kp.stop(); });
  await kp.waitForSync(mark, 90_000);
  const local = new Set<string>(), remote = new Set<string>(['10.244.2.20', '10.244.2.22']);
  for (const s of desc.services) for (const e of s.endpoints) (e.node === NODE ? local : remote).add(e.ip);
  const w = await createWireLab(lab, {
    localEndpoints: [...local], remoteEndpoints: [...remote], remoteCIDR: '10.244.2.0/24',
    tcpPorts: [80, 53, 8080, 8443, 9090], udpPorts: [53], clientPodIP: '10.244.1.200', outsideIP: '192.168.50.100', nodeIP: NODE_IP, tag: 'hm',
  });
  t.teardown(() => w.stop());
  const scan = async (): Promise<Finding[]> => {
    const snapshot = await inspectNetns(lab.netns, { node: NODE, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent', kubeProxy: { url: kp.metricsUrl, settleMs: 30_000, stallMs: 300_000 } });
    return scanSnapshot(snapshot, clusterContext(cp), { only: ['service-routing.mode'] }).findings as Finding[];
  };
  const target = { id: SINGLE, proto: 'tcp' as const, host: '10.96.0.12', port: 8080, n: 20 };
  const answered = async (): Promise<string[]> => {
    await lab.exec('conntrack', ['-F']).catch(() => undefined);
    return Object.keys((await w.fromPod([target]))[SINGLE]!.by).sort();
  };
  // nftables mode alone: one mode, and the packet goes to the endpoint of now.
  const clean = await scan();
  t.deepEqual(clean.map((f) => `${f.status} ${f.subject} ${f.message}`), [`pass ${NODE} kube-proxy mode: nftables`]);
  t.deepEqual(await answered(), ['10.244.2.22']);

  // Its nat table, without the `-m nfacct` counting matches: their accounting objects exist
  // only where an iptables-mode kube-proxy created them (the rules match the same packets).
  const nat = /^\*nat\n[\s\S]*?^COMMIT\n/m.exec(readFileSync(DUMP, 'utf8'))![0].replace(/ -m nfacct --nfacct-name +\S+/g, '');
  await lab.exec('iptables-restore', ['-w', '--noflush'], nat);
  const half = await scan();
  t.deepEqual(half.map((f) => `${f.status} ${f.check} ${f.subject}: ${f.message}`), [
    `fail service-routing.mode ${NODE}: two kube-proxy modes catch Service traffic (iptables and nftables); remove the stale one's rules (kube-proxy --cleanup for the old mode)`,
  ]);
  // On the wire: every connection goes to the old endpoint — the stale iptables rules DNAT
  // first, and nftables-mode kube-proxy's correct rules never see the packet rewritten.
  t.deepEqual(await answered(), ['10.244.2.20']);
});
