// `netconform-agent trace`: explains what the node's dataplane does with one packet — every
// possible outcome with its probability, and the rules that led there, as a person reads it.
import { parseFlags, str, strList, bool, choice } from '../common/cli.js';
import { EXIT_OK, UsageError } from '../common/errors.js';
import { readBundle } from './inspect/bundle.js';
import { inspectNetns } from './inspect/netns.js';
import { inspectLive } from './inspect/live.js';
import { dataplaneOf } from './dataplane/load.js';
import { parseIp, splitHostPort } from './dataplane/addr.js';
import { nodeView, traceEnv } from './dataplane/routing.js';
import { describeOutcome, trace, type TraceOutcome } from './dataplane/tracer.js';
import type { Hook } from './dataplane/model.js';

export const TRACE_HELP = `Usage: netconform-agent trace (--from DIR | --netns NAME | live) --src IP --dst IP:PORT [flags]

Traces one new connection through the node's iptables / nftables rules and prints every
possible outcome (DNAT target, SNAT, ACCEPT/DROP/REJECT, or UNKNOWN with the rule it could
not evaluate) with its probability and the rules on its path.

  --from DIR          a bundle directory (iptables-save.txt, nft.json, ipset-save.txt, …)
  --netns NAME        read the rules inside network namespace NAME
  --src IP            source address (a pod IP for pod traffic)
  --dst IP:PORT       destination (a ClusterIP:port, node IP:nodePort, …)
  --proto P           tcp (default), udp or sctp
  --iif NAME          interface the packet arrives on (default cni0; with --origin local none)
  --origin O          network (default: arrives on an interface) or local (sent by the node)
  --local IP          an address the node owns (repeatable; default: the bundle's ip-addr facts)
  --all-hooks         continue through postrouting (masquerade decisions)
  --format text|json  output (default text)
`;

export async function traceCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, {
    from: { type: 'string' }, netns: { type: 'string' }, node: { type: 'string' },
    src: { type: 'string' }, dst: { type: 'string' }, proto: { type: 'string' }, iif: { type: 'string' },
    origin: { type: 'string' }, local: { type: 'string', multiple: true }, 'all-hooks': { type: 'boolean' },
    format: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (bool(p, 'help')) { process.stdout.write(TRACE_HELP); return EXIT_OK; }
  const src = str(p, 'src');
  const dst = str(p, 'dst');
  if (!src || !parseIp(src)) throw new UsageError('an IP address is required', '--src');
  if (!dst) throw new UsageError('IP:PORT is required', '--dst');
  const hp = splitHostPort(dst);
  if (!parseIp(hp.host)) throw new UsageError(`"${dst}" is not IP:PORT`, '--dst');
  const origin = choice(str(p, 'origin'), ['network', 'local'] as const, '--origin', 'network');
  const format = choice(str(p, 'format'), ['text', 'json'] as const, '--format', 'text');
  const from = str(p, 'from');
  const netns = str(p, 'netns');
  const live = { node: str(p, 'node') ?? 'node', cniConfDir: '/etc/cni/net.d', cniBinDir: '/opt/cni/bin' };
  const snapshot = from !== undefined ? readBundle(from, str(p, 'node')) : netns ? await inspectNetns(netns, live) : await inspectLive(live);
  const dp = dataplaneOf(snapshot);
  if (!dp) throw new UsageError('no dataplane facts (iptables-save.txt, nft.json …) to trace through', from ? '--from' : undefined);
  const view = nodeView(snapshot, undefined);
  const env = traceEnv(dp, { ...view, localAddresses: [...view.localAddresses, ...strList(p, 'local')] }, parseIp(src)!.family);
  const proto = (str(p, 'proto') ?? 'tcp').toLowerCase();
  const outcomes = trace(
    { src, dst: hp.host, proto, ...(hp.port !== undefined ? { dport: hp.port } : {}), ...(origin === 'network' ? { iif: str(p, 'iif') ?? view.podIif } : {}) },
    env,
    { origin, ...(bool(p, 'all-hooks') ? {} : { stopBefore: 'postrouting' as Hook }) },
  );
  process.stdout.write(format === 'json' ? JSON.stringify({ packet: { src, dst, proto, origin }, outcomes }, null, 2) + '\n' : formatTrace(src, dst, proto, outcomes));
  return EXIT_OK;
}

export function formatTrace(src: string, dst: string, proto: string, outcomes: readonly TraceOutcome[]): string {
  const out: string[] = [`${proto.toUpperCase()} ${src} → ${dst}: ${outcomes.length} outcome${outcomes.length === 1 ? '' : 's'}\n`];
  const sorted = [...outcomes].sort((a, b) => b.probability - a.probability);
  for (const o of sorted) {
    out.push(`\n${describeOutcome(o)}\n`);
    for (const s of o.path) out.push(`    ${s.hook.padEnd(11)} ${`${s.table} ${s.chain} #${s.rule}`.padEnd(48)} ${s.text}\n`);
    if (o.affinity.length > 0) out.push(`    affinity: ${o.affinity.join(', ')}\n`);
  }
  return out.join('');
}
