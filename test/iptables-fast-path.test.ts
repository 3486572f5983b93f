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
