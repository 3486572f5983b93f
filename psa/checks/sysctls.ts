// sysctls (baseline, v1.0+; more allowed at v1.27, v1.29, v1.32, v1.37): sysctls can disable
// security mechanisms or affect all containers on a host; only a "safe" subset is allowed.
// Restricted field: spec.securityContext.sysctls[*].name. Allowed: undefined/empty and the
// safe names of the version (the table in standard.ts). Forbidden names are reported in
// spec order, duplicates kept.
import type { Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function sysctls(allowed: ReadonlySet<string>): (pod: Pod) => Forbidden | undefined {
  return (pod) => {
    const bad: string[] = [];
    for (const name of pod.spec.securityContext?.sysctls ?? []) if (!allowed.has(name)) bad.push(name);
    if (bad.length === 0) return undefined;
    return { reason: 'forbidden sysctls', detail: bad.join(', ') };
  };
}
