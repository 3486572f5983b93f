// Runs netconform's own programs as real processes for tests (from source through tsx),
// collecting their JSON log lines, and always stops them on teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [k: string]: unknown;
}

export interface RunningProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** SIGTERM (or the given signal); resolves with the exit code and how long it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/**
 * Tests that do not test trust run plaintext on loopback, explicitly: `--insecure` is added
 * to the collector, to `agent run` and to CLI calls with --collector, unless the arguments
 * already choose a transport (test/trust.test.ts does: TLS, tokens).
 */
export function withLoopbackTransport(program: 'agent' | 'collector' | 'cli', args: readonly string[]): string[] {
  const chosen = ['--insecure', '--tls-cert', '--collector-ca', '--ca', '--token-file'].some((f) => args.some((a) => a === f || a.startsWith(`${f}=`)));
  if (chosen) return [...args];
  if (program === 'collector') return ['--insecure', ...args];
  if (program === 'agent' && args[0] === 'run') return [...args, '--insecure'];
  if (program === 'cli' && args.some((a) => a === '--collector' || a.startsWith('--collector='))) return [...args, '--insecure'];
  return [...args];
}

export function startProgram(program: 'agent' | 'collector' | 'cli', args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningProcess {
  const script = `${ROOT}${program}/main.ts`;
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...withLoopbackTransport(program, args)], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const logs: LogLine[] = [];
  let out = '';
  let err = '';
  let partial = '';
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const l = JSON.parse(line) as LogLine;
        logs.push(l);
        for (const w of [...waiters]) if (w.pred(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      } catch {
        // not a log line
      }
    }
  });
  // 'exit' can come before the last bytes of stdout/stderr were read (a CI run saw a usage
  // error's exit code 2 with an empty stderr), so the result waits for the pipes to close as
  // well — at most 2 s, in case a grandchild the program left behind still holds them.
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      const drained = setTimeout(resolve, 2_000, { code, signal });
      void closed.then(() => {
        clearTimeout(drained);
        resolve({ code, signal });
      });
    });
  });
  return {
    child, logs, exited,
    stdout: () => out,
    stderr: () => err,
    waitForLog(pred, timeoutMs = 20_000, what = 'log line') {
      const found = logs.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (l: LogLine) => { clearTimeout(t); resolve(l); } };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out waiting for ${what}; stderr so far:\n${err.slice(-3000)}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    async stop(signal = 'SIGTERM') {
      const started = Date.now();
      if (child.exitCode !== null || child.signalCode !== null) {
        const r = await exited;
        return { ...r, ms: 0 };
      }
      child.kill(signal);
      const r = await exited;
      return { ...r, ms: Date.now() - started };
    },
  };
}

/** Runs a program to completion. */
export function runProgram(program: 'agent' | 'collector' | 'cli', args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startProgram(program, args, env);
  return p.exited.then(({ code }) => ({ code, stdout: p.stdout(), stderr: p.stderr() }));
}

export async function startCollectorProcess(args: readonly string[] = []): Promise<RunningProcess & { grpcPort: number; httpPort: number; address: string }> {
  // Each test collector gets its own store: the default ./netconform.db would be shared by every test.
  const db = args.includes('--db') ? [] : ['--db', ':memory:'];
  const p = startProgram('collector', ['--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', ...db, ...args]);
  const l = await p.waitForLog((x) => x.msg === 'collector listening', 60_000, 'collector to listen');
  const grpcPort = Number(l['grpcPort']);
  return Object.assign(p, { grpcPort, httpPort: Number(l['httpPort']), address: `127.0.0.1:${grpcPort}` });
}

export async function scrape(httpPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  return res.text();
}

/** The value of one sample in Prometheus text format, or undefined. */
export function sample(metrics: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const kv of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[kv[1]!] = kv[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

export async function eventually<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
