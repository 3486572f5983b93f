// Shared command-line plumbing: flag parsing with clear errors, --help, exit codes,
// and graceful shutdown on SIGTERM/SIGINT.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT_USAGE, formatError, isUserError, UsageError } from './errors.js';
import { isLogLevel, type LogLevel } from './log.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

export function parseFlags(args: readonly string[], options: Options, allowPositionals = false): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, allowPositionals, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function strList(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function bool(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

export function logLevelFlag(p: Parsed): LogLevel {
  const v = str(p, 'log-level') ?? process.env['NETCONFORM_LOG_LEVEL'] ?? 'info';
  if (!isLogLevel(v)) throw new UsageError(`"${v}" is not one of debug, info, warn, error, silent`, '--log-level');
  return v;
}

export function choice<T extends string>(value: string | undefined, allowed: readonly T[], flag: string, fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`"${value}" is not one of ${allowed.join(', ')}`, flag);
}

/** Runs a command's main, printing user errors as one line and exiting with its code. */
export function runMain(program: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${program}: ${formatError(err)}\n`);
      if (!isUserError(err) && err instanceof Error && process.env['NETCONFORM_DEBUG']) process.stderr.write(`${err.stack}\n`);
      process.exitCode = isUserError(err) ? EXIT_USAGE : 1;
    },
  );
}

/**
 * Calls `stop` once on SIGTERM/SIGINT and resolves when it finished. A second signal, or
 * a stop that takes longer than the grace period, exits at once: the 5 s promise holds.
 */
export function onShutdown(stop: (signal: string) => Promise<void>, graceMs = 4500): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(130);
      stopping = true;
      const timer = setTimeout(() => process.exit(1), graceMs);
      timer.unref();
      stop(signal).finally(() => {
        clearTimeout(timer);
        process.off('SIGTERM', handler);
        process.off('SIGINT', handler);
        resolve();
      });
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}
