// `migrate check --collector` end to end: a real agent on a lab node reports its fingerprint
// to a real collector over loopback gRPC, and the CLI's report from the collector equals the
// offline one (bundle of the same node, same cluster file), also after the collector
// restarted on its file store. And the collector's own Kubernetes watch (the real
// kube-apiserver, as the collector's ServiceAccount with the shipped ClusterRole) supplies
// the cluster view: its NetworkPolicies block a target that enforces none, and deleting them
// clears the blocker; a role without NetworkPolicies keeps the view incomplete, and says so. What the CLI reads from the
// collector is checked before it is trusted.
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLabNode } from './lab/lab.js';
import { eventually, runProgram, startCollectorProcess, startProgram } from './support/processes.js';
import { CNI_FIX, DENY_EGRESS_POLICY, KUBE_PROXY_DAEMONSET, UPLINK, base, fp, node } from './support/migration.js';
import { ControlPlane, type KubeObject } from './lab/control-plane.js';
import { applyFixture, deleteFixture } from './lab/apply-fixture.js';
import { COLLECTOR_SA, NETCONFORM_NS, createPod, installNetconformRbac, podToken } from './lab/netconform-identity.js';
import { loadContract } from '../common/proto.js';
import { reportToWire } from '../common/wire.js';
import type { MigrationReport } from '../migrate/check.js';
import { clusterInventory } from '../migrate/inventory.js';
import { parseFingerprintJson, parseInventoryJson } from '../migrate/collector-input.js';
import { InputError } from '../common/errors.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'nc-migrate-collector-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const items = (r: MigrationReport) => ({ blockers: r.blockers, warnings: r.warnings, changes: r.changes });

/**
 * The migration fixtures as the real API server admits them: a Service needs ports and a
 * ClusterIP from the service range, a DaemonSet a selector matching its template's labels.
 */
function admissible(o: KubeObject): KubeObject {
  if (o['kind'] === 'Service') return { ...o, spec: { ...(o['spec'] as KubeObject), clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80 }] } };
  if (o['kind'] === 'DaemonSet') {
    const spec = o['spec'] as { template: { spec: KubeObject } };
    const labels = { 'k8s-app': String((o['metadata'] as { name: string }).name) };
    return { ...o, spec: { ...spec, selector: { matchLabels: labels }, template: { ...spec.template, metadata: { labels } } } };
  }
  return o;
}

/** A control plane holding `objects` and a kubeconfig of the collector's ServiceAccount (its ClusterRole replaced by `role` when given). */
async function clusterFor(t: { teardown(fn: () => Promise<void> | void): void }, objects: readonly KubeObject[], role?: (rules: KubeObject[]) => KubeObject[]): Promise<{ cp: ControlPlane; kubeconfig: string }> {
  const cp = await ControlPlane.start();
  t.teardown(() => cp.stop());
  await installNetconformRbac(cp);
  if (role) {
    const current = await cp.must<{ rules: KubeObject[] }>('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/netconform-collector');
    await cp.must('PUT', '/apis/rbac.authorization.k8s.io/v1/clusterroles/netconform-collector', { ...current, rules: role(current.rules) });
  }
  await applyFixture(cp, { kind: 'Namespace', metadata: { name: 'shop' } });
  for (const o of objects) await applyFixture(cp, admissible(o));
  const pod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-collector-0', node: 'n1', serviceAccount: COLLECTOR_SA });
  return { cp, kubeconfig: cp.kubeconfig('collector', { token: await podToken(cp, pod, COLLECTOR_SA) }) };
}

test('an agent\'s fingerprint through the collector gives the offline report, also after a collector restart on its file store', async (t) => {
  t.timeout(180_000);
  const dir = tempDir(t);
  const lab = await createLabNode({ pods: 1, ...UPLINK });
  t.teardown(() => lab.destroy());
  // The same CNI config and plugin directory for the live agent and the capture.
  const confDir = join(CNI_FIX, 'bridge', 'net.d');
  const binDir = join(dir, 'cni-bin');
  mkdirSync(binDir);
  for (const b of ['bridge', 'host-local', 'loopback', 'portmap']) {
    writeFileSync(join(binDir, b), '#!/bin/sh\n');
    chmodSync(join(binDir, b), 0o755);
  }
  const cluster = join(dir, 'cluster.json');
  writeFileSync(cluster, JSON.stringify({ kind: 'List', apiVersion: 'v1', items: [...base(), node(lab.nodeName, ['10.244.1.0/24'], '10.250.0.11'), DENY_EGRESS_POLICY] }));
  const db = join(dir, 'collector.db');
  // flannel enforces no NetworkPolicy (a blocker); the pod CIDR collides (a blocker); its
  // overlay does not fit today's pod MTU, its kernel minimum is to verify, vxlan may not be
  // loaded (warnings); the bridge check changes meaning (pods leave cbr0 for flannel's overlay).
  const judge = ['--to', 'flannel-vxlan', '--target-pod-cidr', '10.244.0.0/16', '--format', 'json'];

  let collector = await startCollectorProcess(['--cluster', cluster, '--db', db]);
  t.teardown(() => collector.stop('SIGKILL'));
  const early = await runProgram('cli', ['migrate', 'check', ...judge, '--collector', collector.address, '--insecure']);
  t.is(early.code, 2);
  t.is(early.stderr.trim(), `netconform: --collector: the collector at ${collector.address} has no node fingerprints yet: agents send one with every scan; wait for their first reports (netconform nodes lists who reported)`);

  const agent = startProgram('agent', ['run', '--collector', collector.address, '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1h',
    '--cluster', cluster, '--cni-conf-dir', confDir, '--cni-bin-dir', binDir, '--log-level', 'debug']);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitForLog((l) => l.msg === 'report acknowledged' && l['sequence'] === 1, 60_000, 'ack of report 1');

  const bundle = join(dir, 'bundle');
  const captured = await runProgram('agent', ['capture', '--out', bundle, '--netns', lab.netns, '--node', lab.nodeName, '--cni-conf-dir', confDir, '--cni-bin-dir', binDir]);
  t.is(captured.code, 0, captured.stderr);
  const offline = await runProgram('cli', ['migrate', 'check', ...judge, '--cluster', cluster, '--from', bundle]);
  t.is(offline.code, 1, offline.stderr);
  const want = JSON.parse(offline.stdout) as MigrationReport;
  t.deepEqual(want.blockers.map((b) => `${b.id} ${b.subject}`), ['networkpolicy-unsupported cluster', 'cidr-overlap 10.244.0.0/16']);
  t.deepEqual(want.warnings.map((w) => `${w.id} ${w.subject}`), ['kernel-too-old', 'module-missing', 'mtu-headroom'].map((id) => `${id} ${lab.nodeName}`));
  t.deepEqual(want.changes.map((c) => c.check), ['pod-network.bridge']);

  const viaCollector = await runProgram('cli', ['migrate', 'check', ...judge, '--collector', collector.address, '--insecure']);
  t.is(viaCollector.code, 1, viaCollector.stderr);
  const got = JSON.parse(viaCollector.stdout) as MigrationReport;
  t.deepEqual(items(got), items(want));
  // The live fingerprint is the bundle's: the agent reads what capture writes.
  t.deepEqual(got.nodes, want.nodes);
  t.like(got.nodes[0], { node: lab.nodeName, cni: { family: 'bridge', binaries: ['bridge', 'host-local', 'loopback', 'portmap'] }, dataPath: { kind: 'bridge', device: 'cbr0' } });
  const source = /^netconform migrate check: 1 node fingerprint from the collector at \S+ \(oldest reported (\S+)\)$/.exec(viaCollector.stderr.trim());
  t.truthy(source, viaCollector.stderr);

  // The agent stops; the collector restarts on its file: the fingerprint is still there.
  await agent.stop('SIGTERM');
  await collector.stop('SIGTERM');
  collector = await startCollectorProcess(['--cluster', cluster, '--db', db]);
  const restored = await runProgram('cli', ['migrate', 'check', ...judge, '--collector', collector.address, '--insecure']);
  t.is(restored.code, 1, restored.stderr);
  t.deepEqual(JSON.parse(restored.stdout), got);
  t.regex(restored.stderr, new RegExp(`\\(oldest reported ${source![1]!.replace(/[.]/g, '\\.')}\\)$`, 'm'), 'the same report, as old as before');
  const usage = await runProgram('cli', ['migrate', 'check', ...judge, '--collector', collector.address, '--insecure', '--cluster', cluster]);
  t.is(usage.code, 2);
  t.is(usage.stderr.trim(), 'netconform: --collector: gives the cluster and the nodes\' fingerprints itself: it cannot be combined with --cluster');
});

test('the collector\'s watch supplies the cluster view: NetworkPolicies block a target without policy support until they are deleted', async (t) => {
  t.timeout(240_000);
  const { cp, kubeconfig } = await clusterFor(t, [...base(), DENY_EGRESS_POLICY, KUBE_PROXY_DAEMONSET]);
  const collector = await startCollectorProcess(['--kubeconfig', kubeconfig]);
  t.teardown(() => collector.stop('SIGKILL'));
  await collector.waitForLog((l) => l.msg === 'all kinds listed', 30_000, 'the watch to list every kind');

  // Nodes' fingerprints as their agents would report them; n2's is over the bound and not kept.
  const client = new (loadContract().AgentService)(collector.address, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const reportAs = (nodeName: string, fingerprintJson: string): Promise<void> => new Promise<void>((resolve, reject) => {
    const call = client.Connect();
    call.on('data', (m: { ack?: unknown }) => {
      if (m.ack) call.end();
    });
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => (s.code === grpc.status.OK ? resolve() : reject(new Error(s.details))));
    call.write({ hello: { node: nodeName, agentVersion: 'test', capabilities: ['report'], bootId: 'b1' } });
    call.write({ report: reportToWire({ sequence: 1, bootId: 'b1', scannedAt: new Date().toISOString(), proxyMode: 'iptables', cni: 'bridge', checks: [], findings: [], fingerprintJson }) });
  });
  await reportAs('n1', JSON.stringify(fp()));
  await reportAs('n2', JSON.stringify(fp({}, { node: 'n2', modules: Array.from({ length: 8000 }, (_, i) => `module_${i}`) })));
  const tooLarge = await collector.waitForLog((l) => l.msg === 'fingerprint too large; not kept', 10_000, 'the oversized fingerprint refused');
  t.like(tooLarge, { node: 'n2', limit: 65536 });

  const check = (to: string) => runProgram('cli', ['migrate', 'check', '--to', to, '--collector', collector.address, '--insecure', '--format', 'json']);
  const flannel = await check('flannel-vxlan');
  t.is(flannel.code, 1, flannel.stderr);
  const r = JSON.parse(flannel.stdout) as MigrationReport;
  t.deepEqual(r.blockers.map((b) => `${b.id} ${b.subject}`), ['networkpolicy-unsupported cluster']);
  t.is(r.blockers[0]!.message, '1 NetworkPolicies exist and flannel, VXLAN backend enforces none: their isolation would silently vanish');
  t.deepEqual(r.blockers[0]!.evidence['policies'], ['shop/deny-egress']);
  t.deepEqual(r.nodes, [fp()]);
  // The DaemonSets are watched too: kube-proxy must go where Cilium replaces it.
  const cilium = JSON.parse((await check('cilium-kpr')).stdout) as MigrationReport;
  t.deepEqual(cilium.blockers.map((b) => `${b.id} ${b.subject}`), ['tool-incompatible kube-system/kube-proxy']);

  await deleteFixture(cp, 'NetworkPolicy', 'shop', 'deny-egress');
  const ready = await eventually(async () => {
    const again = await check('flannel-vxlan');
    return again.code === 0 ? again : undefined;
  }, 20_000, 'the deleted policy to leave the collector\'s view');
  t.deepEqual((JSON.parse(ready.stdout) as MigrationReport).blockers, []);
});

test('until the collector\'s watch has listed every kind, migrate check --collector says so instead of judging a partial view', async (t) => {
  t.timeout(240_000);
  // The collector's ClusterRole as it was before NetworkPolicies were watched: the real RBAC
  // refuses that one kind, so the watch never lists every kind.
  const { kubeconfig } = await clusterFor(t, base(), (rules) => rules.map((r) => ({ ...r, resources: (r['resources'] as string[]).filter((x) => x !== 'networkpolicies') })));
  const collector = await startCollectorProcess(['--kubeconfig', kubeconfig]);
  await collector.waitForLog((l) => l.msg === 'list/watch failed; retrying' && String(l['error']).includes('networkpolicies.networking.k8s.io is forbidden'), 60_000, 'the refusal');
  t.teardown(() => collector.stop('SIGKILL'));
  const r = await runProgram('cli', ['migrate', 'check', '--to', 'flannel-vxlan', '--collector', collector.address, '--insecure']);
  t.is(r.code, 2);
  t.is(r.stderr.trim(), `netconform: collector at ${collector.address}: migration inventory: the collector's Kubernetes watch has not listed every kind yet; try again in a moment`);
});

test('a fingerprint or inventory from the collector that lacks a field is bad input naming the node and the field', (t) => {
  const { dataPath: _dp, ...noDataPath } = fp();
  t.throws(() => parseFingerprintJson(JSON.stringify(noDataPath), 'collector c:1: fingerprint of node n1'), {
    instanceOf: InputError, message: 'collector c:1: fingerprint of node n1: dataPath: expected an object',
  });
  t.throws(() => parseFingerprintJson(JSON.stringify({ ...fp(), dataPath: { ...fp().dataPath, mtu: '1500' } }), 'fp n1'), { message: 'fp n1: dataPath.mtu: expected number, got string' });
  t.throws(() => parseFingerprintJson('{"node":', 'fp n1'), { message: /^fp n1: not JSON: / });
  t.throws(() => parseInventoryJson(JSON.stringify({ ...clusterInventory(base()), networkPolicies: {} }), 'inv'), { message: 'inv: networkPolicies: expected array, got object' });
  t.deepEqual(parseFingerprintJson(JSON.stringify(fp()), 'fp n1'), fp());
  t.deepEqual(parseInventoryJson(JSON.stringify(clusterInventory(base())), 'inv'), clusterInventory(base()));
});
