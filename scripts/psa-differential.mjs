#!/usr/bin/env node
// The full differential Pod Security run against the real kube-apiserver (the CI test,
// test/psa-differential.test.ts, runs a seeded sample of it):
//
//   node scripts/psa-differential.mjs [--count 10000] [--seed N] [--concurrency 4] [--out FILE]
//
// Starts a private etcd + kube-apiserver (scripts/k8s-bins.sh builds them), generates --count
// pod specs with fast-check, creates each with dryRun=All in namespaces enforcing baseline and
// restricted at its pinned version, and compares the API server's decision and message with
// netconform's evaluator. Prints the counts; every disagreement goes to --out (JSON, default
// psa-differential-disagreements.json) as a ready regression case. Exit 1 on any disagreement.
import { register } from 'tsx/esm/api';
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';

register();
const { values } = parseArgs({ options: {
  count: { type: 'string', default: '10000' }, seed: { type: 'string', default: String(Date.now() % 1e9) },
  concurrency: { type: 'string', default: '4' }, out: { type: 'string', default: 'psa-differential-disagreements.json' },
} });
const { ControlPlane } = await import('../test/lab/control-plane.ts');
const { generateCases, runDifferential, regressionCase } = await import('../test/lab/psa-differential.ts');
const { k8sVersions } = await import('../test/lab/k8s-bins.ts');

const count = Number(values.count);
const seed = Number(values.seed);
const minor = Number(/^v1\.(\d+)/.exec(k8sVersions().kubernetes)[1]);
console.log(`psa differential: ${count} pods, seed ${seed}, kube-apiserver ${k8sVersions().kubernetes}`);
const cp = await ControlPlane.start();
let code = 0;
try {
  const t0 = Date.now();
  const cases = generateCases(count, seed);
  const r = await runDifferential(cp, cases, { kubernetesMinor: minor, concurrency: Number(values.concurrency), onProgress: (n) => process.stdout.write(`  ${n} requests, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`) });
  console.log(`pods generated: ${r.cases} (seed ${seed}); dry-run requests: ${r.requests} in ${r.seconds.toFixed(1)} s`);
  console.log(`compared: ${r.compared} (${r.allowed} allowed, ${r.denied} denied); refused as invalid before admission: ${r.invalid}`);
  console.log(`denials by reason: ${JSON.stringify(r.reasons)}`);
  console.log(`disagreements: ${r.disagreements.length}`);
  if (r.invalidSamples.length) console.log(`invalid, e.g.:\n  ${r.invalidSamples.slice(0, 8).join('\n  ')}`);
  if (r.disagreements.length) {
    writeFileSync(values.out, JSON.stringify(r.disagreements.map(regressionCase), null, 2) + '\n');
    console.log(`written to ${values.out}`);
    code = 1;
  }
} finally {
  await cp.stop();
}
process.exit(code);
