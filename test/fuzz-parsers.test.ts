// Property-based fuzzing of every parser's entry point with fast-check: real tool output
// (test/fixtures/tool-output, test/fixtures/upstream, the cluster and CNI fixtures) mutated —
// truncated, bytes inserted, flipped or deleted, lines duplicated, deep nesting, a huge line or
// token, invalid UTF-8, line breaks and terminal escapes, a jump retargeted to a chain that does
// not exist — must give a result or the parser's own error (InputError) of one line and bounded
// length, within a time bound per case. Fixed seed and run count, so CI is deterministic; the seed is logged. Every
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
      // Its problem becomes a finding's message: one line, as a refusal is.
      if (a.kind === 'invalid') assertOneBoundedLine(a.problem);
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
  // A word replaced by a huge token (a quoted value, a name, an address), not a line of its own.
  fc.record({ op: fc.constant('huge-token' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), size: fc.integer({ min: 1_000, max: 1_100_000 }), ch: fc.constantFrom('a', '9', ':', '"') }),
  // Characters that end a line or drive a terminal, inside a token that a message may quote.
  fc.record({ op: fc.constant('control' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), text: fc.constantFrom('\r', '\u2028', '\u0085', '\u001b[2J', '\u0007', 'a\nb') }),
  // `-j NAME` / `"target": "NAME"` retargeted to a chain no table declares, whatever follows it.
  fc.record({ op: fc.constant('retarget' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
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
    case 'huge-token': {
      // The word around `at` (up to a space, line break, comma, quote or colon) replaced whole.
      const text = bytes.toString('latin1');
      const isWord = (i: number): boolean => !' \n,":'.includes(text[i]!);
      let start = Math.min(at, text.length);
      let end = start;
      while (start > 0 && isWord(start - 1)) start--;
      while (end < text.length && isWord(end)) end++;
      return Buffer.from(text.slice(0, start) + m.ch.repeat(m.size) + text.slice(end), 'latin1');
    }
    case 'control': {
      const i = Math.min(at, bytes.length);
      return Buffer.concat([bytes.subarray(0, i), Buffer.from(m.text), bytes.subarray(i)]);
    }
    case 'retarget': {
      const text = bytes.toString('latin1');
      const sites = retargetSites(text);
      if (sites.length === 0) return bytes;
      const site = sites[Math.min(Math.floor(m.at * sites.length), sites.length - 1)]!;
      return Buffer.from(text.slice(0, site.start) + MISSING_CHAIN + text.slice(site.end), 'latin1');
    }
  }
}

/** A chain name no fixture declares (nor is it an iptables target). */
const MISSING_CHAIN = 'KUBE-SVC-NOSUCHCHAIN0000';

/** Where a jump or goto names its chain or target: `-j NAME`/`-g NAME` in iptables text, `"target": "NAME"` in nft JSON. */
function retargetSites(text: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (const re of [/ -[jg] ([^ \n]+)/g, /"target": ?"([^"]*)"/g]) {
    for (const m of text.matchAll(re)) {
      const start = m.index + m[0].length - m[1]!.length - (m[0].endsWith('"') ? 1 : 0);
      out.push({ start, end: start + m[1]!.length });
    }
  }
  return out;
}

/**
 * A refusal a person can read: one line (no line break of any kind, no terminal escape) and
 * short — far below this bound, which stands for "not the size of the input" (a reason is
 * capped at 400 characters, a quoted token at 80).
 */
const MESSAGE_BOUND = 600;
const LINE_BREAKS = /[\n\r\u0085\u2028\u2029\u001b]/;

function assertOneBoundedLine(message: string): void {
  if (LINE_BREAKS.test(message)) throw new Error(`refusal spans lines or carries a control character: ${JSON.stringify(message.slice(0, 300))}`);
  if (message.length > MESSAGE_BOUND) throw new Error(`refusal is ${message.length} characters (bound ${MESSAGE_BOUND}): ${JSON.stringify(message.slice(0, 300))}…`);
}

/** The property: a result or an InputError of one bounded line, in bounded time. */
function check(parse: Parser, text: string): void {
  const started = process.cpuUsage();
  try {
    parse(text);
  } catch (err) {
    if (!(err instanceof InputError)) throw new Error(`threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} instead of an InputError`);
    assertOneBoundedLine(err.message);
  }
  const used = process.cpuUsage(started);
  const ms = (used.user + used.system) / 1000;
  if (ms > CASE_MS) throw new Error(`took ${Math.round(ms)} ms of CPU (bound ${CASE_MS} ms) on ${text.length} characters`);
}

const REGRESSIONS = join(FIX, 'fuzz-regressions');

/**
 * One turn of the event loop before a property runs. Synchronous tests of one file run back
 * to back without one, so ava hears of none until all are done, and its 120 s timeout (reset
 * by each result) ended the whole file on a loaded machine (load 30 on two cores) although
 * every property held; with it each result is reported as its property finishes.
 */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

for (const [name, { parse, seeds }] of Object.entries(PARSERS)) {
  test(`fuzz ${name}: returns or throws InputError on mutated real input (seed ${SEED}, ${RUNS} runs)`, async (t) => {
    await turn();
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

/** Throws (so fast-check reports the case) unless the refusal says exactly `expected`. */
function expectMessage(err: InputError, expected: string): void {
  if (err.message !== expected) throw new Error(`refused as ${JSON.stringify(err.message)}, expected ${JSON.stringify(expected)}`);
}

/** The path of the first string equal to `value` in `v` (`.expr[0].goto.target`), found by walking it. */
function pathOf(v: unknown, value: string, at = ''): string | undefined {
  if (v === value) return at;
  if (typeof v !== 'object' || v === null) return undefined;
  for (const [k, x] of Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v)) {
    const found = pathOf(x, value, typeof k === 'number' ? `${at}[${k}]` : `${at}.${k}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

test(`fuzz: a jump or goto retargeted to a chain no table declares is refused, naming the rule (seed ${SEED})`, async (t) => {
  await turn();
  // Every jump site of the iptables seeds (whatever follows the target: options, nothing) and
  // of the nft seeds (statements, inline vmaps, verdict maps), each alone in an otherwise real dump.
  let cases = 0;
  const iptables = PARSERS['iptables-save']!;
  const general = PARSERS['iptables-save (general reader)']!;
  fc.assert(
    fc.property(fc.constantFrom(...iptables.seeds), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(), (seed, at, fast) => {
      const sites = retargetSites(seed).filter((s) => seed.startsWith('-A ', seed.lastIndexOf('\n', s.start) + 1));
      const site = sites[Math.min(Math.floor(at * sites.length), sites.length - 1)]!;
      const text = seed.slice(0, site.start) + MISSING_CHAIN + seed.slice(site.end);
      const lineStart = text.lastIndexOf('\n', site.start) + 1;
      const line = text.slice(0, lineStart).split('\n').length;
      const chain = text.slice(lineStart + 3, text.indexOf(' ', lineStart + 3));
      const table = [...text.slice(0, lineStart).matchAll(/^\*(\S+)$/gm)].at(-1)?.[1];
      const verb = text.slice(site.start - 3, site.start) === '-g ' ? 'goes' : 'jumps';
      const err = (() => { try { (fast ? iptables : general).parse(text); } catch (e) { return e; } return undefined; })();
      if (!(err instanceof InputError)) throw new Error(`line ${line} (${text.slice(lineStart, lineStart + 120)}) was accepted`);
      expectMessage(err, `iptables-save.txt:${line}: rule in chain "${chain}" ${verb} to chain "${MISSING_CHAIN}", which table "${table}" does not declare`);
      cases++;
    }),
    { seed: SEED, numRuns: 300 },
  );
  const nft = PARSERS['nft -j']!;
  fc.assert(
    fc.property(fc.constantFrom(...nft.seeds), fc.double({ min: 0, max: 1, noNaN: true }), (seed, at) => {
      const sites = retargetSites(seed);
      const site = sites[Math.min(Math.floor(at * sites.length), sites.length - 1)]!;
      const text = seed.slice(0, site.start) + MISSING_CHAIN + seed.slice(site.end);
      const items = (JSON.parse(text) as { nftables: Record<string, Record<string, unknown>>[] }).nftables;
      const idx = items.findIndex((o) => JSON.stringify(o).includes(MISSING_CHAIN));
      const [kind, o] = Object.entries(items[idx]!)[0]!;
      const err = (() => { try { nft.parse(text); } catch (e) { return e; } return undefined; })();
      if (!(err instanceof InputError)) throw new Error(`nftables[${idx}] with ${MISSING_CHAIN} was accepted`);
      expectMessage(err, `nft.json: nftables[${idx}].${kind}${pathOf(o, MISSING_CHAIN)!}: refers to chain "${MISSING_CHAIN}", which table ${String(o['family'])} ${String(o['table'])} does not declare`);
      cases++;
    }),
    { seed: SEED, numRuns: 300 },
  );
  t.is(cases, 600);
});

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
