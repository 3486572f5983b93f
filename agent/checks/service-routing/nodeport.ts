// Principle (seed, Services): a NodePort Service is reachable on every node's address at its
// node port and sent to the Service's endpoints — only this node's endpoints when
// externalTrafficPolicy=Local (and dropped when it has none). This traces a packet from a
// client outside the cluster to the node's address on the node port.
import type { CheckDefinition, CheckResult } from '../types.js';
import { dataplaneOf } from '../../dataplane/load.js';
import { otherDataplaneResults } from '../../dataplane/ebpf-routing.js';
import { expectedServicePorts } from '../../dataplane/expected.js';
import { modeFacts } from '../../dataplane/mode.js';
import { EXTERNAL_CLIENT, familyOf, judge, nodeView, observeIpvs, traceEnv, traceService } from '../../dataplane/routing.js';
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
    const nodeIP = view.nodeIP;
    const family = familyOf(nodeIP);
    const catching = modeFacts(dp).catching;
    const useIpvs = catching.includes('ipvs') && !catching.some((m) => m !== 'ipvs');
    const env = traceEnv(dp, view, family);
    const results: CheckResult[] = [];
    for (const exp of ports) {
      if (exp.topologySkip) {
        results.push({ status: 'skip', severity: 'info', subject: exp.subject, message: `skipped: ${exp.topologySkip}` });
        continue;
      }
      const path = `NodePort ${nodeIP}:${exp.port.nodePort}/${exp.port.protocol} from outside the cluster (externalTrafficPolicy=${exp.service.externalTrafficPolicy})`;
      const observed = useIpvs
        ? observeIpvs(dp.ipvs ?? [], nodeIP, exp.port.protocol, exp.port.nodePort)
        : traceService(env, EXTERNAL_CLIENT[family], nodeIP, exp.port.protocol, exp.port.nodePort, view.uplinkIif);
      results.push(judge({ expected: exp, endpoints: exp.external, emptyVerdict: exp.externalEmpty, observed, path, ipvs: useIpvs, ...(exp.service.externalTrafficPolicy === 'Local' ? { localPolicy: 'externalTrafficPolicy' as const } : {}), convergence: serviceConvergence(snapshot, exp.service) }));
    }
    return results;
  },
};
