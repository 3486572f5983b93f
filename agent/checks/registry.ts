// Every check netconform runs. Adding a check is one file plus one line here.
import type { CheckDefinition } from './types.js';
import { sysctlCheck } from './pod-network/sysctl.js';
import { bridgeCheck } from './pod-network/bridge.js';
import { podCidrCheck } from './pod-network/pod-cidr.js';
import { cidrCapacityCheck } from './pod-network/cidr-capacity.js';
import { routesCheck } from './pod-network/routes.js';
import { cniConfigCheck } from './cni/config.js';
import { SERVICE_ROUTING_CHECKS } from './service-routing/index.js';
import { podToPodNoNatCheck } from './no-nat/pod-to-pod.js';
import { podNetnsSharedCheck } from './pod-netns/shared.js';
import { podNetnsPortConflictCheck } from './pod-netns/port-conflict.js';

export const CHECKS: readonly CheckDefinition[] = validateRegistry([
  sysctlCheck,
  bridgeCheck,
  podCidrCheck,
  cidrCapacityCheck,
  routesCheck,
  cniConfigCheck,
  ...SERVICE_ROUTING_CHECKS,
  podToPodNoNatCheck,
  podNetnsSharedCheck,
  podNetnsPortConflictCheck,
]);

function validateRegistry(checks: CheckDefinition[]): CheckDefinition[] {
  const seen = new Set<string>();
  for (const c of checks) {
    if (!/^[a-z0-9-]+\.[a-z0-9-]+$/.test(c.id)) throw new Error(`check id "${c.id}" is not of the form area.name`);
    if (seen.has(c.id)) throw new Error(`check id "${c.id}" is registered twice`);
    seen.add(c.id);
  }
  return checks;
}
