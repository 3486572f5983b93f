// Which CNI plugin family the node runs, from its active CNI config (the report's `cni` field):
// '' when the snapshot has no CNI facts, 'none' when the conf dir holds no valid config
// (kubenet nodes before 1.24 had none: the kubelet built it in).
import type { NodeSnapshot } from '../../snapshot.js';
import { activeCniProfile } from './conflist.js';

export function detectCniFamily(snapshot: NodeSnapshot): string {
  if (!snapshot.cni) return '';
  return activeCniProfile(snapshot.cni)?.profile.family ?? 'none';
}
