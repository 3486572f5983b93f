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
  /**
   * Tools that did not answer within the tool timeout and were killed: what they would have
   * printed is unknown, so the rules cannot be judged (the checks report an error naming them).
   */
  readonly failed?: readonly { readonly tool: string; readonly reason: string }[];
}
