// restrictedVolumes (restricted, v1.0+): pods may only use the volume types below, the
// ones that are not host-dependent or a way around the other controls.
// Restricted field: spec.volumes[*]. Allowed sources: configMap, csi, downwardAPI, emptyDir,
// ephemeral, image (since the k8s 1.33 library, for every version), persistentVolumeClaim,
// projected, secret. Every other source fails under its field name; no recognised source
// is "unknown" (after defaulting, a volume without any source is an emptyDir).
// Overrides baseline hostPathVolumes. Volume names are listed in spec order.
import { joinQuote, pluralize, sortedUnique } from '../messages.js';
import type { Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function restrictedVolumes(allowed: ReadonlySet<string>, known: ReadonlySet<string>): (pod: Pod) => Forbidden | undefined {
  return (pod) => {
    const bad: string[] = [];
    const types: string[] = [];
    for (const v of pod.spec.volumes) {
      if (allowed.has(v.source)) continue;
      bad.push(v.name);
      types.push(known.has(v.source) ? v.source : 'unknown');
    }
    if (bad.length === 0) return undefined;
    const unique = sortedUnique(types);
    return {
      reason: 'restricted volume types',
      detail: `${pluralize('volume', 'volumes', bad.length)} ${joinQuote(bad)} ${pluralize('uses', 'use', bad.length)} ${pluralize('restricted volume type', 'restricted volume types', unique.length)} ${joinQuote(unique)}`,
    };
  };
}
