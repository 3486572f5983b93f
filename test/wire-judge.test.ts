// The wire judgement (test/support/wire-judge.ts) must be able to fail: with 300 connections
// over three endpoints, a missing endpoint, a stray one, a skew like 0.5 / 0.25 / 0.25, a
// refused connection in a spread and a split affinity are each reported; fair counts pass.
import test from 'ava';
import type { Finding } from '../common/findings.js';
import { judgeWire, probesFromFindings, type Probe } from './support/wire-judge.js';
import { chiSquareSurvival } from './support/chi-square.js';

const finding = (evidence: Record<string, unknown>, check = 'service-routing.clusterip'): Finding =>
  ({ check, status: 'pass', severity: 'info', subject: 'shop/web:80/TCP', message: '', evidence }) as Finding;
const third = 1 / 3;
const spread = (): Probe => probesFromFindings([finding({ path: 'ClusterIP 10.96.0.10:80/TCP', probabilities: { '10.0.0.1:80': third, '10.0.0.2:80': third, '10.0.0.3:80': third } })]).probes[0]!;

test('probes follow the traced verdicts: spread, sticky, refused, dropped; SCTP is skipped', (t) => {
  const { probes, skipped } = probesFromFindings([
    finding({ path: 'ClusterIP 10.96.0.10:80/TCP', probabilities: { '10.0.0.1:80': 0.5, '10.0.0.2:80': 0.5 } }),
    finding({ path: 'ClusterIP 10.96.0.13:80/TCP', probabilities: { '10.0.0.1:80': 0.5, '10.0.0.2:80': 0.5 }, affinity: { expected: 'ClientIP', observed: 'ClientIP' } }),
    finding({ path: 'ClusterIP 10.96.0.11:80/TCP', probabilities: {}, rejected: 1 }),
    finding({ path: 'NodePort 192.168.50.2:30082/TCP from outside the cluster (externalTrafficPolicy=Local)', probabilities: {}, dropped: 1 }, 'service-routing.nodeport'),
    finding({ path: 'ClusterIP 10.96.0.53:53/UDP', probabilities: { '10.0.0.1:53': 1 } }),
    finding({ path: 'ClusterIP 10.96.0.18:9000/SCTP', probabilities: { '10.0.0.1:9000': 1 } }),
  ]);
  t.deepEqual(probes.map((p) => [p.from, p.target.proto, p.target.host, p.target.port, p.target.n, p.expect.kind]), [
    ['pod', 'tcp', '10.96.0.10', 80, 300, 'spread'],
    ['pod', 'tcp', '10.96.0.13', 80, 30, 'sticky'],
    ['pod', 'tcp', '10.96.0.11', 80, 3, 'refused'],
    ['outside', 'tcp', '192.168.50.2', 30082, 2, 'dropped'],
    ['pod', 'udp', '10.96.0.53', 53, 300, 'spread'],
  ]);
  t.deepEqual(skipped, ['clusterip shop/web:80/TCP (no SCTP sockets on this kernel)']);
});

test('a fair spread passes; a missing endpoint, a stray endpoint, a 0.5/0.25/0.25 skew and refusals fail', (t) => {
  const p = spread();
  t.deepEqual(judgeWire(p, { by: { '10.0.0.1': 108, '10.0.0.2': 92, '10.0.0.3': 100 }, src: {}, errors: {} }), []);
  const missing = judgeWire(p, { by: { '10.0.0.1': 150, '10.0.0.2': 150 }, src: {}, errors: {} });
  t.is(missing.length, 1);
  t.regex(missing[0]!, /chi-square 150\.0, 2 df, p=2\.7e-33/);
  t.deepEqual(judgeWire(p, { by: { '10.0.0.1': 100, '10.0.0.2': 100, '10.0.0.3': 99, '10.0.0.9': 1 }, src: {}, errors: {} }), ['answered by unexpected endpoints 10.0.0.9']);
  t.regex(judgeWire(p, { by: { '10.0.0.1': 150, '10.0.0.2': 75, '10.0.0.3': 75 }, src: {}, errors: {} })[0]!, /disagrees with the traced probabilities/);
  t.deepEqual(judgeWire(p, { by: { '10.0.0.1': 100, '10.0.0.2': 100, '10.0.0.3': 99 }, src: {}, errors: { ECONNREFUSED: 1 } }), ['1 of 300 unanswered (1× ECONNREFUSED)']);
});

test('the worst fair outcome the threshold tolerates is far from a missing endpoint', (t) => {
  // 3 endpoints, 300 connections: p = 1e-6 needs chi-square ≈ 27.6; one endpoint at 0 gives ≥ 100.
  t.true(chiSquareSurvival(27.631, 2) > 0.9e-6 && chiSquareSurvival(27.631, 2) < 1.1e-6);
  t.true(chiSquareSurvival(100, 2) < 1e-21);
});

test('affinity must keep every connection on one endpoint; REJECT must refuse and DROP time out every one', (t) => {
  const [sticky, refused, dropped] = probesFromFindings([
    finding({ path: 'ClusterIP 10.96.0.13:80/TCP', probabilities: { '10.0.0.1:80': 0.5, '10.0.0.2:80': 0.5 }, affinity: { expected: 'ClientIP', observed: 'ClientIP' } }),
    finding({ path: 'ClusterIP 10.96.0.11:80/TCP', probabilities: {}, rejected: 1 }),
    finding({ path: 'ClusterIP 10.96.0.15:80/TCP', probabilities: {}, dropped: 1 }),
  ]).probes;
  t.deepEqual(judgeWire(sticky!, { by: { '10.0.0.2': 30 }, src: {}, errors: {} }), []);
  t.is(judgeWire(sticky!, { by: { '10.0.0.2': 29, '10.0.0.1': 1 }, src: {}, errors: {} }).length, 1);
  t.deepEqual(judgeWire(refused!, { by: {}, src: {}, errors: { ECONNREFUSED: 3 } }), []);
  t.is(judgeWire(refused!, { by: {}, src: {}, errors: { ECONNREFUSED: 2, timeout: 1 } }).length, 1);
  t.deepEqual(judgeWire(dropped!, { by: {}, src: {}, errors: { timeout: 2 } }), []);
  t.is(judgeWire(dropped!, { by: { '10.0.0.1': 1 }, src: {}, errors: { timeout: 1 } }).length, 1);
});
