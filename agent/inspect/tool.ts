// Running the node's tools (iptables-save, nft, ipset, ipvsadm, ip, sysctl) with a deadline.
// `iptables-save` can wait on the xtables lock and `nft` can take minutes on a huge ruleset;
// a tool that does not answer within the tool timeout is killed — its whole process group,
// since `ip netns exec` and wrapper scripts fork — and reported as a ToolFailure, which
// the dataplane facts carry so the checks report an `error` naming the tool instead of
// judging rules that were never read.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Default for --tool-timeout. */
export const DEFAULT_TOOL_TIMEOUT_MS = 60_000;

/** A tool that ran but could not be used: it timed out (and was killed). */
export interface ToolFailure {
  /** The command as people would type it: `iptables-nft-save`, `nft -j list table ip kube-proxy`. */
  readonly tool: string;
  readonly reason: string;
}

/**
 * The system tool, not a same-named npm binary: under npx/npm scripts node_modules/.bin
 * comes first in PATH, and `nft` there is @vercel/nft.
 */
export function systemTool(cmd: string): string {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/local/bin']) {
    if (existsSync(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  }
  return cmd;
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Starts a tool in its own process group and kills the group when `timeoutMs` passes first.
 * `onTimeout` runs once, after the kill; the child's `close` event still follows.
 */
export function spawnWithDeadline(file: string, args: readonly string[], timeoutMs: number, onTimeout: () => void, env: NodeJS.ProcessEnv = process.env, cwd?: string): ChildProcess {
  const child = spawn(file, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(cwd ? { cwd } : {}) });
  const timer = setTimeout(() => {
    killGroup(child);
    onTimeout();
  }, timeoutMs);
  timer.unref();
  child.on('close', () => clearTimeout(timer));
  child.on('error', () => clearTimeout(timer));
  return child;
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL'); // the group is gone already; make sure the child is
  }
}

export type ToolRun =
  | { readonly ok: true; readonly out: string; readonly code: number }
  | { readonly ok: false; readonly missing: boolean; readonly timedOut: boolean; readonly err: string; readonly out: string };

export interface ToolRunOptions {
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Bytes of stdout kept at most; beyond it the tool is killed and the run fails. */
  readonly maxBytes?: number;
}

/** Runs a tool to completion (or its deadline), collecting stdout and the tail of stderr. */
export function runToolWithDeadline(file: string, args: readonly string[], opts: ToolRunOptions): Promise<ToolRun> {
  return new Promise((resolvePromise) => {
    // Dropped once settled: the child's listeners hold this scope until Node closes the
    // child's handle, which waits for the event loop — after a scan's synchronous checks.
    // Through `resolve` they held the whole output (14 MB of `nft -j` at 10k Services).
    let resolve: ((r: ToolRun) => void) | undefined = resolvePromise;
    let timedOut = false;
    const chunks: Buffer[] = [];
    let bytes = 0;
    let stderr = '';
    let overflow = false;
    const child = spawnWithDeadline(file, args, opts.timeoutMs, () => { timedOut = true; }, opts.env, opts.cwd);
    child.stdout!.on('data', (c: Buffer) => {
      bytes += c.length;
      if (opts.maxBytes !== undefined && bytes > opts.maxBytes) {
        if (!overflow) { overflow = true; killGroup(child); }
        return;
      }
      chunks.push(c);
    });
    child.stderr!.on('data', (c: Buffer) => { if (stderr.length < 65536) stderr += c.toString('utf8'); });
    let settled = false;
    const settle = (r: ToolRun): void => {
      const done = resolve!;
      resolve = undefined;
      chunks.length = 0;
      done(r);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      settle({ ok: false, missing: err.code === 'ENOENT', timedOut: false, err: err.message, out: '' });
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      const out = Buffer.concat(chunks).toString('utf8');
      if (timedOut) settle({ ok: false, missing: false, timedOut: true, err: `did not answer within ${formatMs(opts.timeoutMs)} (--tool-timeout); killed`, out });
      else if (overflow) settle({ ok: false, missing: false, timedOut: false, err: `printed more than ${opts.maxBytes} bytes; killed`, out: '' });
      else if (code === 0) settle({ ok: true, out, code });
      else settle({ ok: false, missing: false, timedOut: false, err: stderr.trim() || `exited with ${code ?? signal}`, out });
    });
  });
}
