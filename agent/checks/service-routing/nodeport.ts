// Principle (seed, Services): a NodePort Service is reachable on every node's address at its
// node port and sent to the Service's endpoints — only this node's endpoints when
// externalTrafficPolicy=Local (and dropped when it has none). This traces a packet from a
// client outside the cluster to the node's address on the node port — for a dual-stack
// Service, once per family, to the node's address of that family.
import type { CheckDefinition, CheckResult } from '../types.js';
import { dataplaneOf } from '../../dataplane/load.js';
import { otherDataplaneResults } from '../../dataplane/ebpf-routing.js';
import { expectedServicePorts } from '../../dataplane/expected.js';
import { modeFacts } from '../../dataplane/mode.js';
import { EXTERNAL_CLIENT, judge, nodeView, observeIpvs, serviceRulesRead, traceEnv, traceService } from '../../dataplane/routing.js';
import type { ServiceTraceEnv } from '../../dataplane/routing.js';
import { serviceConvergence } from '../../dataplane/convergence.js';

export const nodePortCheck: CheckDefinition = {
  id: 'service-routing.nodeport',
  title: 'Every NodePort reaches its endpoints (only local ones under externalTrafficPolicy=Local)',
  needs: ['dataplane'],
  needsCluster: true,
  run(snapshot, cluster) {
    // Cilium's kube-proxy replacement (judged from its maps) or another dataplane (skipped).
    const other = otherDataplaneResults('nodeport', snapshot, cluster);
    if (other) return other;
    const dp = dataplaneOf(snapshot)!;
    const view = nodeView(snapshot, cluster);
    const ports = expectedServicePorts(cluster!, snapshot.node).filter((e) => e.port.nodePort > 0 && (e.service.type === 'NodePort' || e.service.type === 'LoadBalancer'));
    if (ports.length === 0) return [];
    if (!view.nodeIP) {
      return [{ status: 'skip', severity: 'info', subject: snapshot.node, message: 'skipped: the node\'s own address is unknown (no Node object for this node in the cluster context and no ip-addr facts)' }];
    }
    const catching = modeFacts(dp).catching;
    const useIpvs = catching.includes('ipvs') && !catching.some((m) => m !== 'ipvs');
    const envs = new Map<4 | 6, ServiceTraceEnv>();
    const envFor = (f: 4 | 6): ServiceTraceEnv => {
      let e = envs.get(f);
      if (!e) envs.set(f, (e = traceEnv(dp, view, f)));
      return e;
    };
    const results: CheckResult[] = [];
    const skipped = new Set<string>();
    for (const exp of ports) {
      if (exp.topologySkip) {
        if (!skipped.has(exp.subject)) results.push({ status: 'skip', severity: 'info', subject: exp.subject, message: `skipped: ${exp.topologySkip}` });
        skipped.add(exp.subject);
        continue;
      }
      // A dual-stack kube-proxy serves each family's NodePorts on the node's address of that family.
      const family = exp.family;
      const nodeIP = view.nodeIPs[family];
      if (!nodeIP) {
        const why = cluster!.nodes.some((n) => n.name === snapshot.node) ? `its Node object lists no IPv${family} InternalIP` : `no IPv${family} address on its interfaces`;
        results.push({ status: 'skip', severity: 'info', subject: exp.subject, message: `skipped: the IPv${family} NodePort ${exp.port.nodePort}/${exp.port.protocol} has no node address to be traced to (${why})` });
        continue;
      }
      if (!serviceRulesRead(dp, family, useIpvs)) continue;
      const path = `NodePort ${family === 6 ? `[${nodeIP}]` : nodeIP}:${exp.port.nodePort}/${exp.port.protocol} from outside the cluster (externalTrafficPolicy=${exp.service.externalTrafficPolicy})`;
      const observed = useIpvs
        ? observeIpvs(dp.ipvs ?? [], nodeIP, exp.port.protocol, exp.port.nodePort)
        : traceService(envFor(family), EXTERNAL_CLIENT[family], nodeIP, exp.port.protocol, exp.port.nodePort, view.uplinkIifs[family] ?? view.uplinkIif);
      results.push(judge({ expected: exp, endpoints: exp.external, emptyVerdict: exp.externalEmpty, observed, path, ipvs: useIpvs, ...(exp.service.externalTrafficPolicy === 'Local' ? { localPolicy: 'externalTrafficPolicy' as const } : {}), convergence: serviceConvergence(snapshot, exp.service) }));
    }
    return results;
  },
};
