// Principle (seed, Kubenet): a node forwards pod traffic. Linux drops forwarded packets
// unless net.ipv4.ip_forward=1 (net.ipv6.conf.all.forwarding=1 for IPv6 pods), so pods on a
// node with it off cannot reach anything. And when pods sit on a Linux bridge, traffic
// between two pods of one node is bridged, not routed: kube-proxy's iptables/IPVS rules see it
// only with br_netfilter loaded and net.bridge.bridge-nf-call-iptables=1 — without it a pod
// calling a Service whose endpoint is on the same bridge gets no (or a wrong) reply.
import type { CheckDefinition, CheckResult } from '../types.js';
import { detectProxyMode } from '../../dataplane/mode.js';
import { nodePodCidrs, podsOnBridge } from './node-network.js';

function forwarding(sysctls: Readonly<Record<string, string>>, key: string, what: string): CheckResult {
  const v = sysctls[key];
  if (v === '1') return { status: 'pass', severity: 'info', subject: key, message: `${what} forwarding is on` };
  return {
    status: 'fail', severity: 'critical', subject: key,
    message: v === undefined
      ? `${key} is not readable; pods cannot be routed without it — check /proc/sys is mounted`
      : `${key} is ${v}; pods cannot reach other nodes or Services — set it to 1 (sysctl -w ${key}=1 and persist it in /etc/sysctl.d)`,
    evidence: { key, expected: '1', observed: v ?? null },
  };
}

export const sysctlCheck: CheckDefinition = {
  id: 'pod-network.sysctl',
  title: 'Kernel settings the pod network depends on are set',
  needs: ['sysctls'],
  run(snapshot, cluster) {
    const sysctls = snapshot.sysctls ?? {};
    const results: CheckResult[] = [forwarding(sysctls, 'net.ipv4.ip_forward', 'IPv4')];
    const pod = nodePodCidrs(snapshot, cluster);
    const ipv6Pods = pod?.cidrs.some((c) => c.family === 6) ?? false;
    if (ipv6Pods) results.push(forwarding(sysctls, 'net.ipv6.conf.all.forwarding', 'IPv6'));

    const bridge = podsOnBridge(snapshot);
    // With neither link nor CNI facts nothing says whether pods are bridged: judge nothing
    // rather than guess (the bundle lacks ip-link.json and cni/; the other checks skip).
    if (bridge.onBridge === undefined) return results;
    const mode = detectProxyMode(snapshot);
    const keys = ['net.bridge.bridge-nf-call-iptables', ...(ipv6Pods ? ['net.bridge.bridge-nf-call-ip6tables'] : [])];
    for (const key of keys) {
      const v = sysctls[key];
      if (bridge.onBridge === false || mode === 'nftables' || mode === 'none') {
        const why = bridge.onBridge === false ? bridge.why : mode === 'none' ? 'no kube-proxy rules are programmed on this node' : 'kube-proxy runs in nftables mode';
        results.push({
          status: 'pass', severity: 'info', subject: key,
          message: `${key} is ${v ?? 'absent'}; not required: ${why}`,
          evidence: { key, observed: v ?? null, proxyMode: mode },
        });
        continue;
      }
      const context = `${bridge.why} and kube-proxy ${mode === 'unknown' ? 'mode is unknown (no rule dump; assuming iptables, the default)' : `is in ${mode} mode`}`;
      if (v === '1') {
        results.push({ status: 'pass', severity: 'info', subject: key, message: `${key} is 1 (${context})`, evidence: { key, observed: v, proxyMode: mode } });
      } else if (v === undefined) {
        results.push({
          status: 'fail', severity: 'high', subject: key,
          message: `${key} does not exist: br_netfilter is not loaded, so traffic between pods on the bridge bypasses kube-proxy's rules (${context}) — modprobe br_netfilter and list it in /etc/modules-load.d/`,
          evidence: { key, expected: '1', observed: null, proxyMode: mode },
        });
      } else {
        results.push({
          status: 'fail', severity: 'high', subject: key,
          message: `${key} is ${v}: traffic between pods on the bridge bypasses kube-proxy's rules (${context}) — sysctl -w ${key}=1 and persist it in /etc/sysctl.d`,
          evidence: { key, expected: '1', observed: v, proxyMode: mode },
        });
      }
    }
    return results;
  },
};
