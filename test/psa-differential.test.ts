// Differential Pod Security against the real kube-apiserver: a seeded sample of generated pod
// specs (test/lab/psa-differential.ts) is created with server-side dry-run in namespaces
// enforcing baseline and restricted at eight pinned versions; netconform's evaluator must give
// the same decision and the same message (controls, order, details) for every one — and
// `netconform psa check`, the CLI, the same messages again. Every disagreement ever found is a
// fixed regression case in test/fixtures/psa/differential-regressions.json, replayed here
// against the server and offline in test/psa.test.ts. The full run: scripts/psa-differential.mjs.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ControlPlane } from './lab/control-plane.js';
import { generateCases, ourOutcome, prepareNamespaces, namespaceFor, runDifferential, type DiffLevel, type DiffVersion, type Obj } from './lab/psa-differential.js';
import { runProgram } from './support/processes.js';
import { whatIf } from '../psa/whatif.js';
import { DIFFERENTIAL_LEVELS, DIFFERENTIAL_VERSIONS } from './lab/psa-differential.js';

const SEED = 20_37_2;
const COUNT = Number(process.env.NETCONFORM_PSA_DIFF_COUNT ?? 1000);
const KUBERNETES_MINOR = 37;

interface Regression { readonly name: string; readonly level: DiffLevel; readonly version: DiffVersion; readonly object: Obj; readonly server: string }
const REGRESSIONS = JSON.parse(readFileSync(new URL('./fixtures/psa/differential-regressions.json', import.meta.url), 'utf8')) as Regression[];

let cp: ControlPlane;
test.before(async () => { cp = await ControlPlane.start(); });
test.after.always(async () => { await cp?.stop(); });

test.serial(`${COUNT} generated pods (seed ${SEED}) at two levels and eight versions: the evaluator agrees with the API server on every decision and message`, async (t) => {
  t.timeout(600_000);
  const cases = generateCases(COUNT, SEED);
  const r = await runDifferential(cp, cases, { kubernetesMinor: KUBERNETES_MINOR, concurrency: 4, keepAll: true });
  t.log(`${r.requests} dry-run requests in ${r.seconds.toFixed(1)} s: ${r.compared} compared (${r.allowed} allowed, ${r.denied} denied), ${r.invalid} refused as invalid before admission`);
  t.log(`denials by reason: ${JSON.stringify(r.reasons)}`);
  for (const d of r.disagreements.slice(0, 5)) t.log(JSON.stringify({ level: d.level, version: d.case.version, object: d.object, server: d.server, ours: d.ours }));
  t.is(r.disagreements.length, 0);
  // The sample must exercise what it claims to: at least 1,000 comparisons, a real mix of
  // decisions, and few specs lost to validation.
  t.true(r.compared >= 1000, `${r.compared} compared`);
  t.true(r.denied > r.compared / 5 && r.allowed > r.compared / 10, `${r.allowed} allowed, ${r.denied} denied`);
  t.true(r.invalid < r.requests / 4, `${r.invalid} invalid of ${r.requests}: ${r.invalidSamples.slice(0, 5).join(' | ')}`);
  // The what-if over the same pods, namespace by namespace, at each namespace's own level and
  // version: it rejects exactly the pods the API server denied, with the same sentences.
  for (const level of DIFFERENTIAL_LEVELS) {
    for (const version of DIFFERENTIAL_VERSIONS) {
      const ns = namespaceFor(level, version);
      const mine = r.all!.filter((x) => x.level === level && x.case.version === version && x.server.status !== 'invalid' && x.case.kind === 'pod');
      const report = whatIf({ namespaces: [{ name: ns, labels: {} }], objects: mine.map((x) => ({ ...x.object, metadata: { ...(x.object['metadata'] as Obj), namespace: ns } })) },
        { level, version: version === 'latest' ? 'latest' : Number(version.slice(3)), namespace: ns, kubernetesMinor: KUBERNETES_MINOR });
      const denied = mine.filter((x) => x.server.status === 'denied');
      const n = report.namespaces[0]!;
      t.is(n.pods, mine.length, ns);
      t.is(n.rejectedPods, denied.length, ns);
      const serverSentences = [...new Set(denied.map((x) => (x.server as { message: string }).message.replace(/^pods "[^"]*" is forbidden: /, '')))].sort();
      t.deepEqual([...new Set(n.rejected.flatMap((w) => w.rejections.map((g) => g.message)))].sort(), serverSentences, ns);
    }
  }
  for (const reason of ['privileged', 'host namespaces', 'hostPath volumes', 'hostPort', 'forbidden AppArmor profile', 'non-default capabilities', 'seLinuxOptions',
    'seccompProfile', 'forbidden sysctls', 'procMount', 'probe or lifecycle host', 'allowPrivilegeEscalation != false', 'unrestricted capabilities',
    'restricted volume types', 'runAsNonRoot != true', 'runAsUser=0']) {
    t.true((r.reasons[reason] ?? 0) > 0, `no denial for "${reason}"`);
  }
});

test.serial('`netconform psa check` prints the API server\'s messages for the same pods', async (t) => {
  t.timeout(300_000);
  const cases = generateCases(300, SEED + 1).filter((c) => c.kind === 'pod');
  const dir = mkdtempSync(join(tmpdir(), 'nc-psa-diff-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let compared = 0;
  for (const [level, version] of [['restricted', 'v1.25'], ['baseline', 'latest'], ['restricted', 'latest']] as const) {
    const ns = namespaceFor(level, version);
    const pods = cases.map((c, i) => ({ ...c.pod, metadata: { ...(c.pod.metadata as Obj), name: `cli-${i}`, namespace: ns } }));
    const server = await Promise.all(pods.map((p) => cp.request<{ message?: string }>('POST', `/api/v1/namespaces/${ns}/pods?dryRun=All`, p)));
    const file = join(dir, `${level}-${version}.yaml`);
    writeFileSync(file, stringify({ apiVersion: 'v1', kind: 'List', items: pods }));
    const out = await runProgram('cli', ['psa', 'check', '--level', level, '--version', version, '--kubernetes-version', `1.${KUBERNETES_MINOR}`, '--output', 'json', file]);
    t.true(out.code === 0 || out.code === 1, out.stderr);
    const results = (JSON.parse(out.stdout) as { results: { name: string; allowed: boolean; message: string | null }[] }).results;
    t.is(results.length, pods.length);
    results.forEach((res, i) => {
      const s = server[i]!;
      if (s.status === 422) return;
      compared++;
      const expected = s.status === 403 ? s.body.message : null;
      t.is(res.message === null ? null : `pods "${res.name}" is forbidden: ${res.message}`, expected ?? null, `${level}:${version} ${res.name}`);
    });
  }
  t.true(compared > 500, `${compared} compared`);
});

test.serial('every disagreement found so far, replayed: the API server still says what the regression case records', async (t) => {
  // The namespaces exist from the first test; create them when this test runs alone.
  const r = await cp.request('GET', `/api/v1/namespaces/${namespaceFor('restricted', 'latest')}`);
  if (r.status === 404) await prepareNamespaces(cp);
  t.true(REGRESSIONS.length > 0);
  for (const reg of REGRESSIONS) {
    const ns = namespaceFor(reg.level, reg.version);
    const object = { ...reg.object, metadata: { ...(reg.object.metadata as Obj), namespace: ns } };
    const s = await cp.request<{ message?: string }>('POST', `/api/v1/namespaces/${ns}/pods?dryRun=All`, object);
    t.is(s.status === 403 ? s.body.message : s.status === 201 ? 'allowed' : `HTTP ${s.status}: ${s.body.message}`, reg.server, reg.name);
    const ours = ourOutcome(object, reg.level, reg.version, KUBERNETES_MINOR);
    t.is(ours.status === 'denied' ? ours.message : ours.status, reg.server, reg.name);
  }
});
