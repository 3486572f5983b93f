// Evaluate 100,000 pods at restricted: pods per second and peak memory.
// Run: npx tsx bench/psa.ts [count]. Goal: at least 50,000 pods/s on one core.
// Pods are varied (passing, failing several controls, multi-container, templates) so the
// number reflects a real cluster rather than one cached shape; reading from raw API
// objects is included, since that is what the CLI and the collector do.
import { evaluate, violationMessage } from '../psa/evaluate.js';
import { podSubject } from '../psa/workload.js';

const count = Number(process.argv[2] ?? 100_000);

function makePod(i: number): Record<string, unknown> {
  const good = i % 3 === 0;
  const containers = Array.from({ length: 1 + (i % 3) }, (_, c) => ({
    name: `c${c}`,
    image: 'registry.example/app:1',
    ports: [{ containerPort: 8080 + c, ...(i % 17 === 0 ? { hostPort: 80 } : {}) }],
    securityContext: good
      ? { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }
      : i % 5 === 0 ? { privileged: true, capabilities: { add: ['NET_ADMIN'] } } : undefined,
    readinessProbe: { httpGet: { path: '/healthz', port: 8080, ...(i % 11 === 0 ? { host: 'localhost' } : {}) } },
  }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${i}`, namespace: `ns-${i % 50}`, annotations: { 'example.com/owner': 'team' } },
    spec: {
      securityContext: good ? { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } } : {},
      initContainers: i % 4 === 0 ? [{ name: 'init', image: 'busybox' }] : [],
      containers,
      volumes: [{ name: 'config', configMap: { name: 'c' } }, ...(i % 7 === 0 ? [{ name: 'host', hostPath: { path: '/var/log' } }] : [])],
    },
  };
}

const objects = Array.from({ length: count }, (_, i) => makePod(i));
let peakRss = process.memoryUsage().rss;
const sample = (): void => {
  const rss = process.memoryUsage().rss;
  if (rss > peakRss) peakRss = rss;
};

// Warm up the JIT and the per-version plan cache.
for (let i = 0; i < 2000; i++) evaluate(podSubject(objects[i])!.pod, 'restricted', 'latest');

let rejected = 0;
let messageBytes = 0;
const start = process.hrtime.bigint();
for (let i = 0; i < count; i++) {
  const e = evaluate(podSubject(objects[i])!.pod, 'restricted', 'latest');
  if (!e.allowed) {
    rejected++;
    messageBytes += violationMessage(e)!.length;
  }
  if ((i & 0x3fff) === 0) sample();
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
sample();

const rate = Math.round(count / seconds);
process.stdout.write(
  `psa: ${count} pods at restricted:latest in ${seconds.toFixed(3)} s = ${rate.toLocaleString('en-US')} pods/s ` +
  `(${rejected} rejected, ${(messageBytes / 1e6).toFixed(1)} MB of messages); peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB ` +
  `(includes the ${count} input objects)\n`,
);
process.stdout.write(rate >= 50_000 ? 'goal met: >= 50,000 pods/s\n' : 'GOAL MISSED: < 50,000 pods/s\n');
process.exitCode = rate >= 50_000 ? 0 : 1;
