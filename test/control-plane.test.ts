// The lab control plane itself: the real etcd and kube-apiserver start, tell their versions
// truthfully, authorise with real RBAC, admit with the real PodSecurity plugin, and leave
// nothing behind when stopped.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ControlPlane } from './lab/control-plane.js';
import { k8sBin, k8sVersions } from './lab/k8s-bins.js';

let cp: ControlPlane;
test.before(async () => { cp = await ControlPlane.start(); });
test.after.always(async () => { await cp?.stop(); });

test('the API server and kubectl report the pinned release, etcd the version it pins', async (t) => {
  const v = k8sVersions();
  const server = await cp.must<{ gitVersion: string; major: string; minor: string }>('GET', '/version');
  t.is(server.gitVersion, v.kubernetes);
  t.is(`v${server.major}.${server.minor}`, v.kubernetes.replace(/\.\d+$/, ''));
  const client = JSON.parse(cp.kubectl(['version', '-o', 'json'])) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
  t.is(client.clientVersion.gitVersion, v.kubernetes);
  t.is(client.serverVersion.gitVersion, v.kubernetes);
  const etcd = execFileSync(k8sBin('etcd'), ['--version'], { encoding: 'utf8' });
  t.regex(etcd, new RegExp(`etcd Version: ${v.etcd.replace(/^v/, '').replace(/\./g, '\\.')}\\b`));
  t.log(`control plane ready in ${cp.startupSeconds.toFixed(1)} s`);
});

test('RBAC is real: a user without a binding is refused, system:node-proxier may list EndpointSlices', async (t) => {
  const nobody = cp.clientCertificate('nobody');
  const refused = await cp.request<{ message: string }>('GET', '/api/v1/nodes', undefined, { as: nobody });
  t.is(refused.status, 403);
  t.is(refused.body.message, 'nodes is forbidden: User "nobody" cannot list resource "nodes" in API group "" at the cluster scope');
  // kube-proxy's identity: the bootstrap binding system:node-proxier → user system:kube-proxy.
  const proxy = cp.clientCertificate('system:kube-proxy');
  const allowed = await cp.request<{ kind: string }>('GET', '/apis/discovery.k8s.io/v1/endpointslices', undefined, { as: proxy });
  t.is(allowed.status, 200);
  t.is(allowed.body.kind, 'EndpointSliceList');
  const write = await cp.request('DELETE', '/api/v1/namespaces/default/services/kubernetes', undefined, { as: proxy });
  t.is(write.status, 403);
});

test('PodSecurity admission is real: a privileged pod is refused in a restricted namespace, with the library\'s message', async (t) => {
  await cp.createNamespace('cp-restricted', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'v1.37' });
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'cp-restricted' }, spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] } };
  const r = await cp.request<{ message: string }>('POST', '/api/v1/namespaces/cp-restricted/pods?dryRun=All', pod);
  t.is(r.status, 403);
  t.true(r.body.message.startsWith('pods "p" is forbidden: violates PodSecurity "restricted:v1.37": privileged (container "c" must not set securityContext.privileged=true)'), r.body.message);
});

test('stop() ends both processes and removes the directory', async (t) => {
  const other = await ControlPlane.start();
  const dir = other.dir;
  t.true(existsSync(dir));
  await other.stop();
  t.false(existsSync(dir));
  await t.throwsAsync(other.request('GET', '/readyz'), { code: 'ECONNREFUSED' });
});
