// hostNamespaces (baseline, v1.0+): sharing the host namespaces must be disallowed.
// Restricted fields: spec.hostNetwork, spec.hostPID, spec.hostIPC. Allowed: false, undefined.
import type { Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function hostNamespaces(pod: Pod): Forbidden | undefined {
  const bad: string[] = [];
  if (pod.spec.hostNetwork) bad.push('hostNetwork=true');
  if (pod.spec.hostPID) bad.push('hostPID=true');
  if (pod.spec.hostIPC) bad.push('hostIPC=true');
  if (bad.length === 0) return undefined;
  return { reason: 'host namespaces', detail: bad.join(', ') };
}
