// windowsHostProcess (baseline, v1.0+): Windows pods offer the ability to run HostProcess
// containers, which give privileged access to the Windows node; disallowed.
// Restricted fields: spec.securityContext.windowsOptions.hostProcess and
// *.securityContext.windowsOptions.hostProcess. Allowed: false, undefined.
import { containersPhrase } from '../messages.js';
import { visitContainers, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function windowsHostProcess(pod: Pod): Forbidden | undefined {
  const setters: string[] = [];
  if (pod.spec.securityContext?.windowsHostProcess === true) setters.push('pod');
  const bad: string[] = [];
  visitContainers(pod.spec, (c) => {
    if (c.securityContext?.windowsHostProcess === true) bad.push(c.name);
  });
  if (bad.length > 0) setters.push(containersPhrase(bad));
  if (setters.length === 0) return undefined;
  return { reason: 'hostProcess', detail: `${setters.join(' and ')} must not set securityContext.windowsOptions.hostProcess=true` };
}
