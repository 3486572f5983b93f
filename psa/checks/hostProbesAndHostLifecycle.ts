// hostProbesAndHostLifecycle (baseline, v1.34+): probes and lifecycle handlers must not
// name a host (they would reach it from the node, bypassing network policy).
// Restricted fields: *.livenessProbe, readinessProbe, startupProbe and *.lifecycle.postStart,
// preStop: .httpGet.host and .tcpSocket.host. Allowed: undefined, "". Any other value fails,
// localhost included. Containers and hosts are listed sorted and once each.
import { joinQuote, pluralize, sortedUnique } from '../messages.js';
import { visitContainers, type HandlerHosts, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function hostProbesAndHostLifecycle(pod: Pod): Forbidden | undefined {
  const bad: string[] = [];
  const hosts: string[] = [];
  visitContainers(pod.spec, (c) => {
    let found = false;
    const add = (h: HandlerHosts | undefined): void => {
      if (h && h.length > 0) {
        found = true;
        hosts.push(...h);
      }
    };
    add(c.livenessProbe);
    add(c.readinessProbe);
    add(c.startupProbe);
    add(c.postStart);
    add(c.preStop);
    if (found) bad.push(c.name);
  });
  if (bad.length === 0) return undefined;
  const containers = sortedUnique(bad);
  const unique = sortedUnique(hosts);
  return {
    reason: 'probe or lifecycle host',
    detail: `${pluralize('container', 'containers', containers.length)} ${joinQuote(containers)} ${pluralize('uses', 'use', containers.length)} ${pluralize('probe or lifecycle host', 'probe or lifecycle hosts', unique.length)} ${joinQuote(unique)}`,
  };
}
