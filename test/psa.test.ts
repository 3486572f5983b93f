// The Pod Security Standards evaluator, control by control, at the policy versions where
// each control's behaviour changes, asserting the API server's exact words.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { evaluate, resolveVersion, violationMessage, MAX_POLICY_VERSION, checksFor } from '../psa/evaluate.js';
import { podSubject } from '../psa/workload.js';
import { PodReadError } from '../psa/pod.js';
import type { Level, PolicyVersion } from '../psa/types.js';

type Obj = Record<string, unknown>;

/** A pod that passes restricted at every version; `spec` and `meta` are merged over it. */
function pod(spec: Obj = {}, meta: Obj = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', ...meta },
    spec: {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [container('app')],
      ...spec,
    },
  };
}

/** A container that passes restricted; `sc` is merged into its securityContext. */
function container(name: string, sc: Obj = {}, extra: Obj = {}): Obj {
  return { name, image: 'x', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, ...sc }, ...extra };
}

function run(o: Obj, level: Level, version: PolicyVersion, kubernetesMinor?: number): string {
  const s = podSubject(o);
  if (!s) throw new Error('not a workload');
  const e = evaluate(s.pod, level, version, kubernetesMinor === undefined ? {} : { kubernetesMinor });
  return violationMessage(e) ?? 'allowed';
}

const v = (n: number): string => `v1.${n}`;
const b = (n: number, text: string): string => `violates PodSecurity "baseline:${v(n)}": ${text}`;
const r = (n: number, text: string): string => `violates PodSecurity "restricted:${v(n)}": ${text}`;

test('the baseline pod passes every version; privileged evaluates nothing', (t) => {
  for (let n = 0; n <= MAX_POLICY_VERSION; n++) {
    t.is(run(pod(), 'baseline', n), 'allowed', v(n));
    t.is(run(pod(), 'restricted', n), 'allowed', v(n));
  }
  t.is(run(pod({ hostPID: true, containers: [{ name: 'a', securityContext: { privileged: true } }] }), 'privileged', 'latest'), 'allowed');
});

test('privileged: containers of every kind, in visit order, pluralised', (t) => {
  const o = pod({
    initContainers: [container('init', { privileged: true })],
    containers: [container('a', { privileged: false }), container('b', { privileged: true })],
    ephemeralContainers: [container('debug', { privileged: true })],
  });
  t.is(run(o, 'baseline', 0), b(0, 'privileged (containers "init", "b", "debug" must not set securityContext.privileged=true)'));
  t.is(run(pod({ containers: [container('b', { privileged: true })] }), 'baseline', 0),
    b(0, 'privileged (container "b" must not set securityContext.privileged=true)'));
});

test('hostNamespaces lists what is set, in fixed order', (t) => {
  t.is(run(pod({ hostIPC: true, hostPID: true, hostNetwork: false }), 'baseline', 0), b(0, 'host namespaces (hostPID=true, hostIPC=true)'));
});

test('capabilities_baseline in baseline and in restricted before v1.22; overridden from v1.22', (t) => {
  const o = pod({
    containers: [
      container('a', { capabilities: { drop: ['ALL'], add: ['NET_RAW', 'CHOWN', 'CAP_SYS_ADMIN'] } }),
      container('b', { capabilities: { drop: ['ALL'], add: ['NET_RAW'] } }),
    ],
  });
  t.is(run(o, 'baseline', 0),
    b(0, 'non-default capabilities (containers "a", "b" must not include "CAP_SYS_ADMIN", "NET_RAW" in securityContext.capabilities.add)'));
  t.is(run(o, 'restricted', 21),
    r(21, 'non-default capabilities (containers "a", "b" must not include "CAP_SYS_ADMIN", "NET_RAW" in securityContext.capabilities.add)'));
  t.is(run(o, 'restricted', 22),
    r(22, 'unrestricted capabilities (containers "a", "b" must not include "CAP_SYS_ADMIN", "CHOWN", "NET_RAW" in securityContext.capabilities.add)'));
});

test('capabilities_restricted from v1.22: drop ALL and add only NET_BIND_SERVICE', (t) => {
  const o = pod({
    containers: [
      { name: 'bare', image: 'x', securityContext: { allowPrivilegeEscalation: false } },
      container('nodrop', { capabilities: { drop: ['all'], add: ['NET_BIND_SERVICE'] } }),
      container('adds', { capabilities: { drop: ['ALL'], add: ['SYS_TIME', 'NET_BIND_SERVICE'] } }),
    ],
  });
  t.is(run(o, 'restricted', 21), r(21, 'non-default capabilities (container "adds" must not include "SYS_TIME" in securityContext.capabilities.add)'));
  t.is(run(o, 'restricted', 22), r(22, 'unrestricted capabilities (containers "bare", "nodrop" must set securityContext.capabilities.drop=["ALL"]; container "adds" must not include "SYS_TIME" in securityContext.capabilities.add)'));
});

test('hostPathVolumes in baseline; restrictedVolumes reports hostPath instead in restricted', (t) => {
  const o = pod({ volumes: [{ name: 'h1', hostPath: { path: '/' } }, { name: 'cfg', configMap: { name: 'c' } }, { name: 'h2', hostPath: { path: '/x' } }] });
  t.is(run(o, 'baseline', 0), b(0, 'hostPath volumes (volumes "h1", "h2")'));
  t.is(run(o, 'restricted', 0), r(0, 'restricted volume types (volumes "h1", "h2" use restricted volume type "hostPath")'));
  t.is(run(pod({ volumes: [{ name: 'h', hostPath: { path: '/' } }] }), 'baseline', 0), b(0, 'hostPath volumes (volume "h")'));
});

test('restrictedVolumes: named types, unknown, image allowed, a source-less volume defaults to emptyDir', (t) => {
  const o = pod({ volumes: [{ name: 'n', nfs: { server: 's', path: '/' } }, { name: 'g', gitRepo: { repository: 'r' } }, { name: 'n2', nfs: { server: 's', path: '/' } }] });
  t.is(run(o, 'restricted', 0), r(0, 'restricted volume types (volumes "n", "g", "n2" use restricted volume types "gitRepo", "nfs")'));
  t.is(run(pod({ volumes: [{ name: 'c', cephfs: { monitors: [] } }] }), 'restricted', 0),
    r(0, 'restricted volume types (volume "c" uses restricted volume type "cephfs")'));
  t.is(run(pod({ volumes: [{ name: 'scratch' }, { name: 'img', image: { reference: 'r' } }, { name: 'pvc', persistentVolumeClaim: { claimName: 'c' } }] }), 'restricted', 0), 'allowed');
});

test('hostPorts: ports once each, sorted as strings; hostNetwork pods get hostPort = containerPort', (t) => {
  const o = pod({
    containers: [
      container('a', {}, { ports: [{ containerPort: 9, hostPort: 9 }, { containerPort: 10, hostPort: 10 }] }),
      container('b', {}, { ports: [{ containerPort: 80 }, { containerPort: 9, hostPort: 9 }] }),
    ],
  });
  t.is(run(o, 'baseline', 0), b(0, 'hostPort (containers "a", "b" use hostPorts 10, 9)'));
  const net = pod({ hostNetwork: true, containers: [container('web', {}, { ports: [{ containerPort: 8080 }] })] });
  t.is(run(net, 'baseline', 0), b(0, 'host namespaces (hostNetwork=true), hostPort (container "web" uses hostPort 8080)'));
  // A template is no longer defaulted (Kubernetes 1.28+): only the namespace shows.
  const deploy = { kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { spec: (net['spec'] as Obj) } } };
  t.is(run(deploy, 'baseline', 0), b(0, 'host namespaces (hostNetwork=true)'));
});

test('appArmorProfile: fields and annotations, values sorted, setters ordered', (t) => {
  const o = pod({
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, appArmorProfile: { type: 'Unconfined' } },
    containers: [container('a', { appArmorProfile: { type: 'Localhost' } }), container('b', { appArmorProfile: { type: 'unconfined' } })],
  }, {
    annotations: {
      'container.apparmor.security.beta.kubernetes.io/b': 'unconfined',
      'container.apparmor.security.beta.kubernetes.io/a': 'localhost/foo',
      'container.apparmor.security.beta.kubernetes.io/c': 'runtime/default',
    },
  });
  t.is(run(o, 'baseline', 0), b(0, 'forbidden AppArmor profiles (pod and container "b" and annotation must not set AppArmor profile type to "Unconfined", "unconfined", "container.apparmor.security.beta.kubernetes.io/b="unconfined"")'));
  // In a Pod the API server copies the annotation into the container's field before admission
  // (kube-apiserver 1.37, found by the differential run): both are reported. A template is
  // evaluated as written.
  const annotated = pod({}, { annotations: { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' } });
  t.is(run(annotated, 'baseline', 0),
    b(0, 'forbidden AppArmor profiles (container "app" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/app="unconfined"")'));
  t.is(run({ kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { metadata: annotated['metadata'], spec: annotated['spec'] } } }, 'baseline', 0),
    b(0, 'forbidden AppArmor profile (annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/app="unconfined"")'));
  // Not copied when the pod's own profile says the same, nor for Windows pods.
  const samePod = pod({ securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, appArmorProfile: { type: 'Unconfined' } } }, annotated['metadata'] as Obj);
  t.is(run(samePod, 'baseline', 0),
    b(0, 'forbidden AppArmor profiles (pod and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/app="unconfined"")'));
});

test('seLinuxOptions: container_engine_t allowed from v1.31; user and role', (t) => {
  const engine = pod({ containers: [container('a', { seLinuxOptions: { type: 'container_engine_t' } })] });
  t.is(run(engine, 'baseline', 30), b(30, 'seLinuxOptions (container "a" set forbidden securityContext.seLinuxOptions: type "container_engine_t")'));
  t.is(run(engine, 'baseline', 31), 'allowed');
  const o = pod({
    securityContext: { seLinuxOptions: { role: 'r' } },
    containers: [container('e', { seLinuxOptions: { type: 'foo', level: 's0' } }), container('f', { seLinuxOptions: { type: 'bar', user: 'u' } })],
  });
  t.is(run(o, 'baseline', 0), b(0, 'seLinuxOptions (pod and containers "e", "f" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set)'));
  t.is(run(pod({ securityContext: { seLinuxOptions: { user: 'u' } } }), 'baseline', 0),
    b(0, 'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: user may not be set)'));
});

test('procMount: baseline relaxed for user-namespace pods from v1.35; restricted never', (t) => {
  const o = pod({ hostUsers: false, containers: [container('a', { procMount: 'Unmasked' }), container('b', { procMount: 'Default' })] });
  t.is(run(o, 'baseline', 34), b(34, 'procMount (container "a" must not set securityContext.procMount to "Unmasked")'));
  t.is(run(o, 'baseline', 35), 'allowed');
  t.is(run(o, 'restricted', 34), r(34, 'procMount (container "a" must not set securityContext.procMount to "Unmasked")'));
  t.is(run(o, 'restricted', 35), r(35, 'procMount (container "a" must not set securityContext.procMount to "Unmasked")'));
  const host = pod({ containers: [container('a', { procMount: 'Unmasked' })] });
  t.is(run(host, 'baseline', 35), b(35, 'procMount (container "a" must not set securityContext.procMount to "Unmasked")'));
});

test('seccompProfile_baseline: annotations before v1.19, fields from v1.19', (t) => {
  const annotated = pod({ securityContext: { runAsNonRoot: true } }, {
    annotations: {
      'seccomp.security.alpha.kubernetes.io/pod': 'unconfined',
      'container.seccomp.security.alpha.kubernetes.io/app': 'docker/default',
      'container.seccomp.security.alpha.kubernetes.io/ghost': 'unconfined',
    },
  });
  t.is(run(annotated, 'baseline', 18), b(18, 'seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")'));
  t.is(run(annotated, 'baseline', 19), 'allowed');
  const fields = pod({ securityContext: { seccompProfile: { type: 'Unconfined' } }, containers: [container('c', { seccompProfile: { type: 'Unconfined' } })] });
  t.is(run(fields, 'baseline', 18), 'allowed');
  t.is(run(fields, 'baseline', 19), b(19, 'seccompProfile (pod and container "c" must not set securityContext.seccompProfile.type to "Unconfined")'));
});

test('seccompProfile_restricted from v1.19: explicit bad values before the implicit rule', (t) => {
  const unset = pod({ securityContext: { runAsNonRoot: true }, containers: [container('a'), container('b')] });
  t.is(run(unset, 'restricted', 18), 'allowed');
  t.is(run(unset, 'restricted', 19), r(19, 'seccompProfile (pod or containers "a", "b" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'));
  const explicit = pod({ securityContext: { runAsNonRoot: true }, containers: [container('a', { seccompProfile: { type: 'Unconfined' } }), container('b')] });
  t.is(run(explicit, 'restricted', 19), r(19, 'seccompProfile (container "a" must not set securityContext.seccompProfile.type to "Unconfined")'));
});

test('sysctls: the safe set grows at v1.27, v1.29, v1.32 and v1.37; spec order, duplicates kept', (t) => {
  const with1 = (name: string): Obj => pod({ securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, sysctls: [{ name, value: '1' }] } });
  const steps: [string, number][] = [
    ['net.ipv4.ip_local_reserved_ports', 27],
    ['net.ipv4.tcp_keepalive_time', 29],
    ['net.ipv4.tcp_rmem', 32],
    ['net.ipv4.tcp_notsent_lowat', 37],
  ];
  for (const [name, since] of steps) {
    t.is(run(with1(name), 'baseline', since - 1), b(since - 1, `forbidden sysctls (${name})`), name);
    t.is(run(with1(name), 'baseline', since), 'allowed', name);
  }
  const many = pod({ securityContext: { sysctls: [{ name: 'z.b' }, { name: 'kernel.shm_rmid_forced' }, { name: 'a.a' }, { name: 'z.b' }] } });
  t.is(run(many, 'baseline', 0), b(0, 'forbidden sysctls (z.b, a.a, z.b)'));
});

test('windowsHostProcess: pod and containers', (t) => {
  const o = pod({
    securityContext: { windowsOptions: { hostProcess: true } },
    containers: [container('e', { windowsOptions: { hostProcess: true } }), container('f', { windowsOptions: { hostProcess: true } })],
  });
  t.is(run(o, 'baseline', 0), b(0, 'hostProcess (pod and containers "e", "f" must not set securityContext.windowsOptions.hostProcess=true)'));
});

test('hostProbesAndHostLifecycle from v1.34: any host, localhost included; sorted and unique', (t) => {
  const o = pod({
    containers: [
      container('z', {}, { livenessProbe: { httpGet: { host: 'localhost', port: 80 } }, readinessProbe: { tcpSocket: { host: '::1', port: 80 } } }),
      container('y', {}, { lifecycle: { preStop: { httpGet: { host: '127.0.0.1', port: 80 } }, postStart: { exec: { command: ['x'] } } } }),
      container('ok', {}, { startupProbe: { httpGet: { host: '', port: 80 } } }),
    ],
  });
  t.is(run(o, 'baseline', 33), 'allowed');
  t.is(run(o, 'baseline', 34), b(34, 'probe or lifecycle host (containers "y", "z" use probe or lifecycle hosts "127.0.0.1", "::1", "localhost")'));
  const one = pod({ initContainers: [container('i', {}, { readinessProbe: { tcpSocket: { host: '8.8.8.8', port: 1 } } })] });
  t.is(run(one, 'restricted', 34), r(34, 'probe or lifecycle host (container "i" uses probe or lifecycle host "8.8.8.8")'));
});

test('allowPrivilegeEscalation from v1.8: must be explicitly false', (t) => {
  const o = pod({ containers: [{ name: 'bare', image: 'x', securityContext: { capabilities: { drop: ['ALL'] } } }, container('t', { allowPrivilegeEscalation: true })] });
  t.is(run(o, 'restricted', 7), 'allowed');
  t.is(run(o, 'restricted', 8), r(8, 'allowPrivilegeEscalation != false (containers "bare", "t" must set securityContext.allowPrivilegeEscalation=false)'));
});

test('runAsNonRoot: explicit false wins over implicit; user-namespace pods pass from v1.35', (t) => {
  const implicit = pod({ securityContext: { seccompProfile: { type: 'RuntimeDefault' } }, containers: [container('a'), container('b', { runAsNonRoot: true })] });
  t.is(run(implicit, 'restricted', 0), r(0, 'runAsNonRoot != true (pod or container "a" must set securityContext.runAsNonRoot=true)'));
  const explicit = pod({ securityContext: { runAsNonRoot: false }, containers: [container('a'), container('c', { runAsNonRoot: false })] });
  t.is(run(explicit, 'restricted', 0), r(0, 'runAsNonRoot != true (pod and container "c" must not set securityContext.runAsNonRoot=false)'));
  const userns = pod({ hostUsers: false, securityContext: { seccompProfile: { type: 'RuntimeDefault' }, runAsUser: 0 } });
  t.is(run(userns, 'restricted', 34), r(34, 'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), runAsUser=0 (pod must not set runAsUser=0)'));
  t.is(run(userns, 'restricted', 35), 'allowed');
});

test('runAsUser from v1.23', (t) => {
  const o = pod({ securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, runAsUser: 0 }, containers: [container('a', { runAsUser: 0 }), container('b', { runAsUser: 1000 })] });
  t.is(run(o, 'restricted', 22), 'allowed');
  t.is(run(o, 'restricted', 23), r(23, 'runAsUser=0 (pod and container "a" must not set runAsUser=0)'));
});

test('Windows pods are exempt from privilege escalation, capabilities and seccomp from v1.25, not from runAsNonRoot', (t) => {
  const o = { kind: 'Pod', metadata: { name: 'w' }, spec: { os: { name: 'windows' }, containers: [{ name: 'c', image: 'x' }] } };
  t.is(run(o, 'restricted', 24), r(24, 'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'));
  t.is(run(o, 'restricted', 25), r(25, 'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)'));
});

test('ordering: baseline controls by id in byte order, then restricted; the whole sentence', (t) => {
  t.deepEqual(checksFor('restricted', 37).map((s) => s.id), [
    'appArmorProfile', 'hostNamespaces', 'hostPorts', 'hostProbesAndHostLifecycle', 'privileged', 'seLinuxOptions', 'sysctls', 'windowsHostProcess',
    'allowPrivilegeEscalation', 'capabilities_restricted', 'procMount_restricted', 'restrictedVolumes', 'runAsNonRoot', 'runAsUser', 'seccompProfile_restricted',
  ]);
  t.deepEqual(checksFor('baseline', 18).map((s) => s.id), [
    'appArmorProfile', 'capabilities_baseline', 'hostNamespaces', 'hostPathVolumes', 'hostPorts', 'privileged', 'procMount', 'seLinuxOptions', 'seccompProfile_baseline', 'sysctls', 'windowsHostProcess',
  ]);
  const o = {
    kind: 'Pod', metadata: { name: 'bad' },
    spec: {
      hostNetwork: true,
      securityContext: { seLinuxOptions: { type: 'spc_t' }, seccompProfile: { type: 'Unconfined' } },
      containers: [{ name: 'app', image: 'x', securityContext: { privileged: true } }],
    },
  };
  t.is(run(o, 'baseline', 'latest'), 'violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), privileged (container "app" must not set securityContext.privileged=true), seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "spc_t"), seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")');
  t.is(run({ kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [{ name: 'example', image: 'x' }] } }, 'restricted', 'latest'),
    'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "example" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "example" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "example" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "example" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")');
});

test('latest resolves against the Kubernetes version; newer pinned versions fall back to the newest known', (t) => {
  t.is(MAX_POLICY_VERSION, 37);
  t.is(resolveVersion('latest'), 37);
  t.is(resolveVersion('latest', 33), 33);
  t.is(resolveVersion('latest', 40), 37);
  t.is(resolveVersion(99), 37);
  t.is(resolveVersion(30, 28), 28);
  const probe = pod({ containers: [container('a', {}, { livenessProbe: { httpGet: { host: 'h', port: 1 } } })] });
  t.is(run(probe, 'baseline', 'latest', 33), 'allowed');
  t.is(run(probe, 'baseline', 'latest', 34), 'violates PodSecurity "baseline:latest": probe or lifecycle host (container "a" uses probe or lifecycle host "h")');
  t.is(run(probe, 'baseline', 99), 'violates PodSecurity "baseline:v1.99": probe or lifecycle host (container "a" uses probe or lifecycle host "h")');
});

test('workload templates: every kind reads its pod template, annotations included', (t) => {
  const tpl = { metadata: { annotations: { 'container.apparmor.security.beta.kubernetes.io/w': 'unconfined' } }, spec: { containers: [{ name: 'w', image: 'x', securityContext: { privileged: true } }] } };
  const expected = 'violates PodSecurity "baseline:v1.30": forbidden AppArmor profile (annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/w="unconfined""), privileged (container "w" must not set securityContext.privileged=true)';
  for (const kind of ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicationController']) {
    t.is(run({ kind, metadata: { name: 'x' }, spec: { template: tpl } }, 'baseline', 30), expected, kind);
  }
  t.is(run({ kind: 'CronJob', metadata: { name: 'x' }, spec: { jobTemplate: { spec: { template: tpl } } } }, 'baseline', 30), expected);
  t.is(run({ kind: 'PodTemplate', metadata: { name: 'x' }, template: tpl }, 'baseline', 30), expected);
  t.is(podSubject({ kind: 'Service', metadata: { name: 's' } }), undefined);
});

test('unreadable fields name their path', (t) => {
  const err = t.throws(() => podSubject({ kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { spec: { containers: [{ name: 'a', securityContext: { runAsUser: '0' } }] } } } }));
  t.true(err instanceof PodReadError);
  t.is(err?.message, 'spec.template.spec.containers[0].securityContext.runAsUser: must be an integer');
  t.is(t.throws(() => podSubject({ kind: 'CronJob', metadata: { name: 'c' }, spec: {} }))?.message, 'spec.jobTemplate.spec.template: missing pod template');
});

// Every disagreement the differential run (test/psa-differential.test.ts) ever found between
// this evaluator and the real kube-apiserver, with the API server's answer, offline.
test('differential regressions: the evaluator says what kube-apiserver 1.37 said', (t) => {
  interface Regression { name: string; level: Level; version: string; object: Obj; server: string }
  const cases = JSON.parse(readFileSync(new URL('./fixtures/psa/differential-regressions.json', import.meta.url), 'utf8')) as Regression[];
  t.true(cases.length > 0);
  for (const c of cases) {
    const version: PolicyVersion = c.version === 'latest' ? 'latest' : Number(c.version.slice(3));
    const e = evaluate(podSubject(c.object)!.pod, c.level, version, { kubernetesMinor: 37 });
    const m = violationMessage(e);
    const name = (c.object['metadata'] as { name: string }).name;
    t.is(m === undefined ? 'allowed' : `pods "${name}" is forbidden: ${m}`, c.server, c.name);
  }
});
