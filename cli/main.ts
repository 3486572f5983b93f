#!/usr/bin/env node
// netconform: the query CLI. Each subcommand lives in its own module; this file only
// dispatches, so adding a command is one module plus one line in COMMANDS.
import { runMain } from '../common/cli.js';
import { UsageError } from '../common/errors.js';
import { VERSION } from '../common/version.js';
import { nodesCommand, findingsCommand } from './query-commands.js';
import { psaCommand } from './psa-command.js';
import type { Command } from './command.js';
import { diffCommand, migrateCommand } from './migrate.js';

const COMMANDS: Record<string, Command> = {
  nodes: nodesCommand,
  findings: findingsCommand,
  psa: psaCommand,
  migrate: migrateCommand,
  diff: diffCommand,
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return `netconform ${VERSION} — query a netconform collector and evaluate Pod Security offline

Usage: netconform <command> [flags]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`).join('\n')}

Common flags:
  --collector HOST:PORT   collector gRPC address (default $NETCONFORM_COLLECTOR or 127.0.0.1:9443)
  --output table|json     output format (default table)
  --ca FILE               CA bundle the collector's TLS certificate must chain to (default $NETCONFORM_CA, else system roots)
  --tls-server-name NAME  name to verify in the collector's certificate
  --token-file FILE       bearer token to send (default: the kubeconfig user's, else the Pod's ServiceAccount token);
                          the user needs RBAC get on findings/podsecurity.netconform.io (ClusterRole netconform-reader)
  --insecure              plaintext to a collector started with --insecure (labs on loopback)
  -h, --help              help for a command

Exit codes: 0 ok, 1 findings/violations, 2 usage or unreadable input.
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(help());
    return 0;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`netconform ${VERSION}\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) throw new UsageError(`unknown command "${name}" (see netconform --help)`);
  return cmd.run(rest);
}

runMain('netconform', main);
