// runAsNonRoot (restricted, v1.0+; relaxed at v1.35): containers must be required to run as
// non-root users.
// Restricted fields: spec.securityContext.runAsNonRoot and *.securityContext.runAsNonRoot.
// Allowed: true; undefined on a container when the pod sets true. An explicit false
// anywhere is reported first (and alone). From v1.35 a pod with its own user namespace
// (spec.hostUsers: false) passes.
import { containersPhrase } from '../messages.js';
import { inUserNamespace, visitContainers, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

const REASON = 'runAsNonRoot != true';

export function runAsNonRoot(pod: Pod): Forbidden | undefined {
  const setters: string[] = [];
  let podTrue = false;
  const podValue = pod.spec.securityContext?.runAsNonRoot;
  if (podValue === false) setters.push('pod');
  else if (podValue === true) podTrue = true;
  const explicit: string[] = [];
  const implicit: string[] = [];
  visitContainers(pod.spec, (c) => {
    const v = c.securityContext?.runAsNonRoot;
    if (v === false) explicit.push(c.name);
    else if (v === undefined && !podTrue) implicit.push(c.name);
  });
  if (explicit.length > 0) setters.push(containersPhrase(explicit));
  if (setters.length > 0) return { reason: REASON, detail: `${setters.join(' and ')} must not set securityContext.runAsNonRoot=false` };
  if (implicit.length > 0) return { reason: REASON, detail: `pod or ${containersPhrase(implicit)} must set securityContext.runAsNonRoot=true` };
  return undefined;
}

export function runAsNonRootUserNamespaceAware(pod: Pod): Forbidden | undefined {
  return inUserNamespace(pod.spec) ? undefined : runAsNonRoot(pod);
}
