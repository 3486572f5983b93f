// Principle (seed, Services): kube-proxy programs Services in exactly one mode — iptables,
// IPVS or nftables. A node with none cannot route Services; a node where two modes both catch
// Service traffic routes each packet by whichever runs first, usually the stale one left by
// a mode or iptables-backend switch.
import type { CheckDefinition, CheckResult } from '../types.js';
import { dataplaneOf } from '../../dataplane/load.js';
import { otherDataplaneResults } from '../../dataplane/ebpf-routing.js';
import { leftoverIptablesChains, modeFacts } from '../../dataplane/mode.js';

export const proxyModeCheck: CheckDefinition = {
  id: 'service-routing.mode',
  title: 'kube-proxy programs Services in exactly one mode',
  needs: ['dataplane'],
  run(snapshot, cluster) {
    // Cilium's kube-proxy replacement (judged from its maps) or another dataplane (skipped).
    const other = otherDataplaneResults('mode', snapshot, cluster);
    if (other) return other;
    const dp = dataplaneOf(snapshot)!;
    const f = modeFacts(dp);
    const routed = cluster?.services.filter((s) => s.type !== 'ExternalName' && s.clusterIPs.some((ip) => ip && ip !== 'None')).length;
    const evidence = { present: f.present, catching: f.catching, detail: f.detail, ...(routed !== undefined ? { services: routed } : {}) };
    const results: CheckResult[] = [];
    if (f.catching.length > 1) {
      results.push({
        status: 'fail', severity: 'critical', subject: snapshot.node,
        message: `two kube-proxy modes catch Service traffic (${f.catching.join(' and ')}); remove the stale one's rules (kube-proxy --cleanup for the old mode)`,
        evidence,
      });
    } else if (f.present.length === 0 && (routed ?? 0) > 0) {
      results.push({
        status: 'fail', severity: 'critical', subject: snapshot.node,
        message: `no kube-proxy rules on this node (iptables, IPVS or nftables) while the cluster has ${routed} Services: Service traffic is not routed — is kube-proxy (or its replacement) running?`,
        evidence,
      });
    } else {
      const mode: string = f.catching[0] ?? f.present[0] ?? 'none';
      results.push({
        status: 'pass', severity: 'info', subject: snapshot.node,
        message: mode === 'none' ? 'no kube-proxy rules (and no Services that need them)' : `kube-proxy mode: ${mode}${f.present.length > 1 ? ` (leftover ${f.present.filter((m) => m !== mode).join(', ')} rules catch no Service traffic)` : ''}`,
        evidence,
      });
    }
    const leftover = leftoverIptablesChains(dp, f);
    if (leftover.length > 0) {
      results.push({
        status: 'warn', severity: 'medium', subject: `${snapshot.node} iptables leftovers`,
        message: `nftables mode routes the Services but ${leftover.length} iptables-mode KUBE-* chains are left from before the switch (${leftover.slice(0, 3).join(', ')}${leftover.length > 3 ? ' …' : ''}): rules of other software may still jump into them — remove them with kube-proxy --cleanup once nothing depends on them`,
        evidence: { leftover: leftover.slice(0, 50), total: leftover.length },
      });
    }
    if (dp.bothIptablesBackends) {
      results.push({
        status: 'warn', severity: 'high', subject: `${snapshot.node} iptables backends`,
        message: 'both iptables-nft and iptables-legacy hold kube-proxy chains: one set is stale from a backend switch and still filters or rewrites packets — flush the backend kube-proxy does not use',
        evidence: {
          kubeChains: { 'iptables-nft': dp.kubeChains['iptables-nft'], 'iptables-legacy': dp.kubeChains['iptables-legacy'] },
          used: dp.iptables?.backend,
        },
      });
    }
    return results;
  },
};
