// What the source address a peer saw means, when it is not the sender's pod IP: the sender's
// node address (masqueraded on its way out), a bridge/gateway address (NAT on the bridge,
// hairpin), another node's address (rewritten on the way, or routed through that node), or
// an address netconform knows nothing about (cloud SDN NAT, a tunnel that SNATs). Pure.
export type SourceKind = 'preserved' | 'sender-node' | 'gateway' | 'other-node' | 'unknown';

export interface AddressBook {
  /** Every node's addresses (InternalIP, underlay), by node name. */
  readonly nodeAddresses: ReadonlyMap<string, readonly string[]>;
  /** Pod-network gateway addresses (cbr0/cni0 .1 addresses) — a bridge that NATs. */
  readonly gateways: readonly string[];
}

export function classifySource(seen: string, expected: string, senderNode: string, book: AddressBook): { kind: SourceKind; node?: string } {
  if (seen === expected) return { kind: 'preserved' };
  if ((book.nodeAddresses.get(senderNode) ?? []).includes(seen)) return { kind: 'sender-node', node: senderNode };
  if (book.gateways.includes(seen)) return { kind: 'gateway' };
  for (const [node, addrs] of book.nodeAddresses) if (node !== senderNode && addrs.includes(seen)) return { kind: 'other-node', node };
  return { kind: 'unknown' };
}
