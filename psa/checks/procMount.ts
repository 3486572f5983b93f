// procMount (baseline v1.0+, relaxed at v1.35; procMount_restricted v1.35+): the default
// /proc masks reduce attack surface and should be required.
// Restricted fields: *.securityContext.procMount. Allowed: undefined, Default.
// Baseline from v1.35 allows any value in a pod with its own user namespace
// (spec.hostUsers: false); restricted (procMount_restricted, overriding it) never does.
import { containersPhrase, joinQuote, sortedUnique } from '../messages.js';
import { inUserNamespace, visitContainers, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function procMount(pod: Pod): Forbidden | undefined {
  const bad: string[] = [];
  const types: string[] = [];
  visitContainers(pod.spec, (c) => {
    const pm = c.securityContext?.procMount;
    if (pm !== undefined && pm !== 'Default') {
      bad.push(c.name);
      types.push(pm);
    }
  });
  if (bad.length === 0) return undefined;
  return {
    reason: 'procMount',
    detail: `${containersPhrase(bad)} must not set securityContext.procMount to ${joinQuote(sortedUnique(types))}`,
  };
}

export function procMountUserNamespaceAware(pod: Pod): Forbidden | undefined {
  return inUserNamespace(pod.spec) ? undefined : procMount(pod);
}
