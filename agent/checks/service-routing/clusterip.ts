// Principle (seed, Services): a Service is a durable IP:port that every node routes to the
// Service's ready endpoints, evenly. For every Service port this traces a packet from a pod
// on this node to ClusterIP:port through the node's kube-proxy dataplane (iptables, nftables
// or IPVS) and compares the DNAT targets and their probabilities with the endpoints kube-proxy
// should use; a Service without endpoints must be rejected.
import type { CheckDefinition, CheckResult } from '../types.js';
import { dataplaneOf } from '../../dataplane/load.js';
import { otherDataplaneResults } from '../../dataplane/ebpf-routing.js';
import { expectedServicePorts } from '../../dataplane/expected.js';
import { modeFacts } from '../../dataplane/mode.js';
import { familyOf, judge, nodeView, observeIpvs, podSource, serviceRulesRead, traceEnv, traceService } from '../../dataplane/routing.js';
import type { ServiceTraceEnv } from '../../dataplane/routing.js';
import { canonicalIp } from '../../dataplane/addr.js';
import { serviceConvergence } from '../../dataplane/convergence.js';

export const clusterIPCheck: CheckDefinition = {
  id: 'service-routing.clusterip',
  title: 'Every Service ClusterIP:port reaches exactly its ready endpoints, evenly',
  needs: ['dataplane'],
  needsCluster: true,
  run(snapshot, cluster) {
    // Cilium's kube-proxy replacement (judged from its maps) or another dataplane (skipped).
    const other = otherDataplaneResults('clusterip', snapshot, cluster);
    if (other) return other;
    const dp = dataplaneOf(snapshot)!;
    const view = nodeView(snapshot, cluster);
    const useIpvs = modeFacts(dp).catching.includes('ipvs') && !modeFacts(dp).catching.some((m) => m !== 'ipvs');
    const envs = new Map<4 | 6, ServiceTraceEnv>();
    const envFor = (f: 4 | 6): ServiceTraceEnv => {
      let e = envs.get(f);
      if (!e) envs.set(f, (e = traceEnv(dp, view, f)));
      return e;
    };
    const results: CheckResult[] = [];
    const skipped = new Set<string>();
    // A dual-stack Service port comes once per family, each with that family's ClusterIP and endpoints.
    for (const exp of expectedServicePorts(cluster!, snapshot.node)) {
      if (exp.topologySkip) {
        if (!skipped.has(exp.subject)) results.push({ status: 'skip', severity: 'info', subject: exp.subject, message: `skipped: ${exp.topologySkip}` });
        skipped.add(exp.subject);
        continue;
      }
      for (const ip of exp.clusterIPs) {
        const family = familyOf(ip);
        if (!serviceRulesRead(dp, family, useIpvs)) continue;
        const path = `ClusterIP ${family === 6 ? `[${ip}]` : ip}:${exp.port.port}/${exp.port.protocol}`;
        const observed = useIpvs
          ? observeIpvs(dp.ipvs ?? [], ip, exp.port.protocol, exp.port.port)
          : traceService(envFor(family), podSource(view, exp.internal, family), ip, exp.port.protocol, exp.port.port, view.podIif);
        const extra: Record<string, unknown> = {};
        if (useIpvs && view.kubeIpvs0 && !view.kubeIpvs0.includes(canonicalIp(ip))) extra['kubeIpvs0'] = `ClusterIP ${ip} is not bound to kube-ipvs0`;
        const r = judge({ expected: exp, endpoints: exp.internal, emptyVerdict: exp.internalEmpty, observed, path, ipvs: useIpvs, extra, ...(exp.service.internalTrafficPolicy === 'Local' ? { localPolicy: 'internalTrafficPolicy' as const } : {}), convergence: serviceConvergence(snapshot, exp.service) });
        if (r.status === 'pass' && extra['kubeIpvs0']) {
          results.push({ ...r, status: 'fail', severity: 'high', message: `${path}: the virtual server exists but the ClusterIP is not on kube-ipvs0, so IPVS never sees the traffic` });
        } else {
          results.push(r);
        }
      }
    }
    return results;
  },
};
