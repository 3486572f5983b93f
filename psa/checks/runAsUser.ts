// runAsUser (restricted, v1.23+; relaxed at v1.35): containers must not set runAsUser to 0.
// Restricted fields: spec.securityContext.runAsUser and *.securityContext.runAsUser.
// Allowed: any non-zero value, undefined. runAsGroup is not read. From v1.35 a pod with its
// own user namespace (spec.hostUsers: false) passes.
import { containersPhrase } from '../messages.js';
import { inUserNamespace, visitContainers, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function runAsUser(pod: Pod): Forbidden | undefined {
  const setters: string[] = [];
  if (pod.spec.securityContext?.runAsUser === 0) setters.push('pod');
  const bad: string[] = [];
  visitContainers(pod.spec, (c) => {
    if (c.securityContext?.runAsUser === 0) bad.push(c.name);
  });
  if (bad.length > 0) setters.push(containersPhrase(bad));
  if (setters.length === 0) return undefined;
  return { reason: 'runAsUser=0', detail: `${setters.join(' and ')} must not set runAsUser=0` };
}

export function runAsUserUserNamespaceAware(pod: Pod): Forbidden | undefined {
  return inUserNamespace(pod.spec) ? undefined : runAsUser(pod);
}
