// Per-Service incremental re-judging (agent/dataplane/trace-memo.ts): the Service traces of
// the previous dump that read nothing that changed are carried to the new one. Proven on the
// real kube-proxy's recorded rules (dual-stack, iptables and nftables, both pinned releases):
// after any sequence of rules deleted, duplicated or moved, set elements removed, a rule
// every packet meets, node addresses and endpoints changed, the checks on the carried memo
// give exactly the findings of a scan from scratch; and one endpoint change costs one trace.
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseClusterObjects, parseClusterText, type ClusterContext } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { scanSnapshot } from '../agent/scan.js';
import type { NodeSnapshot } from '../agent/snapshot.js';
import { dataplaneOf, type Dataplane } from '../agent/dataplane/load.js';
import { nodeView } from '../agent/dataplane/routing.js';
import { carryTraceMemo, keepTraces, memoFor } from '../agent/dataplane/trace-memo.js';
import { EXTERNAL_CLIENT } from '../agent/dataplane/routing.js';
import { largeCluster, renderClusterJson, renderIptables } from '../agent/dataplane/testing/generate.js';

const SR = ['service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules', 'no-nat.pod-to-pod'];
const RECORDINGS = ['v1.37.2-iptables', 'v1.35.4-iptables', 'v1.37.2-nftables', 'v1.35.4-nftables'];
const dirOf = (name: string): string => new URL(`./fixtures/kube-proxy-real/dual-stack/${name}/`, import.meta.url).pathname;

function contextOf(dir: string, edit?: (objects: unknown[]) => unknown[]): ClusterContext {
  const objects = parseClusterText(readFileSync(join(dir, 'cluster.json'), 'utf8'), 'cluster.json');
  return parseClusterObjects(edit ? edit(objects) : objects);
}

const scan = (s: NodeSnapshot, cluster: ClusterContext): readonly Finding[] => scanSnapshot(s, cluster, { only: SR, now: new Date(s.capturedAt) }).findings;

/** The memo of a snapshot's dataplane, as the service checks use it. */
function memoOf(s: NodeSnapshot, cluster: ClusterContext) {
  return memoFor(dataplaneOf(s)!, nodeView(s, cluster).localAddresses)!;
}

/** Keeps the Service traces of a snapshot's rules, as the run loop does with each of its scans. */
function kept(s: NodeSnapshot): NodeSnapshot {
  keepTraces(dataplaneOf(s)!);
  return s;
}

type Op =
  | { readonly kind: 'delete-rule' | 'duplicate-rule' | 'swap-rules'; readonly at: number; readonly v6: boolean }
  | { readonly kind: 'delete-element'; readonly at: number; readonly k: number }
  | { readonly kind: 'drop-first'; readonly v6: boolean }
  | { readonly kind: 'revert' | 'local-address' | 'endpoint-gone' | 'same' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('delete-rule' as const, 'duplicate-rule' as const, 'swap-rules' as const), at: fc.nat(), v6: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete-element' as const), at: fc.nat(), k: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop-first' as const), v6: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('revert' as const, 'local-address' as const, 'endpoint-gone' as const, 'same' as const) }) },
);

/** One step of rules: the iptables texts (IPv4, IPv6) or the nft JSON document. */
interface Rules { v4?: string; v6?: string; nft?: { nftables: Record<string, unknown>[] } }

function applyToIptables(text: string, op: Op): string {
  const lines = text.split('\n');
  const rules = lines.flatMap((l, i) => (l.startsWith('-A ') ? [i] : []));
  if (rules.length === 0) return text;
  if (op.kind === 'drop-first') {
    // A rule every packet meets first: nat PREROUTING's first rule drops everything.
    const i = lines.findIndex((l) => l.startsWith('-A PREROUTING'));
    lines.splice(i, 0, '-A PREROUTING -j DROP');
    return lines.join('\n');
  }
  if (op.kind !== 'delete-rule' && op.kind !== 'duplicate-rule' && op.kind !== 'swap-rules') return text;
  const i = rules[op.at % rules.length]!;
  if (op.kind === 'delete-rule') lines.splice(i, 1);
  else if (op.kind === 'duplicate-rule') lines.splice(i, 0, lines[i]!);
  else if (lines[i + 1]?.startsWith(lines[i]!.split(' ', 2).join(' ') + ' ')) [lines[i], lines[i + 1]] = [lines[i + 1]!, lines[i]!];
  return lines.join('\n');
}

function applyToNft(doc: Rules['nft'], op: Op): Rules['nft'] {
  const items = structuredClone(doc!.nftables);
  const ruleAt = items.flatMap((x, i) => ('rule' in x ? [i] : []));
  if (op.kind === 'delete-rule' || op.kind === 'duplicate-rule' || op.kind === 'swap-rules') {
    const i = ruleAt[op.at % ruleAt.length]!;
    if (op.kind === 'delete-rule') items.splice(i, 1);
    else if (op.kind === 'duplicate-rule') items.splice(i, 0, structuredClone(items[i]!));
    else if (ruleAt.includes(i + 1)) [items[i], items[i + 1]] = [items[i + 1]!, items[i]!];
  } else if (op.kind === 'delete-element') {
    const withElems = items.filter((x) => { const s = (x['set'] ?? x['map']) as { elem?: unknown[] } | undefined; return (s?.elem?.length ?? 0) > 0; });
    if (withElems.length > 0) {
      const s = (withElems[op.at % withElems.length]!['set'] ?? withElems[op.at % withElems.length]!['map']) as { elem: unknown[] };
      s.elem.splice(op.k % s.elem.length, 1);
    }
  } else if (op.kind === 'drop-first') {
    const chainOf = (x: Record<string, unknown>): Record<string, unknown> => x['rule'] as Record<string, unknown>;
    const first = ruleAt.find((i) => { const r = chainOf(items[i]!); return r['chain'] === 'nat-prerouting' && r['family'] === (op.v6 ? 'ip6' : 'ip'); });
    if (first !== undefined) {
      const r = chainOf(items[first]!);
      items.splice(first, 0, { rule: { family: r['family'], table: r['table'], chain: r['chain'], handle: 99999, expr: [{ drop: null }] } });
    }
  }
  return { nftables: items };
}

function snapshotOf(base: NodeSnapshot, rules: Rules, extraLocal: boolean): NodeSnapshot {
  const dp = base.dataplane!;
  const links = extraLocal
    ? base.links!.map((l, i) => (i === base.links!.findIndex((x) => x.addresses.some((a) => a.family === 4 && a.scope === 'global' && x.kind !== 'bridge'))
      ? { ...l, addresses: [...l.addresses, { family: 4 as const, address: EXTERNAL_CLIENT[4], prefixLength: 32, scope: 'global' }] } : l))
    : base.links!;
  return {
    ...base, links,
    dataplane: {
      ...dp,
      ...(rules.v4 !== undefined ? { iptables: { nft: rules.v4 } } : {}),
      ...(rules.v6 !== undefined ? { ip6tables: { nft: rules.v6 } } : {}),
      ...(rules.nft !== undefined ? { nftJson: JSON.stringify(rules.nft) } : {}),
    },
  };
}

for (const name of RECORDINGS) {
  test(`property (${name}): after any sequence of rule, set, address and endpoint changes, the carried traces give a scan from scratch's findings`, async (t) => {
    const dir = dirOf(name);
    const recorded = readBundle(dir);
    const original: Rules = name.endsWith('nftables')
      ? { nft: JSON.parse(recorded.dataplane!.nftJson!) as Rules['nft'] }
      : { v4: recorded.dataplane!.iptables!.nft!, v6: recorded.dataplane!.ip6tables!.nft! };
    const fullCluster = contextOf(dir);
    // One endpoint fewer in the API (kube-proxy not caught up): the traces hold, the verdicts change.
    const lessCluster = contextOf(dir, (objects) => objects.map((o) => {
      const x = o as { kind?: string; endpoints?: unknown[] };
      return x.kind === 'EndpointSlice' && (x.endpoints?.length ?? 0) > 1 ? { ...x, endpoints: x.endpoints!.slice(1) } : x;
    }));
    let hits = 0, carriedSteps = 0;
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 10 }), async (ops) => {
      let rules = original;
      let extraLocal = false;
      let cluster = fullCluster;
      let prev = kept(snapshotOf(recorded, rules, extraLocal));
      scan(prev, cluster);
      for (const op of ops) {
        if (op.kind === 'revert') rules = original;
        else if (op.kind === 'local-address') extraLocal = !extraLocal;
        else if (op.kind === 'endpoint-gone') cluster = cluster === fullCluster ? lessCluster : fullCluster;
        else if (op.kind !== 'same') {
          rules = rules.nft
            ? { nft: applyToNft(rules.nft, op) }
            : { v4: 'v6' in op && op.v6 ? rules.v4! : applyToIptables(rules.v4!, op), v6: 'v6' in op && op.v6 ? applyToIptables(rules.v6!, op) : rules.v6! };
        }
        const next = snapshotOf(recorded, rules, extraLocal);
        let from: Dataplane | undefined, to: Dataplane | undefined;
        try { from = dataplaneOf(prev); to = dataplaneOf(next); } catch { /* rules that do not parse: the checks say so, both ways */ }
        if (from && to && carryTraceMemo(from, to)) carriedSteps++;
        if (to) keepTraces(to); // as the run loop: a dump nothing was carried to starts its own memo
        const steady = scan(next, cluster);
        if (to) hits += memoOf(next, cluster).stats.hits;
        const scratch = scan(snapshotOf(recorded, rules, extraLocal), cluster);
        if (!isDeepStrictEqual(steady, scratch)) {
          const i = steady.findIndex((f, k) => !isDeepStrictEqual(f, scratch[k]));
          throw new Error(`after ${JSON.stringify(op)}: ${steady[i]?.check} ${steady[i]?.subject}: carried "${steady[i]?.message}", from scratch "${scratch[i]?.message}"`);
        }
        prev = next;
      }
      return true;
    }), { numRuns: 25 });
    t.true(carriedSteps > 10, `traces were carried (${carriedSteps} steps)`);
    t.true(hits > 100, `checks were answered from carried traces (${hits})`);
  });
}

test('iptables: one endpoint change re-traces one Service path of 300; a rule every packet meets re-traces all', (t) => {
  const desc = largeCluster('node-a', '192.168.77.2', 300, 4);
  const cluster = parseClusterObjects(parseClusterText(renderClusterJson(desc), 'cluster.json'));
  const links = [
    { index: 1, name: 'lo', kind: '', up: true, operState: 'UNKNOWN', mtu: 65536, promiscuous: false, addresses: [{ family: 4 as const, address: '127.0.0.1', prefixLength: 8, scope: 'host' }] },
    { index: 2, name: 'eth0', kind: 'veth', up: true, operState: 'UP', mtu: 1500, promiscuous: false, addresses: [{ family: 4 as const, address: '192.168.77.2', prefixLength: 24, scope: 'global' }] },
    { index: 3, name: 'cbr0', kind: 'bridge', up: true, operState: 'UP', mtu: 1500, promiscuous: false, addresses: [{ family: 4 as const, address: '10.244.1.1', prefixLength: 24, scope: 'global' }] },
  ];
  const moved = { ...desc, services: desc.services.map((s, i) => (i === 17 ? { ...s, endpoints: [...s.endpoints].reverse() } : s)) };
  {
    const mode = 'iptables';
    const snap = (text: string): NodeSnapshot => ({ node: 'node-a', capturedAt: '2026-12-08T00:00:00.000Z', source: 'live', links, dataplane: { iptables: { nft: text } } });
    const oneOff = snap(renderIptables(desc));
    scan(oneOff, cluster);
    t.is(memoFor(dataplaneOf(oneOff)!, ['127.0.0.1']), undefined, 'a one-off scan keeps no traces');
    const first = kept(snap(renderIptables(desc)));
    t.deepEqual(scan(first, cluster).filter((f) => f.status !== 'pass').map((f) => f.subject), [], mode);
    t.deepEqual({ ...memoOf(first, cluster).stats }, { hits: 0, misses: 300 }, `${mode}: the first scan traces every ClusterIP`);
    const second = snap(renderIptables(moved));
    t.deepEqual(carryTraceMemo(dataplaneOf(first)!, dataplaneOf(second)!), { kept: 299, dropped: 1, compared: 1 + 300 * 5 + 2, changed: 1 }, mode);
    scan(second, cluster);
    t.deepEqual({ ...memoOf(second, cluster).stats }, { hits: 299, misses: 1 }, `${mode}: one Service traced again`);
    const third = snap(renderIptables(moved).replace('\n-A PREROUTING ', '\n-A PREROUTING -p sctp -j ACCEPT\n-A PREROUTING '));
    const c = carryTraceMemo(dataplaneOf(second)!, dataplaneOf(third)!);
    t.is(c?.kept, 0, `${mode}: a new rule in PREROUTING re-traces everything`);
    scan(third, cluster);
    t.deepEqual({ ...memoOf(third, cluster).stats }, { hits: 0, misses: 300 }, mode);
  }
});

test('nftables (the real kube-proxy 1.37.2 recording): the rule of one Service chain rewritten re-traces that one path', (t) => {
  const dir = dirOf('v1.37.2-nftables');
  const recorded = readBundle(dir);
  const cluster = contextOf(dir);
  const doc = JSON.parse(recorded.dataplane!.nftJson!) as Rules['nft'];
  scan(kept(recorded), cluster);
  const total = memoOf(recorded, cluster).stats.misses;
  t.is(memoOf(recorded, cluster).stats.hits, 0);
  const items = doc!.nftables.filter((x) => {
    const r = x['rule'] as { family?: string; chain?: string } | undefined;
    return !(r?.family === 'ip6' && r.chain === 'service-X3XHOYVZ-shop/dual/tcp/http');
  });
  t.is(items.length, doc!.nftables.length - 1, 'the IPv6 dispatch rule of shop/dual is one rule');
  const next = snapshotOf(recorded, { nft: { nftables: items } }, false);
  t.deepEqual(carryTraceMemo(dataplaneOf(recorded)!, dataplaneOf(next)!)?.dropped, 1);
  const findings = scan(next, cluster);
  t.deepEqual({ ...memoOf(next, cluster).stats }, { hits: total - 1, misses: 1 }, 'only the IPv6 ClusterIP path of shop/dual is traced again');
  t.deepEqual(findings.filter((f) => f.status !== 'pass').map((f) => `${f.check} ${f.subject} ${f.message}`),
    ['service-routing.clusterip shop/dual:80/TCP ClusterIP [fd00:10:96::30]:80/TCP: 100.0% of it is rejected; missing endpoints [fd00:10:244:1::31]:8080, [fd00:10:244:2::32]:8080, [fd00:10:244:2::33]:8080']);
});
