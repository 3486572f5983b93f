// hostPathVolumes (baseline, v1.0+): HostPath volumes must be forbidden.
// Restricted field: spec.volumes[*].hostPath. Allowed: undefined/null.
// In restricted it is overridden by restrictedVolumes, which reports hostPath itself.
import { joinQuote, pluralize } from '../messages.js';
import type { Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function hostPathVolumes(pod: Pod): Forbidden | undefined {
  const bad: string[] = [];
  for (const v of pod.spec.volumes) if (v.source === 'hostPath') bad.push(v.name);
  if (bad.length === 0) return undefined;
  return { reason: 'hostPath volumes', detail: `${pluralize('volume', 'volumes', bad.length)} ${joinQuote(bad)}` };
}
