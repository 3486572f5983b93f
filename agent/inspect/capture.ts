// `netconform-agent capture`: a bundle of the node as standard tool output. The snapshot's
// facets are written first (writeBundle renders them in the tools' formats); then, where the
// tools are installed, their own output replaces the rendering — `ip -j`, `sysctl -a` — so a
// bundle carries everything the tools print, and the bundle parsers are proven on real output.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeSnapshot } from '../snapshot.js';
import { BUNDLE_FILES, writeBundle } from './bundle.js';
import { NETWORK_BUNDLE_FILES } from './bundle-network.js';
import { PROXY_HOST_TOOL_FILES } from './proxy-host.js';
import { DEFAULT_TOOL_TIMEOUT_MS, runToolWithDeadline, systemTool, type ToolFailure } from './tool.js';

/** Tool runs whose stdout becomes a bundle file verbatim. */
export const NETWORK_TOOL_FILES: readonly { readonly file: string; readonly cmd: string; readonly args: readonly string[] }[] = [
  { file: NETWORK_BUNDLE_FILES.links, cmd: 'ip', args: ['-j', '-d', 'link', 'show'] },
  { file: NETWORK_BUNDLE_FILES.addrs, cmd: 'ip', args: ['-j', 'addr', 'show'] },
  { file: NETWORK_BUNDLE_FILES.routes, cmd: 'ip', args: ['-j', 'route', 'show', 'table', 'all'] },
  { file: BUNDLE_FILES.sysctl, cmd: 'sysctl', args: ['-a'] },
  ...PROXY_HOST_TOOL_FILES,
];

async function runTool(cmd: string, args: readonly string[], netns: string | undefined, timeoutMs: number): Promise<{ out?: string; failure?: ToolFailure }> {
  // The system's tool by its path: a PATH lookup can find another program of the same name
  // first (node_modules/.bin/nft is @vercel/nft's file tracer when run through npm).
  const tool = systemTool(cmd);
  const [file, argv] = netns ? ['ip', ['netns', 'exec', netns, tool, ...args]] : [tool, [...args]];
  const r = await runToolWithDeadline(file, argv, { timeoutMs, maxBytes: 256 * 1024 * 1024 });
  if (!r.ok && r.timedOut) return { failure: { tool: [cmd, ...args].join(' '), reason: r.err } };
  // sysctl -a exits non-zero when a few keys are unreadable; its output is still good.
  return r.out.trim() !== '' || r.ok ? { out: r.out } : {};
}

export interface CaptureOptions {
  /** Run the tools inside this network namespace (the snapshot was taken there too). */
  readonly netns?: string;
  /** Skip the tools and write only the rendering of the snapshot. */
  readonly renderOnly?: boolean;
  readonly toolTimeoutMs?: number;
  /** A tool that timed out: its file keeps the snapshot's rendering. */
  readonly onToolFailure?: (failure: ToolFailure) => void;
}

export async function captureBundle(dir: string, snapshot: NodeSnapshot, opts: CaptureOptions = {}): Promise<string[]> {
  const written = writeBundle(dir, snapshot);
  if (opts.renderOnly) return written;
  for (const t of NETWORK_TOOL_FILES) {
    const { out, failure } = await runTool(t.cmd, t.args, opts.netns, opts.toolTimeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS);
    if (failure) opts.onToolFailure?.(failure);
    if (out === undefined) continue;
    writeFileSync(join(dir, t.file), out.endsWith('\n') ? out : out + '\n');
    if (!written.includes(t.file)) written.push(t.file);
  }
  return written;
}
