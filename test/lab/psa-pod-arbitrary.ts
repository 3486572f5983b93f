// Pod specs for the differential Pod Security run (test/lab/psa-differential.ts), generated
// with fast-check. The generator is biased to the fields the controls read: privileged,
// capabilities add/drop, host namespaces, hostPath and other volume types, hostPorts,
// seccomp and AppArmor (fields and annotations), SELinux, procMount, sysctls,
// runAsNonRoot/runAsUser at pod and container level, allowPrivilegeEscalation, Windows
// options and hostProcess, probe and lifecycle hosts, user namespaces, init containers and
// (through the pods/ephemeralcontainers subresource) ephemeral containers. Most values are
// the compliant ones, so a pod usually fails few controls and each control's edge is tried.
// The API server refuses some generated specs as invalid (422) before admission; those are
// counted, not compared.
import fc from 'fast-check';

export type Obj = Record<string, unknown>;

/** Enforce versions tried: before and after each versioned change that matters, and latest. */
export const DIFFERENTIAL_VERSIONS = ['v1.0', 'v1.19', 'v1.22', 'v1.25', 'v1.30', 'v1.34', 'v1.35', 'latest'] as const;
export type DiffVersion = (typeof DIFFERENTIAL_VERSIONS)[number];
export const DIFFERENTIAL_LEVELS = ['baseline', 'restricted'] as const;
export type DiffLevel = (typeof DIFFERENTIAL_LEVELS)[number];

/** One generated case: a Pod (no ephemeral containers), or ephemeral containers added to a host pod. */
export interface DiffCase {
  readonly kind: 'pod' | 'ephemeral';
  readonly version: DiffVersion;
  /** kind pod: the whole Pod; kind ephemeral: the ephemeral containers to add. */
  readonly pod: Obj;
}


const undef = fc.constant(undefined);
/** `arb` with weight `w` against unset with weight `unset`. */
function maybe<T>(arb: fc.Arbitrary<T>, w = 1, unset = 3): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: undef, weight: unset }, { arbitrary: arb, weight: w });
}
function weighted<T>(...pairs: [T, number][]): fc.Arbitrary<T> {
  return fc.oneof(...pairs.map(([v, weight]) => ({ arbitrary: fc.constant(v), weight })));
}

/** Drops undefined values (deeply), so the JSON sent is what the object says. */
export function clean<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

const profileType = (allowLocal: boolean): fc.Arbitrary<Obj> => fc.oneof(
  { arbitrary: fc.constant({ type: 'RuntimeDefault' }), weight: 5 },
  { arbitrary: fc.constant({ type: 'Unconfined' }), weight: 2 },
  { arbitrary: fc.constant(allowLocal ? { type: 'Localhost', localhostProfile: 'profiles/p.json' } : { type: 'Localhost', localhostProfile: 'k8s-p' }), weight: 1 },
);

const seLinux: fc.Arbitrary<Obj> = fc.record({
  type: maybe(weighted(['container_t', 3], ['container_init_t', 1], ['container_kvm_t', 1], ['container_engine_t', 2], ['spc_t', 2], ['', 1]), 1, 1),
  user: maybe(weighted(['system_u', 1], ['', 1]), 1, 4),
  role: maybe(weighted(['system_r', 1], ['', 1]), 1, 4),
  level: maybe(fc.constant('s0:c123,c456'), 1, 2),
}, { requiredKeys: [] });

const CAPS_ADD = ['NET_BIND_SERVICE', 'CHOWN', 'KILL', 'AUDIT_WRITE', 'SETUID', 'NET_RAW', 'SYS_ADMIN', 'NET_ADMIN', 'CAP_CHOWN', 'net_bind_service', 'ALL'];
const CAPS_DROP = ['ALL', 'all', 'NET_RAW', 'CHOWN'];

interface PodShape {
  readonly windows: boolean;
  readonly userNamespace: boolean;
  readonly hostNetwork: boolean;
}

/** A container's securityContext (windows pods may set only what Windows allows). */
function containerSecurityContext(shape: PodShape): fc.Arbitrary<Obj | undefined> {
  if (shape.windows) {
    return maybe(fc.record({
      runAsNonRoot: maybe(fc.boolean(), 2, 1),
      windowsOptions: maybe(fc.record({ hostProcess: maybe(fc.boolean(), 1, 2), runAsUserName: maybe(fc.constant('ContainerUser')) }, { requiredKeys: [] }), 1, 2),
    }, { requiredKeys: [] }), 4, 1);
  }
  return maybe(fc.record({
    privileged: maybe(weighted([false, 3], [true, 1]), 1, 3),
    allowPrivilegeEscalation: maybe(weighted([false, 4], [true, 1]), 3, 1),
    runAsNonRoot: maybe(weighted([true, 3], [false, 1]), 1, 2),
    runAsUser: maybe(weighted([1000, 3], [0, 1], [65534, 1]), 1, 3),
    // Unmasked is valid only in a user namespace (hostUsers: false); Default is the only other value.
    procMount: shape.userNamespace ? maybe(weighted(['Default', 1], ['Unmasked', 3]), 1, 2) : maybe(fc.constant('Default'), 1, 6),
    capabilities: maybe(fc.record({
      add: maybe(fc.uniqueArray(fc.constantFrom(...CAPS_ADD), { minLength: 1, maxLength: 3 }), 1, 2),
      drop: maybe(fc.uniqueArray(fc.constantFrom(...CAPS_DROP), { minLength: 1, maxLength: 2 }), 3, 1),
    }, { requiredKeys: [] }), 3, 1),
    seccompProfile: maybe(profileType(true), 1, 2),
    appArmorProfile: maybe(profileType(false), 1, 4),
    seLinuxOptions: maybe(seLinux, 1, 5),
    readOnlyRootFilesystem: maybe(fc.boolean(), 1, 5),
  }, { requiredKeys: [] }), 5, 1);
}

const handler = (withExec: boolean): fc.Arbitrary<Obj> => fc.oneof(
  fc.record({ httpGet: fc.record({ port: fc.constant(8080), path: fc.constant('/'), host: maybe(weighted(['localhost', 1], ['127.0.0.1', 1], ['::1', 1], ['example.com', 1], ['10.0.0.1', 1]), 1, 3) }, { requiredKeys: ['port', 'path'] }) }),
  fc.record({ tcpSocket: fc.record({ port: fc.constant(8080), host: maybe(weighted(['localhost', 1], ['example.com', 1], ['8.8.8.8', 1]), 1, 3) }, { requiredKeys: ['port'] }) }),
  ...(withExec ? [fc.constant({ exec: { command: ['true'] } })] : []),
);

function container(name: string, index: number, shape: PodShape, kind: 'init' | 'main' | 'ephemeral'): fc.Arbitrary<Obj> {
  const port = 8000 + index;
  const ports = kind === 'ephemeral' ? undef : maybe(fc.record({
    containerPort: fc.constant(port),
    hostPort: maybe(shape.hostNetwork ? fc.constant(port) : weighted([port, 2], [80, 1], [10 + index, 1]), 1, 1),
  }, { requiredKeys: ['containerPort'] }).map((p) => [p]), 1, 2);
  const probes = kind === 'main'
    ? fc.record({
      livenessProbe: maybe(handler(true).map((h) => ({ ...h })), 1, 4),
      readinessProbe: maybe(handler(true), 1, 4),
      startupProbe: maybe(handler(true), 1, 6),
      lifecycle: maybe(fc.record({ postStart: maybe(handler(true), 1, 1), preStop: maybe(handler(true), 1, 1) }, { requiredKeys: [] }), 1, 5),
    }, { requiredKeys: [] })
    : fc.constant({});
  return fc.record({ sc: containerSecurityContext(shape), ports, probes }).map(({ sc, ports: p, probes: pr }) => {
    // allowPrivilegeEscalation=false with privileged=true is invalid (422): keep the privileged one.
    if (sc && sc['privileged'] === true && sc['allowPrivilegeEscalation'] === false) delete sc['allowPrivilegeEscalation'];
    return clean({
    name, image: 'registry.k8s.io/pause:3.10', ...(sc ? { securityContext: sc } : {}), ...(p ? { ports: p } : {}), ...pr,
    });
  });
}

const SYSCTLS = [
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_rmem', 'net.ipv4.tcp_slow_start_after_idle',
  'net.ipv4.tcp_notsent_lowat', 'kernel.msgmax', 'net.core.somaxconn', 'vm.swappiness',
];
const SYSCTL_VALUES: Readonly<Record<string, string>> = {
  'net.ipv4.ip_local_port_range': '1024 65535', 'net.ipv4.tcp_rmem': '4096 87380 6291456', 'net.ipv4.ip_local_reserved_ports': '8080',
};

const VOLUME_SOURCES: readonly [string, Obj | undefined, number][] = [
  ['configMap', { name: 'cm' }, 3], ['secret', { secretName: 's' }, 2], ['emptyDir', {}, 3], ['projected', { sources: [] }, 1],
  ['downwardAPI', { items: [] }, 1], ['persistentVolumeClaim', { claimName: 'c' }, 1], ['csi', { driver: 'csi.example.com' }, 1],
  ['ephemeral', { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } }, 1],
  ['image', { reference: 'registry.k8s.io/pause:3.10' }, 1], ['none', undefined, 1],
  ['hostPath', { path: '/var/log' }, 3], ['nfs', { server: '10.0.0.1', path: '/x' }, 1], ['iscsi', { targetPortal: '10.0.0.1:3260', iqn: 'iqn.2001-04.com.example:storage', lun: 0 }, 1],
  ['gcePersistentDisk', { pdName: 'd' }, 1], ['awsElasticBlockStore', { volumeID: 'vol-1' }, 1], ['rbd', { monitors: ['10.0.0.1'], image: 'i' }, 1],
  ['cephfs', { monitors: ['10.0.0.1'] }, 1], ['fc', { wwids: ['w'] }, 1], ['flexVolume', { driver: 'example/x' }, 1], ['azureFile', { secretName: 's', shareName: 'x' }, 1],
];
const volume = (i: number): fc.Arbitrary<Obj> => fc.oneof(...VOLUME_SOURCES.map(([k, src, weight]) => ({
  weight, arbitrary: fc.constant(src === undefined ? { name: `v${i}` } : { name: `v${i}`, [k]: src }),
})));

const podShape: fc.Arbitrary<PodShape> = fc.record({
  windows: weighted([false, 9], [true, 1]),
  userNamespace: weighted([false, 5], [true, 1]),
  hostNetwork: weighted([false, 6], [true, 1]),
}).map((s) => (s.windows || s.userNamespace ? { ...s, hostNetwork: s.windows && s.hostNetwork, userNamespace: s.userNamespace && !s.windows } : s));

function podSecurityContext(shape: PodShape): fc.Arbitrary<Obj | undefined> {
  if (shape.windows) {
    return maybe(fc.record({
      runAsNonRoot: maybe(fc.boolean(), 2, 1),
      windowsOptions: maybe(fc.record({ hostProcess: maybe(fc.boolean(), 1, 1) }, { requiredKeys: [] }), 1, 2),
    }, { requiredKeys: [] }), 4, 1);
  }
  return maybe(fc.record({
    runAsNonRoot: maybe(weighted([true, 3], [false, 1]), 2, 1),
    runAsUser: maybe(weighted([1000, 3], [0, 1]), 1, 2),
    seccompProfile: maybe(profileType(true), 2, 1),
    appArmorProfile: maybe(profileType(false), 1, 4),
    seLinuxOptions: maybe(seLinux, 1, 4),
    sysctls: maybe(fc.uniqueArray(fc.constantFrom(...SYSCTLS), { minLength: 1, maxLength: 3 }).map((names) => names.map((name) => ({ name, value: SYSCTL_VALUES[name] ?? '1' }))), 1, 4),
  }, { requiredKeys: [] }), 5, 1);
}

/** Alpha annotations (seccomp, AppArmor) naming the pod's own containers, sometimes. */
function annotations(containerNames: readonly string[], windows: boolean): fc.Arbitrary<Obj | undefined> {
  if (windows || containerNames.length === 0) return fc.constant(undefined);
  const name = fc.constantFrom(...containerNames);
  return maybe(fc.record({
    apparmor: maybe(fc.tuple(name, weighted(['runtime/default', 2], ['unconfined', 2], ['localhost/k8s-p', 1])), 1, 1),
    seccompPod: maybe(weighted(['runtime/default', 1], ['docker/default', 1], ['unconfined', 2], ['localhost/p.json', 1]), 1, 2),
    seccompContainer: maybe(fc.tuple(name, weighted(['runtime/default', 1], ['unconfined', 2], ['localhost/p.json', 1])), 1, 2),
  }, { requiredKeys: [] }).map((a) => {
    const out: Obj = {};
    if (a.apparmor) out[`container.apparmor.security.beta.kubernetes.io/${a.apparmor[0]}`] = a.apparmor[1];
    if (a.seccompPod) out['seccomp.security.alpha.kubernetes.io/pod'] = a.seccompPod;
    if (a.seccompContainer) out[`container.seccomp.security.alpha.kubernetes.io/${a.seccompContainer[0]}`] = a.seccompContainer[1];
    return Object.keys(out).length ? out : undefined;
  }), 1, 3);
}

/** A whole Pod. */
export const podArbitrary: fc.Arbitrary<Obj> = podShape.chain((shape) => fc.record({
  nInit: weighted([0, 3], [1, 2], [2, 1]),
  nMain: weighted([1, 4], [2, 2], [3, 1]),
  nVol: weighted([0, 3], [1, 3], [2, 2], [3, 1]),
  hostPID: shape.userNamespace ? fc.constant(false) : weighted([false, 8], [true, 1]),
  hostIPC: shape.userNamespace ? fc.constant(false) : weighted([false, 8], [true, 1]),
}).chain((n) => {
  const init = Array.from({ length: n.nInit }, (_, i) => container(`init${i}`, 10 + i, shape, 'init'));
  const main = Array.from({ length: n.nMain }, (_, i) => container(`c${i}`, i, shape, 'main'));
  const names = [...init.map((_, i) => `init${i}`), ...main.map((_, i) => `c${i}`)];
  return fc.record({
    sc: podSecurityContext(shape),
    init: fc.tuple(...init),
    main: fc.tuple(...main),
    volumes: fc.tuple(...Array.from({ length: n.nVol }, (_, i) => volume(i))),
    annotations: annotations(names, shape.windows),
  }).map((p) => {
    // net.* sysctls are invalid (422) with hostNetwork: leave them out there.
    const sc = p.sc as { sysctls?: { name: string }[] } | undefined;
    if (shape.hostNetwork && sc?.sysctls) sc.sysctls = sc.sysctls.filter((x) => !x.name.startsWith('net.'));
    return clean({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'x', ...(p.annotations ? { annotations: p.annotations } : {}) },
    spec: {
      ...(shape.windows ? { os: { name: 'windows' } } : {}),
      ...(shape.hostNetwork ? { hostNetwork: true } : {}),
      ...(n.hostPID ? { hostPID: true } : {}),
      ...(n.hostIPC ? { hostIPC: true } : {}),
      ...(shape.userNamespace ? { hostUsers: false } : {}),
      ...(p.sc ? { securityContext: p.sc } : {}),
      ...(p.init.length ? { initContainers: p.init } : {}),
      containers: p.main,
      ...(p.volumes.length ? { volumes: p.volumes } : {}),
    },
    });
  });
}));

/** The aspects of a pod the controls read, for `nearlyCompliant`. */
export const ASPECTS = ['privileged', 'allowPrivilegeEscalation', 'capabilities', 'hostNamespaces', 'volumes', 'hostPorts', 'seccomp', 'appArmor',
  'seLinux', 'procMount', 'sysctls', 'runAsNonRoot', 'runAsUser', 'probeHosts'] as const;
export type Aspect = (typeof ASPECTS)[number];

const SAFE_SYSCTLS = new Set(['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start']);
const ALLOWED_VOLUMES = new Set(['configMap', 'secret', 'emptyDir', 'projected', 'downwardAPI', 'persistentVolumeClaim', 'csi', 'ephemeral', 'image']);

/**
 * The generated pod made to pass restricted at every version in every aspect except `keep`,
 * which stay as generated: pods at the edge of the policy, failing one or two controls (or
 * none), which random fields alone almost never reach.
 */
export function nearlyCompliant(pod: Obj, keep: ReadonlySet<Aspect>): Obj {
  const p = JSON.parse(JSON.stringify(pod)) as { metadata: Obj; spec: Obj };
  const spec = p.spec;
  const windows = (spec['os'] as Obj | undefined)?.['name'] === 'windows';
  const fix = (a: Aspect): boolean => !keep.has(a);
  const annotations = (p.metadata['annotations'] ?? {}) as Record<string, string>;
  if (fix('hostNamespaces')) { delete spec['hostNetwork']; delete spec['hostPID']; delete spec['hostIPC']; }
  if (fix('volumes')) spec['volumes'] = ((spec['volumes'] ?? []) as Obj[]).filter((v) => Object.keys(v).length === 1 || Object.keys(v).some((k) => ALLOWED_VOLUMES.has(k)));
  const psc = (spec['securityContext'] ?? {}) as Obj;
  if (!windows) {
    if (fix('runAsNonRoot')) psc['runAsNonRoot'] = true;
    if (fix('runAsUser')) delete psc['runAsUser'];
    if (fix('seccomp')) {
      psc['seccompProfile'] = { type: 'RuntimeDefault' };
      for (const k of Object.keys(annotations)) if (k.includes('seccomp')) delete annotations[k];
    }
    if (fix('appArmor')) {
      delete psc['appArmorProfile'];
      for (const k of Object.keys(annotations)) if (k.includes('apparmor')) delete annotations[k];
    }
    if (fix('seLinux')) delete psc['seLinuxOptions'];
    if (fix('sysctls') && psc['sysctls']) psc['sysctls'] = (psc['sysctls'] as Obj[]).filter((x) => SAFE_SYSCTLS.has(x['name'] as string));
  } else if (fix('runAsNonRoot')) psc['runAsNonRoot'] = true;
  if (fix('privileged')) delete (psc['windowsOptions'] as Obj | undefined)?.['hostProcess'];
  spec['securityContext'] = psc;
  for (const key of ['initContainers', 'containers']) {
    for (const c of (spec[key] ?? []) as Obj[]) {
      const sc = (c['securityContext'] ?? {}) as Obj;
      if (fix('privileged')) { delete sc['privileged']; delete (sc['windowsOptions'] as Obj | undefined)?.['hostProcess']; }
      if (!windows) {
        if (fix('allowPrivilegeEscalation') && sc['privileged'] !== true) sc['allowPrivilegeEscalation'] = false;
        if (fix('capabilities')) sc['capabilities'] = { drop: ['ALL'], ...((sc['capabilities'] as Obj | undefined)?.['add'] ? { add: ['NET_BIND_SERVICE'] } : {}) };
        if (fix('seccomp')) delete sc['seccompProfile'];
        if (fix('appArmor')) delete sc['appArmorProfile'];
        if (fix('seLinux')) delete sc['seLinuxOptions'];
        if (fix('procMount')) delete sc['procMount'];
        if (fix('runAsUser')) delete sc['runAsUser'];
      }
      if (fix('runAsNonRoot')) delete sc['runAsNonRoot'];
      c['securityContext'] = sc;
      if (fix('hostPorts')) for (const port of (c['ports'] ?? []) as Obj[]) delete port['hostPort'];
      if (fix('probeHosts')) {
        const handlers = [c['livenessProbe'], c['readinessProbe'], c['startupProbe'], (c['lifecycle'] as Obj | undefined)?.['postStart'], (c['lifecycle'] as Obj | undefined)?.['preStop']];
        for (const h of handlers as (Obj | undefined)[]) {
          delete (h?.['httpGet'] as Obj | undefined)?.['host'];
          delete (h?.['tcpSocket'] as Obj | undefined)?.['host'];
        }
      }
    }
  }
  if (fix('hostPorts') && spec['hostNetwork']) delete spec['hostNetwork'];
  if (Object.keys(annotations).length) p.metadata['annotations'] = annotations;
  else delete p.metadata['annotations'];
  return p;
}

/** A whole Pod: random in every aspect (40%), or compliant except in none, one or two (60%). */
export const podOrEdgeArbitrary: fc.Arbitrary<Obj> = fc.tuple(
  podArbitrary,
  weighted([false, 2], [true, 3]),
  fc.uniqueArray(fc.constantFrom(...ASPECTS), { minLength: 0, maxLength: 2 }),
).map(([pod, edge, keep]) => (edge ? nearlyCompliant(pod, new Set(keep)) : pod));

/** Ephemeral containers to add to a host pod. */
export const ephemeralArbitrary: fc.Arbitrary<Obj[]> = weighted([1, 3], [2, 1]).chain((n) =>
  fc.tuple(...Array.from({ length: n }, (_, i) => container(`debug${i}`, 20 + i, { windows: false, userNamespace: false, hostNetwork: false }, 'ephemeral'))))
  .map((cs) => cs.map((c) => ({ ...c, targetContainerName: 'c0' })));

export const caseArbitrary: fc.Arbitrary<DiffCase> = fc.record({
  version: fc.constantFrom(...DIFFERENTIAL_VERSIONS),
  ephemeral: weighted([false, 9], [true, 1]),
}).chain(({ version, ephemeral }) => ephemeral
  ? ephemeralArbitrary.map((cs): DiffCase => ({ kind: 'ephemeral', version, pod: { ephemeralContainers: cs } }))
  : podOrEdgeArbitrary.map((pod): DiffCase => ({ kind: 'pod', version, pod })));

/** `count` cases from `seed`, reproducibly. */
export function generateCases(count: number, seed: number): DiffCase[] {
  return fc.sample(caseArbitrary, { numRuns: count, seed });
}
