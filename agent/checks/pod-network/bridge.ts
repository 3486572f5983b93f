// Principle (seed, Kubenet): kubenet — and the CNI bridge plugin — give every pod a veth pair,
// one end in the pod's network namespace, the other attached to the node's Linux bridge
// (cbr0 / cni0), which carries the gateway address of the node's pod CIDR. Pods reach the rest
// of the cluster through that gateway, so the bridge must exist, be up, hold the gateway, and
// have every pod veth attached; with hairpin mode on those ports a pod can reach itself
// through its own Service.
import { cidrAddress, containsIp, formatCidr, nthAddress, parseCidr, parseIp, type Cidr } from '../../../common/cidr.js';
import type { CheckDefinition, CheckResult } from '../types.js';
import { isPodVeth, nodePodCidrs, resolvePodBridge } from './node-network.js';

export const bridgeCheck: CheckDefinition = {
  id: 'pod-network.bridge',
  title: 'Pods sit on an up bridge that carries their gateway, with every pod veth attached',
  needs: ['links'],
  run(snapshot, cluster) {
    const links = snapshot.links ?? [];
    const br = resolvePodBridge(snapshot);
    if (br.kind === 'none') {
      return [{ status: 'skip', severity: 'info', subject: snapshot.node, message: `no pod bridge to check: ${br.reason}` }];
    }
    const name = br.name;
    const podVeths = links.filter(isPodVeth);
    const who = br.flavour === 'kubenet'
      ? 'is the kubelet running with --network-plugin=kubenet?'
      : `check the bridge plugin in ${br.origin}`;
    if (!br.link || br.link.kind !== 'bridge') {
      const what = br.link ? `${name} exists but is a ${br.link.kind || 'plain'} device, not a Linux bridge` : `${name} does not exist`;
      if (podVeths.length === 0) {
        return [{
          status: 'warn', severity: 'low', subject: name,
          message: `${what}; no pod has started on this node yet (it is created with the first pod) — ${who}`,
          evidence: { bridge: name, origin: br.origin },
        }];
      }
      return [{
        status: 'fail', severity: 'critical', subject: name,
        message: `${what}, yet ${podVeths.length} pod veth${podVeths.length === 1 ? ' exists' : 's exist'} — pods have no bridge to reach their gateway; ${who}`,
        evidence: { bridge: name, origin: br.origin, podVeths: podVeths.map((l) => l.name) },
      }];
    }
    const link = br.link;
    const results: CheckResult[] = [];

    // Up.
    if (!link.up) {
      results.push({
        status: 'fail', severity: 'critical', subject: name,
        message: `${name} is down; pods on it cannot reach their gateway or anything beyond — ip link set ${name} up, and find what took it down`,
        evidence: { bridge: name, up: false, operState: link.operState },
      });
    }

    // Gateway address inside the node's pod CIDR.
    const global = link.addresses.filter((a) => a.scope === 'global');
    const carried = global.map((a) => `${a.address}/${a.prefixLength}`);
    const pod = br.usesNodePodCIDR ? nodePodCidrs(snapshot, cluster) : undefined;
    if (!br.usesNodePodCIDR) {
      // weave, azure bridge mode: addresses come from the plugin's own IPAM.
    } else if (pod && pod.source !== 'bridge address') {
      for (const cidr of pod.cidrs) {
        const inside = global.filter((a) => { const ip = parseIp(a.address); return ip !== undefined && containsIp(cidr, ip); });
        const gw = gatewayOf(cidr);
        if (inside.length === 0) {
          const setter = br.flavour === 'kubenet' ? `kubenet sets ${gw}` : `the bridge plugin (isGateway) sets ${gw}`;
          results.push({
            status: 'fail', severity: 'critical', subject: name,
            message: `${name} has no address in ${formatCidr(cidr)}${carried.length ? ` (it carries ${carried.join(', ')})` : ''}; ${setter} — ${who}`,
            evidence: { bridge: name, podCIDR: formatCidr(cidr), podCIDRSource: pod.source, expectedGateway: gw, addresses: carried },
          });
        } else {
          results.push({
            status: 'pass', severity: 'info', subject: name,
            message: `${name} is ${link.up ? 'up' : 'down'} and carries gateway ${inside.map((a) => `${a.address}/${a.prefixLength}`).join(', ')} of pod CIDR ${formatCidr(cidr)} (${pod.source})`,
            evidence: { bridge: name, podCIDR: formatCidr(cidr), addresses: carried },
          });
        }
      }
    } else if (!global.some((a) => a.family === 4) && !global.some((a) => a.family === 6)) {
      results.push({
        status: 'fail', severity: 'critical', subject: name,
        message: `${name} has no address, so pods have no gateway; the node's pod CIDR is unknown too — ${who} (pass --cluster to compare with the Node's spec.podCIDR)`,
        evidence: { bridge: name, addresses: carried },
      });
    } else {
      results.push({
        status: 'pass', severity: 'info', subject: name,
        message: `${name} carries ${carried.join(', ')} (the node's pod CIDR is not known to compare: pass --cluster)`,
        evidence: { bridge: name, addresses: carried },
      });
    }

    // Every pod veth attached.
    const detached = podVeths.filter((l) => l.master === undefined);
    const elsewhere = podVeths.filter((l) => l.master !== undefined && l.master !== name);
    if (detached.length > 0) {
      results.push({
        status: 'fail', severity: 'high', subject: name,
        message: `${detached.length} pod veth${detached.length === 1 ? ' is' : 's are'} not attached to ${name} (${detached.map((l) => l.name).join(', ')}): those pods have no network — ip link set <veth> master ${name}, or delete the pod so the plugin rebuilds it`,
        evidence: { bridge: name, detached: detached.map((l) => l.name) },
      });
    }
    if (elsewhere.length > 0) {
      results.push({
        status: 'warn', severity: 'medium', subject: name,
        message: `${elsewhere.length} pod veth${elsewhere.length === 1 ? ' is' : 's are'} attached to another master (${elsewhere.map((l) => `${l.name}→${l.master}`).join(', ')}) instead of ${name}: containers outside Kubernetes (docker0?) or a second CNI`,
        evidence: { bridge: name, elsewhere: elsewhere.map((l) => ({ veth: l.name, master: l.master })) },
      });
    }
    const attached = podVeths.filter((l) => l.master === name);
    if (detached.length === 0 && elsewhere.length === 0) {
      results.push({
        status: 'pass', severity: 'info', subject: name,
        message: `all ${attached.length} pod veth${attached.length === 1 ? ' is' : 's are'} attached to ${name}`,
        evidence: { bridge: name, attached: attached.map((l) => l.name) },
      });
    }

    // Hairpin on the pod ports.
    if (br.hairpinExpected) {
      const ports = links.filter((l) => l.master === name && l.slaveKind === 'bridge' && l.kind === 'veth');
      const off = ports.filter((l) => l.hairpin === false);
      const how = br.flavour === 'kubenet' ? 'kubenet sets it with --hairpin-mode=hairpin-veth' : `${br.origin} asks for hairpinMode`;
      if (off.length > 0) {
        results.push({
          status: 'fail', severity: 'medium', subject: name,
          message: `hairpin mode is off on ${off.length} port${off.length === 1 ? '' : 's'} of ${name} (${off.map((l) => l.name).join(', ')}): a pod cannot reach itself through its own Service; ${how} — ip link set <veth> type bridge_slave hairpin on`,
          evidence: { bridge: name, hairpinOff: off.map((l) => l.name) },
        });
      } else if (ports.length > 0) {
        results.push({
          status: 'pass', severity: 'info', subject: name,
          message: `hairpin mode is on for all ${ports.length} pod port${ports.length === 1 ? '' : 's'} of ${name}`,
        });
      }
    }
    return results;
  },
};

/** Gateway text `a.b.c.1/prefix` for a pod CIDR (exported for tests and docs). */
export function gatewayOf(cidr: Cidr | string): string {
  const c = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  if (!c) return '';
  return `${cidrAddress({ ...c, address: nthAddress(c, 1n).value })}/${c.prefix}`;
}
