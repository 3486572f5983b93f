// Link, address and route facts (filled live from rtnetlink, or from `ip -j` bundle files).

export interface AddressFacts {
  readonly family: 4 | 6;
  readonly address: string;
  readonly prefixLength: number;
}

export interface LinkFacts {
  readonly index: number;
  readonly name: string;
  /** rtnetlink IFLA_INFO_KIND: bridge, veth, vxlan, …; '' for plain devices (lo, physical). */
  readonly kind: string;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  /** IFLA_OPERSTATE as `ip` prints it: UP, DOWN, UNKNOWN, LOWERLAYERDOWN … */
  readonly operState: string;
  readonly mtu: number;
  /** Name of the bridge (or other master) this link is enslaved to. */
  readonly master?: string;
  /** veth peer ifindex (IFLA_LINK). */
  readonly peerIndex?: number;
  /** The peer lives in another network namespace (IFLA_LINK_NETNSID present). */
  readonly peerNetnsId?: number;
  /** Bridge port hairpin mode, when the link is a bridge port and the kernel says. */
  readonly hairpin?: boolean;
  readonly addresses: readonly AddressFacts[];
}

export interface RouteFacts {
  /** Routing table id (254 main, 255 local). */
  readonly table: number;
  readonly family: 4 | 6;
  /** Destination prefix, `0.0.0.0/0` or `::/0` for default. */
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  /** unicast, local, broadcast, blackhole, unreachable, … */
  readonly type: string;
}
