// Every parser refuses what is not what it claims, with one line naming the file, the line (or
// JSON path) and what was expected: exit 2 for a bundle, an `error` finding naming the source
// for a live scan — never a silent skip, never a false fail.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../common/errors.js';
import { parseIptablesSave } from '../agent/dataplane/iptables-save.js';
import { parseNftJson } from '../agent/dataplane/nft-json.js';
import { parseIpvsadm } from '../agent/dataplane/ipvs.js';
import { parseIpsetSave } from '../agent/dataplane/ipset.js';
import { parseSysctlText } from '../agent/inspect/sysctl.js';
import { parseIpRoutes } from '../agent/inspect/ip-json.js';
import { scanSnapshot } from '../agent/scan.js';
import { readClusterFile } from '../common/cluster.js';
import type { NodeSnapshot } from '../agent/snapshot.js';
import { runProgram } from './support/processes.js';
import { tempDir } from './support/tmp.js';

const FIX = fileURLToPath(new URL('./fixtures/', import.meta.url));
const IPTABLES = readFileSync(join(FIX, 'tool-output/iptables-nft-save.txt'), 'utf8');
const CLUSTER = join(FIX, 'dataplane/upstream-cluster.yaml');

function bundle(t: import('ava').ExecutionContext, files: Record<string, string>): string {
  const dir = tempDir(t, 'nc-bundle-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function refusal(t: import('ava').ExecutionContext, parse: () => unknown, message: string): void {
  t.is(t.throws(parse, { instanceOf: InputError })?.message, message);
}

test('the reported defect: an nft.json of {"nftables":[{"rule":5}]} exits 2 naming the JSON path', async (t) => {
  const dir = bundle(t, { 'node.txt': 'node-a\n', 'nft.json': '{"nftables":[{"rule":5}]}\n' });
  const r = await runProgram('agent', ['scan', '--from', dir]);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.is(r.stderr, `netconform-agent: ${join(dir, 'nft.json')}: nftables[0].rule: expected an object with family, table, chain, got the number 5\n`);
});

test('the reported defect: an iptables-save.txt cut mid-table exits 2 naming file and line, instead of false Service failures', async (t) => {
  // The whole dump judges all-pass, so whatever fails on the cut one would be false.
  const whole = await runProgram('agent', ['scan', '--from', bundle(t, { 'node.txt': 'test-node\n', 'iptables-save.txt': IPTABLES }), '--cluster', CLUSTER, '--format', 'json']);
  t.is(whole.code, 0, whole.stderr);
  const out = JSON.parse(whole.stdout) as { findings: { check: string; status: string }[] };
  t.deepEqual(out.findings.filter((f) => f.check.startsWith('service-routing.') && f.status !== 'pass' && f.status !== 'skip'), []);

  const cut = IPTABLES.split('\n').slice(0, 80).join('\n') + '\n';
  const dir = bundle(t, { 'node.txt': 'test-node\n', 'iptables-save.txt': cut });
  const r = await runProgram('agent', ['scan', '--from', dir, '--cluster', CLUSTER]);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.is(r.stderr, `netconform-agent: ${join(dir, 'iptables-save.txt')}:80: the dump ends inside table "nat" (begun on line 35) without its COMMIT: the output is cut short\n`);
});

test('live, a rule dump that does not parse is an error finding naming the tool, for every check that needs the rules', (t) => {
  const snapshot: NodeSnapshot = { node: 'test-node', capturedAt: '2026-12-02T10:00:00Z', source: 'live', dataplane: { nftJson: '{"nftables":[{"rule":5}]}' } };
  const r = scanSnapshot(snapshot, readClusterFile(CLUSTER), { only: ['service-routing.clusterip', 'no-nat.pod-to-pod'] });
  const reason = 'nftables[0].rule: expected an object with family, table, chain, got the number 5';
  t.deepEqual(r.findings, [
    { check: 'service-routing.clusterip', status: 'error', severity: 'high', subject: 'test-node', message: `cannot judge: nft -j list ruleset: ${reason}`, evidence: { source: 'nft -j list ruleset', reason } },
    { check: 'no-nat.pod-to-pod', status: 'error', severity: 'high', subject: 'test-node', message: `cannot judge: nft -j list ruleset: ${reason}`, evidence: { source: 'nft -j list ruleset', reason } },
  ]);
});

test('iptables-save: tables end in COMMIT, rules name declared chains', (t) => {
  const opts = { backend: 'iptables-nft' as const, family: 4 as const, file: 'iptables-save.txt' };
  const parse = (text: string) => () => parseIptablesSave(text, opts);
  refusal(t, parse('*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j KUBE-SERVICES\n'), 'iptables-save.txt:3: the dump ends inside table "nat" (begun on line 1) without its COMMIT: the output is cut short');
  refusal(t, parse('*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n'), 'iptables-save.txt:3: rule in chain "PREROUTING" jumps to chain "KUBE-SERVICES", which table "nat" does not declare');
  refusal(t, parse('*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-X - [0:0]\n-A PREROUTING -g KUBE-Y\nCOMMIT\n'), 'iptables-save.txt:4: rule in chain "PREROUTING" goes to chain "KUBE-Y", which table "nat" does not declare');
  refusal(t, parse('*filter\n:INPUT ACCEPT [0:0]\n*nat\nCOMMIT\n'), 'iptables-save.txt:3: table "nat" begins inside table "filter" (begun on line 1), which has no COMMIT');
  refusal(t, parse('*filter\nCOMMIT\nCOMMIT\n'), 'iptables-save.txt:3: COMMIT outside a table (no "*table" line before it)');
  refusal(t, parse('*nat\n:PREROUTING ACCEPT [0:0]\n-A KUBE-SVC-X -j ACCEPT\nCOMMIT\n'), 'iptables-save.txt:3: rule for undeclared chain "KUBE-SVC-X"');
  // The kube-proxy fast path reads these rules; cut, it refuses the same way.
  const fast = ':KUBE-SERVICES - [0:0]\n:KUBE-SVC-A - [0:0]\n-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-A\n';
  t.is(parseIptablesSave(`*nat\n${fast}COMMIT\n`, opts).tables[0]!.chains.get('KUBE-SERVICES')!.rules.length, 1);
  refusal(t, parse(`*nat\n${fast}`), 'iptables-save.txt:4: the dump ends inside table "nat" (begun on line 1) without its COMMIT: the output is cut short');
  refusal(t, parse(`*nat\n${fast.slice(0, -30)}`), 'iptables-save.txt:4: the dump ends inside table "nat" (begun on line 1) without its COMMIT: the output is cut short');
});

test('nft -j: the libnftables schema (metainfo, tables, chains, rules, sets, maps)', (t) => {
  const nft = (items: unknown[]) => () => parseNftJson(JSON.stringify({ nftables: items }), { file: 'nft.json' });
  const table = { table: { family: 'ip', name: 'kube-proxy', handle: 1 } };
  refusal(t, () => parseNftJson('[]', { file: 'nft.json' }), 'nft.json: (top level): expected an object with an "nftables" list (the output of nft -j list ruleset), got a list');
  refusal(t, () => parseNftJson('{"nftables": {}}', { file: 'nft.json' }), 'nft.json: nftables: expected a list (the output of nft -j list ruleset), got a mapping');
  refusal(t, () => parseNftJson('{"nftables": [', { file: 'nft.json' }), 'nft.json:1:15: invalid JSON: Unexpected end of JSON input');
  refusal(t, nft(['table']), 'nft.json: nftables[0]: expected an object with one key (metainfo, table, chain, rule, set, map, element, flowtable, counter, quota, ct helper, limit, ct timeout, ct expectation, secmark, synproxy), got the string "table"');
  refusal(t, nft([{ table: {}, chain: {} }]), 'nft.json: nftables[0]: expected an object with exactly one key naming a ruleset object, got the keys "table", "chain"');
  refusal(t, nft([{ tabel: {} }]), 'nft.json: nftables[0]: unknown ruleset object "tabel" (expected one of metainfo, table, chain, rule, set, map, element, flowtable, counter, quota, ct helper, limit, ct timeout, ct expectation, secmark, synproxy)');
  refusal(t, nft([{ metainfo: { json_schema_version: 2 } }]), 'nft.json: nftables[0].metainfo.json_schema_version: expected 1 (the libnftables JSON schema this reads), got the number 2');
  refusal(t, nft([{ table: { family: 'ipx', name: 'x' } }]), 'nft.json: nftables[0].table.family: expected one of ip, ip6, inet, arp, bridge, netdev, got the string "ipx"');
  refusal(t, nft([table, { chain: { family: 'ip', table: 'kube-proxy', name: 'c', hook: 'prerouting', prio: 'high' } }]), 'nft.json: nftables[1].chain.prio: expected an integer, got the string "high"');
  refusal(t, nft([table, { chain: { family: 'ip', table: 'kube-proxy', name: 'c' } }, { rule: { family: 'ip', table: 'kube-proxy', chain: 'c', expr: {} } }]), 'nft.json: nftables[2].rule.expr: expected a list of statements, got a mapping');
  refusal(t, nft([table, { chain: { family: 'ip', table: 'kube-proxy', name: 'c' } }, { rule: { family: 'ip', table: 'kube-proxy', chain: 'c', expr: [{ jump: { to: 'x' } }] } }]), 'nft.json: nftables[2].rule.expr[0].jump: expected an object with a "target" chain name, got a mapping');
  refusal(t, nft([table, { chain: { family: 'ip', table: 'kube-proxy', name: 'c' } }, { rule: { family: 'ip', table: 'kube-proxy', chain: 'c', expr: [{ match: { op: '==', left: { meta: { key: 'l4proto' } } } }] } }]), 'nft.json: nftables[2].rule.expr[0].match.right: expected an expression, got nothing');
  refusal(t, nft([table, { map: { family: 'ip', table: 'kube-proxy', name: 'm', type: 'ipv4_addr', map: 'verdict', elem: ['10.0.0.1'] } }]), 'nft.json: nftables[1].map.elem[0]: expected a [key, value] pair, got the string "10.0.0.1"');
  refusal(t, nft([table, { rule: { family: 'ip', table: 'kube-proxy', chain: 'nope', expr: [] } }]), 'nft.json: nftables[1].rule: (handle undefined) is in chain nope, which table ip kube-proxy does not declare');
  refusal(t, nft([{ rule: { family: 'ip', table: 'gone', chain: 'c', expr: [] } }]), 'nft.json: nftables[0].rule: refers to table ip gone, which the ruleset does not declare');
});

test('ipvsadm, ipset save, sysctl and ip -j refuse what their tools never print', (t) => {
  refusal(t, () => parseIpvsadm('-A -t kubernetes:https -s rr\n', 'ipvsadm.txt'), 'ipvsadm.txt:1: virtual service "kubernetes:https" is not ADDRESS:PORT (an IPv4 or [IPv6] address)');
  refusal(t, () => parseIpvsadm('-A -t 10.96.0.1:443 -s rr\n-a -t 10.96.0.1:443 -r 10.244.1.2:70000 -m\n', 'ipvsadm.txt'), 'ipvsadm.txt:2: real server "10.244.1.2:70000" has no valid port (0-65535)');
  refusal(t, () => parseIpvsadm('-A -t 10.96.0.1:443 -s rr --frobnicate\n', 'ipvsadm.txt'), 'ipvsadm.txt:1: unexpected "--frobnicate" in "-A -t 10.96.0.1:443 -s rr --frobnicate"');
  refusal(t, () => parseIpvsadm('-A -t 10.96.0.1:443 -s rr\n-a -t 10.96.0.1:443 -r 10.244.1.2:443 -m -w heavy\n', 'ipvsadm.txt'), 'ipvsadm.txt:2: weight must be a non-negative integer, got "heavy"');
  refusal(t, () => parseIpvsadm('IP Virtual Server version 1.2.1 (size=4096)\nTCP  10.0.0.1:443 rr\n  -> 192.168.0.1:6443 Masq one 0 0\n', 'ipvsadm.txt'), 'ipvsadm.txt:3: weight must be a non-negative integer, got "one"');
  refusal(t, () => parseIpsetSave('create KUBE-CLUSTER-IP hash:ip,port family inet\nadd KUBE-CLUSTER-IP 10.96.0.1\n', 'ipset-save.txt'), 'ipset-save.txt:2: set "KUBE-CLUSTER-IP" (hash:ip,port): entry "10.96.0.1" has 1 part(s), the type 2');
  refusal(t, () => parseIpsetSave('create S hash:net\nadd S 10.0.0.0/33\n', 'ipset-save.txt'), 'ipset-save.txt:2: set "S" (hash:net): entry "10.0.0.0/33" part 1 "10.0.0.0/33" is not a network');
  refusal(t, () => parseIpsetSave('create S hash:nothing\n', 'ipset-save.txt'), 'ipset-save.txt:1: set "S": type "hash:nothing" is not an ipset type (hash:…, bitmap:…, list:set)');
  refusal(t, () => parseIpsetSave('create S hash:ip\ncreate S hash:ip\n', 'ipset-save.txt'), 'ipset-save.txt:2: set "S" is created twice');
  refusal(t, () => parseSysctlText('net.ipv4.ip_forward = 1\nnet ipv4 forward = 1\n', 'sysctl.txt'), 'sysctl.txt:2: expected "key = value" with a key like net.ipv4.ip_forward, got "net ipv4 forward = 1"');
  refusal(t, () => parseIpRoutes('[{"dst":"default","gateway":"10.0.0.1"}', 'ip-route.json'), 'ip-route.json:1:40: invalid JSON: Expected \',\' or \']\' after array element in JSON at position 39');
  refusal(t, () => parseIpRoutes(`${'['.repeat(300)}${']'.repeat(300)}`, 'ip-route.json'), 'ip-route.json: nested deeper than 200 levels; not the output it should be');
});
