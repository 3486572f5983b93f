// seccompProfile_baseline (baseline) and seccompProfile_restricted (restricted, v1.19+).
// Baseline: if a seccomp profile is set, only the runtime default and localhost profiles
// are allowed. v1.0–v1.18 read the alpha annotations
// (seccomp.security.alpha.kubernetes.io/pod and container.seccomp.security.alpha.kubernetes.io/<name>,
// allowed: runtime/default, docker/default, localhost/*, undefined); v1.19+ read
// spec.securityContext.seccompProfile.type and *.securityContext.seccompProfile.type
// (allowed: RuntimeDefault, Localhost, undefined) and ignore the annotations.
// Restricted: the profile must be set, to RuntimeDefault or Localhost, on the pod or on
// every container (v1.25+: pods with spec.os.name=windows are exempt).
import { containersPhrase, goQuote, joinQuote, pluralize, sortedUnique } from '../messages.js';
import { visitContainers, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

const POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
const CONTAINER_ANNOTATION_PREFIX = 'container.seccomp.security.alpha.kubernetes.io/';

const validType = (t: string): boolean => t === 'RuntimeDefault' || t === 'Localhost';
const validAnnotation = (v: string): boolean => v === 'runtime/default' || v === 'docker/default' || v.startsWith('localhost/');

export function seccompProfileBaselineAnnotations(pod: Pod): Forbidden | undefined {
  const forbidden: string[] = [];
  const podValue = pod.annotations[POD_ANNOTATION];
  if (podValue !== undefined && !validAnnotation(podValue)) forbidden.push(`${POD_ANNOTATION}=${goQuote(podValue)}`);
  visitContainers(pod.spec, (c) => {
    const key = CONTAINER_ANNOTATION_PREFIX + c.name;
    const v = pod.annotations[key];
    if (v !== undefined && !validAnnotation(v)) forbidden.push(`${key}=${goQuote(v)}`);
  });
  if (forbidden.length === 0) return undefined;
  const list = sortedUnique(forbidden);
  return { reason: 'seccompProfile', detail: `forbidden ${pluralize('annotation', 'annotations', list.length)} ${list.join(', ')}` };
}

/** The explicitly bad setters and values, shared by both levels' field checks. */
function explicitlyBad(pod: Pod): { setters: string[]; values: string[]; podSet: boolean; unset: string[] } {
  const setters: string[] = [];
  const values: string[] = [];
  let podSet = false;
  const podProfile = pod.spec.securityContext?.seccompProfile;
  if (podProfile) {
    if (validType(podProfile.type)) podSet = true;
    else {
      setters.push('pod');
      values.push(podProfile.type);
    }
  }
  const bad: string[] = [];
  const unset: string[] = [];
  visitContainers(pod.spec, (c) => {
    const p = c.securityContext?.seccompProfile;
    if (p) {
      if (!validType(p.type)) {
        bad.push(c.name);
        values.push(p.type);
      }
    } else {
      unset.push(c.name);
    }
  });
  if (bad.length > 0) setters.push(containersPhrase(bad));
  return { setters, values, podSet, unset };
}

export function seccompProfileBaselineFields(pod: Pod): Forbidden | undefined {
  const { setters, values } = explicitlyBad(pod);
  if (setters.length === 0) return undefined;
  return {
    reason: 'seccompProfile',
    detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedUnique(values))}`,
  };
}

export function seccompProfileRestricted(pod: Pod): Forbidden | undefined {
  const { setters, values, podSet, unset } = explicitlyBad(pod);
  if (setters.length > 0) {
    return {
      reason: 'seccompProfile',
      detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedUnique(values))}`,
    };
  }
  if (!podSet && unset.length > 0) {
    return {
      reason: 'seccompProfile',
      detail: `pod or ${containersPhrase(unset)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
    };
  }
  return undefined;
}
