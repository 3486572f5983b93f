// `netconform-agent probe`: a source-IP echo and prober for a pod on the pod network. It
// serves the echo, probes its peers (ring-selected) directly and through the probe Service,
// over TCP and UDP, and prints no-nat.observed findings each round (JSON lines; --once: one
// scan result and the exit code). Peers are given as flags here (labs, static meshes).
import { hostname } from 'node:os';
import { parseFlags, str, bool, strList, choice, type Parsed } from '../../common/cli.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from '../../common/errors.js';
import { parseDuration } from '../../common/duration.js';
import { onShutdown } from '../../common/cli.js';
import { summarize, type Finding } from '../../common/findings.js';
import { startEcho } from './echo.js';
import { probeTcp, probeUdp } from './prober.js';
import { selectPeers, type ProbePeer } from './peers.js';
import { judgeProbes, NO_NAT_OBSERVED, type ProbeResult } from './judge.js';
import type { AddressBook } from './classify.js';

export const PROBE_HELP = `Usage: netconform-agent probe --pod-ip IP [--node NAME] [--listen HOST:PORT] [--peer NAME@NODE=IP:PORT …]
                             [--service IP:PORT] [--node-address NODE=IP …] [--gateway IP …] [--k 10]
                             [--interval 30s] [--timeout 2s] [--once]

Serves a TCP and UDP echo that answers with the source address it saw, and probes peers'
echoes: the K ring successors on other nodes plus one on its own node, each directly and
through --service. Every round prints no-nat.observed findings as one JSON line per finding;
with --once it prints one scan result and exits 0 (sources preserved), 1 (rewritten) or 2.

  --pod-ip IP               this pod's IP (the source every peer must see)
  --node NAME               this pod's node (default $NODE_NAME or the hostname)
  --listen HOST:PORT        the echo (default 0.0.0.0:7777; port 0 picks one)
  --peer NAME@NODE=IP:PORT  a peer probe pod (repeatable)
  --service IP:PORT         the ClusterIP Service selecting only probe pods
  --node-address NODE=IP    a node's address, to classify rewritten sources (repeatable)
  --gateway IP              a pod-network gateway address (repeatable)
  --k N                     ring peers on other nodes (default 10)
  --interval DURATION       between rounds, jittered ±10% (default 30s)
  --timeout DURATION        per probe (default 2s)
  --once                    one round, print it, exit
`;

function parsePeer(text: string): ProbePeer {
  const m = /^([^@=]+)@([^=]+)=(.+):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`"${text}" is not NAME@NODE=IP:PORT`, '--peer');
  return { name: m[1]!, node: m[2]!, ip: m[3]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[4]) };
}

function addressBook(p: Parsed): AddressBook {
  const nodeAddresses = new Map<string, string[]>();
  for (const t of strList(p, 'node-address')) {
    const m = /^([^=]+)=(.+)$/.exec(t);
    if (!m) throw new UsageError(`"${t}" is not NODE=IP`, '--node-address');
    nodeAddresses.set(m[1]!, [...(nodeAddresses.get(m[1]!) ?? []), m[2]!]);
  }
  return { nodeAddresses, gateways: strList(p, 'gateway') };
}

export async function probeCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, {
    'pod-ip': { type: 'string' }, node: { type: 'string' }, listen: { type: 'string' }, peer: { type: 'string', multiple: true },
    service: { type: 'string' }, 'node-address': { type: 'string', multiple: true }, gateway: { type: 'string', multiple: true },
    k: { type: 'string' }, interval: { type: 'string' }, timeout: { type: 'string' }, once: { type: 'boolean' }, format: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (bool(p, 'help')) {
    process.stdout.write(PROBE_HELP);
    return EXIT_OK;
  }
  const podIp = str(p, 'pod-ip');
  if (!podIp) throw new UsageError('is required (the source address peers must see)', '--pod-ip');
  const node = str(p, 'node') || process.env['NODE_NAME'] || hostname();
  const listen = /^(.*):(\d+)$/.exec(str(p, 'listen') ?? '0.0.0.0:7777');
  if (!listen) throw new UsageError('is not HOST:PORT', '--listen');
  const k = Number(str(p, 'k') ?? '10');
  if (!Number.isInteger(k) || k < 0 || k > 1000) throw new UsageError('is not a number of peers (0–1000)', '--k');
  const intervalMs = parseDuration(str(p, 'interval') ?? '30s', '--interval');
  const timeoutMs = parseDuration(str(p, 'timeout') ?? '2s', '--timeout');
  const format = choice(str(p, 'format'), ['json'] as const, '--format', 'json');
  const peers = selectPeers({ name: `${node}/${podIp}`, node }, strList(p, 'peer').map(parsePeer), k);
  const svc = str(p, 'service');
  const svcMatch = svc ? /^(.*):(\d+)$/.exec(svc) : undefined;
  if (svc && !svcMatch) throw new UsageError(`"${svc}" is not IP:PORT`, '--service');
  const book = addressBook(p);
  const echo = await startEcho(listen[1]!.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', Number(listen[2]));
  process.stderr.write(JSON.stringify({ level: 'info', time: new Date().toISOString(), component: 'probe', node, msg: 'echo listening', port: echo.tcpPort, peers: peers.length }) + '\n');

  const round = async (): Promise<Finding[]> => {
    const results: ProbeResult[] = [];
    // One probe at a time per path: bounded load on every peer, never a burst.
    for (const peer of peers) {
      results.push({ path: 'pod', proto: 'tcp', peer: peer.name, peerNode: peer.node, answer: await probeTcp(peer.ip, peer.port, timeoutMs) });
      results.push({ path: 'pod', proto: 'udp', peer: peer.name, peerNode: peer.node, answer: await probeUdp(peer.ip, peer.port, timeoutMs) });
    }
    if (svcMatch) {
      for (let i = 0; i < Math.max(1, Math.min(peers.length, 3)); i++) {
        results.push({ path: 'service', proto: 'tcp', peer: svc!, peerNode: '', answer: await probeTcp(svcMatch[1]!, Number(svcMatch[2]), timeoutMs) });
      }
    }
    return judgeProbes({ node, podIp }, results, book).map((r) => ({ check: NO_NAT_OBSERVED, ...r }));
  };

  if (bool(p, 'once')) {
    const findings = await round();
    await echo.close();
    if (format === 'json') process.stdout.write(JSON.stringify({ node, scannedAt: new Date().toISOString(), checks: [summarize(NO_NAT_OBSERVED, findings)], findings }, null, 2) + '\n');
    return findings.some((f) => f.status === 'fail') ? EXIT_FINDINGS : EXIT_OK;
  }
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async (): Promise<void> => {
    if (stopped) return;
    for (const f of await round()) process.stdout.write(JSON.stringify({ time: new Date().toISOString(), node, ...f }) + '\n');
    if (!stopped) timer = setTimeout(() => void loop(), Math.round(intervalMs * (0.9 + 0.2 * Math.random())));
  };
  if (peers.length > 0 || svcMatch) void loop();
  await onShutdown(async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await echo.close();
  });
  return EXIT_OK;
}
