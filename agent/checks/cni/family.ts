// Which CNI plugin family the node runs, from its active CNI config.
import type { NodeSnapshot } from '../../snapshot.js';

export function detectCniFamily(snapshot: NodeSnapshot): string {
  // Replaced by the CNI config parser (issue: node inspection).
  return snapshot.cni ? 'unknown' : '';
}
