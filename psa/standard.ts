// The Pod Security Standards as one table: every control, its level, and the policy
// versions at which its behaviour changes, with the allowed values of each version.
// Audit this file against https://kubernetes.io/docs/concepts/security/pod-security-standards/
// and the admission library's policy/check_*.go; the logic of each control lives in
// checks/<control>.ts, and nothing else in the evaluator knows how many controls exist.
//
// A versioned entry applies from its `since` policy version (v1.<since>) up to the next
// entry. A restricted entry may override baseline controls: at the versions where it
// applies, the restricted level runs it instead of them (the library has done so since
// Kubernetes 1.24, for every policy version).
import { allowPrivilegeEscalation } from './checks/allowPrivilegeEscalation.js';
import { appArmorProfile } from './checks/appArmorProfile.js';
import { capabilitiesBaseline } from './checks/capabilities_baseline.js';
import { capabilitiesRestricted } from './checks/capabilities_restricted.js';
import { hostNamespaces } from './checks/hostNamespaces.js';
import { hostPathVolumes } from './checks/hostPathVolumes.js';
import { hostPorts } from './checks/hostPorts.js';
import { hostProbesAndHostLifecycle } from './checks/hostProbesAndHostLifecycle.js';
import { privileged } from './checks/privileged.js';
import { procMount, procMountUserNamespaceAware } from './checks/procMount.js';
import { restrictedVolumes } from './checks/restrictedVolumes.js';
import { runAsNonRoot, runAsNonRootUserNamespaceAware } from './checks/runAsNonRoot.js';
import { runAsUser, runAsUserUserNamespaceAware } from './checks/runAsUser.js';
import { seccompProfileBaselineAnnotations, seccompProfileBaselineFields, seccompProfileRestricted } from './checks/seccompProfile.js';
import { seLinuxOptions } from './checks/seLinuxOptions.js';
import { sysctls } from './checks/sysctls.js';
import { windowsHostProcess } from './checks/windowsHostProcess.js';
import type { Pod } from './pod.js';
import type { ControlId, Forbidden } from './types.js';

/** A control's implementation for a range of policy versions: `undefined` means allowed. */
export type CheckFn = (pod: Pod) => Forbidden | undefined;

export interface VersionedCheck {
  /** First policy version (minor N of v1.N) this implementation applies to. */
  readonly since: number;
  readonly check: CheckFn;
  /** Baseline controls this restricted implementation replaces at the restricted level. */
  readonly overrides?: readonly ControlId[];
}

export interface Control {
  readonly id: ControlId;
  readonly level: 'baseline' | 'restricted';
  readonly versions: readonly VersionedCheck[];
}

// ---- Allowed values, by policy version -------------------------------------------------

/** Capabilities a baseline container may add (the container runtime's defaults). */
export const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

const SELINUX_TYPES_1_0 = ['', 'container_t', 'container_init_t', 'container_kvm_t'];
const SELINUX_TYPES_1_31 = [...SELINUX_TYPES_1_0, 'container_engine_t'];

const SYSCTLS_1_0 = [
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start',
];
const SYSCTLS_1_27 = [...SYSCTLS_1_0, 'net.ipv4.ip_local_reserved_ports'];
const SYSCTLS_1_29 = [
  ...SYSCTLS_1_27, 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
];
const SYSCTLS_1_32 = [...SYSCTLS_1_29, 'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem'];
const SYSCTLS_1_37 = [...SYSCTLS_1_32, 'net.ipv4.tcp_slow_start_after_idle', 'net.ipv4.tcp_notsent_lowat'];

/** Volume sources a restricted pod may use. */
export const RESTRICTED_ALLOWED_VOLUMES = new Set([
  'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'image', 'persistentVolumeClaim', 'projected', 'secret',
]);
/** Sources restricted reports by name; anything else it calls "unknown". */
export const RESTRICTED_NAMED_VOLUMES = new Set([
  'hostPath', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'nfs', 'iscsi', 'glusterfs', 'rbd', 'flexVolume',
  'cinder', 'cephfs', 'flocker', 'fc', 'azureFile', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk',
  'portworxVolume', 'scaleIO', 'storageos',
]);

/** From v1.25 the restricted capabilities, privilege-escalation and seccomp controls do not apply to Windows pods. */
function exceptWindows(check: CheckFn): CheckFn {
  return (pod) => (pod.spec.osName === 'windows' ? undefined : check(pod));
}

// ---- The table ---------------------------------------------------------------------------

export const CONTROLS: readonly Control[] = [
  // Baseline
  { id: 'appArmorProfile', level: 'baseline', versions: [{ since: 0, check: appArmorProfile }] },
  { id: 'capabilities_baseline', level: 'baseline', versions: [{ since: 0, check: capabilitiesBaseline(BASELINE_CAPABILITIES) }] },
  { id: 'hostNamespaces', level: 'baseline', versions: [{ since: 0, check: hostNamespaces }] },
  { id: 'hostPathVolumes', level: 'baseline', versions: [{ since: 0, check: hostPathVolumes }] },
  { id: 'hostPorts', level: 'baseline', versions: [{ since: 0, check: hostPorts }] },
  { id: 'hostProbesAndHostLifecycle', level: 'baseline', versions: [{ since: 34, check: hostProbesAndHostLifecycle }] },
  { id: 'privileged', level: 'baseline', versions: [{ since: 0, check: privileged }] },
  {
    id: 'procMount', level: 'baseline', versions: [
      { since: 0, check: procMount },
      { since: 35, check: procMountUserNamespaceAware },
    ],
  },
  {
    id: 'seLinuxOptions', level: 'baseline', versions: [
      { since: 0, check: seLinuxOptions(new Set(SELINUX_TYPES_1_0)) },
      { since: 31, check: seLinuxOptions(new Set(SELINUX_TYPES_1_31)) },
    ],
  },
  {
    id: 'seccompProfile_baseline', level: 'baseline', versions: [
      { since: 0, check: seccompProfileBaselineAnnotations },
      { since: 19, check: seccompProfileBaselineFields },
    ],
  },
  {
    id: 'sysctls', level: 'baseline', versions: [
      { since: 0, check: sysctls(new Set(SYSCTLS_1_0)) },
      { since: 27, check: sysctls(new Set(SYSCTLS_1_27)) },
      { since: 29, check: sysctls(new Set(SYSCTLS_1_29)) },
      { since: 32, check: sysctls(new Set(SYSCTLS_1_32)) },
      { since: 37, check: sysctls(new Set(SYSCTLS_1_37)) },
    ],
  },
  { id: 'windowsHostProcess', level: 'baseline', versions: [{ since: 0, check: windowsHostProcess }] },

  // Restricted
  {
    id: 'allowPrivilegeEscalation', level: 'restricted', versions: [
      { since: 8, check: allowPrivilegeEscalation },
      { since: 25, check: exceptWindows(allowPrivilegeEscalation) },
    ],
  },
  {
    id: 'capabilities_restricted', level: 'restricted', versions: [
      { since: 22, check: capabilitiesRestricted, overrides: ['capabilities_baseline'] },
      { since: 25, check: exceptWindows(capabilitiesRestricted), overrides: ['capabilities_baseline'] },
    ],
  },
  { id: 'procMount_restricted', level: 'restricted', versions: [{ since: 35, check: procMount, overrides: ['procMount'] }] },
  {
    id: 'restrictedVolumes', level: 'restricted', versions: [
      { since: 0, check: restrictedVolumes(RESTRICTED_ALLOWED_VOLUMES, RESTRICTED_NAMED_VOLUMES), overrides: ['hostPathVolumes'] },
    ],
  },
  {
    id: 'runAsNonRoot', level: 'restricted', versions: [
      { since: 0, check: runAsNonRoot },
      { since: 35, check: runAsNonRootUserNamespaceAware },
    ],
  },
  {
    id: 'runAsUser', level: 'restricted', versions: [
      { since: 23, check: runAsUser },
      { since: 35, check: runAsUserUserNamespaceAware },
    ],
  },
  {
    id: 'seccompProfile_restricted', level: 'restricted', versions: [
      { since: 19, check: seccompProfileRestricted, overrides: ['seccompProfile_baseline'] },
      { since: 25, check: exceptWindows(seccompProfileRestricted), overrides: ['seccompProfile_baseline'] },
    ],
  },
];
