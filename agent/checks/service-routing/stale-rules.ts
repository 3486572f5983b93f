// Principle (seed, Services): the dataplane routes the Services that exist, and only those.
// Rules that still catch an address:port (or node port) no Service uses any more send
// traffic to pods that may now belong to something else. This reads the entry points
// kube-proxy rewrites on every sync — nat KUBE-SERVICES / KUBE-NODEPORTS and filter
// KUBE-SERVICES / KUBE-EXTERNAL-SERVICES, the nftables Service maps, IPVS virtual servers —
// and keys on their destination and port, never on comments. Unreferenced KUBE-SVC/SEP chains
// are ignored: kube-proxy deletes those lazily in large clusters.
import type { CheckDefinition, CheckResult } from '../types.js';
import { dataplaneOf } from '../../dataplane/load.js';
import { canonicalIp, formatPrefix, hostPort } from '../../dataplane/addr.js';
import { ruleOrigin, type Rule, type Ruleset } from '../../dataplane/model.js';
import type { ClusterContext } from '../../../common/cluster.js';
import { nodeView } from '../../dataplane/routing.js';
import { staleCiliumFrontends } from '../../dataplane/ebpf-routing.js';

interface Known {
  /** `ip:port/PROTO` of every ClusterIP, external IP and load-balancer IP. */
  readonly addrs: Set<string>;
  /** `port/PROTO` of every node port. */
  readonly nodePorts: Set<string>;
}

function known(cluster: ClusterContext): Known {
  const addrs = new Set<string>();
  const nodePorts = new Set<string>();
  for (const s of cluster.services) {
    if (s.type === 'ExternalName') continue;
    for (const p of s.ports) {
      for (const ip of [...s.clusterIPs, ...s.externalIPs, ...s.loadBalancerIPs]) if (ip && ip !== 'None') addrs.add(`${hostPort(canonicalIp(ip), p.port)}/${p.protocol}`);
      if (p.nodePort > 0) nodePorts.add(`${p.nodePort}/${p.protocol}`);
    }
  }
  return { addrs, nodePorts };
}

const SERVICE_CHAIN = /^KUBE-(SVC|SVL|EXT|FW)-/;

/** The destination, protocol and port a kube-proxy entry rule matches. */
function ruleKey(r: Rule): { addr?: string; port?: number; proto?: string } {
  let addr: string | undefined, port: number | undefined, proto: string | undefined;
  for (const m of r.matches) {
    if (m.kind === 'addr' && m.field === 'dst' && !m.neg && m.prefixes.length === 1) {
      const p = m.prefixes[0]!;
      if (p.len === (p.family === 4 ? 32 : 128)) addr = canonicalIp(formatPrefix(p).split('/')[0]!);
    } else if (m.kind === 'port' && m.field === 'dport' && !m.neg && m.ranges.length === 1 && m.ranges[0]![0] === m.ranges[0]![1]) {
      port = m.ranges[0]![0];
    } else if (m.kind === 'proto' && !m.neg) {
      proto = m.proto.toUpperCase();
    }
  }
  return { ...(addr ? { addr } : {}), ...(port !== undefined ? { port } : {}), ...(proto ? { proto } : {}) };
}

function staleIptables(rs: Ruleset, k: Known, out: CheckResult[]): void {
  const table = (name: string) => rs.tables.find((t) => t.name === name);
  const nat = table('nat');
  const filter = table('filter');
  const origin = (r: Rule): string => { const t = table(r.table); return t ? ruleOrigin(t, r) : r.table; };
  const report = (subject: string, r: Rule, what: string): void => {
    out.push({
      status: 'warn', severity: 'medium', subject,
      message: `${what} for ${subject}, which no Service uses: stale kube-proxy rule (${origin(r)})`,
      evidence: { stale: [subject], rule: `[${rs.backend} ${r.table} ${r.chain} #${r.index}] ${r.text}` },
    });
  };
  for (const r of nat?.chains.get('KUBE-SERVICES')?.rules ?? []) {
    if (!((r.verdict.kind === 'jump' || r.verdict.kind === 'goto') && SERVICE_CHAIN.test(r.verdict.target))) continue;
    const key = ruleKey(r);
    if (key.addr && key.port !== undefined && key.proto) {
      const subject = `${hostPort(key.addr, key.port)}/${key.proto}`;
      if (!k.addrs.has(subject)) report(subject, r, `nat KUBE-SERVICES dispatches ${key.proto} ${hostPort(key.addr, key.port)} to ${r.verdict.target}`);
    }
  }
  for (const r of nat?.chains.get('KUBE-NODEPORTS')?.rules ?? []) {
    if (!((r.verdict.kind === 'jump' || r.verdict.kind === 'goto') && SERVICE_CHAIN.test(r.verdict.target))) continue;
    const key = ruleKey(r);
    if (key.port !== undefined && key.proto && !k.nodePorts.has(`${key.port}/${key.proto}`)) report(`nodePort ${key.port}/${key.proto}`, r, `nat KUBE-NODEPORTS dispatches node port ${key.port}/${key.proto} to ${r.verdict.target}`);
  }
  for (const chain of ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES']) {
    for (const r of filter?.chains.get(chain)?.rules ?? []) {
      if (r.verdict.kind !== 'reject' && r.verdict.kind !== 'drop') continue;
      const key = ruleKey(r);
      if (key.port === undefined || !key.proto) continue;
      if (key.addr) {
        const subject = `${hostPort(key.addr, key.port)}/${key.proto}`;
        if (!k.addrs.has(subject)) report(subject, r, `filter ${chain} ${r.verdict.kind === 'reject' ? 'rejects' : 'drops'} ${key.proto} ${hostPort(key.addr, key.port)}`);
      } else if (r.matches.some((m) => m.kind === 'addrtype') && !k.nodePorts.has(`${key.port}/${key.proto}`)) {
        report(`nodePort ${key.port}/${key.proto}`, r, `filter ${chain} ${r.verdict.kind === 'reject' ? 'rejects' : 'drops'} node port ${key.port}/${key.proto}`);
      }
    }
  }
}

function staleNft(rs: Ruleset, k: Known, out: CheckResult[]): void {
  for (const t of rs.tables) {
    if (t.name !== 'ip kube-proxy' && t.name !== 'ip6 kube-proxy') continue;
    for (const [mapName, kind] of [['service-ips', 'addr'], ['no-endpoint-services', 'addr'], ['firewall-ips', 'addr'], ['service-nodeports', 'nodeport'], ['no-endpoint-nodeports', 'nodeport']] as const) {
      for (const e of t.sets.get(mapName)?.elements ?? []) {
        let subject: string;
        if (kind === 'addr') {
          const [ip, proto, port] = e.key;
          if (ip === undefined || proto === undefined || port === undefined) continue;
          subject = `${hostPort(ip, Number(port))}/${proto.toUpperCase()}`;
          if (k.addrs.has(subject)) continue;
        } else {
          const [proto, port] = e.key;
          if (proto === undefined || port === undefined) continue;
          subject = `nodePort ${port}/${proto.toUpperCase()}`;
          if (k.nodePorts.has(`${port}/${proto.toUpperCase()}`)) continue;
        }
        const value = e.value?.kind === 'goto' || e.value?.kind === 'jump' ? ` : ${e.value.kind} ${e.value.target}` : e.value ? ` : ${e.value.kind}` : '';
        out.push({
          status: 'warn', severity: 'medium', subject,
          message: `@${mapName} in table ${t.name} still holds ${subject}, which no Service uses: stale kube-proxy element`,
          evidence: { stale: [subject], element: `${t.name} @${mapName} { ${e.key.join(' . ')}${e.comment ? ` comment "${e.comment}"` : ''}${value} }` },
        });
      }
    }
  }
}

export const staleRulesCheck: CheckDefinition = {
  id: 'service-routing.stale-rules',
  title: 'No kube-proxy rule or virtual server routes a Service port that no longer exists',
  needs: ['dataplane'],
  needsCluster: true,
  run(snapshot, cluster) {
    const dp = dataplaneOf(snapshot)!;
    const k = known(cluster!);
    const out: CheckResult[] = [];
    if (dp.iptables) staleIptables(dp.iptables, k, out);
    if (dp.ip6tables) staleIptables(dp.ip6tables, k, out);
    if (dp.nftables) staleNft(dp.nftables, k, out);
    if (dp.ipvs) {
      const view = nodeView(snapshot, cluster);
      const local = new Set(view.localAddresses.map(canonicalIp));
      for (const vs of dp.ipvs) {
        if (vs.protocol === 'FWM') continue;
        const subject = `${hostPort(vs.addr, vs.port)}/${vs.protocol}`;
        if (k.addrs.has(subject)) continue;
        // NodePort virtual servers sit on the node's own addresses (and 127.0.0.1 on old releases).
        if ((local.has(vs.addr) || vs.addr.startsWith('127.') || view.localAddresses.length === 0) && k.nodePorts.has(`${vs.port}/${vs.protocol}`)) continue;
        out.push({
          status: 'warn', severity: 'medium', subject,
          message: `IPVS virtual server ${vs.protocol} ${hostPort(vs.addr, vs.port)} serves no existing Service port: stale`,
          evidence: { stale: [subject], virtualServer: vs.text, realServers: vs.realServers.map((r) => hostPort(r.addr, r.port)) },
        });
      }
    }
    out.push(...staleCiliumFrontends(snapshot, k));
    if (out.length === 0) {
      out.push({ status: 'pass', severity: 'info', subject: snapshot.node, message: 'every kube-proxy Service entry belongs to an existing Service port' });
    }
    return out;
  },
};
