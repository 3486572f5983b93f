// Scans that pay only for change (agent/steady-scan.ts). On the real kernel: the nf_tables
// generation moves with every iptables-nft or nft commit and not with a read, so a lab
// node's rules are dumped again only after a change, and a rule changed behind kube-proxy's
// back is found at the next scan. On the model: a property test applies random sequences of
// context changes (endpoints), kube-proxy syncs, no-op commits, rules tampered with and
// link changes, and after every step the steady scanner's verdicts must equal a scan from
// scratch of the same facts.
import test from 'ava';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseClusterObjects, parseClusterText, type ClusterContext } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { systemTool, RuleTextDigest, ruleTextDigest } from '../agent/inspect/dataplane.js';
import type { LiveOptions } from '../agent/inspect/live.js';
import type { LinkFacts } from '../agent/inspect/network.js';
import { scanSnapshot } from '../agent/scan.js';
import { PROXY_FACT_FACETS, type NodeSnapshot } from '../agent/snapshot.js';
import { CHECKS } from '../agent/checks/registry.js';
import { decideDump, decideProxyFacts, SteadyScanner, type SteadyState } from '../agent/steady-scan.js';
import { isConvergingResult } from '../agent/dataplane/convergence.js';
import { EXTERNAL_CLIENT } from '../agent/dataplane/routing.js';
import { renderClusterJson, renderIptables, smallCluster, subjectOf, type ClusterDesc } from '../agent/dataplane/testing/generate.js';
import { createLabNode } from './lab/lab.js';
import { ROOT } from './support/processes.js';

const SR = ['service-routing.mode', 'service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules'];
const HOUR = 3_600_000;

const contextOf = (d: ClusterDesc): ClusterContext => parseClusterObjects(parseClusterText(renderClusterJson(d), 'cluster.json'));
const notPass = (fs: readonly Finding[]): string[] => fs.filter((f) => f.status !== 'pass').map((f) => `${f.status} ${f.check} ${f.subject}`).sort();

test('real kernel: the rules are dumped again only after an nf_tables commit, and a rule changed behind kube-proxy\'s back is found at once', async (t) => {
  const lab = await createLabNode({ pods: 0, bridge: 'cbr0', uplinkAddress: '192.168.50.2/24' });
  try {
    const desc = smallCluster(lab.nodeName);
    await lab.exec('iptables-restore', ['-w'], renderIptables(desc));
    await linksSettled(lab);
    const cluster = contextOf(desc);
    const opts: LiveOptions = { node: lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent' };
    let inspections = 0;
    const scanner = new SteadyScanner({
      reverifyMs: HOUR,
      inspect: (g) => { inspections++; return inspectNetns(lab.netns, { ...opts, ...(g !== undefined ? { dataplaneUnlessGeneration: g } : {}) }); },
    });

    const first = await scanner.scan(cluster);
    t.true(first.dumped);
    t.is(first.dumpReason, 'first scan');
    t.deepEqual(notPass(first.result.findings.filter((f) => SR.includes(f.check))), []);

    // Nothing changed: no dump, the Service checks' verdicts carried over, the same verdicts.
    const idle = await scanner.scan(cluster);
    t.false(idle.dumped);
    t.is(idle.dumpReason, 'nf_tables generation unchanged');
    t.true(idle.reused.includes('service-routing.clusterip'));
    t.deepEqual(idle.result.findings, first.result.findings);

    // A read (what the agent itself does) commits nothing.
    await lab.exec('iptables-nft-save', []);
    t.false((await scanner.scan(cluster)).dumped);

    // Behind kube-proxy's back: every DNAT of shop/web:80 removed from its service chain.
    const saved = await lab.exec('iptables-save', ['-t', 'nat']);
    const webChain = /-A KUBE-SERVICES .*"shop\/web:http cluster IP".* -j (KUBE-SVC-\S+)/.exec(saved)?.[1];
    t.truthy(webChain, 'the web:80 service chain');
    await lab.exec('iptables', ['-w', '-t', 'nat', '-F', webChain!]);
    const tampered = await scanner.scan(cluster);
    t.true(tampered.dumped);
    t.is(tampered.dumpReason, 'nf_tables generation changed');
    t.deepEqual(tampered.reused, []);
    t.true(notPass(tampered.result.findings).some((x) => x.startsWith('fail service-routing.clusterip shop/web:80/TCP')), notPass(tampered.result.findings).join('\n'));
    // The same verdicts as a scan from scratch of the node as it is now.
    const scratch = scanSnapshot(await inspectNetns(lab.netns, opts), cluster);
    t.deepEqual(tampered.result.findings.filter((f) => SR.includes(f.check)), scratch.findings.filter((f) => SR.includes(f.check)));

    // A native nftables commit moves the generation too (systemTool: npx puts another `nft` on PATH).
    await lab.exec(systemTool('nft'), ['add', 'table', 'inet', 'steady-test']);
    t.true((await scanner.scan(cluster)).dumped);
    t.false((await scanner.scan(cluster)).dumped);
    t.is(inspections, 6, "one inspection per scan");
  } finally {
    await lab.destroy();
  }
});

/**
 * Waits until a new lab node's links, addresses and routes — as the scanner reads them — stop
 * changing (a bridge's operstate and IPv6 link-local addresses settle a moment after creation,
 * later on a loaded machine): the steady scanner rightly re-judges when they change, and these
 * tests compare consecutive scans.
 */
async function linksSettled(lab: { netns: string; nodeName: string }): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = '';
  for (;;) {
    const snap = await inspectNetns(lab.netns, { node: lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent' });
    const now = JSON.stringify([snap.links ?? null, snap.routes ?? null]);
    if (now === last) return;
    if (Date.now() > deadline) throw new Error('the lab node\'s links did not settle in 30 s');
    last = now;
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('real kernel: an iptables-legacy change is invisible to the generation, so the rules are dumped again at least every --reverify', async (t) => {
  const lab = await createLabNode({ pods: 0, bridge: 'cbr0', uplinkAddress: '192.168.50.2/24' });
  try {
    const desc = smallCluster(lab.nodeName);
    await lab.exec('iptables-legacy-restore', ['-w'], renderIptables(desc));
    await linksSettled(lab);
    const cluster = contextOf(desc);
    let now = 0;
    const scanner = new SteadyScanner({
      reverifyMs: 600_000,
      now: () => now,
      inspect: (g) => inspectNetns(lab.netns, { node: lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent', ...(g !== undefined ? { dataplaneUnlessGeneration: g } : {}) }),
    });
    t.deepEqual(notPass((await scanner.scan(cluster)).result.findings.filter((f) => SR.includes(f.check))), []);
    // A re-verification that finds the same rules re-judges nothing.
    now = 600_000;
    const same = await scanner.scan(cluster);
    t.true(same.dumped);
    t.true(same.sameText);
    t.true(same.reused.includes('service-routing.clusterip'));
    const saved = await lab.exec('iptables-legacy-save', ['-t', 'nat']);
    const webChain = /-A KUBE-SERVICES .*"shop\/web:http cluster IP".* -j (KUBE-SVC-\S+)/.exec(saved)?.[1];
    await lab.exec('iptables-legacy', ['-w', '-t', 'nat', '-F', webChain!]);
    now = 1_199_000;
    const blind = await scanner.scan(cluster);
    t.false(blind.dumped, 'legacy commits do not move the nf_tables generation');
    now = 1_200_000;
    const reverified = await scanner.scan(cluster);
    t.true(reverified.dumped);
    t.false(reverified.sameText);
    t.is(reverified.dumpReason, 're-verification due');
    t.deepEqual(reverified.reused, []);
    t.true(notPass(reverified.result.findings).some((x) => x.startsWith('fail service-routing.clusterip shop/web:80/TCP')));
  } finally {
    await lab.destroy();
  }
});

test('decideDump: a dump first, when asked, and when the re-verification is due (every check re-judged only the first time and when asked); else the dump waits for a new generation', (t) => {
  const last: SteadyState = { snapshot: { node: 'n', capturedAt: '', source: 'live', nftGeneration: 7, dataplane: {} }, cluster: undefined, byCheck: new Map(), inputs: '', dumpedAtMs: 1000, proxyFactsReadAtMs: 1000 };
  t.like(decideDump(undefined, 0, HOUR, false), { dump: true, rejudge: true, reason: 'first scan' });
  t.like(decideDump(last, 2000, HOUR, true), { dump: true, rejudge: true, reason: 'full scan asked for' });
  t.like(decideDump(last, 1000 + HOUR, HOUR, false), { dump: true, rejudge: false, reason: 're-verification due' });
  t.like(decideDump(last, 2000, 0, false), { dump: true, rejudge: false });
  t.deepEqual(decideDump(last, 2000, HOUR, false), { dump: false, unlessGeneration: 7, reason: 'nf_tables generation unchanged' });
  t.like(decideDump({ ...last, snapshot: { ...last.snapshot, nftGeneration: undefined } }, 2000, HOUR, false), { dump: true, rejudge: false, reason: 'no nf_tables generation' });
  t.like(decideDump({ ...last, snapshot: { ...last.snapshot, dataplane: { failed: [{ tool: 'nft', reason: 'killed' }] } } }, 2000, HOUR, false), { dump: true, reason: 'previous dump incomplete' });
});

test('a converging verdict is not carried over: the settle window ending turns it into a fail with nothing else changing', async (t) => {
  const node = 'node-a';
  const api = smallCluster(node);
  const cluster = contextOf(api);
  const changedAt = Date.parse('2026-01-01T00:00:00Z');
  const withChange: ClusterContext = { ...cluster, services: cluster.services.map((s) => (s.name === 'web' ? { ...s, changedAt } : s)) };
  // The rules lack web's endpoint 10.244.2.13 (kube-proxy has not synced the change yet).
  const rules = renderIptables({ ...api, services: api.services.map((s) => (s.name === 'web' ? { ...s, endpoints: s.endpoints.slice(0, 2) } : s)) });
  let captured = changedAt + 5_000;
  const kubeProxy = { source: 'http://127.0.0.1:10249/metrics', metrics: { unavailable: 'connection refused' }, settleMs: 30_000, stallMs: 300_000 };
  const facts = { iptables: { nft: rules } };
  const scanner = new SteadyScanner({
    reverifyMs: HOUR, now: () => 0,
    inspect: async (g) => ({
      node, capturedAt: new Date(captured).toISOString(), source: 'live', nftGeneration: 3, links: LINKS, kubeProxy,
      ...(g === 3 ? { dataplaneUnchanged: true as const } : { dataplane: facts }),
    } as NodeSnapshot),
  });
  const early = await scanner.scan(withChange);
  t.true(early.result.findings.some((f) => f.subject === 'shop/web:80/TCP' && isConvergingResult(f)));
  captured = changedAt + 31_000;
  const late = await scanner.scan(withChange);
  t.false(late.dumped);
  t.false(late.reused.includes('service-routing.clusterip'));
  t.is(late.result.findings.find((f) => f.check === 'service-routing.clusterip' && f.subject === 'shop/web:80/TCP')?.status, 'fail');
});

/** What the kube-proxy migration reads found: one localhost client of shop/web's NodePort 30080. */
const PROXY_FACTS = {
  conntrack: { entries: [{ protocol: 'tcp', family: 4 as const, state: 'ESTABLISHED', src: '127.0.0.1', dst: '127.0.0.1', sport: 41234, dport: 30080, replySrc: '10.244.1.11', replySport: 8080 }], total: 1, truncated: 0 },
  hostConnections: [],
  nftVersion: '1.0.9',
} satisfies Partial<NodeSnapshot>;

test('decideProxyFacts: read on the first scan, when the collector asks, when the period is due (0: every scan) and after a scan that read none; else carried over', (t) => {
  const last: SteadyState = { snapshot: { node: 'n', capturedAt: '', source: 'live' }, cluster: undefined, byCheck: new Map(), inputs: '', dumpedAtMs: 0, proxyFactsReadAtMs: 1000 };
  t.deepEqual(decideProxyFacts(undefined, 0, HOUR, false), { read: true, reason: 'first scan' });
  t.deepEqual(decideProxyFacts(last, 2000, HOUR, true), { read: true, reason: 'full scan asked for' });
  t.deepEqual(decideProxyFacts(last, 1000 + HOUR, HOUR, false), { read: true, reason: 'period due' });
  t.deepEqual(decideProxyFacts(last, 2000, 0, false), { read: true, reason: 'period due' });
  t.deepEqual(decideProxyFacts({ ...last, snapshot: { ...last.snapshot, proxyFactsNotRead: true } }, 2000, HOUR, false), { read: true, reason: 'previous read missing' });
  t.deepEqual(decideProxyFacts(last, 1000 + HOUR - 1, HOUR, false), { read: false, reason: 'not due' });
});

test('no check needs the kube-proxy migration facets: carrying them over between reads changes no verdict', (t) => {
  for (const c of CHECKS) for (const f of PROXY_FACT_FACETS) t.false((c.needs as readonly string[]).includes(f), `${c.id} needs ${f}`);
});

test('the kube-proxy migration facts are read on start, on their period and when the collector asks; idle scans in between read none and report the last read in the fingerprint', async (t) => {
  const node = 'node-a';
  const desc = smallCluster(node);
  const cluster = contextOf(desc);
  const rules = renderIptables(desc);
  const asked: boolean[] = [];
  let now = 0;
  let client = PROXY_FACTS; // what a read would find now
  const scanner = new SteadyScanner({
    reverifyMs: HOUR, proxyFactsMs: 600_000, now: () => now,
    inspect: async (g, proxyFacts) => {
      asked.push(proxyFacts);
      return {
        node, capturedAt: '2026-01-01T00:00:00.000Z', source: 'live', nftGeneration: 1, links: LINKS,
        ...(g === 1 ? { dataplaneUnchanged: true as const } : { dataplane: { iptables: { nft: rules } } }),
        ...(proxyFacts ? client : { proxyFactsNotRead: true as const }),
      } as NodeSnapshot;
    },
  });
  const first = await scanner.scan(cluster);
  t.true(first.proxyFactsRead);
  const seen = first.result.fingerprint.proxy!;
  t.like(seen.localhostClients[0], { target: '127.0.0.1:30080', service: 'shop/web:http', seenIn: 'conntrack' });
  t.true(seen.read.conntrack);
  // The client goes away; idle scans within the period do not look, and report what was read last.
  client = { ...PROXY_FACTS, conntrack: { entries: [], total: 0, truncated: 0 } };
  for (const at of [30_000, 60_000, 599_999]) {
    now = at;
    const idle = await scanner.scan(cluster);
    t.false(idle.proxyFactsRead);
    t.false(idle.dumped);
    t.deepEqual(idle.result.fingerprint, first.result.fingerprint, 'the fingerprint is sent unchanged, with the last read facts');
  }
  now = 600_000;
  const due = await scanner.scan(cluster);
  t.true(due.proxyFactsRead);
  t.is(due.proxyFactsReason, 'period due');
  t.deepEqual(due.result.fingerprint.proxy!.localhostClients, []);
  now = 630_000;
  t.false((await scanner.scan(cluster)).proxyFactsRead);
  client = PROXY_FACTS;
  const asked2 = await scanner.scan(cluster, true);
  t.true(asked2.proxyFactsRead);
  t.is(asked2.result.fingerprint.proxy!.localhostClientsTotal, 1);
  t.deepEqual(asked, [true, false, false, false, true, false, true]);
});

test('real kernel: `run` between two reads of the kube-proxy migration facts starts no conntrack and opens no /proc/net/tcp (every child process and open traced)', async (t) => {
  t.timeout(180_000);
  const lab = await createLabNode({ pods: 0, bridge: 'cbr0', uplinkAddress: '192.168.50.2/24' });
  const dir = mkdtempSync(join(tmpdir(), 'nc-steady-proxy-'));
  try {
    await lab.exec('iptables-restore', ['-w'], renderIptables(smallCluster(lab.nodeName)));
    const trace = join(dir, 'strace.log');
    // The lab path: one `snapshot` child per scan, inside the namespace; -f follows it and the tools it runs.
    const agent = spawn('strace', ['-f', '-qq', '-s', '4096', '--seccomp-bpf', '-e', 'trace=execve,openat', '-e', 'signal=none', '-o', trace,
      process.execPath, '--import', 'tsx', join(ROOT, 'agent/main.ts'), 'run', '--collector', '127.0.0.1:1', '--insecure', '--no-kube',
      '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1s', '--proxy-facts-interval', '1h'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let log = '';
    const scans = (): Record<string, unknown>[] => log.split('\n').filter((l) => l.includes('"scan complete"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    agent.stderr!.on('data', (d: Buffer) => void (log += d.toString()));
    const exited = new Promise((r) => agent.once('exit', r));
    const deadline = Date.now() + 150_000;
    while (scans().length < 4 && Date.now() < deadline && agent.exitCode === null) await new Promise((r) => setTimeout(r, 250));
    // strace itself waits on SIGTERM: the agent (in strace's process group) is stopped instead.
    process.kill(-agent.pid!, 'SIGTERM');
    if (await Promise.race([exited.then(() => false), new Promise((r) => setTimeout(r, 15_000, true))])) process.kill(-agent.pid!, 'SIGKILL');
    await exited;
    const done = scans();
    t.true(done.length >= 4, `4 scans (saw ${done.length}): ${log.slice(-2000)}`);
    t.deepEqual(done.map((l) => l['proxyFactsRead']), [true, ...done.slice(1).map(() => false)]);
    const lines = readFileSync(trace, 'utf8').split('\n');
    const snapshots = lines.filter((l) => /execve\(.*"snapshot"/.test(l) && l.includes('main.ts')).length;
    const conntrack = lines.filter((l) => /execve\("[^"]*conntrack"/.test(l)).length;
    const procNetTcp = lines.filter((l) => /openat\(.*"\/proc\/net\/tcp6?"/.test(l)).length;
    t.true(snapshots >= done.length, `one snapshot child per scan (${snapshots} for ${done.length} scans)`);
    // The first scan's read only: conntrack for IPv4 and IPv6, /proc/net/tcp and tcp6.
    t.is(conntrack, 2, 'conntrack started by the first scan only');
    t.is(procNetTcp, 2, '/proc/net/tcp[6] opened by the first scan only');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await lab.destroy();
  }
});

const LINKS: readonly LinkFacts[] = [
  { index: 1, name: 'lo', kind: '', up: true, operState: 'UNKNOWN', mtu: 65536, promiscuous: false, addresses: [{ family: 4, address: '127.0.0.1', prefixLength: 8, scope: 'host' }] },
  { index: 2, name: 'eth0', kind: 'veth', up: true, operState: 'UP', mtu: 1500, promiscuous: false, addresses: [{ family: 4, address: '192.168.50.2', prefixLength: 24, scope: 'global' }] },
  { index: 3, name: 'cbr0', kind: 'bridge', up: true, operState: 'UP', mtu: 1500, promiscuous: false, addresses: [{ family: 4, address: '10.244.1.1', prefixLength: 24, scope: 'global' }] },
];
/**
 * The same links with one more address on eth0: the one the NodePort check sends from
 * (EXTERNAL_CLIENT). That source is then LOCAL, which sends externalTrafficPolicy=Local
 * traffic through kube-proxy's "route LOCAL traffic" rule — a link change that changes verdicts.
 */
const LINKS_MORE: readonly LinkFacts[] = LINKS.map((l) => (l.name === 'eth0' ? { ...l, addresses: [...l.addresses, { family: 4 as const, address: EXTERNAL_CLIENT[4], prefixLength: 32, scope: 'global' }] } : l));

type Op =
  | { readonly kind: 'endpoints'; readonly service: number; readonly count: number }
  | { readonly kind: 'sync' }
  | { readonly kind: 'noop-commit' }
  | { readonly kind: 'tamper'; readonly service: number }
  | { readonly kind: 'untamper' }
  | { readonly kind: 'link' }
  | { readonly kind: 'idle' }
  /** The rules change without an nf_tables commit (iptables-legacy), then the re-verification is due. */
  | { readonly kind: 'unseen-then-reverify'; readonly service: number }
  | { readonly kind: 'reverify' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('endpoints' as const), service: fc.nat(9), count: fc.nat(3) }),
  fc.constant({ kind: 'sync' as const }),
  fc.constant({ kind: 'noop-commit' as const }),
  fc.record({ kind: fc.constant('tamper' as const), service: fc.nat(9) }),
  fc.constant({ kind: 'untamper' as const }),
  fc.constant({ kind: 'link' as const }),
  fc.constant({ kind: 'idle' as const }),
  fc.record({ kind: fc.constant('unseen-then-reverify' as const), service: fc.nat(9) }),
  fc.constant({ kind: 'reverify' as const }),
);

test('property: after any sequence of context changes, kube-proxy syncs, no-op commits, tampered rules and link changes, the steady scan equals a scan from scratch', async (t) => {
  const node = 'node-a';
  const capturedAt = '2026-01-01T00:00:00.000Z';
  let reusedSteps = 0;
  let carriedSteps = 0;
  await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
    let api = smallCluster(node);
    let cluster = contextOf(api);
    let programmed = api; // what kube-proxy last wrote
    let uneven = new Set<string>(); // subjects whose split someone changed behind kube-proxy's back
    let generation = 1;
    let links = LINKS;
    let epCounter = 0;
    const rulesNow = (): string => renderIptables(programmed, { uneven });
    const snapshotNow = (unless?: number, proxyFacts = true): NodeSnapshot => ({
      node, capturedAt, source: 'live', nftGeneration: generation, links,
      ...(unless === generation ? { dataplaneUnchanged: true as const } : { dataplane: { iptables: { nft: rulesNow() } } }),
      ...(proxyFacts ? PROXY_FACTS : { proxyFactsNotRead: true as const }),
    });
    let now = 0;
    const scanner = new SteadyScanner({ reverifyMs: HOUR, proxyFactsMs: HOUR, now: () => now, inspect: async (g, proxyFacts) => snapshotNow(g, proxyFacts) });
    await scanner.scan(cluster);
    t.pass();
    for (const op of ops) {
      switch (op.kind) {
        case 'endpoints': {
          const i = op.service;
          api = { ...api, services: api.services.map((s, k) => (k !== i || s.clusterIP === 'None' ? s : {
            ...s, endpoints: Array.from({ length: op.count }, () => ({ ip: `10.244.${1 + (epCounter % 2)}.${100 + (epCounter++ % 150)}`, node: epCounter % 2 ? node : 'node-b' })),
          })) };
          cluster = contextOf(api);
          break;
        }
        case 'sync': programmed = api; generation++; break;
        case 'noop-commit': generation++; break;
        case 'tamper': {
          const s = programmed.services[op.service]!;
          if (s.clusterIP !== 'None' && s.endpoints.length > 1) uneven = new Set([...uneven, subjectOf(s, s.ports[0]!)]);
          generation++;
          break;
        }
        case 'untamper': uneven = new Set(); generation++; break;
        case 'link': links = links === LINKS ? LINKS_MORE : LINKS; break;
        case 'idle': break;
        case 'unseen-then-reverify': {
          const s = programmed.services[op.service]!;
          if (s.clusterIP !== 'None' && s.endpoints.length > 1) uneven = new Set([...uneven, subjectOf(s, s.ports[0]!)]);
          now += HOUR;
          break;
        }
        case 'reverify': now += HOUR; break;
      }
      const steady = await scanner.scan(cluster);
      const scratch = scanSnapshot(snapshotNow(), cluster, { now: new Date(steady.result.scannedAt) });
      if (op.kind === 'idle') {
        if (steady.dumped || !steady.reused.includes('service-routing.clusterip') || steady.proxyFactsRead) return false;
        reusedSteps++;
      }
      if (op.kind === 'reverify' && (!steady.dumped || !steady.sameText)) return false;
      if ((steady.carried?.kept ?? 0) > 0) carriedSteps++;
      for (const key of ['findings', 'checks', 'fingerprint', 'proxyMode', 'cni'] as const) {
        if (!isDeepStrictEqual(steady.result[key], scratch[key])) {
          const differs = key === 'findings' ? steady.result.findings.find((f, i) => !isDeepStrictEqual(f, scratch.findings[i])) : undefined;
          throw new Error(`after ${JSON.stringify(op)}: ${key} differ from a scan from scratch${differs ? ` (first: ${differs.check} ${differs.subject})` : ''}`);
        }
      }
    }
    return true;
  }), { numRuns: 40 });
  t.true(reusedSteps > 0, 'idle steps carried verdicts over');
  t.true(carriedSteps > 0, 'new rules carried the traces of the Services they did not touch');
});

test('property: the rules digest ignores the dump\'s dates and chain counters, not where the text was split, and sees every rule', (t) => {
  const base = renderIptables(smallCluster('node-a'));
  const dated = (text: string, when: string, n: number): string => `# Generated by iptables-nft-save v1.8.10 (nf_tables) on ${when}\n`
    + text.replace(/^(:(?:PREROUTING|INPUT|OUTPUT|POSTROUTING|FORWARD) \S+) \[\d+:\d+\]$/gm, `$1 [${n}:${n * 60}]`) + `# Completed on ${when}\n`;
  const one = dated(base, 'Mon Dec  7 19:14:00 2026', 0);
  const other = dated(base, 'Mon Dec  7 19:24:00 2026', 1234);
  t.not(one, other);
  t.is(ruleTextDigest(one), ruleTextDigest(other));
  const lines = base.split('\n');
  const ruleAt = lines.findIndex((l) => l.startsWith('-A KUBE-SVC-'));
  fc.assert(fc.property(fc.array(fc.nat(one.length), { maxLength: 40 }), fc.nat(lines.length - 1), (cuts, drop) => {
    const at = [...new Set(cuts)].sort((a, b) => a - b);
    const d = new RuleTextDigest();
    let from = 0;
    for (const c of [...at, one.length]) { d.update(one.slice(from, c)); from = c; }
    if (d.digest() !== ruleTextDigest(other)) return false;
    // Any rule line left out (or the chosen KUBE-SVC rule) changes the digest.
    const i = lines[drop]!.startsWith('-A ') ? drop : ruleAt;
    return ruleTextDigest(dated(lines.filter((_l, k) => k !== i).join('\n'), 'x', 0)) !== ruleTextDigest(one);
  }), { numRuns: 200 });
});
