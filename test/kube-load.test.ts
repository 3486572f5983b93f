// `scan --kubeconfig`: one list of each kind from the real kube-apiserver, through the same
// parser as `--cluster FILE`, so the API and the file `kubectl get -o json` writes give the
// same context and the same scan.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readClusterFile, type ClusterContext } from '../common/cluster.js';
import { loadClusterFromApi } from '../kube/load.js';
import { smallCluster } from './kube/fixtures.js';
import { runProgram } from './support/processes.js';
import { ControlPlane } from './lab/control-plane.js';
import { applyFixture } from './lab/apply-fixture.js';
import { AGENT_SA, NETCONFORM_NS, createPod, installNetconformRbac, podToken } from './lab/netconform-identity.js';

let cp: ControlPlane;
test.before(async () => {
  cp = await ControlPlane.start();
  for (const o of smallCluster()) await applyFixture(cp, o);
});
test.after.always(async () => { await cp?.stop(); });

/** A directory with the cluster file `kubectl get` of the agent's kinds writes, and a kubeconfig (the admin's unless given). */
async function withServer(fn: (dir: string, kubeconfig: string) => Promise<void>, kubeconfig = cp.adminKubeconfig): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kube-load-'));
  try {
    writeFileSync(join(dir, 'cluster.json'), cp.kubectl(['get', 'nodes,services,endpointslices,servicecidrs,pods', '-A', '-o', 'json']));
    await fn(dir, kubeconfig);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const networkPart = ({ workloads: _w, ...rest }: ClusterContext): Omit<ClusterContext, 'workloads'> => rest;

test.serial('loadClusterFromApi and a kubectl file give the same context', async (t) => {
  await withServer(async (dir, kubeconfig) => {
    const opts = { clusterCIDR: '10.244.0.0/16' };
    const fromApi = await loadClusterFromApi(kubeconfig, opts);
    const fromFile = readClusterFile(join(dir, 'cluster.json'), opts);
    t.deepEqual(networkPart(fromApi), networkPart(fromFile));
    t.deepEqual(fromApi.services.map((s) => `${s.namespace}/${s.name}`), ['default/kubernetes', 'shop/web']);
    t.is(fromApi.services[1]?.ports[0]?.endpoints.length, 1);
    // The service CIDR comes from the API server's own ServiceCIDR object: no flag needed.
    t.deepEqual(fromApi.serviceCIDRs, ['10.96.0.0/16']);
    t.deepEqual(fromApi.workloads.map((w) => `${w.kind}/${w.metadata?.name}`), ['Pod/web-0'], 'agent kinds: pods, no controllers');
  });
});

test.serial('loadClusterFromApi names the resource when the server refuses', async (t) => {
  // A user whose role reads everything scan lists but EndpointSlices: the real RBAC refuses.
  await cp.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'no-slices' },
    rules: [{ apiGroups: [''], resources: ['nodes', 'services', 'namespaces', 'pods'], verbs: ['list'] }, { apiGroups: ['networking.k8s.io'], resources: ['servicecidrs'], verbs: ['list'] }] });
  await cp.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'no-slices' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'no-slices' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'sliceless' }] });
  await withServer(async (_dir, kubeconfig) => {
    const err = await t.throwsAsync(loadClusterFromApi(kubeconfig));
    t.is(err?.message, '/apis/discovery.k8s.io/v1/endpointslices: HTTP 403: endpointslices.discovery.k8s.io is forbidden: User "sliceless" cannot list resource "endpointslices" in API group "discovery.k8s.io" at the cluster scope');
  }, cp.kubeconfig('sliceless', cp.clientCertificate('sliceless')));
});

test.serial('agent scan --kubeconfig scans with the API context, same as --cluster', async (t) => {
  await withServer(async (dir, kubeconfig) => {
    const bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    writeFileSync(join(bundle, 'node.txt'), 'node-a\n');
    writeFileSync(join(bundle, 'sysctl.txt'), 'net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\n');
    const scan = ['scan', '--from', bundle, '--format', 'json', '--fail-on', 'none'];
    const viaApi = await runProgram('agent', [...scan, '--kubeconfig', kubeconfig]);
    t.is(viaApi.code, 0, viaApi.stderr);
    const viaFile = await runProgram('agent', [...scan, '--cluster', join(dir, 'cluster.json')]);
    t.is(viaFile.code, 0, viaFile.stderr);
    const without = await runProgram('agent', scan);
    // The context reached the checks: what skips for want of it without one runs with it.
    const noContext = (out: string): string[] =>
      (JSON.parse(out) as { findings: { check: string; message: string }[] }).findings
        .filter((f) => /no cluster context/.test(f.message)).map((f) => f.check);
    t.true(noContext(without.stdout).length > 0, 'some check needs the cluster context');
    t.deepEqual(noContext(viaApi.stdout), []);
    const strip = (s: string): unknown => {
      const { scannedAt: _s, ...rest } = JSON.parse(s) as Record<string, unknown>;
      return rest;
    };
    t.deepEqual(strip(viaApi.stdout), strip(viaFile.stdout));
  });
});

test.serial('agent scan --kubeconfig as the agent\'s own ServiceAccount: its ClusterRole is enough', async (t) => {
  await installNetconformRbac(cp);
  const pod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-agent-a', node: 'node-a', serviceAccount: AGENT_SA });
  const kubeconfig = cp.kubeconfig('agent', { token: await podToken(cp, pod, AGENT_SA) });
  await withServer(async (dir, kc) => {
    const bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    writeFileSync(join(bundle, 'node.txt'), 'node-a\n');
    const scan = await runProgram('agent', ['scan', '--from', bundle, '--format', 'json', '--fail-on', 'none', '--kubeconfig', kc]);
    t.is(scan.code, 0, scan.stderr);
    t.is(scan.stderr, '');
  }, kubeconfig);
});

test.serial('agent scan --kubeconfig: a bad file or flag combination is a usage error (exit 2)', async (t) => {
  const missing = join(tmpdir(), 'nc-no-such-kubeconfig');
  const r1 = await runProgram('agent', ['scan', '--from', tmpdir(), '--kubeconfig', missing]);
  t.is(r1.code, 2);
  t.is(r1.stderr.trim(), `netconform-agent: --kubeconfig: cannot load ${missing}: ENOENT`);
  const r2 = await runProgram('agent', ['scan', '--from', tmpdir(), '--kubeconfig', missing, '--cluster', missing]);
  t.is(r2.code, 2);
  t.is(r2.stderr.trim(), 'netconform-agent: --cluster and --kubeconfig cannot be combined');
});
