import test from 'ava';
import { fileURLToPath } from 'node:url';
import { eventually, runProgram, sample, scrape, startCollectorProcess } from './support/processes.js';
import { eventList, podEvent, post } from './fixtures/audit/helpers.js';

const CLUSTER = fileURLToPath(new URL('./fixtures/psa/cluster.yaml', import.meta.url));

test('the collector keeps netconform_psa_namespace_ready per namespace and level, and answers the what-if', async (t) => {
  const collector = await startCollectorProcess(['--cluster', CLUSTER, '--psa-version', 'v1.30']);
  t.teardown(() => collector.stop('SIGKILL'));
  const metrics = await eventually(async () => {
    const m = await scrape(collector.httpPort);
    return sample(m, 'netconform_psa_namespace_ready', { namespace: 'shop', level: 'privileged' }) !== undefined ? m : undefined;
  }, 20_000, 'readiness metric');
  // shop: its Deployment runs privileged pods (see the offline what-if test for why).
  const ready = (namespace: string, level: string): number | undefined => sample(metrics, 'netconform_psa_namespace_ready', { namespace, level });
  t.deepEqual(['privileged', 'baseline', 'restricted'].map((l) => ready('shop', l)), [1, 0, 0]);
  t.is(ready('batch', 'baseline'), 1);

  const offline = await runProgram('cli', ['psa', 'whatif', '--level', 'restricted', '--version', 'v1.30', '--cluster', CLUSTER, '--namespace', 'shop', '--output', 'json']);
  const online = await runProgram('cli', ['psa', 'whatif', '--level', 'restricted', '--version', 'v1.30', '--collector', collector.address, '--namespace', 'shop', '--output', 'json']);
  t.is(online.code, 1, online.stderr);
  t.deepEqual(JSON.parse(online.stdout), JSON.parse(offline.stdout));

  const bad = await runProgram('cli', ['psa', 'whatif', '--level', 'restricted', '--collector', collector.address, '--cluster', CLUSTER]);
  t.is(bad.code, 2);
  t.is(bad.stderr, 'netconform: --cluster and --collector cannot be combined: choose one source\n');
});

test('a collector without a cluster says so to a what-if', async (t) => {
  const collector = await startCollectorProcess();
  t.teardown(() => collector.stop('SIGKILL'));
  const r = await runProgram('cli', ['psa', 'whatif', '--level', 'baseline', '--collector', collector.address]);
  t.is(r.code, 2);
  t.is(r.stderr, `netconform: --collector: the collector at ${collector.address} watches no cluster (start it with --kubeconfig, in a cluster, or with --cluster)\n`);
});

test('the psa summary counts its stored audit events in words that agree with the number: "1 audit event stored"', async (t) => {
  const collector = await startCollectorProcess(['--audit-listen', '127.0.0.1:0', '--audit-insecure']);
  t.teardown(() => collector.stop('SIGKILL'));
  const hook = await collector.waitForLog((x) => x.msg === 'audit webhook listening', 10_000, 'audit webhook');
  const res = await post(String(hook['url']), eventList([podEvent('one-event-0001')]));
  t.is(res.status, 200, res.body);
  const r = await runProgram('cli', ['psa', '--collector', collector.address]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^1 audit event stored; newest /);
});
