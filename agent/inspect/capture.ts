// `netconform-agent capture`: a bundle of the node as standard tool output. The snapshot's
// facets are written first (writeBundle renders them in the tools' formats); then, where the
// tools are installed, their own output replaces the rendering — `ip -j`, `sysctl -a` — so a
// bundle carries everything the tools print, and the bundle parsers are proven on real output.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeSnapshot } from '../snapshot.js';
import { BUNDLE_FILES, writeBundle } from './bundle.js';
import { NETWORK_BUNDLE_FILES } from './bundle-network.js';

/** Tool runs whose stdout becomes a bundle file verbatim. */
export const NETWORK_TOOL_FILES: readonly { readonly file: string; readonly cmd: string; readonly args: readonly string[] }[] = [
  { file: NETWORK_BUNDLE_FILES.links, cmd: 'ip', args: ['-j', '-d', 'link', 'show'] },
  { file: NETWORK_BUNDLE_FILES.addrs, cmd: 'ip', args: ['-j', 'addr', 'show'] },
  { file: NETWORK_BUNDLE_FILES.routes, cmd: 'ip', args: ['-j', 'route', 'show', 'table', 'all'] },
  { file: BUNDLE_FILES.sysctl, cmd: 'sysctl', args: ['-a'] },
];

function runTool(cmd: string, args: readonly string[], netns: string | undefined): Promise<string | undefined> {
  const [file, argv] = netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, [...args]];
  return new Promise((resolve) => {
    execFile(file, argv, { maxBuffer: 256 * 1024 * 1024 }, (err, stdout) => {
      // sysctl -a exits non-zero when a few keys are unreadable; its output is still good.
      resolve(stdout.trim() !== '' ? stdout : err ? undefined : stdout);
    });
  });
}

export interface CaptureOptions {
  /** Run the tools inside this network namespace (the snapshot was taken there too). */
  readonly netns?: string;
  /** Skip the tools and write only the rendering of the snapshot. */
  readonly renderOnly?: boolean;
}

export async function captureBundle(dir: string, snapshot: NodeSnapshot, opts: CaptureOptions = {}): Promise<string[]> {
  const written = writeBundle(dir, snapshot);
  if (opts.renderOnly) return written;
  for (const t of NETWORK_TOOL_FILES) {
    const out = await runTool(t.cmd, t.args, opts.netns);
    if (out === undefined) continue;
    writeFileSync(join(dir, t.file), out.endsWith('\n') ? out : out + '\n');
    if (!written.includes(t.file)) written.push(t.file);
  }
  return written;
}
