// Principle (seed, Kubenet): a node forwards pod traffic. Linux drops forwarded packets
// unless net.ipv4.ip_forward=1, so pods on a node with it off cannot reach anything.
import type { CheckDefinition, CheckResult } from '../types.js';

export const sysctlCheck: CheckDefinition = {
  id: 'pod-network.sysctl',
  title: 'Kernel settings the pod network depends on are set',
  needs: ['sysctls'],
  run(snapshot) {
    const sysctls = snapshot.sysctls ?? {};
    const results: CheckResult[] = [];
    const forward = sysctls['net.ipv4.ip_forward'];
    if (forward === '1') {
      results.push({ status: 'pass', severity: 'info', subject: 'net.ipv4.ip_forward', message: 'IPv4 forwarding is on' });
    } else {
      results.push({
        status: 'fail', severity: 'critical', subject: 'net.ipv4.ip_forward',
        message: forward === undefined
          ? 'net.ipv4.ip_forward is not readable; pods cannot be routed without it — check /proc/sys is mounted'
          : `net.ipv4.ip_forward is ${forward}; pods cannot reach other nodes or Services — set it to 1 (sysctl -w net.ipv4.ip_forward=1 and persist it in /etc/sysctl.d)`,
        evidence: { key: 'net.ipv4.ip_forward', expected: '1', observed: forward ?? null },
      });
    }
    return results;
  },
};
