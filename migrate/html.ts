// The migration report as one self-contained HTML file (no scripts, no external assets):
// a picture of the data path before and after as inline SVG — pod → veth → bridge, tunnel or
// eBPF → node → other node, with addresses and MTUs — then blockers, warnings and changes.
import type { MigrationItem, MigrationReport } from './check.js';
import { counted, fleetModesText } from './render.js';
import type { NodeFingerprint } from '../agent/fingerprint.js';
import type { TargetProfile } from './profile.js';
import { isCheck } from './profile.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

interface Hop {
  readonly label: string;
  readonly detail: string;
}

/** The hops of today's data path on one node, from its fingerprint. */
export function hopsBefore(n: NodeFingerprint): Hop[] {
  const mtu = (m: number): string => (m > 0 ? `MTU ${m}` : 'MTU ?');
  const middle: Hop = n.dataPath.kind === 'bridge' ? { label: `bridge ${n.dataPath.device}`, detail: mtu(n.dataPath.mtu) }
    : n.dataPath.kind === 'overlay' ? { label: `tunnel ${n.dataPath.device}`, detail: mtu(n.dataPath.mtu) }
    : n.dataPath.kind === 'ebpf' ? { label: `eBPF ${n.dataPath.device}`, detail: mtu(n.dataPath.mtu) }
    : { label: 'host routes', detail: n.cni.family || 'routed' };
  return [
    { label: 'pod', detail: n.podCidrs[0] ?? n.podCidrSource },
    { label: 'veth', detail: n.cni.mainType || n.cni.family || '?' },
    middle,
    { label: `node ${n.dataPath.underlayDevice || '?'}`, detail: `${n.dataPath.underlayAddress || '?'} ${mtu(n.dataPath.underlayMtu)}` },
    { label: 'other node', detail: n.proxyMode === 'none' || n.proxyMode === 'unknown' ? 'Services: ?' : `Services: ${n.proxyMode}` },
  ];
}

/** The hops after the move, from the target profile and the node's underlay. */
export function hopsAfter(n: NodeFingerprint, t: TargetProfile, targetPodCidr: string | undefined, targetMtu: number | undefined): Hop[] {
  const overhead = isCheck(t.overlayOverheadBytes) ? undefined : (t.overlayOverheadBytes.value as number);
  const podMtu = targetMtu ?? (overhead !== undefined && n.dataPath.underlayMtu > 0 ? n.dataPath.underlayMtu - overhead : 0);
  const middle: Hop = t.dataPath === 'bridge' ? { label: 'bridge', detail: `MTU ${podMtu || '?'}` }
    : t.dataPath === 'overlay' ? { label: 'tunnel', detail: `+${overhead ?? '?'} bytes` }
    : t.dataPath === 'ebpf' ? { label: 'eBPF', detail: t.kubeProxyReplacement ? 'Services in BPF maps' : 'kube-proxy kept' }
    : { label: 'host routes', detail: t.vpcNativeIpam ? 'cloud network' : 'routed' };
  return [
    { label: 'pod', detail: `${targetPodCidr ?? (t.vpcNativeIpam ? 'VPC/VNet addresses' : 'new pod CIDR')} MTU ${podMtu || '?'}` },
    { label: 'veth', detail: t.family },
    middle,
    { label: `node ${n.dataPath.underlayDevice || '?'}`, detail: `${n.dataPath.underlayAddress || '?'} MTU ${n.dataPath.underlayMtu || '?'}` },
    { label: 'other node', detail: t.kubeProxyReplacement ? 'Services: eBPF' : 'Services: kube-proxy' },
  ];
}

export function dataPathSvg(title: string, hops: readonly Hop[]): string {
  const w = 150, h = 56, gap = 30, top = 30;
  const width = hops.length * w + (hops.length - 1) * gap + 20;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}" width="${width}" height="${top + h + 20}" viewBox="0 0 ${width} ${top + h + 20}">`];
  parts.push(`<text x="10" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`);
  hops.forEach((hop, i) => {
    const x = 10 + i * (w + gap);
    parts.push(`<rect x="${x}" y="${top}" width="${w}" height="${h}" rx="6" fill="#eef3fb" stroke="#2f5597"/>`);
    parts.push(`<text x="${x + w / 2}" y="${top + 22}" font-size="13" text-anchor="middle">${esc(hop.label)}</text>`);
    parts.push(`<text x="${x + w / 2}" y="${top + 42}" font-size="11" text-anchor="middle" fill="#444">${esc(hop.detail)}</text>`);
    if (i < hops.length - 1) {
      const ax = x + w, ay = top + h / 2;
      parts.push(`<line x1="${ax + 2}" y1="${ay}" x2="${ax + gap - 4}" y2="${ay}" stroke="#2f5597" stroke-width="2"/>`);
      parts.push(`<polygon points="${ax + gap - 4},${ay - 5} ${ax + gap + 2},${ay} ${ax + gap - 4},${ay + 5}" fill="#2f5597"/>`);
    }
  });
  parts.push('</svg>');
  return parts.join('');
}

function itemsTable(title: string, items: readonly MigrationItem[], cls: string): string {
  if (items.length === 0) return '';
  const rows = items.map((i) => `<tr><td><code>${esc(i.id)}</code></td><td>${esc(i.subject)}</td><td>${esc(i.message)}</td><td>${esc(i.fix ?? '')}</td></tr>`).join('');
  return `<h2 class="${cls}">${esc(title)} (${items.length})</h2><table><thead><tr><th>id</th><th>subject</th><th>message</th><th>fix</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const STYLE = 'body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}h2.blockers{color:#a00}h2.warnings{color:#a60}.verdict{font-size:1.3em;font-weight:bold}.ready{color:#070}.notready{color:#a00}section.node{margin:1em 0}';

/** A kube-proxy mode move: the fleet by mode (nodes caught between two listed), then the items. */
export function formatProxyMigrationHtml(r: MigrationReport): string {
  const fleet = r.fleet;
  const modes = fleet ? Object.entries(fleet.proxyModes).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)) : [];
  const fleetHtml = fleet ? `<h2>Fleet</h2><p id="fleet-modes">Nodes per kube-proxy mode: ${esc(fleetModesText(fleet) || 'none')}</p><table class="fleet"><thead><tr><th>mode</th><th>nodes</th></tr></thead><tbody>${modes.map(([m, n]) => `<tr><td>${esc(m)}</td><td>${n}</td></tr>`).join('')}</tbody></table>`
    + (fleet.mixed.length ? `<h3>Between two modes (${fleet.mixed.length})</h3><table class="mixed"><thead><tr><th>node</th><th>modes</th><th>leftover iptables chains</th></tr></thead><tbody>${fleet.mixed.map((m) => `<tr><td>${esc(m.node)}</td><td>${esc(m.modes.join('+'))}</td><td>${m.leftoverIptablesChains}</td></tr>`).join('')}</tbody></table>` : '') : '';
  const changes = r.changes.length ? `<h2>What changes in netconform (${r.changes.length})</h2><ul>${r.changes.map((c) => `<li><code>${esc(c.check)}</code>: ${esc(c.message)}</li>`).join('')}</ul>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>netconform: migration to ${esc(r.target.title)}</title>
<style>${STYLE}</style>
</head><body>
<h1>Migration to ${esc(r.target.title)}</h1>
<p class="verdict ${r.ready ? 'ready' : 'notready'}">${r.ready ? 'Ready: no blockers' : `Not ready: ${counted(r.blockers.length, 'blocker')}`}</p>
${fleetHtml}${itemsTable('Blockers', r.blockers, 'blockers')}${itemsTable('Warnings', r.warnings, 'warnings')}${changes}
</body></html>
`;
}

export function formatMigrationHtml(r: MigrationReport, target: TargetProfile, opts: { targetPodCidr?: string; targetMtu?: number } = {}): string {
  const pictures = r.nodes.slice(0, 5).map((n) => `<section class="node"><h3>${esc(n.node)}</h3>${dataPathSvg(`before: ${n.cni.family || 'unknown CNI'} (${n.dataPath.kind})`, hopsBefore(n))}${dataPathSvg(`after: ${target.title}`, hopsAfter(n, target, opts.targetPodCidr, opts.targetMtu))}</section>`).join('');
  const more = r.nodes.length > 5 ? `<p>… and ${r.nodes.length - 5} more nodes (see the JSON report).</p>` : '';
  const changes = r.changes.length ? `<h2>What changes in netconform (${r.changes.length})</h2><ul>${r.changes.map((c) => `<li><code>${esc(c.check)}</code>: ${esc(c.message)}</li>`).join('')}</ul>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>netconform: migration to ${esc(r.target.title)}</title>
<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}h2.blockers{color:#a00}h2.warnings{color:#a60}.verdict{font-size:1.3em;font-weight:bold}.ready{color:#070}.notready{color:#a00}section.node{margin:1em 0}</style>
</head><body>
<h1>Migration to ${esc(r.target.title)}</h1>
<p class="verdict ${r.ready ? 'ready' : 'notready'}">${r.ready ? 'Ready: no blockers' : `Not ready: ${counted(r.blockers.length, 'blocker')}`}</p>
${itemsTable('Blockers', r.blockers, 'blockers')}${itemsTable('Warnings', r.warnings, 'warnings')}${changes}
<h2>Data path before and after</h2>${pictures || '<p>No node bundles given (--from): no picture.</p>'}${more}
</body></html>
`;
}
