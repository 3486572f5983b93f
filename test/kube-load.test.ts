// `scan --kubeconfig`: one list of each kind from a real list/watch server, through the same
// parser as `--cluster FILE`, so both sources give the same context and the same scan.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readClusterFile, type ClusterContext } from '../common/cluster.js';
import { loadClusterFromApi } from '../kube/load.js';
import { FakeApiServer } from './kube/fake-apiserver.js';
import { smallCluster } from './kube/fixtures.js';
import { runProgram } from './support/processes.js';

async function withServer(fn: (server: FakeApiServer, dir: string, kubeconfig: string) => Promise<void>): Promise<void> {
  const server = await FakeApiServer.start({ tls: true });
  const dir = mkdtempSync(join(tmpdir(), 'kube-load-'));
  try {
    const stored = smallCluster().map((o) => server.upsert(o));
    // What `kubectl get nodes,services,endpointslices,namespaces,pods -A -o json` prints.
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: stored }));
    await fn(server, dir, server.writeKubeconfig(join(dir, 'kubeconfig')));
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const networkPart = ({ workloads: _w, ...rest }: ClusterContext): Omit<ClusterContext, 'workloads'> => rest;

test('loadClusterFromApi and a kubectl file give the same context', async (t) => {
  await withServer(async (server, dir, kubeconfig) => {
    const opts = { serviceCIDRs: ['10.96.0.0/16'], clusterCIDR: '10.244.0.0/16' };
    const fromApi = await loadClusterFromApi(kubeconfig, opts);
    const fromFile = readClusterFile(join(dir, 'cluster.json'), opts);
    t.deepEqual(networkPart(fromApi), networkPart(fromFile));
    t.is(fromApi.services[0]?.ports[0]?.endpoints.length, 1);
    t.deepEqual(fromApi.workloads.map((w) => `${w.kind}/${w.metadata?.name}`), ['Pod/web-0'], 'agent kinds: pods, no controllers');
    // One list per kind, no watch.
    t.deepEqual(server.requests.map((r) => r.path).sort(), [
      '/api/v1/namespaces', '/api/v1/nodes', '/api/v1/pods', '/api/v1/services',
      '/apis/discovery.k8s.io/v1/endpointslices', '/apis/networking.k8s.io/v1/servicecidrs',
    ]);
    t.false(server.requests.some((r) => r.watch));
  });
});

test('loadClusterFromApi names the resource when the server refuses', async (t) => {
  await withServer(async (server, _dir, kubeconfig) => {
    server.failNext('EndpointSlice', 403);
    const err = await t.throwsAsync(loadClusterFromApi(kubeconfig));
    t.regex(err?.message ?? '', /\/apis\/discovery\.k8s\.io\/v1\/endpointslices: HTTP 403/);
  });
});

test('agent scan --kubeconfig scans with the API context, same as --cluster', async (t) => {
  await withServer(async (_server, dir, kubeconfig) => {
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

test('agent scan --kubeconfig: a bad file or flag combination is a usage error (exit 2)', async (t) => {
  const missing = join(tmpdir(), 'nc-no-such-kubeconfig');
  const r1 = await runProgram('agent', ['scan', '--from', tmpdir(), '--kubeconfig', missing]);
  t.is(r1.code, 2);
  t.is(r1.stderr.trim(), `netconform-agent: --kubeconfig: cannot load ${missing}: ENOENT`);
  const r2 = await runProgram('agent', ['scan', '--from', tmpdir(), '--kubeconfig', missing, '--cluster', missing]);
  t.is(r2.code, 2);
  t.is(r2.stderr.trim(), 'netconform-agent: --cluster and --kubeconfig cannot be combined');
});
