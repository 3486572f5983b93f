// appArmorProfile (baseline, v1.0+): the default AppArmor profile must not be overridden or
// disabled, only restricted to an allowed set.
// Restricted fields: spec.securityContext.appArmorProfile.type and
// *.securityContext.appArmorProfile.type (allowed: RuntimeDefault, Localhost, undefined);
// metadata.annotations['container.apparmor.security.beta.kubernetes.io/*'] (allowed:
// runtime/default, localhost/*, empty, undefined).
// One implementation for every version: the library added the field checks (k8s 1.30) to v1.0.
import { containersPhrase, goQuote, joinQuote, pluralize, sortedUnique, byteOrder } from '../messages.js';
import { visitContainers, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

const ANNOTATION_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';

const allowedType = (t: string): boolean => t === 'RuntimeDefault' || t === 'Localhost';
const allowedAnnotation = (v: string): boolean => v === '' || v === 'runtime/default' || v.startsWith('localhost/');

export function appArmorProfile(pod: Pod): Forbidden | undefined {
  const setters: string[] = [];
  const badTypes: string[] = [];
  const podProfile = pod.spec.securityContext?.appArmorProfile;
  if (podProfile && !allowedType(podProfile.type)) {
    setters.push('pod');
    badTypes.push(podProfile.type);
  }
  const bad: string[] = [];
  visitContainers(pod.spec, (c) => {
    const p = c.securityContext?.appArmorProfile;
    if (p && !allowedType(p.type)) {
      bad.push(c.name);
      badTypes.push(p.type);
    }
  });
  if (bad.length > 0) setters.push(containersPhrase(bad));
  const annotations: string[] = [];
  for (const [k, v] of Object.entries(pod.annotations)) {
    if (k.startsWith(ANNOTATION_PREFIX) && !allowedAnnotation(v)) annotations.push(`${k}=${goQuote(v)}`);
  }
  const values = sortedUnique(badTypes);
  if (annotations.length > 0) {
    annotations.sort(byteOrder);
    values.push(...annotations);
    setters.push(pluralize('annotation', 'annotations', annotations.length));
  }
  if (setters.length === 0) return undefined;
  return {
    reason: pluralize('forbidden AppArmor profile', 'forbidden AppArmor profiles', values.length),
    detail: `${setters.join(' and ')} must not set AppArmor profile type to ${joinQuote(values)}`,
  };
}
