// Principle (seed, Kubenet): the pod CIDR bounds how many pods a node can run — one address
// per pod, less the network, broadcast and gateway addresses — and the kubenet guidance is to
// give each node about twice as many addresses as its maxPods, so addresses freed by deleted
// pods are not reused at once. Likewise the cluster CIDR, cut at the per-node mask, bounds how
// many nodes can get a pod CIDR at all.
import { cidrSize, formatCidr, parseCidr, type Cidr } from '../../../common/cidr.js';
import { findNode } from '../../../common/cluster.js';
import type { CheckDefinition, CheckResult } from '../types.js';
import { nodePodCidrs } from './node-network.js';

/** The kubelet's default --max-pods. */
export const DEFAULT_MAX_PODS = 110;
/** Share of the cluster CIDR's node slots in use at which to warn. */
export const CLUSTER_CIDR_WARN_RATIO = 0.8;

/** Addresses host-local can hand to pods: all but network, gateway (and broadcast on IPv4). */
export function usablePodAddresses(c: Cidr): bigint {
  const reserved = c.family === 4 ? 3n : 2n;
  const size = cidrSize(c);
  return size > reserved ? size - reserved : 0n;
}

export const cidrCapacityCheck: CheckDefinition = {
  id: 'pod-network.cidr-capacity',
  title: 'The pod CIDR holds maxPods with room to spare, and the cluster CIDR holds every node',
  needs: [],
  needsCluster: true,
  run(snapshot, cluster) {
    const results: CheckResult[] = [];
    const pod = nodePodCidrs(snapshot, cluster);
    const node = findNode(cluster, snapshot.node);
    const maxPods = node?.maxPods || DEFAULT_MAX_PODS;
    const maxPodsText = node?.maxPods ? `maxPods ${maxPods}` : `maxPods ${maxPods} (kubelet default; the Node reports none)`;
    if (!pod) {
      results.push({ status: 'skip', severity: 'info', subject: snapshot.node, message: 'skipped: the node\'s pod CIDR is unknown (see pod-network.pod-cidr)' });
    } else {
      for (const cidr of pod.cidrs) {
        const subject = formatCidr(cidr);
        const usable = usablePodAddresses(cidr);
        const usableText = usable > 1_000_000n ? 'more than a million' : String(usable);
        const evidence = { podCIDR: subject, usableAddresses: usable > 1_000_000n ? '>1000000' : Number(usable), maxPods, source: pod.source };
        const suggest = `give nodes a larger pod CIDR (kube-controller-manager --node-cidr-mask-size${cidr.family === 6 ? '-ipv6' : ''}) or lower the kubelet's --max-pods`;
        if (usable < BigInt(maxPods)) {
          results.push({
            status: 'fail', severity: 'high', subject,
            message: `${subject} has ${usableText} pod addresses but the node allows ${maxPodsText}: pods past ${usableText} stay ContainerCreating ("no IP addresses available") — ${suggest}`,
            evidence,
          });
        } else if (usable < BigInt(2 * maxPods)) {
          results.push({
            status: 'warn', severity: 'low', subject,
            message: `${subject} has ${usableText} pod addresses, less than twice ${maxPodsText}: addresses of deleted pods get reused quickly — ${suggest}`,
            evidence,
          });
        } else {
          results.push({ status: 'pass', severity: 'info', subject, message: `${subject} has ${usableText} pod addresses for ${maxPodsText}`, evidence });
        }
      }
    }

    const clusterCidrs = (cluster?.clusterCIDR ?? '').split(',').map((t) => t.trim()).filter(Boolean);
    if (clusterCidrs.length === 0) {
      results.push({ status: 'skip', severity: 'info', subject: 'cluster-cidr', message: 'cluster CIDR unknown: pass --cluster-cidr to check how many nodes it can still hold' });
      return results;
    }
    const nodes = cluster?.nodes.length ?? 0;
    for (const text of clusterCidrs) {
      const cc = parseCidr(text);
      if (!cc) {
        results.push({ status: 'error', severity: 'medium', subject: text, message: `cluster CIDR "${text}" is not a CIDR` });
        continue;
      }
      const subject = formatCidr(cc);
      const mask = pod?.cidrs.find((c) => c.family === cc.family)?.prefix;
      if (mask === undefined) {
        results.push({ status: 'skip', severity: 'info', subject, message: `skipped: the node has no IPv${cc.family} pod CIDR to take the per-node mask from` });
        continue;
      }
      if (mask < cc.prefix) {
        results.push({ status: 'fail', severity: 'high', subject, message: `the per-node pod CIDR /${mask} is larger than the cluster CIDR ${subject}: no node can get one — raise --node-cidr-mask-size`, evidence: { clusterCIDR: subject, nodeMask: mask } });
        continue;
      }
      const bits = mask - cc.prefix;
      const slots = bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits;
      const evidence = { clusterCIDR: subject, nodeMask: mask, nodeSlots: slots, nodes };
      if (nodes > slots) {
        results.push({
          status: 'fail', severity: 'high', subject,
          message: `${subject} holds ${slots} node pod CIDRs of /${mask} but the cluster has ${nodes} nodes: the rest get no pod CIDR and stay NotReady — widen the cluster CIDR or shrink --node-cidr-mask-size`,
          evidence,
        });
      } else if (nodes >= CLUSTER_CIDR_WARN_RATIO * slots) {
        results.push({
          status: 'warn', severity: 'medium', subject,
          message: `${subject} holds ${slots} node pod CIDRs of /${mask} and ${nodes} are taken (${Math.round((nodes / slots) * 100)} %): only ${slots - nodes} more nodes can join — plan a wider cluster CIDR`,
          evidence,
        });
      } else {
        results.push({ status: 'pass', severity: 'info', subject, message: `${subject} holds ${slots} node pod CIDRs of /${mask}; ${nodes} in use`, evidence });
      }
    }
    return results;
  },
};
