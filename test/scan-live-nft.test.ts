// The DaemonSet's own read path in nftables mode: `scan` run inside the node's namespace
// (`ip netns exec`, no --netns child) reads `nft -j`, hands the parsed document to the loader
// (parsed once, agent/inspect/dataplane.ts) and finds exactly the one broken Service port.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '../common/findings.js';
import { systemTool } from '../agent/inspect/dataplane.js';
import { renderClusterJson, renderNft, smallCluster } from '../agent/dataplane/testing/generate.js';
import { createLabNode } from './lab/lab.js';

test('nftables: scan inside the node namespace finds the one Service port with a missing endpoint', async (t) => {
  const lab = await createLabNode({ pods: 0, bridge: 'cbr0', uplinkAddress: '192.168.50.2/24' });
  const dir = mkdtempSync(join(tmpdir(), 'nc-sr-'));
  t.teardown(async () => { rmSync(dir, { recursive: true, force: true }); await lab.destroy(); });
  const api = smallCluster(lab.nodeName);
  const broken = { ...api, services: api.services.map((s) => (`${s.namespace}/${s.name}` === 'shop/web' ? { ...s, endpoints: s.endpoints.slice(1) } : s)) };
  await lab.exec(systemTool('nft'), ['-f', '-'], renderNft(broken, { layout: 'dnat-map' }));
  const file = join(dir, 'cluster.json');
  writeFileSync(file, renderClusterJson(api));
  const res = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile('ip', ['netns', 'exec', lab.netns, process.execPath, '--import', 'tsx', 'agent/main.ts', 'scan', '--node', lab.nodeName, '--cluster', file, '--format', 'json'],
      { maxBuffer: 64 << 20 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }));
  });
  t.is(res.code, 1, res.err);
  const out = JSON.parse(res.out) as { proxyMode: string; findings: Finding[] };
  t.is(out.proxyMode, 'nftables');
  const clusterip = out.findings.filter((f) => f.check === 'service-routing.clusterip');
  t.deepEqual(clusterip.filter((f) => f.status !== 'pass').map((f) => f.subject).sort(), ['shop/web:443/TCP', 'shop/web:80/TCP']);
  t.is(clusterip.length, 11);
  const f = clusterip.find((x) => x.subject === 'shop/web:80/TCP')!;
  t.regex(f.message, /^ClusterIP 10\.96\.\d+\.\d+:80\/TCP: missing endpoint /);
});
