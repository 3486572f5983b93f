import test from 'ava';
import { parseAuditViolations, parseEnforceDenial, splitAggregate } from '../collector/audit/violations.js';

// One entry per control: the reason and a detail exactly as the admission library writes
// them (reference/pod-security.md §1.3–1.4), and the check id the parser must name.
const SHAPES: ReadonlyArray<readonly [string, string, string, string, readonly string[]]> = [
  // [level:version, reason, detail, control, containers]
  ['baseline:latest', 'privileged', 'containers "a", "b" must not set securityContext.privileged=true', 'privileged', ['a', 'b']],
  ['baseline:latest', 'host namespaces', 'hostNetwork=true, hostPID=true, hostIPC=true', 'hostNamespaces', []],
  ['baseline:latest', 'non-default capabilities', 'container "x" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add', 'capabilities_baseline', ['x']],
  ['baseline:latest', 'hostPath volumes', 'volumes "a", "b"', 'hostPathVolumes', []],
  ['baseline:latest', 'hostPort', 'containers "b", "c" use hostPorts 10, 20, 30', 'hostPorts', ['b', 'c']],
  ['baseline:latest', 'forbidden AppArmor profiles', 'pod must not set AppArmor profile type to "Unconfined"; annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/c1="unconfined""', 'appArmorProfile', []],
  ['baseline:latest', 'seLinuxOptions', 'pod and containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set', 'seLinuxOptions', ['e', 'f', 'g']],
  ['baseline:v1.30', 'procMount', 'container "x" must not set securityContext.procMount to "Unmasked", "other"', 'procMount', ['x']],
  ['baseline:v1.18', 'seccompProfile', 'forbidden annotations container.seccomp.security.alpha.kubernetes.io/a="unconfined", seccomp.security.alpha.kubernetes.io/pod="unconfined"', 'seccompProfile_baseline', []],
  ['baseline:v1.30', 'seccompProfile', 'pod and containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"', 'seccompProfile_baseline', ['c', 'd']],
  ['baseline:latest', 'forbidden sysctls', 'net.ipv4.tcp_rmem, othersysctl', 'sysctls', []],
  ['baseline:latest', 'hostProcess', 'pod and containers "e", "f" must not set securityContext.windowsOptions.hostProcess=true', 'windowsHostProcess', ['e', 'f']],
  ['baseline:v1.34', 'probe or lifecycle host', 'containers "invalid1", "invalid2" use probe or lifecycle hosts "a.com", "b.com"', 'hostProbesAndHostLifecycle', ['invalid1', 'invalid2']],
  ['restricted:v1.30', 'restricted volume types', 'volumes "a", "b" use restricted volume types "gcePersistentDisk", "hostPath"', 'restrictedVolumes', []],
  ['restricted:v1.30', 'runAsNonRoot != true', 'pod or containers "a", "b" must set securityContext.runAsNonRoot=true', 'runAsNonRoot', ['a', 'b']],
  ['restricted:v1.30', 'runAsUser=0', 'pod and container "a" must not set runAsUser=0', 'runAsUser', ['a']],
  ['restricted:v1.30', 'allowPrivilegeEscalation != false', 'container "a" must set securityContext.allowPrivilegeEscalation=false', 'allowPrivilegeEscalation', ['a']],
  ['restricted:v1.30', 'seccompProfile', 'pod or containers "a", "b" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"', 'seccompProfile_restricted', ['a', 'b']],
  ['restricted:v1.30', 'unrestricted capabilities', 'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; containers "a", "b", "c" must not include "BAR", "CHOWN" in securityContext.capabilities.add', 'capabilities_restricted', ['a', 'b', 'c']],
  ['restricted:v1.35', 'procMount', 'container "x" must not set securityContext.procMount to "Unmasked"', 'procMount_restricted', ['x']],
  ['restricted:v1.34', 'procMount', 'container "x" must not set securityContext.procMount to "Unmasked"', 'procMount', ['x']],
];

for (const [policy, reason, detail, control, containers] of SHAPES) {
  test(`audit-violations: ${control} at ${policy} ("${reason}")`, (t) => {
    const v = parseAuditViolations(`would violate PodSecurity "${policy}": ${reason} (${detail})`);
    const [level, version] = policy.split(':');
    t.truthy(v);
    t.is(v!.level, level);
    t.is(v!.version, version);
    t.deepEqual(v!.controls, [{ control, reason, detail, containers }]);
  });
}

test('every control shape in one annotation, in order, with multiple containers', (t) => {
  const text = `would violate PodSecurity "restricted:latest": ${SHAPES.filter((s) => s[0].startsWith('restricted') || s[0] === 'baseline:latest').map(([, r, d]) => `${r} (${d})`).join(', ')}`;
  const v = parseAuditViolations(text)!;
  const expected = SHAPES.filter((s) => s[0].startsWith('restricted') || s[0] === 'baseline:latest');
  t.is(v.controls.length, expected.length);
  t.deepEqual(v.controls.map((c) => c.reason), expected.map((s) => s[1]));
  t.deepEqual(v.controls.map((c) => c.detail), expected.map((s) => s[2]));
  // latest means the newest policy: the restricted overrides apply.
  t.is(v.controls.find((c) => c.reason === 'procMount')!.control, 'procMount_restricted');
});

test('the upstream documentation example parses into its four controls', (t) => {
  const v = parseAuditViolations('would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "example" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "example" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "example" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "example" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')!;
  t.deepEqual(v.controls.map((c) => c.control), ['allowPrivilegeEscalation', 'capabilities_restricted', 'runAsNonRoot', 'seccompProfile_restricted']);
  t.deepEqual(v.controls.map((c) => c.containers), [['example'], ['example'], ['example'], ['example']]);
});

test('unknown future controls are kept verbatim, never dropped', (t) => {
  const v = parseAuditViolations('would violate PodSecurity "restricted:v1.40": privileged (container "a" must not set securityContext.privileged=true), quantum entanglement (container "a" must not set spec.qubits (or anything like it)), bare reason without detail, runAsUser=0 (pod must not set runAsUser=0)')!;
  t.deepEqual(v.controls.map((c) => [c.control, c.reason, c.detail]), [
    ['privileged', 'privileged', 'container "a" must not set securityContext.privileged=true'],
    ['unknown', 'quantum entanglement', 'container "a" must not set spec.qubits (or anything like it)'],
    ['unknown', 'bare reason without detail', ''],
    ['runAsUser', 'runAsUser=0', 'pod must not set runAsUser=0'],
  ]);
});

test('an empty reason from the library ("unknown forbidden reason") and a truncated annotation are kept', (t) => {
  const v = parseAuditViolations('would violate PodSecurity "baseline:v1.25": unknown forbidden reason, privileged (container "a" must not set')!;
  t.deepEqual(v.controls.map((c) => [c.control, c.reason, c.detail]), [
    ['unknown', 'unknown forbidden reason', ''],
    ['privileged', 'privileged', 'container "a" must not set'],
  ]);
});

test('enforce denials are read from the 403 status message, not from "would violate"', (t) => {
  const d = parseEnforceDenial('pods "nginx" is forbidden: violates PodSecurity "baseline:latest": privileged (container "nginx" must not set securityContext.privileged=true)')!;
  t.is(d.level, 'baseline');
  t.is(d.version, 'latest');
  t.deepEqual(d.controls.map((c) => c.control), ['privileged']);
  t.is(parseEnforceDenial('would violate PodSecurity "restricted:latest": privileged (x)'), undefined);
  t.is(parseEnforceDenial('pods "x" is forbidden: exceeded quota'), undefined);
  t.is(parseAuditViolations('something else'), undefined);
});

test('an invalid level or version in the annotation becomes "unknown" (bounded metric labels)', (t) => {
  const v = parseAuditViolations('would violate PodSecurity "strict:v2.0": privileged (container "a" must not set securityContext.privileged=true)')!;
  t.is(v.level, 'unknown');
  t.is(v.version, 'unknown');
  t.is(v.controls.length, 1);
});

test('splitAggregate follows parentheses, not commas', (t) => {
  t.deepEqual(splitAggregate('a (x, y), b (p (q), r), c'), [
    { reason: 'a', detail: 'x, y' }, { reason: 'b', detail: 'p (q), r' }, { reason: 'c', detail: '' },
  ]);
});
