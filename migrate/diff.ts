// `netconform diff BEFORE AFTER`: what changed in one node's data path between two bundles
// (links, routes, CNI config, masquerade rules, proxy mode, rule counts) and which check
// results flipped — the proof, after a migration step, of what it did. Pure.
import type { NodeSnapshot } from '../agent/snapshot.js';
import type { ScanResult } from '../agent/scan.js';
import { fingerprintNode } from '../agent/fingerprint.js';
import { clusterIPCheck } from '../agent/checks/service-routing/clusterip.js';
import { nodePortCheck } from '../agent/checks/service-routing/nodeport.js';

/** The checks that judge one Service port each: their verdicts are compared Service by Service. */
export const SERVICE_VERDICT_CHECKS: readonly string[] = [clusterIPCheck.id, nodePortCheck.id];

export interface ServiceVerdictChange {
  readonly check: string;
  /** `namespace/name:port/PROTO` (the checks' subject). */
  readonly service: string;
  readonly before: string;
  readonly after: string;
  /** The after-message (or the before one when the Service is gone), so the change says why. */
  readonly message: string;
}

export interface SnapshotDiff {
  readonly node: string;
  readonly links: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly string[] };
  readonly routes: { readonly added: readonly string[]; readonly removed: readonly string[] };
  readonly cni: { readonly before: string; readonly after: string } | undefined;
  readonly dataPath: { readonly before: string; readonly after: string } | undefined;
  readonly masquerade: { readonly before: string; readonly after: string } | undefined;
  readonly proxyMode: { readonly before: string; readonly after: string } | undefined;
  readonly ruleCounts: readonly { readonly ruleset: string; readonly before: number; readonly after: number }[];
  readonly checks: readonly { readonly check: string; readonly before: string; readonly after: string }[];
  /**
   * Every Service port judged before or after (skips excluded): how many got the same verdict
   * and which did not — the proof that a kube-proxy mode switch kept every Service working.
   */
  readonly services: { readonly judged: number; readonly same: number; readonly changed: readonly ServiceVerdictChange[] };
}

/** Worst status per (check, Service): a Service port with a pass and a fail is failing. */
const RANK: Readonly<Record<string, number>> = { pass: 0, skip: 0, warn: 1, fail: 2, error: 3 };

function serviceVerdicts(r: ScanResult): Map<string, { status: string; message: string }> {
  const out = new Map<string, { status: string; message: string }>();
  for (const f of r.findings) {
    if (!SERVICE_VERDICT_CHECKS.includes(f.check) || f.status === 'skip' || f.subject === r.node) continue;
    const key = `${f.check}\t${f.subject}`;
    const had = out.get(key);
    if (!had || (RANK[f.status] ?? 0) > (RANK[had.status] ?? 0)) out.set(key, { status: f.status, message: f.message });
  }
  return out;
}

export function diffServiceVerdicts(before: ScanResult, after: ScanResult): SnapshotDiff['services'] {
  const b = serviceVerdicts(before), a = serviceVerdicts(after);
  const keys = [...new Set([...b.keys(), ...a.keys()])].sort();
  const changed: ServiceVerdictChange[] = [];
  for (const k of keys) {
    const x = b.get(k), y = a.get(k);
    if (x?.status === y?.status) continue;
    const [check, service] = k.split('\t') as [string, string];
    changed.push({ check, service, before: x?.status ?? 'absent', after: y?.status ?? 'absent', message: (y ?? x)!.message });
  }
  return { judged: keys.length, same: keys.length - changed.length, changed };
}

const linkText = (l: NonNullable<NodeSnapshot['links']>[number]): string =>
  `${l.kind || 'device'} mtu ${l.mtu}${l.master ? ` master ${l.master}` : ''}${l.up ? ' up' : ' down'} ${l.addresses.map((a) => `${a.address}/${a.prefixLength}`).join(' ')}`.trim();
const routeText = (r: NonNullable<NodeSnapshot['routes']>[number]): string =>
  `${r.table === 254 ? '' : `table ${r.table} `}${r.type === 'unicast' ? '' : `${r.type} `}${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`;

function setDiff(before: readonly string[], after: readonly string[]): { added: string[]; removed: string[] } {
  const b = new Set(before), a = new Set(after);
  return { added: [...a].filter((x) => !b.has(x)).sort(), removed: [...b].filter((x) => !a.has(x)).sort() };
}

const changed = (before: string, after: string): { before: string; after: string } | undefined => (before === after ? undefined : { before, after });

export function diffSnapshots(before: NodeSnapshot, after: NodeSnapshot, scans: { before: ScanResult; after: ScanResult }): SnapshotDiff {
  const bl = new Map((before.links ?? []).map((l) => [l.name, linkText(l)]));
  const al = new Map((after.links ?? []).map((l) => [l.name, linkText(l)]));
  const names = setDiff([...bl.keys()], [...al.keys()]);
  const changedLinks = [...al.keys()].filter((n) => bl.has(n) && bl.get(n) !== al.get(n)).sort().map((n) => `${n}: ${bl.get(n)} → ${al.get(n)}`);
  const fb = fingerprintNode(before), fa = fingerprintNode(after);
  const masq = (f: typeof fb): string => `${f.masquerade.rules} rules${f.masquerade.excludedDestinations.length ? `, excluding ${f.masquerade.excludedDestinations.join(' ')}` : ''}`;
  const counts = new Set([...Object.keys(fb.ruleCounts), ...Object.keys(fa.ruleCounts)]);
  const statusOf = (r: ScanResult): Map<string, string> => new Map(r.checks.map((c) => [c.id, c.status]));
  const sb = statusOf(scans.before), sa = statusOf(scans.after);
  const checks = [...new Set([...sb.keys(), ...sa.keys()])].filter((c) => sb.get(c) !== sa.get(c)).map((c) => ({ check: c, before: sb.get(c) ?? 'absent', after: sa.get(c) ?? 'absent' }));
  return {
    node: after.node,
    links: { added: names.added.map((n) => `${n}: ${al.get(n)}`), removed: names.removed.map((n) => `${n}: ${bl.get(n)}`), changed: changedLinks },
    routes: setDiff((before.routes ?? []).map(routeText), (after.routes ?? []).map(routeText)),
    cni: changed(`${fb.cni.family || 'none'}${fb.cni.file ? ` (${fb.cni.file})` : ''}`, `${fa.cni.family || 'none'}${fa.cni.file ? ` (${fa.cni.file})` : ''}`),
    dataPath: changed(`${fb.dataPath.kind} ${fb.dataPath.device}`.trim(), `${fa.dataPath.kind} ${fa.dataPath.device}`.trim()),
    masquerade: changed(masq(fb), masq(fa)),
    proxyMode: changed(fb.proxyMode, fa.proxyMode),
    ruleCounts: [...counts].sort().map((k) => ({ ruleset: k, before: fb.ruleCounts[k] ?? 0, after: fa.ruleCounts[k] ?? 0 })).filter((c) => c.before !== c.after),
    checks,
    services: diffServiceVerdicts(scans.before, scans.after),
  };
}

export function formatDiffText(d: SnapshotDiff): string {
  const out: string[] = [`node ${d.node}\n`];
  const list = (title: string, items: readonly string[], sign: string): void => {
    for (const i of items) out.push(`  ${sign} ${title} ${i}\n`);
  };
  list('link', d.links.removed, '-');
  list('link', d.links.added, '+');
  list('link', d.links.changed, '~');
  list('route', d.routes.removed, '-');
  list('route', d.routes.added, '+');
  for (const [k, v] of [['cni', d.cni], ['data path', d.dataPath], ['masquerade', d.masquerade], ['proxy mode', d.proxyMode]] as const) {
    if (v) out.push(`  ~ ${k}: ${v.before} → ${v.after}\n`);
  }
  for (const c of d.ruleCounts) out.push(`  ~ rules ${c.ruleset}: ${c.before} → ${c.after}\n`);
  for (const c of d.checks) out.push(`  ! ${c.check}: ${c.before} → ${c.after}\n`);
  for (const s of d.services.changed) out.push(`  ! service ${s.service} (${s.check}): ${s.before} → ${s.after}: ${s.message}\n`);
  const identical = out.length === 1;
  if (d.services.judged > 0) out.push(`  = ${d.services.same} of ${d.services.judged} Service ports judged the same before and after${d.services.changed.length ? `; ${d.services.changed.length} changed (listed above)` : ''}\n`);
  if (identical && d.services.changed.length === 0) out.push('  no difference\n');
  return out.join('');
}
