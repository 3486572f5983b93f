// capabilities_baseline (baseline, v1.0+): adding capabilities beyond the default set is
// disallowed. Restricted field: *.securityContext.capabilities.add (drop is not read).
// Allowed: undefined/empty, or the runtime's default set below, exactly as spelled
// (case-sensitive; a CAP_ prefix does not match).
import { containersPhrase, joinQuote, sortedUnique } from '../messages.js';
import { visitContainers, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function capabilitiesBaseline(allowed: ReadonlySet<string>): (pod: Pod) => Forbidden | undefined {
  return (pod) => {
    const bad: string[] = [];
    const caps: string[] = [];
    visitContainers(pod.spec, (c) => {
      let found = false;
      for (const cap of c.securityContext?.capabilities?.add ?? []) {
        if (!allowed.has(cap)) {
          found = true;
          caps.push(cap);
        }
      }
      if (found) bad.push(c.name);
    });
    if (bad.length === 0) return undefined;
    return {
      reason: 'non-default capabilities',
      detail: `${containersPhrase(bad)} must not include ${joinQuote(sortedUnique(caps))} in securityContext.capabilities.add`,
    };
  };
}
