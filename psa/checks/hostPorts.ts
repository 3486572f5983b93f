// hostPorts (baseline, v1.0+): HostPorts should be disallowed entirely.
// Restricted fields: *.ports[*].hostPort. Allowed: undefined, 0.
// Ports are listed once each, sorted as strings (so "10" before "9"), unquoted.
import { containersPhrase, pluralize, sortedUnique } from '../messages.js';
import { visitContainers, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function hostPorts(pod: Pod): Forbidden | undefined {
  const bad: string[] = [];
  const ports: string[] = [];
  visitContainers(pod.spec, (c) => {
    if (c.hostPorts.length === 0) return;
    bad.push(c.name);
    for (const p of c.hostPorts) ports.push(String(p));
  });
  if (bad.length === 0) return undefined;
  const unique = sortedUnique(ports);
  return {
    reason: 'hostPort',
    detail: `${containersPhrase(bad)} ${pluralize('uses', 'use', bad.length)} ${pluralize('hostPort', 'hostPorts', unique.length)} ${unique.join(', ')}`,
  };
}
