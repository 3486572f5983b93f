// Every migration target netconform knows. Adding one is a file plus a line here.
import type { TargetProfile } from '../profile.js';
import { kubenet } from './kubenet.js';
import { bridge } from './bridge.js';
import { flannelHostGw, flannelVxlan } from './flannel.js';
import { calico, calicoEbpf } from './calico.js';
import { cilium, ciliumKpr } from './cilium.js';
import { azureCni, azureCniCilium, azureCniOverlay } from './azure.js';
import { awsVpcCni } from './aws.js';
import { antrea } from './antrea.js';
import { weave } from './weave.js';

export const PROFILES: readonly TargetProfile[] = validateProfiles([
  kubenet, bridge, flannelVxlan, flannelHostGw, calico, calicoEbpf, cilium, ciliumKpr,
  azureCni, azureCniOverlay, azureCniCilium, awsVpcCni, antrea, weave,
]);

export function profileById(id: string): TargetProfile | undefined {
  return PROFILES.find((p) => p.id === id);
}

function validateProfiles(list: TargetProfile[]): TargetProfile[] {
  const seen = new Set<string>();
  for (const p of list) {
    if (seen.has(p.id)) throw new Error(`migration profile "${p.id}" is declared twice`);
    seen.add(p.id);
  }
  return list;
}
