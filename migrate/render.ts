// The migration report for people: a table for the terminal, Markdown for a ticket or a PR.
import { renderTable } from '../common/table.js';
import type { MigrationItem, MigrationReport, ProxyFleet } from './check.js';

/** `1 blocker`, `2 blockers`: a count with its noun in the number it takes. */
export function counted(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

const notReady = (r: MigrationReport): string => counted(r.blockers.length, 'blocker');
const fingerprinted = (r: MigrationReport): string => `${counted(r.nodes.length, 'node')} fingerprinted`;

/** The message with its fix, as people read it. */
export const itemText = (i: MigrationItem): string => (i.fix ? `${i.message}. Fix: ${i.fix}` : i.message);

const rows = (items: readonly MigrationItem[]): string[][] => items.map((i) => [i.id, i.subject, itemText(i)]);

/** `3 iptables, 1 nftables` — nodes per proxy mode, most first. */
export function fleetModesText(f: ProxyFleet): string {
  return Object.entries(f.proxyModes).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)).map(([m, n]) => `${n} ${m}`).join(', ');
}

export function formatMigrationTable(r: MigrationReport): string {
  const out: string[] = [];
  out.push(`migration to ${r.target.title} (${r.target.id}): ${r.ready ? 'READY' : `NOT READY — ${notReady(r)}`}; ${fingerprinted(r)}\n`);
  if (r.fleet) {
    out.push(`\nFLEET: nodes per kube-proxy mode: ${fleetModesText(r.fleet) || 'none'}; ${counted(r.fleet.mixed.length, 'node')} between two modes\n`);
    if (r.fleet.mixed.length) out.push(renderTable(['NODE', 'MODES', 'LEFTOVER IPTABLES CHAINS'], r.fleet.mixed.map((m) => [m.node, m.modes.join('+'), String(m.leftoverIptablesChains)]), 40));
  }
  if (r.blockers.length) out.push('\nBLOCKERS\n', renderTable(['ID', 'SUBJECT', 'WHY'], rows(r.blockers), 40));
  if (r.warnings.length) out.push('\nWARNINGS\n', renderTable(['ID', 'SUBJECT', 'WHAT TO CHECK'], rows(r.warnings), 40));
  if (r.changes.length) out.push('\nCHANGES IN NETCONFORM RESULTS AFTER THE MOVE\n', renderTable(['CHECK', 'WHAT CHANGES'], r.changes.map((c) => [c.check, c.message]), 40));
  return out.join('');
}

const md = (s: string): string => s.replaceAll('|', '\\|');

export function formatMigrationMarkdown(r: MigrationReport): string {
  const out: string[] = [`# Migration to ${md(r.target.title)}\n`, `\n**${r.ready ? 'Ready' : `Not ready: ${notReady(r)}`}** — ${fingerprinted(r)}.\n`];
  const section = (title: string, items: readonly MigrationItem[]): void => {
    if (!items.length) return;
    out.push(`\n## ${title}\n\n| id | subject | message |\n|---|---|---|\n`);
    for (const i of items) out.push(`| \`${i.id}\` | ${md(i.subject)} | ${md(itemText(i))} |\n`);
  };
  if (r.fleet) {
    out.push(`\n## Fleet\n\nNodes per kube-proxy mode: ${md(fleetModesText(r.fleet) || 'none')}.\n`);
    if (r.fleet.mixed.length) {
      out.push('\n| node | modes | leftover iptables chains |\n|---|---|---|\n');
      for (const m of r.fleet.mixed) out.push(`| ${md(m.node)} | ${md(m.modes.join('+'))} | ${m.leftoverIptablesChains} |\n`);
    }
  }
  section('Blockers', r.blockers);
  section('Warnings', r.warnings);
  if (r.changes.length) {
    out.push('\n## What changes in netconform\n\n');
    for (const c of r.changes) out.push(`- \`${c.check}\`: ${md(c.message)}\n`);
  }
  return out.join('');
}
