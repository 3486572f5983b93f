// Scan output: JSON for machines (the DESIGN.md contract), a table for people.
import type { ScanResult } from '../scan.js';
import { SEVERITY_RANK, type Finding, type Severity } from '../../common/findings.js';
import { UsageError } from '../../common/errors.js';
import { renderTable } from '../../common/table.js';

export function formatScanJson(result: ScanResult): string {
  return JSON.stringify(result, null, 2) + '\n';
}

/**
 * The same text as formatScanJson, in pieces of about `chunk` characters: a large node's
 * findings make a document of tens of MB, which need not exist as one string at the point
 * where the scan's heap is largest. The caller writes each piece, waiting for the stream to
 * drain (stdout into a pipe queues what the reader has not taken yet).
 */
export function* scanJsonChunks(result: ScanResult, chunk = 1 << 16): Generator<string, void, undefined> {
  const fields = Object.entries(result).filter(([, v]) => v !== undefined && typeof v !== 'function');
  if (fields.length === 0) { yield '{}\n'; return; }
  let buf = '{';
  for (let i = 0; i < fields.length; i++) {
    const [key, value] = fields[i]!;
    buf += `${i === 0 ? '' : ','}\n  ${JSON.stringify(key)}: `;
    if (key !== 'findings' || !Array.isArray(value) || value.length === 0) {
      // Indented as JSON.stringify would at depth 1; a JSON text never holds a raw newline in a string.
      buf += JSON.stringify(value, null, 2).replaceAll('\n', '\n  ');
      continue;
    }
    buf += '[';
    for (let j = 0; j < value.length; j++) {
      const s = JSON.stringify(value[j], null, 2) as string | undefined;
      buf += `${j === 0 ? '' : ','}\n    ${s === undefined ? 'null' : s.replaceAll('\n', '\n    ')}`;
      if (buf.length >= chunk) { yield buf; buf = ''; }
    }
    buf += '\n  ]';
  }
  yield buf + '\n}\n';
}

/** Writes the scan JSON to a stream piece by piece, honouring its backpressure. */
export async function writeScanJson(result: ScanResult, out: NodeJS.WritableStream): Promise<void> {
  for (const piece of scanJsonChunks(result)) {
    if (!out.write(piece)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
}

export function formatScanTable(result: ScanResult, opts: { all?: boolean } = {}): string {
  const out: string[] = [];
  out.push(`node ${result.node}  scanned ${result.scannedAt}  proxy-mode ${result.proxyMode}${result.cni ? `  cni ${result.cni}` : ''}\n\n`);
  out.push(renderTable(
    ['CHECK', 'STATUS', 'PASS', 'FAIL', 'WARN', 'SKIP'],
    result.checks.map((c) => [c.id, c.status.toUpperCase(), String(c.passed), String(c.failed), String(c.warned), String(c.skipped)]),
  ));
  const shown = result.findings.filter((f) => opts.all || f.status !== 'pass');
  if (shown.length > 0) {
    out.push('\n');
    out.push(renderTable(
      ['STATUS', 'SEVERITY', 'CHECK', 'SUBJECT', 'MESSAGE'],
      shown.map((f) => [f.status.toUpperCase(), f.severity, f.check, f.subject, f.message]),
    ));
  }
  const count = (s: string): number => result.findings.filter((f) => f.status === s).length;
  out.push(`\n${count('pass')} passed, ${count('fail')} failed, ${count('warn')} warnings, ${count('skip')} skipped, ${count('error')} errors\n`);
  return out.join('');
}

/** `--fail-on`: a status (`fail`, `warn`), a minimum severity of failing findings, or `none`. */
export type FailOn = { readonly kind: 'status'; readonly status: 'fail' | 'warn' } | { readonly kind: 'severity'; readonly min: Severity } | { readonly kind: 'none' };

export function parseFailOn(value: string): FailOn {
  if (value === 'fail' || value === 'warn') return { kind: 'status', status: value };
  if (value === 'none') return { kind: 'none' };
  if (value in SEVERITY_RANK) return { kind: 'severity', min: value as Severity };
  throw new UsageError(`"${value}" is not one of fail, warn, none, critical, high, medium, low, info`, '--fail-on');
}

export function breaches(findings: readonly Finding[], failOn: FailOn): boolean {
  switch (failOn.kind) {
    case 'none': return false;
    case 'status': return findings.some((f) => f.status === 'fail' || f.status === 'error' || (failOn.status === 'warn' && f.status === 'warn'));
    case 'severity': return findings.some((f) => (f.status === 'fail' || f.status === 'error') && SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn.min]);
  }
}
