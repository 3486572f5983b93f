// Real Prometheus end to end: the shipped alerts and dashboard work against the metrics the
// collector actually exports.
//
//   lab node (netns, kube-proxy-shaped rules with a missing Service, ip_forward=0)
//     └─ agent run --netns --cluster FILE ──gRPC──▶ collector (--cluster FILE, audit webhook on HTTP)
//   audit EventList (violations, enforce denials, an exemption, a broken item) ──POST──┘
//   two probes on loopback (one whose peers see another source than its pod IP, with a
//   long-lived connection) ──probe reports──┘
//   Prometheus (Debian package, loopback, 1 s scrapes) ──scrapes /metrics, loads the
//   PrometheusRule's groups as a rule file──▶ every alert and panel expression is queried.
//
// Every expression must evaluate; its `base` (without the threshold) must return series.
import test from 'ava';
import { CHECKS } from '../agent/checks/registry.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { renderClusterJson, renderIptables, smallCluster, type ClusterDesc } from '../agent/dataplane/testing/generate.js';
import { eventList, fixtureText, podEvent, post } from './fixtures/audit/helpers.js';
import { alertQueries, manifestQueries, ruleFileSpec, type ManifestQuery } from './kube/manifest-queries.js';
import { createLabNode } from './lab/lab.js';
import { JOB, startPrometheus } from './support/prometheus.js';
import { eventually, sample, scrape, startCollectorProcess, startProgram } from './support/processes.js';
import { freePort } from './support/net.js';


const PSA_CLUSTER = new URL('./fixtures/psa/cluster.yaml', import.meta.url);

/** A trailing fallback that makes an expression return 0 instead of nothing. */
const FALLBACK = /\s+or\s+vector\(0\)\s*$/;

function promtool(args: readonly string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync('promtool', [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

test('every alert and dashboard expression returns series from a real Prometheus scraping a real collector', async (t) => {
  t.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'nc-prom-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  // --- The lab node: kube-proxy-shaped rules for the small cluster, minus shop/web (a Service
  // routed wrongly), pod-to-pod traffic masqueraded, and ip_forward off (a failing sysctl).
  const lab = await createLabNode({
    pods: 1, uplinkAddress: '192.168.50.2/24',
    sysctls: { 'net.ipv4.ip_forward': '0', 'net.bridge.bridge-nf-call-iptables': '1' },
  });
  t.teardown(() => lab.destroy());
  const desc = smallCluster(lab.nodeName);
  const dataplane: ClusterDesc = { ...desc, services: desc.services.filter((s) => `${s.namespace}/${s.name}` !== 'shop/web') };
  await lab.exec('iptables-restore', ['-w'], renderIptables(dataplane));
  await lab.exec('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-s', desc.clusterCIDR, '-j', 'MASQUERADE']);

  // --- The cluster file: nodes, Services and EndpointSlices for the lab, plus namespaces
  // and workloads with Pod Security stories (label lint, readiness per level).
  const clusterFile = join(dir, 'cluster.yaml');
  writeFileSync(clusterFile, `${stringify(JSON.parse(renderClusterJson(desc)))}---\n${readFileSync(PSA_CLUSTER, 'utf8')}`);

  const collector = await startCollectorProcess([
    '--cluster', clusterFile, '--service-cidr', '10.96.0.0/12', '--cluster-cidr', desc.clusterCIDR,
    '--audit-listen', '127.0.0.1:0', '--audit-insecure',
  ]);
  t.teardown(() => collector.stop('SIGKILL'));
  const listening = await collector.waitForLog((l) => l.msg === 'audit webhook listening', 20_000, 'the audit webhook');
  const webhook = String(listening['url']);
  t.regex(webhook, /^http:\/\/127\.0\.0\.1:\d+\/audit\/webhook$/);

  // Each reads the cluster file itself: the agent for its checks, the collector for PSA.
  const agent = startProgram('agent', ['run', '--collector', collector.address, '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1h',
    '--cluster', clusterFile, '--service-cidr', '10.96.0.0/12', '--cluster-cidr', desc.clusterCIDR]);
  t.teardown(() => agent.stop('SIGKILL'));

  // --- The probe mesh: an echo-only probe, and a probe on node "probe-node-a" whose pod IP
  // (192.0.2.10) no peer sees — its peer (on the lab node, whose agent reports a CNI) and the
  // probe Service see 127.0.0.1 — so no-nat.observed fails there, mismatches are counted, and
  // its long-lived connection reports breaks and a gap. Its own node is not the lab node,
  // whose series budget is checked below.
  const [echoPort, probePort] = [await freePort(), await freePort()];
  const echoProbe = startProgram('agent', ['probe', '--pod-ip', '127.0.0.1', '--node', lab.nodeName, '--listen', `127.0.0.1:${echoPort}`, '--peers', 'flags']);
  t.teardown(() => echoProbe.stop('SIGKILL'));
  await echoProbe.waitForLog((l) => l.msg === 'echo listening', 30_000, 'the echo probe');
  const probe = startProgram('agent', ['probe', '--pod-ip', '192.0.2.10', '--node', 'probe-node-a', '--listen', `127.0.0.1:${probePort}`,
    '--peer', `probe-lab@${lab.nodeName}=127.0.0.1:${echoPort}`, '--service', `127.0.0.1:${echoPort}`, '--interval', '1s', '--timeout', '1s',
    '--connections', '1', '--heartbeat', '200ms', '--collector', collector.address, '--insecure']);
  t.teardown(() => probe.stop('SIGKILL'));

  // --- Audit events as kube-apiserver batches them: the fixture list (audit violations, an
  // enforce denial, an exemption), fresh events (so the audit lag is small), another denial,
  // and one broken item (counted as rejected).
  const fixture = (JSON.parse(fixtureText('eventlist-psa.json')) as { items: unknown[] }).items;
  const now = Date.now();
  const fresh = [podEvent('e2e-0001', { namespace: 'shop', timeMs: now - 2000 }), podEvent('e2e-0002', { namespace: 'shop', timeMs: now - 1000, variant: 1 }),
    podEvent('e2e-0003', { namespace: 'shop', timeMs: now, denied: true })];
  const broken = { kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', stage: 'ResponseComplete', verb: 'create' };
  const posted = await post(webhook, eventList([...fixture, ...fresh, broken]));
  t.is(posted.status, 200, posted.body);

  // Every metric family the expressions read has series on /metrics before Prometheus starts,
  // so its first scrape already sees them and two scrapes give rate() two samples.
  await eventually(async () => {
    const m = await scrape(collector.httpPort);
    const has = (name: string, labels: Record<string, string> = {}): boolean => sample(m, name, labels) !== undefined;
    return has('netconform_agent_connected', { node: lab.nodeName })
      && has('netconform_findings', { node: lab.nodeName, status: 'fail' })
      && has('netconform_check_status', { node: lab.nodeName, check: 'service-routing.clusterip' })
      && has('netconform_psa_violations_total', { mode: 'enforce' }) && has('netconform_psa_exemptions_total')
      && has('netconform_psa_namespace_ready') && has('netconform_psa_namespace_mode')
      && has('netconform_audit_events_rejected_total', { reason: 'missing_field' })
      && has('netconform_check_status', { node: 'probe-node-a', check: 'no-nat.observed' }) && has('netconform_probe_source_mismatch_total', { path: 'pod' })
      && has('netconform_probe_connection_breaks_total', { node: 'probe-node-a' }) && has('netconform_probe_cni_pair_attempts_total', { src_cni: 'unknown', result: 'mismatch' }) ? true : undefined;
  }, 60_000, 'the agent\'s report with context and the audit metrics on /metrics');

  // --- The PrometheusRule's spec is a Prometheus rule file: check it with promtool and load it.
  const rules = join(dir, 'netconform-rules.yaml');
  writeFileSync(rules, stringify(ruleFileSpec()));
  const checked = promtool(['check', 'rules', rules]);
  t.is(checked.code, 0, checked.out);
  t.regex(checked.out, new RegExp(`SUCCESS: ${alertQueries().length} rules found`));

  const prom = await startPrometheus([`127.0.0.1:${collector.httpPort}`], [rules]);
  t.teardown(() => prom.stop());
  await prom.waitForScrape(3);

  // Every alert rule loaded and evaluates without error.
  const loaded = await eventually(async () => {
    const r = await prom.rules();
    return r.length > 0 && r.every((x) => x.health === 'ok') ? r : undefined;
  }, 20_000, 'every rule evaluated with health ok').catch(async () => prom.rules());
  t.deepEqual(loaded.filter((r) => r.type === 'alerting').map((r) => r.name).sort(), alertQueries().map((q) => q.source.replace(/^alert /, '')).sort());
  for (const r of loaded) t.is(r.health, 'ok', `rule ${r.name}: ${r.lastError ?? ''}`);

  // --- Every expression, exactly as shipped, against Prometheus's HTTP API.
  const queries = manifestQueries();
  t.true(queries.length >= 20, 'the manifests ship the expected number of expressions');
  // Every problem is collected first, so one run reports all of them.
  const problems: string[] = [];
  for (const q of queries) {
    const full = await prom.query(q.expr);
    if (full.status !== 'success') problems.push(`${q.source}: ${q.expr} → ${full.status} ${full.error ?? ''}`);
    if (full.warnings) problems.push(`${q.source}: ${q.expr} → warnings ${full.warnings.join('; ')}`);
    const base = await prom.query(q.base);
    if (base.status !== 'success') problems.push(`${q.source}: ${q.base} → ${base.status} ${base.error ?? ''}`);
    if (base.result.length === 0) {
      problems.push(`${q.source}: ${q.base} → no series`);
    } else if (FALLBACK.test(q.base)) {
      // `… or vector(0)` always has a series: what it guards must have them here too.
      const guarded = q.base.replace(FALLBACK, '');
      const g = await prom.query(guarded);
      if (g.status !== 'success' || g.result.length === 0) problems.push(`${q.source}: ${guarded} → ${g.status}, no series ${g.error ?? ''}`);
    }
    // A label named in the outermost `by (…)` that the metric does not carry would still
    // return a series (with that label empty): every grouping label must be set.
    const by = /^\w+ by \(([^)]*)\)/.exec(q.base)?.[1]?.split(',').map((l) => l.trim()) ?? [];
    for (const l of by) {
      const without = base.result.filter((x) => !x.metric[l]).map((x) => JSON.stringify(x.metric));
      if (without.length) problems.push(`${q.source}: grouping label ${l} missing on ${without.join(', ')}`);
    }
  }
  t.deepEqual(problems, [], 'every expression evaluates and its base returns series');
  t.log(`${queries.length} expressions queried`);

  // Values that prove the metrics mean what the panels say.
  const value = async (expr: string): Promise<number[]> => (await prom.query(expr)).result.map((s) => Number(s.value[1]));
  t.deepEqual(await value('sum(netconform_agent_connected)'), [1]);
  // The check status is its rank (4 = fail): the sysctl and the missing Service fail.
  t.deepEqual(await value(`max by (node) (netconform_check_status{node="${lab.nodeName}"})`), [4]);
  t.deepEqual(await value(`netconform_check_status{check=~"pod-network.sysctl|service-routing.clusterip", node="${lab.nodeName}"}`), [4, 4]);
  t.true((await value(`sum(netconform_findings{status="fail", node="${lab.nodeName}"})`))[0]! >= 2);
  // The migration row: one node of one CNI family and proxy mode, and its failing checks under that family.
  const info = (await prom.query(`netconform_node_info{node="${lab.nodeName}"}`)).result.map((x) => x.metric);
  t.is(info.length, 1);
  t.deepEqual(await value(`count by (cni) (netconform_node_info{cni="${info[0]!['cni']}"})`), [1]);
  t.deepEqual(await value(`count by (proxy_mode) (netconform_node_info{proxy_mode="iptables"})`), [1]);
  const failingByFamily = (await prom.query('count by (cni, check) ((netconform_check_status == 4) * on (node) group_left (cni) netconform_node_info)')).result
    .map((x) => `${x.metric['cni']} ${x.metric['check']}`).sort();
  // Every node's failing checks under its family (the probe-only node's family is not known).
  const cniOf = new Map((await prom.query('netconform_node_info')).result.map((x) => [x.metric['node'], x.metric['cni']]));
  const failing = [...new Set((await prom.query('netconform_check_status == 4')).result.map((x) => `${cniOf.get(x.metric['node'])} ${x.metric['check']}`))].sort();
  t.deepEqual(failingByFamily, failing);
  t.true(failing.includes(`${info[0]!['cni']} pod-network.sysctl`) && failing.includes(`${info[0]!['cni']} service-routing.clusterip`), failing.join(', '));
  // The cardinality budget (docs/metrics.md): one series per check, plus at most 8 per node
  // (connected, last report, info, and the statuses the node has) by default.
  const perNode = (await value(`count({__name__=~"netconform_.+", node="${lab.nodeName}"})`))[0]!;
  t.log(`${perNode} series for one node with ${CHECKS.length} checks`);
  t.true(perNode <= CHECKS.length + 8, `${perNode} series for one node`);
  t.true((await value('time() - netconform_audit_last_event_timestamp_seconds'))[0]! < 120, 'the audit lag reflects the fresh events');

  // --- A denial after Prometheus has seen the counter makes the enforce-denial alert fire;
  // the conformance alerts are pending (their `for` is minutes).
  const again = await post(webhook, eventList([podEvent('e2e-0004', { namespace: 'shop', denied: true })]));
  t.is(again.status, 200, again.body);
  const alerts = await eventually(async () => {
    const a = await prom.alerts();
    return a.some((x) => x.labels['alertname'] === 'NetconformPodSecurityEnforceDenials' && x.state === 'firing') ? a : undefined;
  }, 30_000, 'NetconformPodSecurityEnforceDenials to fire');
  const state = (name: string): string[] => alerts.filter((a) => a.labels['alertname'] === name).map((a) => `${a.labels['node'] ?? a.labels['namespace'] ?? ''} ${a.state}`);
  t.deepEqual(state('NetconformPodSecurityEnforceDenials'), ['shop firing']);
  // The probe's node fails no-nat.observed: non-conformant too.
  t.deepEqual(state('NetconformNodeNonConformant').sort(), [`${lab.nodeName} pending`, 'probe-node-a pending'].sort());
  t.true(state('NetconformServiceRoutedWrongly').includes(`${lab.nodeName} pending`), JSON.stringify(state('NetconformServiceRoutedWrongly')));
  t.deepEqual(state('NetconformAgentNotReporting'), []);
  t.deepEqual(state('NetconformAuditPipelineSilent'), []);
  t.deepEqual(state('NetconformPodSourceIPRewritten'), ['probe-node-a pending'], 'the probe\'s rewritten source, pending its 5 minutes');
  t.deepEqual(await value('max by (node) (netconform_check_status{check="no-nat.observed"})'), [4]);
  t.true((await value('sum(netconform_probe_source_mismatch_total{path="pod", kind="unknown"})'))[0]! >= 2, 'TCP and UDP to the peer at least once');
  t.is((await prom.query(`up{job="${JOB}"}`)).result.length, 1);
});
