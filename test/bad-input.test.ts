// Every parser refuses what is not what it claims, with one line naming the file, the line (or
// JSON path) and what was expected: exit 2 for a bundle, an `error` finding naming the source
// for a live scan — never a silent skip, never a false fail.
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
import { parse as parseYaml } from 'yaml';
import { runProgram } from './support/processes.js';
import { tempDir } from './support/tmp.js';

const FIX = fileURLToPath(new URL('./fixtures/', import.meta.url));
const fixture = (rel: string): string => readFileSync(join(FIX, rel), 'utf8');
const IPTABLES = fixture('tool-output/iptables-nft-save.txt');
const CLUSTER = join(FIX, 'dataplane/upstream-cluster.yaml');

function bundle(t: import('ava').ExecutionContext, files: Record<string, string | Buffer>): string {
  const dir = tempDir(t, 'nc-bundle-');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** `text` with `from` replaced exactly once (a fixture that changed would fail here, not pass vacuously). */
function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`expected exactly one ${JSON.stringify(from)} in the fixture`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** 1-based line of the first line of `text` that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`no ${JSON.stringify(needle)} in the fixture`);
  return text.slice(0, at).split('\n').length;
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

// #25: a fuzzing round (600 bundles mutated from real ones) found four ways bad input got
// through, or was refused on more than one line. Each is the exact mutation reported.

test('#25: a jump to an undeclared chain is refused whatever follows the target (IPVS-mode bundle, MARK options)', async (t) => {
  const mutated = replaceOnce(IPTABLES, '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000', '-A KUBE-MARK-MASQ -j KUBE-SVC-NOSUCHCHAIN0000 --set-xmark 0x4000/0x4000');
  const dir = bundle(t, { 'node.txt': 'node-1\n', 'ipvsadm.txt': fixture('upstream/ipvsadm-example.txt'), 'iptables-save.txt': mutated });
  const r = await runProgram('agent', ['scan', '--from', dir, '--cluster', join(FIX, 'dataplane/ipvsadm-example-cluster.yaml')]);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.is(r.stderr, `netconform-agent: ${join(dir, 'iptables-save.txt')}:${lineOf(mutated, 'NOSUCHCHAIN')}: rule in chain "KUBE-MARK-MASQ" jumps to chain "KUBE-SVC-NOSUCHCHAIN0000", which table "nat" does not declare\n`);
});

test('#25: a jump to an undeclared chain is refused whatever follows the target (Calico bundle, DNAT options in a packed KUBE-SEP chain)', async (t) => {
  const from = '-A KUBE-SEP-C6EBXVWJJZMIWKLZ -p tcp -m comment --comment "ns4/svc4:p80" -m tcp -j DNAT --to-destination 10.180.0.5:80';
  const mutated = replaceOnce(IPTABLES, from, from.replace('-j DNAT', '-j KUBE-SVC-NOSUCHCHAIN0000'));
  const dir = bundle(t, {
    'node.txt': 'test-node\n', 'iptables-save.txt': mutated,
    'cni/10-calico.conflist': fixture('cni/calico/net.d/10-calico.conflist'), 'cni-bin.txt': fixture('cni/calico/cni-bin.txt'),
  });
  const r = await runProgram('agent', ['scan', '--from', dir, '--cluster', CLUSTER]);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.is(r.stderr, `netconform-agent: ${join(dir, 'iptables-save.txt')}:${lineOf(mutated, 'NOSUCHCHAIN')}: rule in chain "KUBE-SEP-C6EBXVWJJZMIWKLZ" jumps to chain "KUBE-SVC-NOSUCHCHAIN0000", which table "nat" does not declare\n`);
});

test('#25: iptables-save: `-j NAME` that is neither a target nor a declared chain is refused with or without options, by both readers', (t) => {
  const head = '*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-SEP-A - [0:0]\n';
  for (const fastPath of [true, false]) {
    const parse = (rule: string) => () => parseIptablesSave(`${head}${rule}\nCOMMIT\n`, { backend: 'iptables-nft', family: 4, file: 'iptables-save.txt', fastPath });
    refusal(t, parse('-A KUBE-MARK-MASQ -j NOSUCHCHAIN'), 'iptables-save.txt:5: rule in chain "KUBE-MARK-MASQ" jumps to chain "NOSUCHCHAIN", which table "nat" does not declare');
    refusal(t, parse('-A KUBE-MARK-MASQ -j KUBE-SVC-NOSUCHCHAIN0000 --set-xmark 0x4000/0x4000'), 'iptables-save.txt:5: rule in chain "KUBE-MARK-MASQ" jumps to chain "KUBE-SVC-NOSUCHCHAIN0000", which table "nat" does not declare');
    refusal(t, parse('-A KUBE-SEP-A -p tcp -m tcp -j KUBE-SVC-NOSUCHCHAIN0000 --to-destination 10.180.0.5:80'), 'iptables-save.txt:5: rule in chain "KUBE-SEP-A" jumps to chain "KUBE-SVC-NOSUCHCHAIN0000", which table "nat" does not declare');
    refusal(t, parse('-A PREROUTING -g KUBE-SVC-NOSUCHCHAIN0000 --random'), 'iptables-save.txt:5: rule in chain "PREROUTING" goes to chain "KUBE-SVC-NOSUCHCHAIN0000", which table "nat" does not declare');
    // A declared chain takes no options either: iptables would have loaded an extension of that name.
    refusal(t, parse('-A PREROUTING -j KUBE-MARK-MASQ --set-xmark 0x4000/0x4000'), 'iptables-save.txt:5: rule in chain "PREROUTING" jumps to chain "KUBE-MARK-MASQ" with "--set-xmark 0x4000/0x4000", but a jump to a chain takes no options');
  }
});

test('#25: iptables-save: built-in and extension targets, with and without options, are not taken for chains', (t) => {
  const rules = [
    '-j ACCEPT', '-j DROP', '-j RETURN', '-j QUEUE', '-j REJECT --reject-with icmp-port-unreachable', '-j DNAT --to-destination 10.0.0.1:80',
    '-j SNAT --to-source 10.0.0.1', '-j MASQUERADE --random-fully', '-j MARK --set-xmark 0x4000/0x4000', '-j CONNMARK --save-mark',
    '-j LOG --log-prefix "x: "', '-j NFLOG --nflog-group 1', '-j NOTRACK', '-j CT --notrack', '-j TPROXY --on-port 1 --tproxy-mark 0x1/0x1',
    '-j REDIRECT --to-ports 15001', '-j TCPMSS --clamp-mss-to-pmtu', '-j CHECKSUM --checksum-fill', '-j AUDIT --type accept',
    '-j SET --add-set s src', '-j CLASSIFY --set-class 1:1', '-j NFQUEUE --queue-num 1', '-j TRACE', '-j ULOG', '-j TEE --gateway 10.0.0.9',
  ];
  const text = `*mangle\n:PREROUTING ACCEPT [0:0]\n${rules.map((r) => `-A PREROUTING ${r}`).join('\n')}\nCOMMIT\n`;
  for (const fastPath of [true, false]) {
    const rs = parseIptablesSave(text, { backend: 'iptables-nft', family: 4, file: 'iptables-save.txt', fastPath });
    const verdicts = rs.tables[0]!.chains.get('PREROUTING')!.rules.map((r) => r.verdict.kind);
    t.is(verdicts.length, rules.length);
    t.deepEqual(verdicts.filter((k) => k === 'jump' || k === 'goto'), []);
  }
});

test('#25: nft -j: a jump or goto to a chain its table does not hold is refused with its JSON path', async (t) => {
  const text = fixture('tool-output/nft-kube-proxy.json');
  const parse = (mutated: string) => () => parseNftJson(mutated, { file: 'nft.json' });
  // A verdict-map element (service-ips sends 1.2.3.4:80 to an external-… chain).
  const inMap = replaceOnce(text, '[{"concat": ["1.2.3.4", "tcp", 80]}, {"goto": {"target": "external-42NFTM6N-ns2/svc2/tcp/p80"}}]', '[{"concat": ["1.2.3.4", "tcp", 80]}, {"goto": {"target": "no-such-chain-zz"}}]');
  const indexOf = (mutated: string, pred: (o: Record<string, { name?: string; handle?: number }>) => boolean): number => (JSON.parse(mutated) as { nftables: Record<string, { name?: string; handle?: number }>[] }).nftables.findIndex(pred);
  const mapIdx = indexOf(inMap, (o) => o['map']?.name === 'service-ips');
  refusal(t, parse(inMap), `nft.json: nftables[${mapIdx}].map.elem[0][1].goto.target: refers to chain "no-such-chain-zz", which table ip kube-proxy does not declare`);
  // A rule's own goto (the external-… chain of svc3 retargeted).
  const inRule = replaceOnce(text, '"chain": "external-4AT6LBPK-ns3/svc3/tcp/p80", "handle": 81, "expr": [{"goto": {"target": "service-4AT6LBPK-ns3/svc3/tcp/p80"}}]', '"chain": "external-4AT6LBPK-ns3/svc3/tcp/p80", "handle": 81, "expr": [{"goto": {"target": "no-such-chain-zz"}}]');
  const ruleIdx = indexOf(inRule, (o) => o['rule']?.handle === 81);
  refusal(t, parse(inRule), `nft.json: nftables[${ruleIdx}].rule.expr[0].goto.target: refers to chain "no-such-chain-zz", which table ip kube-proxy does not declare`);
  // A jump, and a numgen vmap's inline verdict (a service chain's endpoint).
  const inJump = replaceOnce(text, '"handle": 56, "expr": [{"jump": {"target": "services"}}]', '"handle": 56, "expr": [{"jump": {"target": "no-such-chain-zz"}}]');
  const jumpIdx = indexOf(inJump, (o) => o['rule']?.handle === 56);
  refusal(t, parse(inJump), `nft.json: nftables[${jumpIdx}].rule.expr[0].jump.target: refers to chain "no-such-chain-zz", which table ip kube-proxy does not declare`);
  const inVmap = replaceOnce(text, '[[0, {"goto": {"target": "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"}}]]', '[[0, {"goto": {"target": "no-such-chain-zz"}}]]');
  const vmapIdx = indexOf(inVmap, (o) => o['rule']?.handle === 66);
  refusal(t, parse(inVmap), `nft.json: nftables[${vmapIdx}].rule.expr[0].vmap.data.set[0][1].goto.target: refers to chain "no-such-chain-zz", which table ip kube-proxy does not declare`);

  // From a bundle: exit 2, where it used to pass with exit 0.
  const dir = bundle(t, { 'node.txt': 'test-node\n', 'nft.json': inMap });
  const r = await runProgram('agent', ['scan', '--from', dir, '--cluster', CLUSTER]);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.is(r.stderr, `netconform-agent: ${join(dir, 'nft.json')}: nftables[${mapIdx}].map.elem[0][1].goto.target: refers to chain "no-such-chain-zz", which table ip kube-proxy does not declare\n`);
});

test('#25: invalid UTF-8 inside a value of cluster.json is refused on one line naming line and column', async (t) => {
  // kubectl get -o json of the cluster fixture, with the fuzzer's invalid bytes inside `"port": 80`.
  const json = JSON.stringify(parseYaml(readFileSync(CLUSTER, 'utf8')), null, 4) + '\n';
  const at = json.indexOf('"port": 80') + '"port": '.length;
  const bytes = Buffer.concat([Buffer.from(json.slice(0, at)), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]), Buffer.from(json.slice(at))]);
  const line = json.slice(0, at).split('\n').length;
  const column = at - json.lastIndexOf('\n', at - 1);
  const dir = bundle(t, { 'node.txt': 'test-node\n', 'cluster.json': bytes });
  const r = await runProgram('agent', ['scan', '--from', dir, '--cluster', join(dir, 'cluster.json')]);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  // (U+FFFD is what the invalid bytes decode to; the V8 message quoted the text around it, line breaks and all.)
  t.is(r.stderr, `netconform-agent: ${join(dir, 'cluster.json')}:${line}:${column}: invalid JSON: Unexpected token '\uFFFD' in JSON at position ${at}\n`);
});

test('#25: JSON syntax errors are one line with line and column, whatever V8 quotes', (t) => {
  refusal(t, () => parseIpRoutes('[{"dst":\n"default", "gateway": x\n}]', 'ip-route.json'), 'ip-route.json:2:23: invalid JSON: Unexpected token \'x\' in JSON at position 31');
  refusal(t, () => parseIpRoutes('[{"dst": tru}]', 'ip-route.json'), 'ip-route.json:1:13: invalid JSON: Unexpected token \'}\' in JSON at position 12');
  refusal(t, () => parseIpRoutes('[\n\u0001]', 'ip-route.json'), 'ip-route.json:2:1: invalid JSON: Unexpected token \'\\u0001\' in JSON at position 2');
  refusal(t, () => parseIpRoutes(`${'['.repeat(10_000)}x`, 'ip-route.json'), 'ip-route.json:1:10001: invalid JSON: Unexpected token \'x\' in JSON at position 10000');
});

test('#25: a 1 MB token is quoted as 80 characters, its first 79 and an ellipsis (ipvsadm.txt, ipset-save.txt)', async (t) => {
  const token = 'a'.repeat(1 << 20);
  const quotedToken = `"${'a'.repeat(79)}…"`;
  const ipvsadm = replaceOnce(fixture('tool-output/ipvsadm-save.txt'), '-A -t 10.96.0.10:53 -s rr', `-A -t ${token} -s rr`);
  const ipset = replaceOnce(fixture('tool-output/ipset-save.txt'), 'add KUBE-CLUSTER-IP 10.96.0.10,tcp:53', `add ${token} 10.96.0.10,tcp:53`);
  for (const [name, text, reason] of [
    ['ipvsadm.txt', ipvsadm, `virtual service ${quotedToken} is not ADDRESS:PORT (an IPv4 or [IPv6] address)`],
    ['ipset-save.txt', ipset, `entry for undeclared set ${quotedToken}`],
  ] as const) {
    const dir = bundle(t, { 'node.txt': 'test-node\n', [name]: text });
    const r = await runProgram('agent', ['scan', '--from', dir]);
    t.is(r.code, 2, name);
    t.is(r.stdout, '', name);
    t.is(r.stderr, `netconform-agent: ${join(dir, name)}:${lineOf(text, token)}: ${reason}\n`, name);
  }
  const line = `-A -t 10.96.0.1:443 -s rr ${token}`;
  refusal(t, () => parseIpvsadm(`${line}\n`, 'ipvsadm.txt'), `ipvsadm.txt:1: unexpected ${quotedToken} in "${line.slice(0, 79)}…"`);
  refusal(t, () => parseIptablesSave(`*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -s ${token}\nCOMMIT\n`, { backend: 'iptables-nft', family: 4, file: 'iptables-save.txt' }), `iptables-save.txt:3: ${quotedToken} is not an address or prefix`);
});

test('#25: every refusal is one line of bounded length, whatever the input puts into it', (t) => {
  // The last guard, for reasons that interpolate input without quoted(): line breaks escaped, length capped.
  const e = new InputError('x.txt', `bad "${'b'.repeat(5000)}\nsecond line"`, 3);
  t.is(e.message, `x.txt:3: bad "${'b'.repeat(400 - 'bad "'.length - 1)}…`);
  t.is(new InputError('x.txt', 'a\nb\r\u2028c\u001b[31m', 1).message, 'x.txt:1: a\\nb\\r\\u2028c\\u001b[31m');
  refusal(t, () => parseIpsetSave('create S hash:ip\nadd S 10.0.0.1\u001b]0;pwned\u0007\n', 'ipset-save.txt'), 'ipset-save.txt:2: set "S" (hash:ip): entry "10.0.0.1\\u001b]0;pwned\\u0007" part 1 "10.0.0.1\\u001b]0;pwned\\u0007" is not an IP address');
});

test('#25: live, a dump with a jump to a missing chain is an error finding naming the tool and line or path, never a pass', (t) => {
  const iptables = replaceOnce(IPTABLES, '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000', '-A KUBE-MARK-MASQ -j KUBE-SVC-NOSUCHCHAIN0000 --set-xmark 0x4000/0x4000');
  const nft = replaceOnce(fixture('tool-output/nft-kube-proxy.json'), '"handle": 56, "expr": [{"jump": {"target": "services"}}]', '"handle": 56, "expr": [{"jump": {"target": "no-such-chain-zz"}}]');
  const nftIdx = (JSON.parse(nft) as { nftables: Record<string, { handle?: number }>[] }).nftables.findIndex((o) => o['rule']?.handle === 56);
  // The finding names the tool that printed the dump, with the line (iptables) or JSON path (nft).
  for (const [dataplane, where, reason] of [
    [{ iptables: { nft: iptables } }, `iptables-nft-save:${lineOf(iptables, 'NOSUCHCHAIN')}`, 'rule in chain "KUBE-MARK-MASQ" jumps to chain "KUBE-SVC-NOSUCHCHAIN0000", which table "nat" does not declare'],
    [{ nftJson: nft }, 'nft -j list ruleset', `nftables[${nftIdx}].rule.expr[0].jump.target: refers to chain "no-such-chain-zz", which table ip kube-proxy does not declare`],
  ] as const) {
    const snapshot: NodeSnapshot = { node: 'test-node', capturedAt: '2026-12-07T19:00:00Z', source: 'live', dataplane };
    const r = scanSnapshot(snapshot, readClusterFile(CLUSTER), { only: ['service-routing.clusterip', 'no-nat.pod-to-pod'] });
    const message = `cannot judge: ${where}: ${reason}`;
    t.deepEqual(r.findings.map((f) => `${f.check} ${f.status} ${f.message}`), [`service-routing.clusterip error ${message}`, `no-nat.pod-to-pod error ${message}`]);
  }
});
