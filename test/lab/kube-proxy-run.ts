// One real-kube-proxy run as the kube-proxy tests use it: a lab node programmed by the real
// kube-proxy from the lab API server, scanned live once kube-proxy's own metric reports the
// sync; and the run recorded as a fixture bundle (NETCONFORM_RECORD=1) for the parser tests.
import type { ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import type { ClusterContext } from '../../common/cluster.js';
import type { Finding } from '../../common/findings.js';
import { writeBundle } from '../../agent/inspect/bundle.js';
import { systemTool } from '../../agent/inspect/dataplane.js';
import { inspectNetns } from '../../agent/inspect/netns.js';
import { scanSnapshot } from '../../agent/scan.js';
import type { NodeSnapshot } from '../../agent/snapshot.js';
import { clusterJson } from './api-objects.js';
import type { ControlPlane } from './control-plane.js';
import { LabKubeProxy, type KubeProxyMode } from './kube-proxy.js';
import { createLabNode, type LabNode, type LabOptions } from './lab.js';

export interface KubeProxyRun { lab: LabNode; kp: LabKubeProxy; snapshot: NodeSnapshot; findings: Finding[]; syncSeconds: number }

export interface KubeProxyRunOptions {
  readonly lab: LabOptions;
  readonly nodeName: string;
  readonly version: string;
  readonly mode: KubeProxyMode;
  readonly clusterCIDR: string;
  /** The checks to run on the snapshot. */
  readonly only: readonly string[];
}

/** Both go with the test (teardown): kube-proxy stopped and cleaned, the lab deleted. */
export async function scanAfterKubeProxySync(t: ExecutionContext, cp: ControlPlane, cluster: ClusterContext, o: KubeProxyRunOptions): Promise<KubeProxyRun> {
  const lab = await createLabNode(o.lab);
  t.teardown(() => lab.destroy());
  const t0 = Date.now();
  const kp = await LabKubeProxy.start(cp, { netns: lab.netns, nodeName: o.nodeName, mode: o.mode, version: o.version, clusterCIDR: o.clusterCIDR });
  t.teardown(() => kp.stop());
  await kp.waitForSync(t0, 90_000);
  const syncSeconds = (Date.now() - t0) / 1000;
  const snapshot = await inspectNetns(lab.netns, {
    node: o.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent',
    kubeProxy: { url: kp.metricsUrl, settleMs: 30_000, stallMs: 300_000 },
  });
  const findings = scanSnapshot(snapshot, cluster, { only: o.only }).findings as Finding[];
  return { lab, kp, snapshot, findings, syncSeconds };
}

/**
 * Writes the run's snapshot as a bundle in `dir` (replacing it), the API server's objects as
 * cluster.json and a README: `title` (what was recorded, by which test), the tools' versions,
 * `setup` (the node and cluster, one line each), then the bundle's files.
 */
export function recordKubeProxyRun(dir: string, cp: ControlPlane, run: KubeProxyRun, title: string, setup: readonly string[]): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = writeBundle(dir, run.snapshot);
  writeFileSync(join(dir, 'cluster.json'), clusterJson(cp));
  writeFileSync(join(dir, 'README.md'), [
    title,
    `on ${run.snapshot.capturedAt} (kernel ${release()}, ${execFileSync('iptables', ['-V'], { encoding: 'utf8' }).trim()}, ${execFileSync(systemTool('nft'), ['-v'], { encoding: 'utf8' }).trim()}).`,
    ...setup,
    '`netconform-agent snapshot` read the namespace and the bundle was written from it:',
    files.map((f) => `- ${f}`).join('\n'),
    '- cluster.json: `kubectl get nodes,services,endpointslices -A -o json` from that API server',
    '',
  ].join('\n'));
}
