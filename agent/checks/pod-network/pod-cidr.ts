// Principle (seed, Kubenet): each node owns one slice of the cluster's pod address space
// (spec.podCIDR, allocated by the controller manager), and every pod IP on the node comes from
// it. That only works if everyone agrees on the slice — the Node object, the CNI IPAM range,
// the bridge's gateway — and if no two slices, and no Service or node address, overlap:
// otherwise two things answer to one IP and traffic goes to the wrong one.
import { containsCidr, formatCidr, overlaps, parseCidr, parseIp, sameCidr, type Cidr } from '../../../common/cidr.js';
import { findNode } from '../../../common/cluster.js';
import type { CheckDefinition, CheckResult } from '../types.js';
import { activeCniProfile, ipamCidrs } from '../cni/conflist.js';
import { isHostInterface, linkNetworks, nodePodCidrs, resolvePodBridge, specPodCidrs } from './node-network.js';

export const podCidrCheck: CheckDefinition = {
  id: 'pod-network.pod-cidr',
  title: "The node's pod CIDR is known, agreed on by its sources, and overlaps nothing",
  needs: ['links'],
  run(snapshot, cluster) {
    const pod = nodePodCidrs(snapshot, cluster);
    const active = activeCniProfile(snapshot.cni);
    if (!pod) {
      if (cluster && !findNode(cluster, snapshot.node)) {
        return [{ status: 'warn', severity: 'medium', subject: snapshot.node, message: `node ${snapshot.node} is not in the cluster context, so its pod CIDR is unknown — is --node the Node object's name?` }];
      }
      if (active && !active.profile.usesNodePodCIDR) {
        return [{ status: 'skip', severity: 'info', subject: snapshot.node, message: `no per-node pod CIDR: ${active.profile.family} (${active.file}) assigns pod addresses with its own IPAM (${active.profile.ipam?.type || active.profile.mainType})` }];
      }
      return [{
        status: 'fail', severity: 'high', subject: snapshot.node,
        message: cluster
          ? `Node ${snapshot.node} has no spec.podCIDR and no CNI IPAM range names one: pods cannot get addresses — run kube-controller-manager with --allocate-node-cidrs=true and --cluster-cidr`
          : 'the pod CIDR is unknown: no CNI IPAM range and no bridge address names it — pass --cluster to read the Node\'s spec.podCIDR',
      }];
    }

    const results: CheckResult[] = [];
    const spec = specPodCidrs(snapshot, cluster);
    const ipam = ipamCidrs(active?.profile.ipam);
    const bridge = resolvePodBridge(snapshot);
    const bridgeNets = bridge.kind === 'bridge' && bridge.usesNodePodCIDR ? linkNetworks(bridge.link) : [];
    const sources: { label: string; cidrs: Cidr[] }[] = [
      { label: 'Node spec.podCIDRs', cidrs: spec },
      { label: `CNI IPAM range (${active?.file ?? ''})`, cidrs: ipam },
      { label: `${bridge.kind === 'bridge' ? bridge.name : 'bridge'} address`, cidrs: bridgeNets },
    ];

    for (const cidr of pod.cidrs) {
      const subject = formatCidr(cidr);
      const bad: string[] = [];
      const evidence: Record<string, string[]> = {};
      for (const s of sources) {
        const same = s.cidrs.filter((c) => c.family === cidr.family);
        if (same.length === 0) continue;
        evidence[s.label] = same.map(formatCidr);
        if (!same.some((c) => sameCidr(c, cidr))) bad.push(`${s.label} says ${same.map(formatCidr).join(', ')}`);
      }
      if (bad.length > 0) {
        results.push({
          status: 'fail', severity: 'high', subject,
          message: `pod CIDR sources disagree: ${pod.source} says ${subject} but ${bad.join('; ')} — pods get addresses another node may own; make the CNI config and bridge follow the Node's spec.podCIDR`,
          evidence,
        });
      }

      let overlapping = 0;
      for (const other of cluster?.nodes ?? []) {
        if (other.name === snapshot.node) continue;
        for (const oc of other.podCIDRs) {
          const c = parseCidr(oc);
          if (c && overlaps(c, cidr)) {
            overlapping++;
            results.push({
              status: 'fail', severity: 'critical', subject,
              message: `${subject} overlaps node ${other.name}'s pod CIDR ${formatCidr(c)}: both nodes hand out the same pod IPs — reassign one of the Nodes' spec.podCIDR (delete and re-register the node)`,
              evidence: { node: other.name, podCIDR: formatCidr(c) },
            });
          }
        }
        for (const ip of [...other.internalIPs, ...other.externalIPs]) {
          const a = parseIp(ip);
          if (a && a.family === cidr.family && containsCidr(cidr, { family: a.family, network: a.value, prefix: a.family === 4 ? 32 : 128, address: a.value })) {
            overlapping++;
            results.push({
              status: 'fail', severity: 'high', subject,
              message: `node ${other.name}'s address ${ip} is inside pod CIDR ${subject}: traffic for that node is sent to the pod bridge — choose a cluster CIDR disjoint from the node network`,
              evidence: { node: other.name, address: ip },
            });
          }
        }
      }
      const self = findNode(cluster, snapshot.node);
      for (const ip of [...(self?.internalIPs ?? []), ...(self?.externalIPs ?? [])]) {
        const a = parseIp(ip);
        if (a && a.family === cidr.family && containsCidr(cidr, { family: a.family, network: a.value, prefix: a.family === 4 ? 32 : 128, address: a.value })) {
          overlapping++;
          results.push({
            status: 'fail', severity: 'high', subject,
            message: `this node's own address ${ip} is inside its pod CIDR ${subject} — choose a cluster CIDR disjoint from the node network`,
            evidence: { node: snapshot.node, address: ip },
          });
        }
      }
      for (const l of (snapshot.links ?? []).filter(isHostInterface)) {
        for (const net of linkNetworks(l)) {
          if (net.family === cidr.family && overlaps(net, cidr)) {
            overlapping++;
            const addr = l.addresses.find((a) => parseCidr(`${a.address}/${a.prefixLength}`)?.network === net.network);
            results.push({
              status: 'fail', severity: 'high', subject,
              message: `host interface ${l.name} is on ${formatCidr(net)}${addr ? ` (${addr.address}/${addr.prefixLength})` : ''}, which overlaps pod CIDR ${subject}: pod and host traffic cannot be told apart — choose a cluster CIDR disjoint from the node network`,
              evidence: { interface: l.name, network: formatCidr(net) },
            });
          }
        }
      }
      for (const sc of cluster?.serviceCIDRs ?? []) {
        const c = parseCidr(sc);
        if (c && overlaps(c, cidr)) {
          overlapping++;
          results.push({
            status: 'fail', severity: 'critical', subject,
            message: `${subject} overlaps the Service CIDR ${formatCidr(c)}: a pod IP can equal a ClusterIP, and kube-proxy DNATs it away — the cluster CIDR and --service-cluster-ip-range must be disjoint`,
            evidence: { serviceCIDR: formatCidr(c) },
          });
        }
      }
      const clusterCidrs = (cluster?.clusterCIDR ?? '').split(',').map((t) => parseCidr(t)).filter((c): c is Cidr => c !== undefined && c.family === cidr.family);
      if (clusterCidrs.length > 0 && !clusterCidrs.some((c) => containsCidr(c, cidr))) {
        results.push({
          status: 'warn', severity: 'medium', subject,
          message: `${subject} is outside the cluster CIDR ${clusterCidrs.map(formatCidr).join(', ')}: kube-proxy (--cluster-cidr) treats its pods' traffic as external and masquerades it`,
          evidence: { clusterCIDR: clusterCidrs.map(formatCidr) },
        });
      }
      if (bad.length === 0 && overlapping === 0) {
        const agreeing = sources.filter((s) => s.cidrs.some((c) => sameCidr(c, cidr))).map((s) => s.label);
        results.push({
          status: 'pass', severity: 'info', subject,
          message: `pod CIDR ${subject} (${agreeing.join(', ')})${cluster ? ' overlaps no other node, Service CIDR or node address' : ' overlaps no host interface (pass --cluster to compare with other nodes and Services)'}`,
          evidence,
        });
      }
    }
    return results;
  },
};
