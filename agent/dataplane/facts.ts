// kube-proxy dataplane facts: raw rule dumps as read from the node (parsed by agent/dataplane).

export interface DataplaneFacts {
  /** `iptables-save` output of the backend in use (nft or legacy), keyed by backend. */
  readonly iptables?: { readonly nft?: string; readonly legacy?: string };
  readonly ip6tables?: { readonly nft?: string; readonly legacy?: string };
  /** `nft -j list ruleset` JSON text. */
  readonly nftJson?: string;
  /** `ipset save` text. */
  readonly ipsetSave?: string;
  /** `ipvsadm -Sn` text. */
  readonly ipvsadm?: string;
}
