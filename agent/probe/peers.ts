// Which peers a probe pod probes: a deterministic hash ring of K other probe pods (load grows
// with N·K, not N²), plus one peer on its own node and the probe Service. Pure.
import { createHash } from 'node:crypto';

export interface ProbePeer {
  /** Pod name (or a lab's name for it). */
  readonly name: string;
  readonly node: string;
  readonly ip: string;
  readonly port: number;
}

const ringKey = (name: string): string => createHash('sha256').update(name).digest('hex');

/** The K ring successors of `self` on other nodes, and one peer on self's node when there is one. */
export function selectPeers(self: { readonly name: string; readonly node: string }, all: readonly ProbePeer[], k: number): ProbePeer[] {
  const others = all.filter((p) => p.name !== self.name);
  const ring = [...others, { name: self.name, node: self.node, ip: '', port: 0 }].sort((a, b) => (ringKey(a.name) < ringKey(b.name) ? -1 : 1));
  const at = ring.findIndex((p) => p.name === self.name);
  const chosen: ProbePeer[] = [];
  for (let i = 1; i < ring.length && chosen.length < k; i++) {
    const p = ring[(at + i) % ring.length]!;
    if (p.node !== self.node) chosen.push(p);
  }
  const sameNode = ring.slice(at + 1).concat(ring.slice(0, at)).find((p) => p.node === self.node && p.name !== self.name);
  if (sameNode) chosen.push(sameNode);
  return chosen;
}
