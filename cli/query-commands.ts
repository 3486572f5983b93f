// `netconform nodes` and `netconform findings`: read the collector's QueryService.
import { parseFlags, str, bool, choice } from '../common/cli.js';
import { EXIT_OK } from '../common/errors.js';
import { isStatus, STATUSES } from '../common/findings.js';
import { findingFromWire, statusToWire } from '../common/wire.js';
import { renderTable } from '../common/table.js';
import type { ListNodesResponse__Output } from '../gen/proto/netconform/v1/ListNodesResponse.js';
import type { ListFindingsResponse__Output } from '../gen/proto/netconform/v1/ListFindingsResponse.js';
import type { ListFindingsRequest } from '../gen/proto/netconform/v1/ListFindingsRequest.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, collectorAddress, connectionFromFlags, queryClient, unary } from './collector-client.js';
import type { Command } from './command.js';
import { UsageError } from '../common/errors.js';

const COMMON = {
  collector: { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
  ...CONNECTION_FLAGS,
} as const;

export const nodesCommand: Command = {
  summary: 'list nodes, whether their agent is connected, and their check counts',
  async run(argv) {
    const p = parseFlags(argv, COMMON);
    if (bool(p, 'help')) {
      process.stdout.write(`Usage: netconform nodes [--collector HOST:PORT] [--output table|json] [--ca FILE] [--token-file FILE] [--insecure]\n\n${CONNECTION_HELP}`);
      return EXIT_OK;
    }
    const output = choice(str(p, 'output'), ['table', 'json'] as const, '--output', 'table');
    const address = collectorAddress(str(p, 'collector'));
    const client = queryClient(address, await connectionFromFlags(p));
    try {
      const res = await unary<object, ListNodesResponse__Output>(client, address, client.ListNodes, {});
      if (output === 'json') {
        process.stdout.write(JSON.stringify({ nodes: res.nodes.map((n) => ({ ...n, lastSequence: Number(n.lastSequence) })) }, null, 2) + '\n');
      } else if (res.nodes.length === 0) {
        process.stdout.write('no nodes have reported yet\n');
      } else {
        process.stdout.write(renderTable(
          ['NODE', 'CONNECTED', 'LAST REPORT', 'PROXY', 'CNI', 'PASS', 'FAIL', 'WARN', 'SKIP', 'ERROR'],
          res.nodes.map((n) => [
            n.node, n.connected ? 'yes' : n.stale ? 'no (stale)' : 'no', n.lastReportAt || '-', n.proxyMode || '-', n.cni || '-',
            String(n.counts?.pass ?? 0), String(n.counts?.fail ?? 0), String(n.counts?.warn ?? 0), String(n.counts?.skip ?? 0), String(n.counts?.error ?? 0),
          ]),
        ));
      }
      return EXIT_OK;
    } finally {
      client.close();
    }
  },
};

export const findingsCommand: Command = {
  summary: 'list current non-passing findings (filters: --node, --check, --status)',
  async run(argv) {
    const p = parseFlags(argv, { ...COMMON, node: { type: 'string' }, check: { type: 'string' }, status: { type: 'string' } });
    if (bool(p, 'help')) {
      process.stdout.write(`Usage: netconform findings [--node NAME] [--check ID] [--status fail|warn|error|skip] [--collector HOST:PORT] [--output table|json] [--ca FILE] [--token-file FILE] [--insecure]\n\n${CONNECTION_HELP}`);
      return EXIT_OK;
    }
    const output = choice(str(p, 'output'), ['table', 'json'] as const, '--output', 'table');
    const status = str(p, 'status');
    if (status !== undefined && !isStatus(status)) throw new UsageError(`"${status}" is not one of ${STATUSES.join(', ')}`, '--status');
    const address = collectorAddress(str(p, 'collector'));
    const client = queryClient(address, await connectionFromFlags(p));
    try {
      const req: ListFindingsRequest = { node: str(p, 'node') ?? '', check: str(p, 'check') ?? '', ...(status ? { status: statusToWire(status) } : {}) };
      const res = await unary<ListFindingsRequest, ListFindingsResponse__Output>(client, address, client.ListFindings, req);
      const rows = res.findings.map((nf) => ({ node: nf.node, since: nf.since, stale: nf.stale, ...findingFromWire(nf.finding!) }));
      if (output === 'json') {
        process.stdout.write(JSON.stringify({ findings: rows }, null, 2) + '\n');
      } else if (rows.length === 0) {
        process.stdout.write('no findings\n');
      } else {
        process.stdout.write(renderTable(
          ['NODE', 'STATUS', 'SEVERITY', 'CHECK', 'SUBJECT', 'MESSAGE'],
          rows.map((f) => [f.node + (f.stale ? ' (stale)' : ''), f.status.toUpperCase(), f.severity, f.check, f.subject, f.message]),
        ));
      }
      return EXIT_OK;
    } finally {
      client.close();
    }
  },
};
