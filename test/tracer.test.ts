// Tracer units: each match and verdict kind, jump/return/goto, negation, probabilities,
// sets and maps, and unknown matches (never a guessed pass). Rules are written as
// iptables-save text or nft JSON and parsed, so the tests read like the rules they model.
import test from 'ava';
import { parseIptablesSave } from '../agent/dataplane/iptables-save.js';
import { parseNftJson } from '../agent/dataplane/nft-json.js';
import { parseIpsetSave } from '../agent/dataplane/ipset.js';
import { trace, type TracePacket, type TraceOutcome } from '../agent/dataplane/tracer.js';
import type { Table } from '../agent/dataplane/model.js';

const ipt = (nat: string, filter = ''): Table[] => parseIptablesSave(`*nat\n:PREROUTING ACCEPT [0:0]\n${nat}\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n${filter}\nCOMMIT\n`, { backend: 'iptables-nft', family: 4, file: 't' }).tables as Table[];
const pkt: TracePacket = { src: '10.244.1.5', dst: '10.96.0.10', proto: 'tcp', dport: 80, iif: 'cni0' };
const run = (tables: Table[], p: Partial<TracePacket> = {}, local: string[] = ['192.168.0.2'], ipsets = new Map()): TraceOutcome[] =>
  trace({ ...pkt, ...p }, { tables, localAddresses: local, ipsets }, { stopBefore: 'postrouting' });
const summary = (os: TraceOutcome[]): string[] => os.map((o) => `${o.verdict}${o.dnat ? ` ${o.dnat.addr}:${o.dnat.port}` : ''} ${o.probability.toFixed(4)}`).sort();

test('address, protocol, port and interface matches, with negation', (t) => {
  const tables = ipt(':A - [0:0]\n-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -i cni+ ! -s 10.0.0.0/8 -j DNAT --to-destination 1.1.1.1:1\n-A PREROUTING -d 10.96.0.0/16 -p tcp -m tcp --dport 80:90 -i cni+ -j DNAT --to-destination 2.2.2.2:2');
  t.deepEqual(summary(run(tables)), ['accept 2.2.2.2:2 1.0000']);
  t.deepEqual(summary(run(tables, { src: '172.16.0.1' })), ['accept 1.1.1.1:1 1.0000']);
  t.deepEqual(summary(run(tables, { dport: 91 })), ['accept 1.0000']);
  t.deepEqual(summary(run(tables, { proto: 'udp' })), ['accept 1.0000']);
  t.deepEqual(summary(run(tables, { iif: 'eth0' })), ['accept 1.0000']);
});

test('statistic random forks: three endpoints get a third each, and the rule path is kept', (t) => {
  const tables = ipt(':S - [0:0]\n:E1 - [0:0]\n:E2 - [0:0]\n:E3 - [0:0]\n-A PREROUTING -j S\n'
    + '-A S -m statistic --mode random --probability 0.33333333349 -j E1\n-A S -m statistic --mode random --probability 0.50000000000 -j E2\n-A S -j E3\n'
    + '-A E1 -p tcp -j DNAT --to-destination 10.0.0.1:80\n-A E2 -p tcp -j DNAT --to-destination 10.0.0.2:80\n-A E3 -p tcp -j DNAT --to-destination 10.0.0.3:80');
  const os = run(tables);
  t.deepEqual(summary(os), ['accept 10.0.0.1:80 0.3333', 'accept 10.0.0.2:80 0.3333', 'accept 10.0.0.3:80 0.3333']);
  t.deepEqual(os[0]!.path.map((s) => `${s.chain}#${s.rule}`), ['PREROUTING#1', 'S#1', 'E1#1']);
  t.regex(os[0]!.path[1]!.text, /--probability 0.33333333349/);
});

test('jump returns to the caller, goto does not, RETURN pops, falling off a user chain returns', (t) => {
  const tables = ipt(':A - [0:0]\n:B - [0:0]\n:C - [0:0]\n-A PREROUTING -j A\n-A PREROUTING -j DNAT --to-destination 9.9.9.9:9\n'
    + '-A A -j MARK --set-xmark 0x1/0xffffffff\n-A A -m mark --mark 0x1 -j B\n-A A -j DNAT --to-destination 1.1.1.1:1\n'
    + '-A B -j RETURN\n-A B -j DNAT --to-destination 2.2.2.2:2');
  t.deepEqual(summary(run(tables)), ['accept 1.1.1.1:1 1.0000']);
  const g = ipt(':A - [0:0]\n:B - [0:0]\n-A PREROUTING -j A\n-A PREROUTING -j DNAT --to-destination 9.9.9.9:9\n-A A -g B\n-A A -j DNAT --to-destination 1.1.1.1:1\n-A B -m comment --comment "falls off"');
  t.deepEqual(summary(run(g)), ['accept 9.9.9.9:9 1.0000'], 'end of a goto target returns to the chain that jumped to A');
});

test('marks (or/xor/xmark), conntrack state and addrtype against the node addresses', (t) => {
  const tables = ipt(':M - [0:0]\n-A PREROUTING -j MARK --or-mark 0x4000\n-A PREROUTING -m mark ! --mark 0x4000/0x4000 -j DROP\n'
    + '-A PREROUTING -m conntrack --ctstate NEW -m addrtype --dst-type LOCAL -j DNAT --to-destination 3.3.3.3:3');
  t.deepEqual(summary(run(tables, { dst: '192.168.0.2' })), ['accept 3.3.3.3:3 1.0000']);
  t.deepEqual(summary(run(tables)), ['accept 1.0000']);
  t.is(run(tables)[0]!.mark, 0x4000);
});

test('REJECT and DROP in filter after routing; DNAT changes what filter sees', (t) => {
  const tables = ipt('-A PREROUTING -d 10.96.0.11/32 -j DNAT --to-destination 10.244.2.2:80',
    ':KUBE-SERVICES - [0:0]\n-A FORWARD -j KUBE-SERVICES\n-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable\n-A INPUT -p tcp --dport 22 -j DROP');
  t.deepEqual(summary(run(tables)), ['reject 1.0000']);
  t.deepEqual(summary(run(tables, { dst: '10.96.0.11' })), ['accept 10.244.2.2:80 1.0000']);
  t.deepEqual(summary(run(tables, { dst: '192.168.0.2', dport: 22 })), ['drop 1.0000'], 'a local destination goes to INPUT');
});

test('ipset lookups by dimension and direction', (t) => {
  const sets = parseIpsetSave('create KUBE-CLUSTER-IP hash:ip,port family inet\nadd KUBE-CLUSTER-IP 10.96.0.10,tcp:80\ncreate NETS hash:net family inet\nadd NETS 10.244.0.0/16\n', 'ipset');
  const tables = ipt('-A PREROUTING -m set --match-set NETS src -m set --match-set KUBE-CLUSTER-IP dst,dst -j DNAT --to-destination 5.5.5.5:5');
  t.deepEqual(summary(run(tables, {}, [], sets)), ['accept 5.5.5.5:5 1.0000']);
  t.deepEqual(summary(run(tables, { dport: 81 }, [], sets)), ['accept 1.0000']);
  t.deepEqual(summary(run(tables, { src: '10.1.1.1' }, [], sets)), ['accept 1.0000']);
  t.is(run(tables, {}, [], new Map())[0]!.verdict, 'unknown', 'a set that was not read is unknown, not a miss');
});

test('an unmodelled match makes the outcome unknown with the rule; a false match before it short-circuits', (t) => {
  const tables = ipt('-A PREROUTING -p udp -m physdev --physdev-is-in -j DROP\n-A PREROUTING -p tcp -m physdev --physdev-is-in -j DROP\n-A PREROUTING -j DNAT --to-destination 1.1.1.1:1');
  const os = run(tables);
  t.is(os.length, 1);
  t.is(os[0]!.verdict, 'unknown');
  t.is(os[0]!.unknown!.step.rule, 2);
  t.regex(os[0]!.unknown!.reason, /physdev/);
  t.regex(os[0]!.unknown!.step.text, /-p tcp -m physdev/);
});

test('recent: a fresh client misses --rcheck; --set records affinity', (t) => {
  const tables = ipt(':S - [0:0]\n:E1 - [0:0]\n-A PREROUTING -j S\n-A S -m recent --rcheck --seconds 10800 --reap --name E1 --mask 255.255.255.255 --rsource -j DROP\n-A S -j E1\n'
    + '-A E1 -p tcp -m recent --set --name E1 --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.0.0.1:80');
  const os = run(tables);
  t.deepEqual(summary(os), ['accept 10.0.0.1:80 1.0000']);
  t.deepEqual(os[0]!.affinity, ['recent:E1']);
});

const nftDoc = (objs: unknown[]): string => JSON.stringify({ nftables: [{ metainfo: { json_schema_version: 1 } }, { table: { family: 'ip', name: 'kp', handle: 1 } }, ...objs] });
const daddr = { payload: { protocol: 'ip', field: 'daddr' } };
const tuple = { concat: [daddr, { meta: { key: 'l4proto' } }, { payload: { protocol: 'th', field: 'dport' } }] };

test('nft: verdict map lookup by concatenated key, numgen vmap and dnat map fork evenly, fib and set lookups', (t) => {
  const rs = parseNftJson(nftDoc([
    { map: { family: 'ip', table: 'kp', name: 'service-ips', type: ['ipv4_addr', 'inet_proto', 'inet_service'], map: 'verdict', elem: [[{ concat: ['10.96.0.10', 'tcp', 80] }, { goto: { target: 'svc' } }], [{ concat: ['10.96.0.11', 'tcp', 80] }, { goto: { target: 'svc2' } }]] } },
    { set: { family: 'ip', table: 'kp', name: 'aff', type: 'ipv4_addr', flags: ['timeout'], timeout: 10800 } },
    { chain: { family: 'ip', table: 'kp', name: 'pre', type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
    { chain: { family: 'ip', table: 'kp', name: 'svc' } },
    { chain: { family: 'ip', table: 'kp', name: 'svc2' } },
    { chain: { family: 'ip', table: 'kp', name: 'ep1' } },
    { chain: { family: 'ip', table: 'kp', name: 'ep2' } },
    { rule: { family: 'ip', table: 'kp', chain: 'pre', handle: 1, expr: [{ match: { op: '==', left: { fib: { result: 'type', flags: ['daddr'] } }, right: 'local' } }, { drop: null }] } },
    { rule: { family: 'ip', table: 'kp', chain: 'pre', handle: 2, expr: [{ vmap: { key: tuple, data: '@service-ips' } }] } },
    { rule: { family: 'ip', table: 'kp', chain: 'svc', handle: 3, expr: [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@aff' } }, { goto: { target: 'ep1' } }] } },
    { rule: { family: 'ip', table: 'kp', chain: 'svc', handle: 4, expr: [{ vmap: { key: { numgen: { mode: 'random', mod: 2, offset: 0 } }, data: { set: [[0, { goto: { target: 'ep1' } }], [1, { goto: { target: 'ep2' } }]] } } }] } },
    { rule: { family: 'ip', table: 'kp', chain: 'ep1', handle: 5, expr: [{ set: { op: 'update', elem: { payload: { protocol: 'ip', field: 'saddr' } }, set: '@aff' } }, { dnat: { addr: '10.0.0.1', port: 80 } }] } },
    { rule: { family: 'ip', table: 'kp', chain: 'ep2', handle: 6, expr: [{ dnat: { addr: '10.0.0.2', port: 80 } }] } },
    { rule: { family: 'ip', table: 'kp', chain: 'svc2', handle: 7, expr: [{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, { dnat: { family: 'ip', addr: { map: { key: { numgen: { mode: 'random', mod: 4, offset: 0 } }, data: { set: [[0, { concat: ['10.0.3.2', 80] }], [1, { concat: ['10.0.3.3', 80] }], [2, { concat: ['10.0.3.2', 80] }], [3, { concat: ['10.0.3.3', 80] }]] } } } } }] } },
  ]), { file: 'nft.json' });
  const tables = rs.tables as Table[];
  const os = run(tables);
  t.deepEqual(summary(os), ['accept 10.0.0.1:80 0.5000', 'accept 10.0.0.2:80 0.5000']);
  t.deepEqual(os.find((o) => o.dnat?.addr === '10.0.0.1')!.affinity, ['set:aff']);
  t.deepEqual(summary(run(tables, { dst: '10.96.0.11' })), ['accept 10.0.3.2:80 0.2500', 'accept 10.0.3.2:80 0.2500', 'accept 10.0.3.3:80 0.2500', 'accept 10.0.3.3:80 0.2500']);
  t.deepEqual(summary(run(tables, { dst: '192.168.0.2' })), ['drop 1.0000']);
  t.deepEqual(summary(run(tables, { dst: '10.96.0.12' })), ['accept 1.0000']);
  t.regex(os[0]!.path[0]!.text, /ip daddr \. meta l4proto \. th dport vmap @service-ips/);
});

test('nft: an unknown statement is kept verbatim and makes the outcome unknown', (t) => {
  const rs = parseNftJson(nftDoc([
    { chain: { family: 'ip', table: 'kp', name: 'pre', type: 'filter', hook: 'prerouting', prio: 0, policy: 'accept' } },
    { rule: { family: 'ip', table: 'kp', chain: 'pre', handle: 9, expr: [{ match: { op: '==', left: { osf: { key: 'name' } }, right: 'Linux' } }, { drop: null }] } },
  ]), { file: 'nft.json' });
  const os = run(rs.tables as Table[]);
  t.is(os[0]!.verdict, 'unknown');
  t.regex(os[0]!.unknown!.reason, /osf/);
  t.is(os[0]!.unknown!.step.origin, 'nft.json handle 9');
});

test('parse errors name the file and line', (t) => {
  const e = t.throws(() => parseIptablesSave('*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -s not-an-ip -j ACCEPT\nCOMMIT\n', { backend: 'iptables-nft', family: 4, file: 'iptables-save.txt' }));
  t.regex(e!.message, /^iptables-save\.txt:3: /);
  const e2 = t.throws(() => parseNftJson('{"nftables": 3}', { file: 'nft.json' }));
  t.regex(e2!.message, /^nft\.json: /);
});
