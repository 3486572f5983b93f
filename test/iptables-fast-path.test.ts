// The kube-proxy fast path (agent/dataplane/iptables-fast.ts) reads what the general reader
// reads, rule for rule: on real iptables-save output of a generated 500-Service cluster (both
// iptables backends, loaded into a lab namespace) and on the vendored upstream dumps. And it
// does take kube-proxy's usual lines (else the equivalence would hold trivially).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { largeCluster, renderIptables } from '../agent/dataplane/testing/generate.js';
import { fastPathDifference } from '../agent/dataplane/testing/fast-path.js';
import { fastRule } from '../agent/dataplane/iptables-fast.js';
import { Interner } from '../agent/dataplane/iptables-intern.js';
import { IptablesSaveParser } from '../agent/dataplane/iptables-save.js';
import { PackedChain } from '../agent/dataplane/iptables-packed.js';
import { InputError } from '../common/errors.js';
import type { Table } from '../agent/dataplane/model.js';
import { createLabNode } from './lab/lab.js';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`./fixtures/upstream/${name}`, import.meta.url)), 'utf8');

for (const [backend, restore, save] of [['iptables-nft', 'iptables-restore', 'iptables-save'], ['iptables-legacy', 'iptables-legacy-restore', 'iptables-legacy-save']] as const) {
  test(`fast path = general reader on ${backend} iptables-save of 500 Services`, async (t) => {
    const lab = await createLabNode({ pods: 0, bridge: null, uplinkAddress: '192.168.77.2/24' });
    try {
      await lab.exec(restore, ['-w'], renderIptables(largeCluster(lab.nodeName, '192.168.77.2', 500, 4)));
      const r = fastPathDifference(await lab.exec(save, []));
      t.is(r.difference, undefined);
      t.true(r.rules > 500 * 4 * 2, `${r.rules} rules`);
    } finally {
      await lab.destroy();
    }
  });
}

for (const name of ['iptables-overall.txt', 'iptables-save-flannel-real.txt']) {
  test(`fast path = general reader on upstream ${name}`, (t) => {
    const r = fastPathDifference(fixture(name));
    t.is(r.difference, undefined);
    t.true(r.rules > 10);
  });
}

test('fast path reads kube-proxy rule shapes and declines others', (t) => {
  const table: Table = { backend: 'iptables-nft', source: 'x', family: 4, name: 'nat', chains: new Map([['KUBE-SEP-A', { name: 'KUBE-SEP-A', rules: [] }]]), sets: new Map() };
  const head = { table: 'nat', chain: 'KUBE-SVC-A', index: 1, text: '-A KUBE-SVC-A …', line: 1 };
  const intern = new Interner();
  const svc = fastRule('-m comment --comment "ns/a:http -> 10.1.0.5:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-A', head, table, intern);
  t.deepEqual(svc?.matches, [{ kind: 'comment', text: 'ns/a:http -> 10.1.0.5:80' }, { kind: 'random', probability: 0.5 }]);
  t.deepEqual(svc?.verdict, { kind: 'jump', target: 'KUBE-SEP-A' });
  const dnat = fastRule('-p tcp -m comment --comment ns/a:http -m tcp -j DNAT --to-destination 10.1.0.5:80', head, table, intern);
  t.deepEqual(dnat?.verdict, { kind: 'dnat', to: { addr: '10.1.0.5', port: 80 } });
  t.is(fastRule('! -s 10.0.0.0/8 -j KUBE-SEP-A', head, table, intern), undefined);
  t.is(fastRule('-m conntrack --ctstate INVALID -j DROP', head, table, intern), undefined);
  t.is(fastRule('-s 10.0.0.0/33 -j KUBE-SEP-A', head, table, intern), undefined);
});

/** Parses `text` pushed in `size`-character chunks, as the live read does. */
function parseChunked(text: string, size: number, packChains: boolean, stillPacked: string[] = []): unknown {
  const p = new IptablesSaveParser({ backend: 'iptables-nft', family: 4, file: 'dump', packChains });
  for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size));
  const rs = p.end();
  for (const t of rs.tables) for (const c of t.chains.values()) if (c instanceof PackedChain && c.packed) stillPacked.push(c.name);
  // Each chain's list read once (a packed chain reads its text on every read).
  return rs.tables.map((t) => [t.name, [...t.chains.values()].map((c) => [c.name, c.base, c.rules])]);
}

const PACKING_DUMP = [
  '*nat',
  ':PREROUTING ACCEPT [0:0]',
  ':KUBE-SERVICES - [0:0]',
  ':KUBE-SVC-A - [0:0]',
  ':KUBE-SEP-A1 - [0:0]',
  ':KUBE-SEP-A2 - [0:0]',
  ':KUBE-SEP-B - [0:0]',
  '-A PREROUTING -j KUBE-SERVICES',
  '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-A',
  '-A KUBE-SVC-A -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-A1',
  '-A KUBE-SEP-A1 -s 10.1.0.5/32 -j KUBE-MARK-MASQ',
  '-A KUBE-SVC-A -j KUBE-SEP-A2',
  '-A KUBE-SEP-A1 -p tcp -m tcp -j DNAT --to-destination 10.1.0.5:80',
  '[3:180] -A KUBE-SEP-A2 -s 10.1.0.6/32 -j KUBE-MARK-MASQ',
  '-A KUBE-SEP-A2 -p tcp -m tcp -j DNAT --to-destination 10.1.0.6:80\r',
  '-I KUBE-SVC-A -m comment --comment "inserted first" -j KUBE-MARK-MASQ',
  '-A KUBE-SEP-B -s 10.1.0.7/32 -j KUBE-MARK-MASQ',
  '-A KUBE-SEP-B -p tcp -m tcp -j DNAT --to-destination 10.1.0.7:80',
  ':KUBE-MARK-MASQ - [0:0]',
  '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
  'COMMIT',
  '',
].join('\n');

test('kube-proxy chains packed as text read back as the plain lists, however the dump is cut', (t) => {
  const plain = parseChunked(PACKING_DUMP, PACKING_DUMP.length, false);
  for (const size of [PACKING_DUMP.length, 1, 7, 40, 64]) t.deepEqual(parseChunked(PACKING_DUMP, size, true), plain, `chunks of ${size}`);
  // Split, inserted into, with counters or a CR: unpacked; consecutive lines of one chunk: packed.
  const packed: string[] = [];
  parseChunked(PACKING_DUMP, PACKING_DUMP.length, true, packed);
  t.deepEqual(packed, ['KUBE-SEP-B']);
});

test('a packed chain reports a bad rule or an undeclared target as the plain reading does', (t) => {
  const bad = ['*nat', ':KUBE-SEP-A - [0:0]', '-A KUBE-SEP-A -s 10.1.0.5/32 -j ACCEPT', '-A KUBE-SEP-A -s 10.1.0.999/32 -j ACCEPT', 'COMMIT', ''].join('\n');
  const undeclared = ['*nat', ':KUBE-SVC-A - [0:0]', '-A KUBE-SVC-A -j ACCEPT', '-A KUBE-SVC-A -j KUBE-SEP-GONE', 'COMMIT', ''].join('\n');
  for (const [text, size] of [[bad, bad.length], [undeclared, undeclared.length], [bad, 16], [undeclared, 16]] as const) {
    const plain = t.throws(() => parseChunked(text, size, false));
    const packed = t.throws(() => parseChunked(text, size, true));
    t.is(packed?.message, plain?.message);
    t.true(plain instanceof InputError && packed instanceof InputError && packed.line === plain.line);
  }
});
