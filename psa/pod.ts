// The part of a Pod that Pod Security reads — annotations and spec — read from an untyped
// API object into typed, readonly data, with what the API server does to a pod before Pod
// Security sees it applied first (defaulting at decode, then the pod strategy's
// PrepareForCreate, both before validating admission):
//   - a volume with no source is an emptyDir;
//   - in a Pod (not a template, since Kubernetes 1.28) with hostNetwork, a container port
//     without hostPort gets hostPort = containerPort;
//   - in a Pod (not a template; not os windows) a container with a deprecated AppArmor
//     annotation (container.apparmor.security.beta.kubernetes.io/<name>) and no
//     appArmorProfile field gets the field the annotation stands for, unless it equals the
//     pod's profile (Kubernetes 1.30+, applyAppArmorVersionSkew). So an `unconfined`
//     annotation fails as the annotation AND as the container's field: "forbidden AppArmor
//     profiles (container "c" and annotation must not set …)", as kube-apiserver 1.37 says.
// A field of the wrong type is an error naming the field (the API server would refuse the
// object); JSON null means unset, as Go's decoder reads it.

export interface SeccompProfile { readonly type: string }
export interface AppArmorProfile { readonly type: string; readonly localhostProfile?: string }
export interface SELinuxOptions { readonly type: string; readonly user: string; readonly role: string }
export interface Capabilities { readonly add: readonly string[]; readonly drop: readonly string[] }

export interface SecurityContext {
  readonly privileged?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly runAsNonRoot?: boolean;
  readonly runAsUser?: number;
  readonly procMount?: string;
  readonly capabilities?: Capabilities;
  readonly seccompProfile?: SeccompProfile;
  readonly appArmorProfile?: AppArmorProfile;
  readonly seLinuxOptions?: SELinuxOptions;
  readonly windowsHostProcess?: boolean;
}

export interface PodSecurityContext {
  readonly runAsNonRoot?: boolean;
  readonly runAsUser?: number;
  readonly seccompProfile?: SeccompProfile;
  readonly appArmorProfile?: AppArmorProfile;
  readonly seLinuxOptions?: SELinuxOptions;
  readonly windowsHostProcess?: boolean;
  /** Sysctl names in spec order, duplicates kept. */
  readonly sysctls: readonly string[];
}

/** A probe or lifecycle handler, reduced to the hosts it names (httpGet first, then tcpSocket). */
export type HandlerHosts = readonly string[];

export interface Container {
  readonly name: string;
  readonly securityContext?: SecurityContext;
  /** Non-zero hostPorts after defaulting, in spec order. */
  readonly hostPorts: readonly number[];
  readonly livenessProbe?: HandlerHosts;
  readonly readinessProbe?: HandlerHosts;
  readonly startupProbe?: HandlerHosts;
  readonly postStart?: HandlerHosts;
  readonly preStop?: HandlerHosts;
}

export interface Volume {
  readonly name: string;
  /** The volume source's field name (`hostPath`, `configMap`, …); `emptyDir` after defaulting. */
  readonly source: string;
}

export interface PodSpec {
  readonly hostNetwork: boolean;
  readonly hostPID: boolean;
  readonly hostIPC: boolean;
  /** undefined when unset: only an explicit false relaxes the user-namespace controls. */
  readonly hostUsers?: boolean;
  readonly osName?: string;
  readonly securityContext?: PodSecurityContext;
  readonly volumes: readonly Volume[];
  readonly initContainers: readonly Container[];
  readonly containers: readonly Container[];
  readonly ephemeralContainers: readonly Container[];
}

export interface Pod {
  readonly annotations: Readonly<Record<string, string>>;
  readonly spec: PodSpec;
}

/** An object or field that cannot be read as a Pod; `path` names the field. */
export class PodReadError extends Error {
  override readonly name = 'PodReadError';
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`);
  }
}

/** Volume source fields of core/v1 Volume, in the order the restricted check tests them. */
export const VOLUME_SOURCES: readonly string[] = [
  'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'image', 'persistentVolumeClaim', 'projected', 'secret',
  'hostPath', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'nfs', 'iscsi', 'glusterfs', 'rbd', 'flexVolume',
  'cinder', 'cephfs', 'flocker', 'fc', 'azureFile', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk',
  'portworxVolume', 'scaleIO', 'storageos',
];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: unknown, path: string): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new PodReadError(path, 'must be an object');
  return v;
}
function list(v: unknown, path: string): readonly unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new PodReadError(path, 'must be a list');
  return v;
}
function bool(v: unknown, path: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new PodReadError(path, 'must be true or false');
  return v;
}
function int(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new PodReadError(path, 'must be an integer');
  return v;
}
function string(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new PodReadError(path, 'must be a string');
  return v;
}
function strings(v: unknown, path: string): string[] {
  return list(v, path).map((s, i) => string(s, `${path}[${i}]`) ?? '');
}

function profile(v: unknown, path: string): { type: string } | undefined {
  const o = obj(v, path);
  return o ? { type: string(o['type'], `${path}.type`) ?? '' } : undefined;
}

function appArmor(v: unknown, path: string): AppArmorProfile | undefined {
  const o = obj(v, path);
  if (!o) return undefined;
  const localhostProfile = string(o['localhostProfile'], `${path}.localhostProfile`);
  return { type: string(o['type'], `${path}.type`) ?? '', ...(localhostProfile !== undefined ? { localhostProfile } : {}) };
}

function seLinux(v: unknown, path: string): SELinuxOptions | undefined {
  const o = obj(v, path);
  if (!o) return undefined;
  return {
    type: string(o['type'], `${path}.type`) ?? '',
    user: string(o['user'], `${path}.user`) ?? '',
    role: string(o['role'], `${path}.role`) ?? '',
  };
}

function hostProcess(v: unknown, path: string): boolean | undefined {
  const o = obj(v, path);
  return o ? bool(o['hostProcess'], `${path}.hostProcess`) : undefined;
}

function securityContext(v: unknown, path: string): SecurityContext | undefined {
  const o = obj(v, path);
  if (!o) return undefined;
  const caps = obj(o['capabilities'], `${path}.capabilities`);
  return {
    privileged: bool(o['privileged'], `${path}.privileged`),
    allowPrivilegeEscalation: bool(o['allowPrivilegeEscalation'], `${path}.allowPrivilegeEscalation`),
    runAsNonRoot: bool(o['runAsNonRoot'], `${path}.runAsNonRoot`),
    runAsUser: int(o['runAsUser'], `${path}.runAsUser`),
    procMount: string(o['procMount'], `${path}.procMount`),
    capabilities: caps
      ? { add: strings(caps['add'], `${path}.capabilities.add`), drop: strings(caps['drop'], `${path}.capabilities.drop`) }
      : undefined,
    seccompProfile: profile(o['seccompProfile'], `${path}.seccompProfile`),
    appArmorProfile: appArmor(o['appArmorProfile'], `${path}.appArmorProfile`),
    seLinuxOptions: seLinux(o['seLinuxOptions'], `${path}.seLinuxOptions`),
    windowsHostProcess: hostProcess(o['windowsOptions'], `${path}.windowsOptions`),
  };
}

function podSecurityContext(v: unknown, path: string): PodSecurityContext | undefined {
  const o = obj(v, path);
  if (!o) return undefined;
  return {
    runAsNonRoot: bool(o['runAsNonRoot'], `${path}.runAsNonRoot`),
    runAsUser: int(o['runAsUser'], `${path}.runAsUser`),
    seccompProfile: profile(o['seccompProfile'], `${path}.seccompProfile`),
    appArmorProfile: appArmor(o['appArmorProfile'], `${path}.appArmorProfile`),
    seLinuxOptions: seLinux(o['seLinuxOptions'], `${path}.seLinuxOptions`),
    windowsHostProcess: hostProcess(o['windowsOptions'], `${path}.windowsOptions`),
    sysctls: list(o['sysctls'], `${path}.sysctls`).map((s, i) => {
      const so = obj(s, `${path}.sysctls[${i}]`);
      return (so && string(so['name'], `${path}.sysctls[${i}].name`)) ?? '';
    }),
  };
}

function handlerHosts(v: unknown, path: string): HandlerHosts | undefined {
  const o = obj(v, path);
  if (!o) return undefined;
  const hosts: string[] = [];
  for (const kind of ['httpGet', 'tcpSocket'] as const) {
    const h = obj(o[kind], `${path}.${kind}`);
    const host = h ? string(h['host'], `${path}.${kind}.host`) : undefined;
    if (host) hosts.push(host);
  }
  return hosts;
}

function container(v: unknown, path: string, defaultHostPorts: boolean): Container {
  const o = obj(v, path);
  if (!o) throw new PodReadError(path, 'must be an object');
  const hostPorts: number[] = [];
  list(o['ports'], `${path}.ports`).forEach((p, i) => {
    const po = obj(p, `${path}.ports[${i}]`);
    if (!po) return;
    let hostPort = int(po['hostPort'], `${path}.ports[${i}].hostPort`) ?? 0;
    if (hostPort === 0 && defaultHostPorts) hostPort = int(po['containerPort'], `${path}.ports[${i}].containerPort`) ?? 0;
    if (hostPort !== 0) hostPorts.push(hostPort);
  });
  const lifecycle = obj(o['lifecycle'], `${path}.lifecycle`);
  return {
    name: string(o['name'], `${path}.name`) ?? '',
    securityContext: securityContext(o['securityContext'], `${path}.securityContext`),
    hostPorts,
    livenessProbe: handlerHosts(o['livenessProbe'], `${path}.livenessProbe`),
    readinessProbe: handlerHosts(o['readinessProbe'], `${path}.readinessProbe`),
    startupProbe: handlerHosts(o['startupProbe'], `${path}.startupProbe`),
    postStart: lifecycle ? handlerHosts(lifecycle['postStart'], `${path}.lifecycle.postStart`) : undefined,
    preStop: lifecycle ? handlerHosts(lifecycle['preStop'], `${path}.lifecycle.preStop`) : undefined,
  };
}

function volume(v: unknown, path: string): Volume {
  const o = obj(v, path);
  if (!o) throw new PodReadError(path, 'must be an object');
  let source = 'emptyDir'; // API server defaulting: a volume without a source is an emptyDir.
  for (const key of VOLUME_SOURCES) {
    const s = o[key];
    if (s !== undefined && s !== null) {
      source = key;
      break;
    }
  }
  return { name: string(o['name'], `${path}.name`) ?? '', source };
}

export interface ReadPodOptions {
  /** Where the spec sits in the object, for error paths (`spec`, `spec.template.spec`, …). */
  readonly specPath?: string;
  readonly annotationsPath?: string;
  /** Pods get hostPort defaulting under hostNetwork; pod templates no longer do (Kubernetes 1.28+). */
  readonly isTemplate?: boolean;
}

/** Reads pod metadata and spec (as found in a Pod or a pod template) into a Pod. */
export function readPod(metadata: unknown, spec: unknown, opts: ReadPodOptions = {}): Pod {
  const sp = opts.specPath ?? 'spec';
  const ap = opts.annotationsPath ?? 'metadata.annotations';
  const annotations: Record<string, string> = {};
  const meta = obj(metadata, ap.replace(/\.annotations$/, ''));
  const ann = meta ? obj(meta['annotations'], ap) : undefined;
  if (ann) for (const [k, v] of Object.entries(ann)) annotations[k] = string(v, `${ap}[${k}]`) ?? '';
  const s = obj(spec, sp) ?? {};
  const hostNetwork = bool(s['hostNetwork'], `${sp}.hostNetwork`) ?? false;
  const defaultHostPorts = hostNetwork && !opts.isTemplate;
  const os = obj(s['os'], `${sp}.os`);
  const osName = os ? string(os['name'], `${sp}.os.name`) : undefined;
  const securityContext = podSecurityContext(s['securityContext'], `${sp}.securityContext`);
  let initContainers = list(s['initContainers'], `${sp}.initContainers`).map((c, i) => container(c, `${sp}.initContainers[${i}]`, defaultHostPorts));
  let containers = list(s['containers'], `${sp}.containers`).map((c, i) => container(c, `${sp}.containers[${i}]`, defaultHostPorts));
  let ephemeralContainers = list(s['ephemeralContainers'], `${sp}.ephemeralContainers`).map((c, i) => container(c, `${sp}.ephemeralContainers[${i}]`, false));
  if (!opts.isTemplate && osName !== 'windows') {
    const sync = (cs: Container[]): Container[] => cs.map((c) => appArmorFromAnnotation(c, annotations, securityContext?.appArmorProfile));
    initContainers = sync(initContainers);
    containers = sync(containers);
    ephemeralContainers = sync(ephemeralContainers);
  }
  return {
    annotations,
    spec: {
      hostNetwork,
      hostPID: bool(s['hostPID'], `${sp}.hostPID`) ?? false,
      hostIPC: bool(s['hostIPC'], `${sp}.hostIPC`) ?? false,
      hostUsers: bool(s['hostUsers'], `${sp}.hostUsers`),
      osName,
      securityContext,
      volumes: list(s['volumes'], `${sp}.volumes`).map((v, i) => volume(v, `${sp}.volumes[${i}]`)),
      initContainers,
      containers,
      ephemeralContainers,
    },
  };
}

const APPARMOR_ANNOTATION_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';

/** The appArmorProfile field a deprecated annotation value stands for; undefined when none (or invalid). */
export function appArmorFieldForAnnotation(value: string): AppArmorProfile | undefined {
  if (value === 'unconfined') return { type: 'Unconfined' };
  if (value === 'runtime/default') return { type: 'RuntimeDefault' };
  if (value.startsWith('localhost/')) {
    const localhostProfile = value.slice('localhost/'.length);
    // The API server copies only a valid field: a profile name, unpadded, within PATH_MAX.
    if (localhostProfile !== '' && localhostProfile.trim() === localhostProfile && localhostProfile.length <= 4095) return { type: 'Localhost', localhostProfile };
  }
  return undefined;
}

/** The pod strategy's annotation → field sync for one container (see the header). */
function appArmorFromAnnotation(c: Container, annotations: Readonly<Record<string, string>>, podProfile: AppArmorProfile | undefined): Container {
  const value = annotations[APPARMOR_ANNOTATION_PREFIX + c.name];
  if (value === undefined || c.securityContext?.appArmorProfile !== undefined) return c;
  const field = appArmorFieldForAnnotation(value);
  if (!field || (podProfile && podProfile.type === field.type && podProfile.localhostProfile === field.localhostProfile)) return c;
  return { ...c, securityContext: { ...c.securityContext, appArmorProfile: field } };
}

/** Init containers, then containers, then ephemeral containers: the library's visit order. */
export function visitContainers(spec: PodSpec, visit: (c: Container) => void): void {
  for (const c of spec.initContainers) visit(c);
  for (const c of spec.containers) visit(c);
  for (const c of spec.ephemeralContainers) visit(c);
}

/** True when spec.hostUsers is explicitly false: the pod runs in its own user namespace. */
export function inUserNamespace(spec: PodSpec): boolean {
  return spec.hostUsers === false;
}
