import test from 'ava';
import { lintNamespace, lintNamespaces, CHECK_ID } from '../collector/psa-labels/lint.js';
import type { Severity, Status } from '../common/findings.js';

const P = 'pod-security.kubernetes.io/';
const ns = (name: string, labels: Record<string, string>) => ({ name, labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [P + k, v])) });

// [case, labels, status, severity, rules, effective enforce/audit/warn]
const CASES: ReadonlyArray<readonly [string, Record<string, string>, Status, Severity, readonly string[], readonly [string, string, string]]> = [
  ['recommended start: enforce=baseline, audit=warn=restricted, pinned',
    { enforce: 'baseline', 'enforce-version': 'v1.30', audit: 'restricted', 'audit-version': 'v1.30', warn: 'restricted', 'warn-version': 'v1.30' },
    'pass', 'info', [], ['baseline:v1.30', 'restricted:v1.30', 'restricted:v1.30']],
  ['fully restricted and pinned', { enforce: 'restricted', 'enforce-version': 'v1.31', audit: 'restricted', 'audit-version': 'v1.31' },
    'pass', 'info', [], ['restricted:v1.31', 'restricted:v1.31', 'restricted:v1.31']],
  ['no labels at all: privileged by default', {}, 'warn', 'info', ['no-level'], ['privileged:latest', 'privileged:latest', 'privileged:latest']],
  ['unrelated labels only', {}, 'warn', 'info', ['no-level'], ['privileged:latest', 'privileged:latest', 'privileged:latest']],
  ['version label without a level is no level', { 'enforce-version': 'v1.30' }, 'warn', 'info', ['no-level'], ['privileged:v1.30', 'privileged:latest', 'privileged:latest']],
  ['latest version where a level is set', { enforce: 'baseline', 'enforce-version': 'latest', audit: 'restricted', 'audit-version': 'v1.30', warn: 'restricted', 'warn-version': 'v1.30' },
    'warn', 'medium', ['unpinned-version'], ['baseline:latest', 'restricted:v1.30', 'restricted:v1.30']],
  ['missing versions where levels are set', { enforce: 'baseline', audit: 'restricted', warn: 'restricted' },
    'warn', 'medium', ['unpinned-version', 'unpinned-version', 'unpinned-version'], ['baseline:latest', 'restricted:latest', 'restricted:latest']],
  ['enforce only: warn follows enforce (1.26+), audit stays privileged: no visibility', { enforce: 'baseline', 'enforce-version': 'v1.30' },
    'warn', 'info', ['no-visibility'], ['baseline:v1.30', 'privileged:latest', 'baseline:v1.30']],
  ['enforce only with warn-version: warn takes the level, keeps its version', { enforce: 'baseline', 'enforce-version': 'v1.30', 'warn-version': 'v1.28' },
    'warn', 'info', ['no-visibility'], ['baseline:v1.30', 'privileged:latest', 'baseline:v1.28']],
  ['enforce stricter than audit and warn: inconsistent', { enforce: 'restricted', 'enforce-version': 'v1.30', audit: 'baseline', 'audit-version': 'v1.30', warn: 'privileged', 'warn-version': 'v1.30' },
    'warn', 'medium', ['inconsistent', 'inconsistent'], ['restricted:v1.30', 'baseline:v1.30', 'privileged:v1.30']],
  ['audit-only start (no enforce) is fine when pinned', { audit: 'restricted', 'audit-version': 'v1.30', warn: 'restricted', 'warn-version': 'v1.30' },
    'pass', 'info', [], ['privileged:latest', 'restricted:v1.30', 'restricted:v1.30']],
  ['invalid enforce level fails closed to restricted', { enforce: 'strict', 'enforce-version': 'v1.30', audit: 'restricted', 'audit-version': 'v1.30' },
    'fail', 'medium', ['invalid-value'], ['restricted:v1.30', 'restricted:v1.30', 'privileged:latest']],
  ['invalid audit level fails open to privileged', { enforce: 'baseline', 'enforce-version': 'v1.30', audit: 'Restricted', 'audit-version': 'v1.30', warn: 'restricted', 'warn-version': 'v1.30' },
    // …and the fallen-open audit is then weaker than enforce.
    'fail', 'medium', ['invalid-value', 'inconsistent'], ['baseline:v1.30', 'privileged:v1.30', 'restricted:v1.30']],
  ['invalid version means latest', { enforce: 'baseline', 'enforce-version': '1.30', audit: 'restricted', 'audit-version': 'v1.30', warn: 'restricted', 'warn-version': 'v1.30' },
    'fail', 'medium', ['invalid-value'], ['baseline:latest', 'restricted:v1.30', 'restricted:v1.30']],
  ['an invalid enforce level does not make warn follow it', { enforce: 'bogus', 'enforce-version': 'v1.30' },
    'fail', 'medium', ['invalid-value'], ['restricted:v1.30', 'privileged:latest', 'privileged:latest']],
];

for (const [name, labels, status, severity, rules, [enforce, audit, warn]] of CASES) {
  test(`label lint: ${name}`, (t) => {
    const extra: Record<string, string> = name.startsWith('unrelated') ? { 'app.kubernetes.io/name': 'shop' } : {};
    const l = lintNamespace({ ...ns('team-a', labels), labels: { ...ns('team-a', labels).labels, ...extra } });
    t.is(l.finding.check, CHECK_ID);
    t.is(l.finding.subject, 'team-a');
    t.is(l.finding.status, status, l.finding.message);
    t.is(l.finding.severity, severity, l.finding.message);
    t.deepEqual(l.issues.map((i) => i.rule), rules, l.finding.message);
    t.deepEqual([l.finding.evidence!['enforce'], l.finding.evidence!['audit'], l.finding.evidence!['warn']], [enforce, audit, warn]);
  });
}

test('invalid values are reported in the API server\'s words with the fallback it applies', (t) => {
  const l = lintNamespace(ns('x', { enforce: 'strict' }));
  t.regex(l.finding.message, /metadata\.labels\[pod-security\.kubernetes\.io\/enforce\]: Invalid value: "strict": must be one of privileged, baseline, restricted \(the API server applies restricted:latest instead\)/);
});

test('exempt namespaces are skipped; one finding per namespace, sorted', (t) => {
  const lints = lintNamespaces([ns('zeta', {}), ns('kube-system', {}), ns('alpha', { enforce: 'baseline', 'enforce-version': 'v1.30', audit: 'restricted', 'audit-version': 'v1.30', warn: 'restricted', 'warn-version': 'v1.30' })]);
  t.deepEqual(lints.map((l) => [l.namespace, l.finding.status]), [['alpha', 'pass'], ['kube-system', 'skip'], ['zeta', 'warn']]);
  const custom = lintNamespaces([ns('kube-system', {}), ns('legacy', {})], new Set(['legacy']));
  t.deepEqual(custom.map((l) => [l.namespace, l.exempt]), [['kube-system', false], ['legacy', true]]);
});
