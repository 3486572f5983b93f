// `netconform-agent probe`: a source-IP echo and prober for a pod on the pod network. It
// serves the echo, probes its peers (ring-selected) directly and through the probe Service,
// over TCP and UDP, prints no-nat.observed findings each round (JSON lines; --once: one scan
// result and the exit code) and, with --collector, reports them with its counters over the
// agents' authenticated stream. Peers come from the API (the probe pods and Service, in
// its namespace) or, for labs and static meshes, from --peer flags. The NodePort path
// (--nodeport, or the probe Service's nodePort when it is of type NodePort) probes through
// this probe's own node's address.
import { hostname } from 'node:os';
import { parseFlags, str, bool, strList, choice, logLevelFlag, type Parsed } from '../../common/cli.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from '../../common/errors.js';
import { parseDuration } from '../../common/duration.js';
import { onShutdown } from '../../common/cli.js';
import { summarize } from '../../common/findings.js';
import { createLogger } from '../../common/log.js';
import { VERSION } from '../../common/version.js';
import { NO_NAT_OBSERVED } from '../../common/probe.js';
import { AGENT_TOKEN_PATH, readTokenFile } from '../../common/token.js';
import { startEcho } from './echo.js';
import type { ProbePeer } from './peers.js';
import type { AddressBook } from './classify.js';
import type { ExternalTrafficPolicy } from './judge.js';
import { ProbeMesh, type PeerView } from './mesh.js';

export const PROBE_HELP = `Usage: netconform-agent probe --pod-ip IP [--node NAME] [--listen HOST:PORT]
         [--peers api [--kubeconfig FILE] [--namespace NS] | --peer NAME@NODE=IP:PORT … [--service IP:PORT]]
         [--nodeport PORT [--external-traffic-policy Cluster|Local]]
         [--collector HOST:PORT [--collector-ca FILE | --insecure] [--token-file FILE]]
         [--k 10] [--interval 30s] [--timeout 2s] [--rate 20] [--connections 0] [--once]

Serves a TCP and UDP echo that answers with the source address it saw, and probes peers'
echoes: the K ring successors on other nodes plus one on its own node, each directly and
through the probe Service. Probes go one at a time, at most --rate per second, each limited
by --timeout, and only to peer probe pods and the probe Service (and, with --nodeport, its
NodePort on this node's address). Every round prints
no-nat.observed findings as one JSON line per finding; with --once it prints one scan result
and exits 0 (sources preserved), 1 (rewritten) or 2.

Identity:
  --pod-ip IP               this pod's IP (the source every peer must see; default $POD_IP)
  --node NAME               this pod's node (default $NODE_NAME or the hostname)
  --pod-name NAME           this pod's name in the ring (default $POD_NAME, else NODE/IP)
  --listen HOST:PORT        the echo (default 0.0.0.0:7777; port 0 picks one)

Peers:
  --peers api|flags         api (default when no --peer is given): list and watch the probe pods
                            (label app.kubernetes.io/name=netconform-probe) and the Service
                            netconform-probe in --namespace; flags: only --peer/--service
  --kubeconfig FILE         the API server (default: the in-cluster ServiceAccount)
  --namespace NS            the probe's namespace (default $POD_NAMESPACE or netconform)
  --peer NAME@NODE=IP:PORT  a peer probe pod (repeatable)
  --service IP:PORT         the ClusterIP Service selecting only probe pods
  --node-address NODE=IP    a node's address, to classify rewritten sources (repeatable; from the
                            API the probe pods' hostIPs are used too)
  --gateway IP              a pod-network gateway address (repeatable)
  --k N                     ring peers on other nodes (default 10)
  --nodeport PORT           also probe through this node's address (its hostIP from the API, or
                            --node-address for this node) at this NodePort of the probe Service; from
                            the API it is found when the probe Service is of type NodePort
  --external-traffic-policy Cluster|Local
                            the NodePort Service's policy (default: the Service's, else Cluster):
                            with Cluster a rewritten source on the NodePort path is expected
                            (kube-proxy masquerades it) and passes; with Local it warns

Rounds:
  --interval DURATION       between rounds, jittered ±10% (default 30s)
  --timeout DURATION        per probe (default 2s)
  --rate N                  probes per second at most (default 20)
  --once                    one round, print it, exit

Connection-disruption mode (CNI migrations):
  --connections K           long-lived TCP connections to K ring peers exchanging heartbeats; breaks
                            and the longest gap are reported (default 0: off)
  --heartbeat DURATION      between heartbeats (default 1s, at most 4s)
  --break-after DURATION    a connection without an answer this long is broken and reopened (default 3s)

Reporting:
  --collector HOST:PORT     report to the collector (findings become the node's no-nat.observed)
  --collector-ca FILE       CA bundle the collector's certificate must chain to
  --tls-server-name NAME    the name to verify in the collector's certificate
  --insecure                plaintext to the collector (labs on loopback)
  --token-file FILE         projected token, audience netconform-collector (default ${AGENT_TOKEN_PATH};
                            with --insecure none unless given)
  --log-level LEVEL         debug|info|warn|error (default info)
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

function mergeBooks(flags: AddressBook, api: ReadonlyMap<string, readonly string[]>): AddressBook {
  const nodeAddresses = new Map<string, string[]>();
  for (const m of [flags.nodeAddresses, api]) for (const [n, as] of m) nodeAddresses.set(n, [...new Set([...(nodeAddresses.get(n) ?? []), ...as])]);
  return { nodeAddresses, gateways: flags.gateways };
}

function count(p: Parsed, flag: string, fallback: number, max: number): number {
  const v = Number(str(p, flag) ?? String(fallback));
  if (!Number.isInteger(v) || v < 0 || v > max) throw new UsageError(`is not a whole number from 0 to ${max}`, `--${flag}`);
  return v;
}

export async function probeCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, {
    'pod-ip': { type: 'string' }, node: { type: 'string' }, 'pod-name': { type: 'string' }, listen: { type: 'string' }, peer: { type: 'string', multiple: true },
    peers: { type: 'string' }, kubeconfig: { type: 'string' }, namespace: { type: 'string' },
    service: { type: 'string' }, nodeport: { type: 'string' }, 'external-traffic-policy': { type: 'string' }, 'node-address': { type: 'string', multiple: true }, gateway: { type: 'string', multiple: true },
    k: { type: 'string' }, interval: { type: 'string' }, timeout: { type: 'string' }, rate: { type: 'string' }, once: { type: 'boolean' }, format: { type: 'string' },
    connections: { type: 'string' }, heartbeat: { type: 'string' }, 'break-after': { type: 'string' },
    collector: { type: 'string' }, 'collector-ca': { type: 'string' }, 'tls-server-name': { type: 'string' }, insecure: { type: 'boolean' }, 'token-file': { type: 'string' },
    'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (bool(p, 'help')) {
    process.stdout.write(PROBE_HELP);
    return EXIT_OK;
  }
  const podIp = str(p, 'pod-ip') ?? process.env['POD_IP'];
  if (!podIp) throw new UsageError('is required (the source address peers must see)', '--pod-ip');
  const node = str(p, 'node') || process.env['NODE_NAME'] || hostname();
  const listen = /^(.*):(\d+)$/.exec(str(p, 'listen') ?? '0.0.0.0:7777');
  if (!listen) throw new UsageError('is not HOST:PORT', '--listen');
  const k = count(p, 'k', 10, 1000);
  const connections = count(p, 'connections', 0, 100);
  const rate = count(p, 'rate', 20, 1000) || 1;
  const intervalMs = parseDuration(str(p, 'interval') ?? '30s', '--interval');
  const timeoutMs = parseDuration(str(p, 'timeout') ?? '2s', '--timeout');
  const format = choice(str(p, 'format'), ['json'] as const, '--format', 'json');
  const staticPeers = strList(p, 'peer').map(parsePeer);
  const peerSource = choice(str(p, 'peers'), ['api', 'flags'] as const, '--peers', staticPeers.length || str(p, 'service') || bool(p, 'once') ? 'flags' : 'api');
  const svc = str(p, 'service');
  const svcMatch = svc ? /^(.*):(\d+)$/.exec(svc) : undefined;
  if (svc && !svcMatch) throw new UsageError(`"${svc}" is not IP:PORT`, '--service');
  const book = addressBook(p);
  const nodePortFlag = str(p, 'nodeport') === undefined ? undefined : count(p, 'nodeport', 0, 65535);
  if (nodePortFlag === 0) throw new UsageError('is not a port from 1 to 65535', '--nodeport');
  const policyFlag = str(p, 'external-traffic-policy') === undefined ? undefined : choice(str(p, 'external-traffic-policy'), ['Cluster', 'Local'] as const, '--external-traffic-policy', 'Cluster');
  /** The NodePort target: this node's first known address at the flag's port, else the API Service's. */
  const nodePortAt = (addresses: AddressBook, fromApi?: { port: number; externalTrafficPolicy: ExternalTrafficPolicy }): Pick<PeerView, 'nodePort'> => {
    const port = nodePortFlag ?? fromApi?.port;
    const ip = addresses.nodeAddresses.get(node)?.[0];
    if (port === undefined || !ip) return {};
    return { nodePort: { ip, port, externalTrafficPolicy: policyFlag ?? fromApi?.externalTrafficPolicy ?? 'Cluster' } };
  };
  if (nodePortFlag !== undefined && peerSource === 'flags' && !nodePortAt(book).nodePort) throw new UsageError(`needs this node's address (--node-address ${node}=IP)`, '--nodeport');
  const log = createLogger({ component: 'probe', node }, logLevelFlag(p));
  const echo = await startEcho(listen[1]!.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', Number(listen[2]), podIp);
  log.info('echo listening', { port: echo.tcpPort, peers: peerSource === 'api' ? 'api' : staticPeers.length });

  // gRPC and TLS load only when a collector is given (the echo-only probe stays small).
  let reporter: import('../reporter.js').Reporter | undefined;
  const collector = str(p, 'collector');
  if (collector) {
    const [{ Reporter, DEFAULT_BACKOFF }, { clientTransport }] = await Promise.all([import('../reporter.js'), import('../../common/tls.js')]);
    const insecure = bool(p, 'insecure');
    const transport = clientTransport({ insecure, caFile: str(p, 'collector-ca'), serverName: str(p, 'tls-server-name'), caFlag: '--collector-ca' });
    const tokenFile = str(p, 'token-file') ?? (insecure ? undefined : AGENT_TOKEN_PATH);
    reporter = new Reporter(collector, node, VERSION, log.child({ part: 'reporter' }), {}, DEFAULT_BACKOFF, {
      transport, probe: { podIp }, ...(tokenFile ? { token: () => readTokenFile(tokenFile) } : {}),
    });
    reporter.start();
  }

  const heartbeatMs = parseDuration(str(p, 'heartbeat') ?? '1s', '--heartbeat');
  const breakAfterMs = parseDuration(str(p, 'break-after') ?? '3s', '--break-after');
  // Peers' echoes close a connection idle for 5 s: a slower heartbeat would be counted as breaks.
  if (heartbeatMs < 50 || heartbeatMs > 4000) throw new UsageError('must be between 50ms and 4s (echoes drop connections idle for 5 s)', '--heartbeat');
  if (breakAfterMs <= heartbeatMs) throw new UsageError('must be longer than --heartbeat', '--break-after');
  const mesh = new ProbeMesh({
    node, podIp, name: str(p, 'pod-name') ?? process.env['POD_NAME'] ?? `${node}/${podIp}`, k, intervalMs, timeoutMs, ratePerSecond: rate,
    serviceProbes: 3, connections, heartbeatMs, breakAfterMs, log,
    ...(reporter ? { reporter } : {}),
    onRound: (findings) => {
      for (const f of findings) process.stdout.write(JSON.stringify({ time: new Date().toISOString(), node, ...f }) + '\n');
    },
  });
  const staticView: PeerView = { peers: staticPeers, book, ...(svcMatch ? { service: { ip: svcMatch[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(svcMatch[2]) } } : {}), ...nodePortAt(book) };


  if (bool(p, 'once')) {
    mesh.setView(staticView);
    const findings = await mesh.round();
    await echo.close();
    if (format === 'json') process.stdout.write(JSON.stringify({ node, scannedAt: new Date().toISOString(), checks: [summarize(NO_NAT_OBSERVED, findings)], findings }, null, 2) + '\n');
    return findings.some((f) => f.status === 'fail') ? EXIT_FINDINGS : EXIT_OK;
  }

  let stopApi: (() => Promise<void>) | undefined;
  if (peerSource === 'api') {
    const [{ loadKubeAccess }, { ApiPeerSource }] = await Promise.all([import('../../kube/access.js'), import('./api-peers.js')]);
    const source = new ApiPeerSource({
      kubeConfig: await loadKubeAccess(str(p, 'kubeconfig')), namespace: str(p, 'namespace') ?? process.env['POD_NAMESPACE'] ?? 'netconform',
      port: echo.tcpPort, log: log.child({ part: 'peers' }),
      onPeers: (set) => {
        const merged = mergeBooks(book, set.nodeAddresses);
        mesh.setView({ peers: set.peers, book: merged, ...(set.service ? { service: set.service } : {}), ...nodePortAt(merged, set.nodePort) });
      },
    });
    source.start();
    stopApi = () => source.stop();
  } else {
    mesh.setView(staticView);
  }
  mesh.start();
  await onShutdown(async (signal) => {
    log.info('stopping', { signal });
    await mesh.stop();
    await stopApi?.();
    await reporter?.stop();
    await echo.close();
  });
  return EXIT_OK;
}
