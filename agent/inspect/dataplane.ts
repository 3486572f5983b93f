// The dataplane facet: kube-proxy's rules as the node's own tools print them. Live, it runs
// iptables-nft-save / iptables-legacy-save / ip6tables-save / `nft -j list ruleset` /
// `ipset save` / `ipvsadm -Sn` where installed — a missing tool or a kernel without the
// feature leaves that part absent, it is not an error. In a bundle the same output lives in
// iptables-save.txt, iptables-legacy-save.txt, ip6tables-save.txt, nft.json,
// ipset-save.txt and ipvsadm.txt. Parsing happens later, in agent/dataplane.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { DataplaneFacts } from '../dataplane/facts.js';

export const DATAPLANE_FILES = {
  iptables: 'iptables-save.txt',
  iptablesLegacy: 'iptables-legacy-save.txt',
  ip6tables: 'ip6tables-save.txt',
  nft: 'nft.json',
  ipset: 'ipset-save.txt',
  ipvsadm: 'ipvsadm.txt',
} as const;

type Run = { ok: true; out: string } | { ok: false; missing: boolean; err: string };

function run(cmd: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 2 * 1024 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (!err) { resolve({ ok: true, out: stdout }); return; }
      const code = (err as NodeJS.ErrnoException).code;
      resolve({ ok: false, missing: code === 'ENOENT', err: String(stderr || err.message).trim() });
    });
  });
}

/** Output with rules or chains in it (an empty `iptables-legacy-save` prints nothing). */
function meaningful(text: string): boolean {
  for (const line of text.split('\n', 50)) if (line.startsWith('*') || line.startsWith('{')) return true;
  return false;
}

/** Which iptables backend produced a dump, from the header it prints. */
export function iptablesBackendOf(text: string): 'nft' | 'legacy' {
  const head = text.slice(0, 400);
  if (head.includes('nf_tables') || head.includes('iptables-nft-save') || head.includes('ip6tables-nft-save')) return 'nft';
  if (head.includes('(legacy)') || head.includes('legacy-save')) return 'legacy';
  const v = /iptables-save v(\d+)\.(\d+)/.exec(head);
  if (v && (Number(v[1]) < 1 || (Number(v[1]) === 1 && Number(v[2]) < 8))) return 'legacy'; // before 1.8 there was only legacy
  return 'nft';
}

export async function readDataplaneLive(): Promise<DataplaneFacts | undefined> {
  const [nft4, legacy4, plain4, nft6, legacy6, plain6, nftJson, ipset, ipvs] = await Promise.all([
    run('iptables-nft-save', []), run('iptables-legacy-save', []), run('iptables-save', []),
    run('ip6tables-nft-save', []), run('ip6tables-legacy-save', []), run('ip6tables-save', []),
    run('nft', ['-j', 'list', 'ruleset']), run('ipset', ['save']), run('ipvsadm', ['-Sn']),
  ]);
  const pair = (nft: Run, legacy: Run, plain: Run): { nft?: string; legacy?: string } | undefined => {
    const out: { nft?: string; legacy?: string } = {};
    if (nft.ok && meaningful(nft.out)) out.nft = nft.out;
    if (legacy.ok && meaningful(legacy.out)) out.legacy = legacy.out;
    if (!nft.ok && !legacy.ok && plain.ok && meaningful(plain.out)) out[iptablesBackendOf(plain.out)] = plain.out;
    return out.nft !== undefined || out.legacy !== undefined ? out : undefined;
  };
  const iptables = pair(nft4, legacy4, plain4);
  const ip6tables = pair(nft6, legacy6, plain6);
  const anyRan = [nft4, legacy4, plain4, nftJson, ipset, ipvs].some((r) => r.ok);
  if (!anyRan) return undefined;
  return {
    ...(iptables ? { iptables } : {}),
    ...(ip6tables ? { ip6tables } : {}),
    ...(nftJson.ok && nftJson.out.trim() !== '' ? { nftJson: nftJson.out } : {}),
    ...(ipset.ok ? { ipsetSave: ipset.out } : {}),
    ...(ipvs.ok ? { ipvsadm: ipvs.out } : {}),
  };
}

export function readDataplaneBundle(dir: string, read: (dir: string, name: string) => string | undefined): { dataplane?: DataplaneFacts } {
  const ipt = read(dir, DATAPLANE_FILES.iptables);
  const legacy = read(dir, DATAPLANE_FILES.iptablesLegacy);
  const ip6 = read(dir, DATAPLANE_FILES.ip6tables);
  const nftJson = read(dir, DATAPLANE_FILES.nft);
  const ipsetSave = read(dir, DATAPLANE_FILES.ipset);
  const ipvsadm = read(dir, DATAPLANE_FILES.ipvsadm);
  if ([ipt, legacy, ip6, nftJson, ipsetSave, ipvsadm].every((x) => x === undefined)) return {};
  const iptables: { nft?: string; legacy?: string } = {};
  if (ipt !== undefined) iptables[iptablesBackendOf(ipt)] = ipt;
  if (legacy !== undefined) iptables.legacy = legacy;
  return {
    dataplane: {
      ...(ipt !== undefined || legacy !== undefined ? { iptables } : {}),
      ...(ip6 !== undefined ? { ip6tables: { [iptablesBackendOf(ip6)]: ip6 } } : {}),
      ...(nftJson !== undefined ? { nftJson } : {}),
      ...(ipsetSave !== undefined ? { ipsetSave } : {}),
      ...(ipvsadm !== undefined ? { ipvsadm } : {}),
    },
  };
}

export function writeDataplaneBundle(dir: string, facts: DataplaneFacts | undefined): string[] {
  if (!facts) return [];
  const written: string[] = [];
  const put = (name: string, text: string | undefined): void => {
    if (text === undefined) return;
    writeFileSync(join(dir, name), text);
    written.push(name);
  };
  put(DATAPLANE_FILES.iptables, facts.iptables?.nft ?? facts.iptables?.legacy);
  if (facts.iptables?.nft !== undefined) put(DATAPLANE_FILES.iptablesLegacy, facts.iptables.legacy);
  put(DATAPLANE_FILES.ip6tables, facts.ip6tables?.nft ?? facts.ip6tables?.legacy);
  put(DATAPLANE_FILES.nft, facts.nftJson);
  put(DATAPLANE_FILES.ipset, facts.ipsetSave);
  put(DATAPLANE_FILES.ipvsadm, facts.ipvsadm);
  return written;
}
