// privileged (baseline, v1.0+): privileged containers disable most security mechanisms.
// Restricted fields: containers, initContainers and ephemeralContainers
// securityContext.privileged. Allowed: false, undefined.
import { containersPhrase } from '../messages.js';
import { visitContainers, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function privileged(pod: Pod): Forbidden | undefined {
  const bad: string[] = [];
  visitContainers(pod.spec, (c) => {
    if (c.securityContext?.privileged === true) bad.push(c.name);
  });
  if (bad.length === 0) return undefined;
  return { reason: 'privileged', detail: `${containersPhrase(bad)} must not set securityContext.privileged=true` };
}
