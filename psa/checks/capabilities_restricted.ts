// capabilities_restricted (restricted, v1.22+; v1.25 exempts Windows pods): containers must
// drop ALL capabilities, and may only add back NET_BIND_SERVICE.
// Restricted fields: *.securityContext.capabilities.drop (must include "ALL", exactly) and
// *.securityContext.capabilities.add (allowed: undefined/empty, "NET_BIND_SERVICE").
// A container without securityContext or capabilities counts only as missing the drop.
import { containersPhrase, joinQuote, sortedUnique } from '../messages.js';
import { visitContainers, type Pod } from '../pod.js';
import type { Forbidden } from '../types.js';

export function capabilitiesRestricted(pod: Pod): Forbidden | undefined {
  const missingDrop: string[] = [];
  const adding: string[] = [];
  const caps: string[] = [];
  visitContainers(pod.spec, (c) => {
    const cap = c.securityContext?.capabilities;
    if (!cap) {
      missingDrop.push(c.name);
      return;
    }
    if (!cap.drop.includes('ALL')) missingDrop.push(c.name);
    let found = false;
    for (const a of cap.add) {
      if (a !== 'NET_BIND_SERVICE') {
        found = true;
        caps.push(a);
      }
    }
    if (found) adding.push(c.name);
  });
  const parts: string[] = [];
  if (missingDrop.length > 0) parts.push(`${containersPhrase(missingDrop)} must set securityContext.capabilities.drop=["ALL"]`);
  if (adding.length > 0) parts.push(`${containersPhrase(adding)} must not include ${joinQuote(sortedUnique(caps))} in securityContext.capabilities.add`);
  if (parts.length === 0) return undefined;
  return { reason: 'unrestricted capabilities', detail: parts.join('; ') };
}
