// Principle (seed, Kubenet / pod-to-pod across nodes): a pod reaches a pod on another node by
// that pod's real IP, so this node needs a route to every other node's pod CIDR — kubenet
// relies on routes via the other node's address (set up by the cloud or an admin), overlays
// route it into their tunnel device, routed CNIs program one route per node. Without it the
// packets follow the default route and are lost.
import { containsCidr, formatCidr, formatIp, parseCidr, parseIp, type Cidr } from '../../../common/cidr.js';
import type { NodeInfo } from '../../../common/cluster.js';
import type { RouteFacts } from '../../inspect/network.js';
import type { CheckDefinition, CheckResult } from '../types.js';
import { TUNNEL_KINDS } from './node-network.js';

const DROP_TYPES = new Set(['blackhole', 'unreachable', 'prohibit']);
const IGNORED_TYPES = new Set(['local', 'broadcast', 'multicast', 'anycast', 'nat', 'throw']);

/** The most specific route covering `cidr` (main table wins ties), outside the local table. */
export function coveringRoute(routes: readonly RouteFacts[], cidr: Cidr): RouteFacts | undefined {
  let best: { r: RouteFacts; prefix: number } | undefined;
  for (const r of routes) {
    if (r.family !== cidr.family || r.table === 255 || IGNORED_TYPES.has(r.type)) continue;
    const d = parseCidr(r.dst);
    if (!d || !containsCidr(d, cidr)) continue;
    if (!best || d.prefix > best.prefix || (d.prefix === best.prefix && r.table === 254 && best.r.table !== 254)) best = { r, prefix: d.prefix };
  }
  return best?.r;
}

function routeText(r: RouteFacts): string {
  const via = r.gateway ? ` via ${r.gateway}` : '';
  const hops = r.nexthops ? r.nexthops.map((h) => ` nexthop${h.gateway ? ` via ${h.gateway}` : ''}${h.dev ? ` dev ${h.dev}` : ''}`).join('') : '';
  return `${r.type === 'unicast' ? '' : r.type + ' '}${r.dst}${via}${r.dev ? ` dev ${r.dev}` : ''}${hops}${r.table !== 254 ? ` table ${r.table}` : ''}`;
}

function addressesOf(n: NodeInfo): string[] {
  return [...n.internalIPs, ...n.externalIPs].map((a) => { const ip = parseIp(a); return ip ? formatIp(ip.family, ip.value) : a; });
}

export const routesCheck: CheckDefinition = {
  id: 'pod-network.routes',
  title: "Every other node's pod CIDR has a route",
  needs: ['routes', 'links'],
  needsCluster: true,
  run(snapshot, cluster) {
    const routes = snapshot.routes ?? [];
    const links = snapshot.links ?? [];
    const others = (cluster?.nodes ?? []).filter((n) => n.name !== snapshot.node && n.podCIDRs.length > 0);
    if (others.length === 0) {
      return [{ status: 'skip', severity: 'info', subject: snapshot.node, message: 'no other node has a pod CIDR to route to' }];
    }
    const results: CheckResult[] = [];
    for (const other of others) {
      const theirs = addressesOf(other);
      for (const text of other.podCIDRs) {
        const cidr = parseCidr(text);
        if (!cidr) {
          results.push({ status: 'error', severity: 'medium', subject: other.name, message: `node ${other.name} has an unparsable pod CIDR "${text}"` });
          continue;
        }
        const ct = formatCidr(cidr);
        const r = coveringRoute(routes, cidr);
        const addHint = theirs[0] ? `ip route add ${ct} via ${theirs[0]}` : `a route to ${ct}`;
        if (!r) {
          results.push({
            status: 'fail', severity: 'high', subject: other.name,
            message: `no route to ${other.name}'s pod CIDR ${ct}: pods here cannot reach pods there — add ${addHint} (or fix the CNI / cloud routes that should program it)`,
            evidence: { node: other.name, podCIDR: ct, nodeAddresses: theirs },
          });
          continue;
        }
        const evidence = { node: other.name, podCIDR: ct, route: routeText(r), nodeAddresses: theirs };
        if (DROP_TYPES.has(r.type)) {
          results.push({ status: 'fail', severity: 'high', subject: other.name, message: `traffic to ${other.name}'s pod CIDR ${ct} is dropped by "${routeText(r)}" — remove it and add ${addHint}`, evidence });
          continue;
        }
        const gateways = r.nexthops ? r.nexthops.map((h) => h.gateway).filter((g): g is string => g !== undefined) : r.gateway ? [r.gateway] : [];
        const dst = parseCidr(r.dst)!;
        if (dst.prefix === 0) {
          results.push({
            status: 'warn', severity: 'medium', subject: other.name,
            message: `only the default route (${routeText(r)}) covers ${other.name}'s pod CIDR ${ct}: that works only if the network beyond routes pod CIDRs (a cloud route table) — otherwise add ${addHint}`,
            evidence,
          });
          continue;
        }
        const devs = r.nexthops ? r.nexthops.map((h) => h.dev) : [r.dev];
        const tunnel = devs.map((d) => links.find((l) => l.name === d)).find((l) => l !== undefined && TUNNEL_KINDS.has(l.kind));
        if (tunnel) {
          // Overlays route to the remote tunnel endpoint (flannel: via 10.244.3.0 dev flannel.1 onlink).
          results.push({ status: 'pass', severity: 'info', subject: other.name, message: `${ct} of ${other.name} is routed into overlay device ${tunnel.name} (${tunnel.kind}): ${routeText(r)}`, evidence });
          continue;
        }
        if (gateways.length > 0) {
          const wrong = gateways.filter((g) => !theirs.includes(g));
          const owner = (g: string): NodeInfo | undefined => (cluster?.nodes ?? []).find((n) => n.name !== other.name && addressesOf(n).includes(g));
          const misrouted = wrong.map((g) => ({ g, n: owner(g) })).filter((x) => x.n !== undefined);
          if (misrouted.length > 0) {
            results.push({
              status: 'fail', severity: 'high', subject: other.name,
              message: `the route to ${other.name}'s pod CIDR ${ct} goes via ${misrouted.map((x) => `${x.n!.name}'s address ${x.g}`).join(', ')}: packets reach the wrong node — replace it with ${addHint}`,
              evidence,
            });
          } else if (wrong.length > 0 && theirs.length > 0) {
            results.push({
              status: 'warn', severity: 'low', subject: other.name,
              message: `the route to ${other.name}'s pod CIDR ${ct} goes via ${wrong.join(', ')}, which is not an address of ${other.name} (${theirs.join(', ')}) — fine if that is a router that knows pod CIDRs, else use ${addHint}`,
              evidence,
            });
          } else {
            results.push({ status: 'pass', severity: 'info', subject: other.name, message: `${ct} of ${other.name} is routed: ${routeText(r)}`, evidence });
          }
          continue;
        }
        results.push({ status: 'pass', severity: 'info', subject: other.name, message: `${ct} of ${other.name} is routed into device ${r.dev ?? '?'}: ${routeText(r)}`, evidence });
      }
    }
    return results;
  },
};
