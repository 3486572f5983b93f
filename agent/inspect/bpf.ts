// The bpf facet: eBPF dataplanes' pinned maps as `bpftool -j map dump pinned` prints them.
// Cilium pins its load-balancer maps (libbpf LIBBPF_PIN_BY_NAME) under <bpffs>/tc/globals;
// the agent reads the ones it can judge (CILIUM_LB_MAPS) and lists the names of every other
// pin there, which is how other eBPF dataplanes (Calico's cali_* maps) are recognised. In a
// bundle each map is `bpf/<map name>.json` and the listing is `bpf/pins.txt`. Decoding
// lives in agent/dataplane/cilium-maps.ts.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../common/errors.js';
import { systemTool } from './dataplane.js';
import { parseBpftoolDump } from '../dataplane/cilium-maps.js';

/** Cilium's service, backend and reverse-NAT maps, every version netconform can decode. */
export const CILIUM_LB_MAPS = [
  'cilium_lb4_services_v2', 'cilium_lb4_backends_v3', 'cilium_lb4_backends_v2', 'cilium_lb4_reverse_nat',
  'cilium_lb6_services_v2', 'cilium_lb6_backends_v3', 'cilium_lb6_backends_v2', 'cilium_lb6_reverse_nat',
] as const;

export interface BpfFacts {
  /** The bpffs root that was read (live) or `bundle`. */
  readonly root: string;
  /** Names pinned directly under <root>/tc/globals, sorted (at most MAX_PINS). */
  readonly pins: readonly string[];
  /** `bpftool -j map dump pinned` output per Cilium LB map that is pinned. */
  readonly maps: Readonly<Record<string, string>>;
  /** Maps that are pinned but could not be dumped, with the reason (bpftool missing, timeout …). */
  readonly unreadable?: Readonly<Record<string, string>>;
}

export const BPF_BUNDLE_DIR = 'bpf';
export const BPF_PINS_FILE = 'pins.txt';
const MAX_PINS = 2000;
/** A dump of a 64k-entry map takes well under a second; anything near this is a hung tool. */
export const BPFTOOL_TIMEOUT_MS = 30_000;

function dumpPinned(path: string): Promise<{ ok: true; out: string } | { ok: false; err: string }> {
  return new Promise((resolve) => {
    execFile(systemTool('bpftool'), ['-j', 'map', 'dump', 'pinned', path], { maxBuffer: 512 * 1024 * 1024, timeout: BPFTOOL_TIMEOUT_MS, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (!err) { resolve({ ok: true, out: stdout }); return; }
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      if (e.code === 'ENOENT') resolve({ ok: false, err: 'bpftool is not installed (Debian package bpftool)' });
      else if (e.killed) resolve({ ok: false, err: `bpftool did not finish within ${BPFTOOL_TIMEOUT_MS / 1000} s` });
      else resolve({ ok: false, err: String(stderr || e.message).trim().split('\n').pop() ?? 'bpftool failed' });
    });
  });
}

/**
 * Reads the pinned maps under `root`. Undefined when `root/tc/globals` does not exist (no
 * bpffs there, or no tc program ever pinned a map): then no eBPF dataplane pins maps here.
 */
export async function readBpfLive(root: string): Promise<BpfFacts | undefined> {
  const globals = join(root, 'tc', 'globals');
  let names: string[];
  try {
    names = readdirSync(globals).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    return { root, pins: [], maps: {}, unreadable: { [globals]: `cannot list: ${code ?? (err as Error).message}` } };
  }
  const wanted = (CILIUM_LB_MAPS as readonly string[]).filter((m) => names.includes(m));
  const dumps = await Promise.all(wanted.map((m) => dumpPinned(join(globals, m))));
  const maps: Record<string, string> = {};
  const unreadable: Record<string, string> = {};
  wanted.forEach((m, i) => {
    const d = dumps[i]!;
    if (d.ok) maps[m] = d.out;
    else unreadable[m] = d.err;
  });
  return { root, pins: names.slice(0, MAX_PINS), maps, ...(Object.keys(unreadable).length > 0 ? { unreadable } : {}) };
}

export function readBpfBundle(dir: string, read: (dir: string, name: string) => string | undefined): { bpf?: BpfFacts } {
  const sub = join(dir, BPF_BUNDLE_DIR);
  if (!existsSync(sub) || !statSync(sub).isDirectory()) return {};
  const maps: Record<string, string> = {};
  let files: string[];
  try {
    files = readdirSync(sub).sort();
  } catch (err) {
    throw new InputError(sub, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  for (const f of files) {
    if (!f.endsWith('.json')) continue;
    const text = read(sub, f);
    if (text === undefined) continue;
    parseBpftoolDump(text, join(sub, f)); // a malformed dump is bad input: say so now, with file and JSON path
    maps[f.slice(0, -'.json'.length)] = text;
  }
  const pinsText = read(sub, BPF_PINS_FILE);
  const pins = pinsText !== undefined ? pinsText.split('\n').map((l) => l.trim()).filter(Boolean) : Object.keys(maps);
  return { bpf: { root: 'bundle', pins, maps } };
}

export function writeBpfBundle(dir: string, facts: BpfFacts | undefined): string[] {
  if (!facts) return [];
  const sub = join(dir, BPF_BUNDLE_DIR);
  mkdirSync(sub, { recursive: true });
  const written: string[] = [];
  writeFileSync(join(sub, BPF_PINS_FILE), facts.pins.join('\n') + (facts.pins.length > 0 ? '\n' : ''));
  written.push(`${BPF_BUNDLE_DIR}/${BPF_PINS_FILE}`);
  for (const [name, text] of Object.entries(facts.maps)) {
    writeFileSync(join(sub, `${name}.json`), text);
    written.push(`${BPF_BUNDLE_DIR}/${name}.json`);
  }
  return written;
}
