// Which kube-proxy mode is programmed on the node, judged from its dataplane facts.
import type { NodeSnapshot } from '../snapshot.js';

export type ProxyMode = 'iptables' | 'ipvs' | 'nftables' | 'none' | 'unknown';

export function detectProxyMode(snapshot: NodeSnapshot): ProxyMode {
  const dp = snapshot.dataplane;
  if (!dp) return 'unknown';
  // Replaced by the rule-model based detection (issue: dataplane core).
  if (dp.nftJson && dp.nftJson.includes('"kube-proxy"')) return 'nftables';
  if (dp.ipvsadm && dp.ipvsadm.trim() !== '') return 'ipvs';
  const ipt = (dp.iptables?.nft ?? '') + (dp.iptables?.legacy ?? '');
  if (ipt.includes('KUBE-SERVICES')) return 'iptables';
  return 'none';
}
