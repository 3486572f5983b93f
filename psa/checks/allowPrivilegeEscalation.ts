// allowPrivilegeEscalation (restricted, v1.8+; v1.25 exempts Windows pods): privilege
// escalation (such as via set-user-ID or set-group-ID file mode) should not be allowed.
// Restricted field: *.securityContext.allowPrivilegeEscalation. Allowed: false only —
// unset fails, as does a container without a securityContext.
import { containersPhrase } from '../messages.js';
import { visitContainers, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function allowPrivilegeEscalation(pod: Pod): Forbidden | undefined {
  const bad: string[] = [];
  visitContainers(pod.spec, (c) => {
    if (c.securityContext?.allowPrivilegeEscalation !== false) bad.push(c.name);
  });
  if (bad.length === 0) return undefined;
  return {
    reason: 'allowPrivilegeEscalation != false',
    detail: `${containersPhrase(bad)} must set securityContext.allowPrivilegeEscalation=false`,
  };
}
