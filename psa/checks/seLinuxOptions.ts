// seLinuxOptions (baseline, v1.0+; v1.31 allows container_engine_t): setting the SELinux
// type is restricted, and setting a custom SELinux user or role is forbidden.
// Restricted fields: spec.securityContext.seLinuxOptions and *.securityContext.seLinuxOptions
// .type (allowed: undefined/empty and the types in the table), .user and .role (allowed:
// undefined/empty). `level` is not restricted.
import { containersPhrase, joinQuote, pluralize, sortedUnique } from '../messages.js';
import { visitContainers, type Pod, type SELinuxOptions } from '../pod.js';
import type { Forbidden } from '../types.js';

export function seLinuxOptions(allowedTypes: ReadonlySet<string>): (pod: Pod) => Forbidden | undefined {
  return (pod) => {
    const badTypes: string[] = [];
    let setUser = false;
    let setRole = false;
    const valid = (o: SELinuxOptions): boolean => {
      let ok = true;
      if (!allowedTypes.has(o.type)) {
        ok = false;
        badTypes.push(o.type);
      }
      if (o.user !== '') {
        ok = false;
        setUser = true;
      }
      if (o.role !== '') {
        ok = false;
        setRole = true;
      }
      return ok;
    };
    const setters: string[] = [];
    const podOpts = pod.spec.securityContext?.seLinuxOptions;
    if (podOpts && !valid(podOpts)) setters.push('pod');
    const bad: string[] = [];
    visitContainers(pod.spec, (c) => {
      const o = c.securityContext?.seLinuxOptions;
      if (o && !valid(o)) bad.push(c.name);
    });
    if (bad.length > 0) setters.push(containersPhrase(bad));
    if (setters.length === 0) return undefined;
    const parts: string[] = [];
    const types = sortedUnique(badTypes);
    if (types.length > 0) parts.push(`${pluralize('type', 'types', types.length)} ${joinQuote(types)}`);
    if (setUser) parts.push('user may not be set');
    if (setRole) parts.push('role may not be set');
    return {
      reason: 'seLinuxOptions',
      detail: `${setters.join(' and ')} set forbidden securityContext.seLinuxOptions: ${parts.join('; ')}`,
    };
  };
}
