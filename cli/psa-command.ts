// `netconform psa …`: Pod Security Admission views. Sub-commands live in their own modules.
import { UsageError } from '../common/errors.js';
import type { Command } from './command.js';
import { psaCheckCommand } from './psa-check.js';
import { psaWhatifCommand } from './psa-whatif.js';
import { psaSummaryCommand, psaNamespacesCommand } from './psa-summary.js';

const SUBCOMMANDS: Record<string, Command> = {
  check: psaCheckCommand,
  whatif: psaWhatifCommand,
  namespaces: psaNamespacesCommand,
};

/** `netconform psa` with no command (or only flags) shows what the collector recorded. */
const DEFAULT_VIEW: Command = psaSummaryCommand;

export const psaCommand: Command = {
  summary: 'Pod Security Admission: ' + (Object.keys(SUBCOMMANDS).join(', ') || 'sub-commands'),
  async run(argv) {
    const [name, ...rest] = argv;
    if (name === undefined || (name.startsWith('-') && name !== '-h' && name !== '--help')) return DEFAULT_VIEW.run(argv);
    if (name === '-h' || name === '--help') {
      const width = Math.max(8, ...Object.keys(SUBCOMMANDS).map((k) => k.length));
      process.stdout.write(`Usage: netconform psa [--namespace N] [--since 24h] [--output json]   ${DEFAULT_VIEW.summary}\n       netconform psa <command> [flags]\n\nCommands:\n${Object.entries(SUBCOMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`).join('\n')}\n`);
      return 0;
    }
    const sub = SUBCOMMANDS[name];
    if (!sub) throw new UsageError(`unknown psa command "${name}" (see netconform psa --help)`);
    return sub.run(rest);
  },
};
