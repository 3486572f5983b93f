// Node inspection: the snapshot read live over netlink inside a lab node equals the one parsed
// from a bundle of real `ip -j` / `sysctl -a` output; bundles made from a snapshot read back
// the same; missing files skip, malformed files are exit 2 naming the file and position.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLabNode } from './lab/lab.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { captureBundle } from '../agent/inspect/capture.js';
import { scanSnapshot } from '../agent/scan.js';
import { InputError } from '../common/errors.js';
import type { NodeSnapshot } from '../agent/snapshot.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURES = join(import.meta.dirname, 'fixtures');

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'nc-inspect-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Waits until the kernel has finished adding IPv6 link-local addresses and their routes. */
async function settle(lab: { exec(cmd: string, args: readonly string[]): Promise<string> }): Promise<void> {
  let last = '';
  for (let i = 0; i < 25; i++) {
    const now = await lab.exec('ip', ['-j', 'addr', 'show']) + await lab.exec('ip', ['-j', 'route', 'show', 'table', 'all']);
    if (now === last && !now.includes('"tentative"')) return;
    last = now;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Facets that must be equal between live and bundle (confDir is where each read from). */
function facets(s: NodeSnapshot): unknown {
  return { node: s.node, sysctls: s.sysctls, links: s.links, routes: s.routes, cniFiles: s.cni?.files, cniBinaries: s.cni?.binaries };
}

test.serial('live snapshot (netlink in the lab netns) equals the bundle of real ip -j / sysctl -a output, and the rendered bundle', async (t) => {
  const lab = await createLabNode({
    pods: [{}, {}, { attached: false }],
    uplinkAddress: '192.168.50.10/24',
    routes: ['10.244.2.0/24 via 192.168.50.11', '10.244.4.0/24 nexthop via 192.168.50.11 nexthop via 192.168.50.12', 'blackhole 10.244.9.0/24', '10.244.5.0/24 dev cbr0 table 100'],
    hairpin: false,
  });
  t.teardown(() => lab.destroy());
  await lab.exec('ip', ['-6', 'addr', 'add', 'fd00::10/64', 'dev', 'eth0', 'nodad']);
  await lab.exec('ip', ['-6', 'route', 'add', 'default', 'via', 'fd00::1']);
  await settle(lab);
  const dir = tmp(t);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const b of ['bridge', 'host-local', 'portmap']) writeFileSync(join(bin, b), '');

  const live = await inspectNetns(lab.netns, { node: lab.nodeName, cniConfDir: join(FIXTURES, 'cni', 'bridge', 'net.d'), cniBinDir: bin });
  t.is(live.source, 'live');
  // Facts the checks rely on, read over netlink.
  const cbr0 = live.links!.find((l) => l.name === 'cbr0')!;
  t.like(cbr0, { kind: 'bridge', up: true, addresses: [{ family: 4, address: '10.244.1.1', prefixLength: 24, scope: 'global' }] });
  const [p0, , p2] = lab.pods.map((p) => live.links!.find((l) => l.name === p.hostVeth)!);
  t.like(p0, { kind: 'veth', slaveKind: 'bridge', master: 'cbr0', hairpin: false, peerNetnsId: 0 });
  t.is(p2!.master, undefined);
  t.is(typeof p2!.peerNetnsId, 'number');
  t.deepEqual(live.routes!.find((r) => r.dst === '10.244.4.0/24'), { table: 254, family: 4, dst: '10.244.4.0/24', type: 'unicast', nexthops: [{ gateway: '192.168.50.11', dev: 'eth0' }, { gateway: '192.168.50.12', dev: 'eth0' }] });
  t.like(live.routes!.find((r) => r.dst === '10.244.5.0/24'), { table: 100, dev: 'cbr0' });
  t.like(live.routes!.find((r) => r.dst === '::/0'), { family: 6, gateway: 'fd00::1', dev: 'eth0' });
  t.like(live.routes!.find((r) => r.dst === '10.244.9.0/24'), { type: 'blackhole' });

  const captured = join(dir, 'captured');
  const files = await captureBundle(captured, live, { netns: lab.netns });
  t.true(['ip-link.json', 'ip-addr.json', 'ip-route.json', 'sysctl.txt', 'cni/', 'cni-bin.txt', 'node.txt'].every((f) => files.includes(f)));
  // The tools wrote these (ip prints fields the renderer does not, e.g. qdisc).
  t.regex(readFileSync(join(captured, 'ip-link.json'), 'utf8'), /"qdisc"/);
  const fromTools = readBundle(captured);
  t.is(fromTools.source, 'bundle');
  t.deepEqual(facets(fromTools), facets(live));

  const rendered = join(dir, 'rendered');
  await captureBundle(rendered, live, { renderOnly: true });
  t.deepEqual(facets(readBundle(rendered)), facets(live));

  // And the scans agree, finding for finding.
  t.deepEqual(scanSnapshot(fromTools, undefined).findings, scanSnapshot(live, undefined).findings);
});

test('an empty bundle: every network check skips with the file it needs', (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'node.txt'), 'node-a\n');
  const fs = scanSnapshot(readBundle(dir), undefined, { only: ['pod-network.bridge', 'pod-network.routes', 'pod-network.sysctl', 'cni.config'] }).findings;
  t.deepEqual(fs.map((f) => [f.check, f.status, f.message]), [
    ['pod-network.sysctl', 'skip', 'skipped: no sysctl.txt (sysctl -a)'],
    ['pod-network.bridge', 'skip', 'skipped: no ip-link.json and ip-addr.json (ip -j -d link show; ip -j addr show)'],
    ['pod-network.routes', 'skip', 'skipped: no ip-route.json (ip -j route show table all); no ip-link.json and ip-addr.json (ip -j -d link show; ip -j addr show)'],
    ['cni.config', 'skip', 'skipped: no cni/ (copy of /etc/cni/net.d) and cni-bin.txt'],
  ]);
});

test('ip-link.json without ip-addr.json leaves links absent rather than address-less', (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'ip-link.json'), '[{"ifindex":1,"ifname":"lo","flags":["UP"],"mtu":65536,"operstate":"UNKNOWN"}]');
  t.is(readBundle(dir).links, undefined);
});

test('malformed bundle files are InputErrors naming the file and position', (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'ip-link.json'), '[{"ifindex":1,"ifname":"lo"},\n {"ifindex": 2 "ifname":"x"}]');
  writeFileSync(join(dir, 'ip-addr.json'), '[]');
  const e1 = t.throws(() => readBundle(dir), { instanceOf: InputError })!;
  t.is(e1.file, join(dir, 'ip-link.json'));
  t.is(e1.line, 2);
  t.regex(e1.message, /ip-link\.json:2:\d+: invalid JSON/);

  writeFileSync(join(dir, 'ip-link.json'), '{"ifindex":1}');
  t.regex(t.throws(() => readBundle(dir), { instanceOf: InputError })!.message, /ip-link\.json: expected a JSON array \(the output of ip -j\), got object$/);

  writeFileSync(join(dir, 'ip-link.json'), '[{"ifindex":"one","ifname":"lo"}]');
  t.regex(t.throws(() => readBundle(dir), { instanceOf: InputError })!.message, /ip-link\.json: entry 0 \(lo\): "ifindex" must be a number, got "one"$/);

  rmSync(join(dir, 'ip-link.json'));
  writeFileSync(join(dir, 'ip-route.json'), '[{"dst":"10.0.0.0/33","dev":"eth0"}]');
  t.regex(t.throws(() => readBundle(dir), { instanceOf: InputError })!.message, /ip-route\.json: entry 0: "dst" is not a prefix: "10\.0\.0\.0\/33"$/);
});

test('ip -j route quirks: default routes of both families, host routes without a prefix, named tables', (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'ip-route.json'), JSON.stringify([
    { dst: 'default', gateway: '192.168.1.1', dev: 'eth0', flags: [] },
    { dst: 'default', dev: 'eth0', metric: 1024, flags: [], pref: 'medium' },
    { type: 'local', dst: '10.244.1.1', dev: 'cbr0', table: 'local', flags: [] },
    { dst: '10.1.0.0/16', dev: 'eth0', table: '100', flags: [] },
  ]));
  t.deepEqual(readBundle(dir).routes, [
    { table: 100, family: 4, dst: '10.1.0.0/16', dev: 'eth0', type: 'unicast' },
    { table: 254, family: 4, dst: '0.0.0.0/0', gateway: '192.168.1.1', dev: 'eth0', type: 'unicast' },
    { table: 255, family: 4, dst: '10.244.1.1/32', dev: 'cbr0', type: 'local' },
    { table: 254, family: 6, dst: '::/0', dev: 'eth0', type: 'unicast' },
  ]);
});

test('scan --from a bundle with a malformed file exits 2 with the file name; a failing bundle exits 1', (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'node.txt'), 'node-a\n');
  writeFileSync(join(dir, 'sysctl.txt'), 'net.ipv4.ip_forward = 0\n');
  const ok = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/main.ts'), 'scan', '--from', dir, '--format', 'json'], { encoding: 'utf8', cwd: ROOT });
  t.is(ok.status, 1, ok.stderr);
  const out = JSON.parse(ok.stdout) as { findings: { check: string; status: string; subject: string }[] };
  t.like(out.findings.find((f) => f.check === 'pod-network.sysctl'), { status: 'fail', subject: 'net.ipv4.ip_forward' });

  mkdirSync(join(dir, 'cni'));
  writeFileSync(join(dir, 'ip-addr.json'), '[{"ifindex" 1}]');
  writeFileSync(join(dir, 'ip-link.json'), '[]');
  const bad = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'agent/main.ts'), 'scan', '--from', dir], { encoding: 'utf8', cwd: ROOT });
  t.is(bad.status, 2);
  t.regex(bad.stderr, new RegExp(`${join(dir, 'ip-addr.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:\\d+: invalid JSON`));
});
