// Property-based fuzzing of every parser's entry point with fast-check: real tool output
// (test/fixtures/tool-output, test/fixtures/upstream, the cluster and CNI fixtures) mutated —
// truncated, bytes inserted, flipped or deleted, lines duplicated, deep nesting, a huge line,
// invalid UTF-8 — must give a result or the parser's own error (InputError), within a time
// bound per case. Fixed seed and run count, so CI is deterministic; the seed is logged. Every
// input that once broke a property is kept in test/fixtures/fuzz-regressions/ and replayed.
import test from 'ava';
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../common/errors.js';
import { parseClusterText, parseClusterObjects } from '../common/cluster.js';
import { readClusterDocuments, checkClusterObject } from '../common/cluster-file.js';
import { parseIptablesSave } from '../agent/dataplane/iptables-save.js';
import { parseNftJson } from '../agent/dataplane/nft-json.js';
import { parseIpvsadm } from '../agent/dataplane/ipvs.js';
import { parseIpsetSave } from '../agent/dataplane/ipset.js';
import { parseSysctlText } from '../agent/inspect/sysctl.js';
import { parseIpLinks, parseIpRoutes } from '../agent/inspect/ip-json.js';
import { analyzeCniFile, cniProfile } from '../agent/checks/cni/conflist.js';
import { eventListItems, parseAuditEvent } from '../collector/audit/event.js';

const FIX = fileURLToPath(new URL('./fixtures/', import.meta.url));
const read = (rel: string): string => readFileSync(join(FIX, rel), 'utf8');
const SEED = Number(process.env['NETCONFORM_FUZZ_SEED'] ?? 20261202);
const RUNS = Number(process.env['NETCONFORM_FUZZ_RUNS'] ?? 1000);
/**
 * Per case, in CPU time of this process (not wall time: at load 16 on two cores a 63k-character
 * YAML line of quotes took 5.9 s of wall time for 2.4 s of CPU). Far below what a blow-up takes.
 */
const CASE_MS = 5000;

type Parser = (text: string) => unknown;

/** Each parser's entry point, as the agent, CLI and collector call it. */
const PARSERS: Record<string, { parse: Parser; seeds: string[] }> = {
  'iptables-save': {
    parse: (t) => parseIptablesSave(t, { backend: 'iptables-nft', family: 4, file: 'iptables-save.txt' }),
    seeds: [read('tool-output/iptables-nft-save.txt'), read('upstream/iptables-save-flannel-real.txt'), read('upstream/iptables-overall.txt')],
  },
  'iptables-save (general reader)': {
    parse: (t) => parseIptablesSave(t, { backend: 'iptables-legacy', family: 4, file: 'iptables-save.txt', fastPath: false }),
    seeds: [read('tool-output/iptables-nft-save.txt')],
  },
  'nft -j': {
    parse: (t) => parseNftJson(t, { file: 'nft.json' }),
    seeds: [read('tool-output/nft-kube-proxy.json'), read('tool-output/nft-iptables-nft.json')],
  },
  ipvsadm: { parse: (t) => parseIpvsadm(t, 'ipvsadm.txt'), seeds: [read('tool-output/ipvsadm-save.txt'), read('upstream/ipvsadm-example.txt')] },
  'ipset save': { parse: (t) => parseIpsetSave(t, 'ipset-save.txt'), seeds: [read('tool-output/ipset-save.txt')] },
  sysctl: { parse: (t) => parseSysctlText(t, 'sysctl.txt'), seeds: [read('tool-output/sysctl.txt')] },
  'ip -j link+addr': {
    parse: (t) => parseIpLinks(t, 'ip-link.json', read('tool-output/ip-addr.json'), 'ip-addr.json'),
    seeds: [read('tool-output/ip-link.json')],
  },
  'ip -j route': { parse: (t) => parseIpRoutes(t, 'ip-route.json'), seeds: [read('tool-output/ip-route.json')] },
  'cluster file': {
    parse: (t) => {
      const located = readClusterDocuments(t, 'cluster.yaml');
      for (const o of located) checkClusterObject(o, 'cluster.yaml');
      return parseClusterObjects(located.map((o) => o.object));
    },
    seeds: [read('dataplane/upstream-cluster.yaml'), read('dataplane/flannel-cluster.yaml'), read('psa/cluster.yaml')],
  },
  'manifests (psa check)': { parse: (t) => parseClusterText(t, 'pods.yaml'), seeds: [read('psa/workloads.yaml')] },
  // A CNI config that does not parse is a finding (the runtime rejects it too), never a throw.
  'CNI config': {
    parse: (t) => {
      const a = analyzeCniFile({ name: '10-net.conflist', text: t });
      return a.kind === 'valid' ? cniProfile(a.config) : a;
    },
    seeds: cniSeeds(),
  },
  // The webhook's parse: a body that is not an EventList is a 400, a bad event is counted; never a throw.
  'audit EventList': {
    parse: (t) => {
      let body: unknown;
      try { body = JSON.parse(t); } catch { return 'invalid_json'; }
      const list = eventListItems(body);
      return list.ok ? list.items.map(parseAuditEvent) : list.message;
    },
    seeds: [read('audit/eventlist-psa.json')],
  },
};

function cniSeeds(): string[] {
  const out: string[] = [];
  for (const dir of readdirSync(join(FIX, 'cni'))) {
    const conf = join(FIX, 'cni', dir, 'net.d');
    try {
      for (const f of readdirSync(conf)) if (/\.(conf|conflist|json)$/.test(f)) out.push(readFileSync(join(conf, f), 'utf8'));
    } catch {
      // a fixture without net.d
    }
  }
  return out;
}

/** One mutation of a seed text; several are chained per case. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), text: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('\n', ' ', '"', '{', '[', ']', '}', ',', ':', '-A ', '*nat\n', 'COMMIT\n', '-j ', '\u0000', '\\')) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), n: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('duplicate-line' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), times: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ op: fc.constant('nest' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), depth: fc.integer({ min: 50, max: 20_000 }), open: fc.constantFrom('[', '{"a":', '- ', '  ') }),
  fc.record({ op: fc.constant('huge-line' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), size: fc.integer({ min: 10_000, max: 2_000_000 }), ch: fc.constantFrom('a', ' ', '"', '-', '9', '.') }),
  fc.record({ op: fc.constant('invalid-utf8' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(bytes: Buffer, m: Mutation): Buffer {
  const at = Math.floor(m.at * bytes.length);
  switch (m.op) {
    case 'truncate': return bytes.subarray(0, at);
    case 'insert': return Buffer.concat([bytes.subarray(0, at), Buffer.from(m.text), bytes.subarray(at)]);
    case 'flip': {
      if (bytes.length === 0) return bytes;
      const b = Buffer.from(bytes);
      const i = Math.min(at, b.length - 1);
      b[i] = b[i]! ^ (1 << m.bit);
      return b;
    }
    case 'delete': return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.n)]);
    case 'duplicate-line': {
      const lines = bytes.toString('latin1').split('\n');
      const i = Math.min(Math.floor(m.at * lines.length), lines.length - 1);
      lines.splice(i, 0, ...new Array<string>(m.times).fill(lines[i]!));
      return Buffer.from(lines.join('\n'), 'latin1');
    }
    case 'nest': {
      const close = m.open === '[' ? ']' : m.open === '{"a":' ? '}' : '';
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(m.open.repeat(m.depth) + '1' + close.repeat(m.depth)), bytes.subarray(at)]);
    }
    case 'huge-line': return Buffer.concat([bytes.subarray(0, at), Buffer.from(m.ch.repeat(m.size)), bytes.subarray(at)]);
    case 'invalid-utf8': return Buffer.concat([bytes.subarray(0, at), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]), bytes.subarray(at)]);
  }
}

/** The property: a result or an InputError, in bounded time. */
function check(parse: Parser, text: string): void {
  const started = process.cpuUsage();
  try {
    parse(text);
  } catch (err) {
    if (!(err instanceof InputError)) throw new Error(`threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} instead of an InputError`);
  }
  const used = process.cpuUsage(started);
  const ms = (used.user + used.system) / 1000;
  if (ms > CASE_MS) throw new Error(`took ${Math.round(ms)} ms of CPU (bound ${CASE_MS} ms) on ${text.length} characters`);
}

const REGRESSIONS = join(FIX, 'fuzz-regressions');

for (const [name, { parse, seeds }] of Object.entries(PARSERS)) {
  test(`fuzz ${name}: returns or throws InputError on mutated real input (seed ${SEED}, ${RUNS} runs)`, (t) => {
    const startHeap = process.memoryUsage().heapUsed;
    const started = Date.now();
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seed, ms) => {
        const bytes = ms.reduce<Buffer>((b, m) => apply(b, m), Buffer.from(seed));
        check(parse, bytes.toString('utf8'));
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    const grown = process.memoryUsage().heapUsed - startHeap;
    t.log(`seed ${SEED} (NETCONFORM_FUZZ_SEED), ${RUNS} cases (NETCONFORM_FUZZ_RUNS) in ${Date.now() - started} ms, heap ${grown >= 0 ? '+' : ''}${Math.round(grown / 1e6)} MB`);
    t.true(grown < 512e6, `heap grew by ${Math.round(grown / 1e6)} MB`);
  });
}

test('fuzz regressions: every input that once broke a parser is replayed', (t) => {
  // File names are `<parser key with spaces as _>--<n>.txt` (see README.md there).
  const files = readdirSync(REGRESSIONS).filter((f) => f.endsWith('.txt'));
  t.true(files.length > 0);
  for (const f of files) {
    const key = f.split('--')[0]!.replace(/_/g, ' ');
    const parser = PARSERS[key];
    if (!parser) { t.fail(`${f}: no parser "${key}"`); continue; }
    t.notThrows(() => check(parser.parse, readFileSync(join(REGRESSIONS, f), 'utf8')), f);
  }
});
