// Inspecting another network namespace (a lab node, or a debug session on a host): the
// kernel answers netlink and /proc/sys for the caller's namespace, so the agent runs a copy
// of itself inside the target (`ip netns exec`) and reads back the snapshot as JSON.
import { fileURLToPath } from 'node:url';
import { InputError } from '../../common/errors.js';
import type { NodeSnapshot } from '../snapshot.js';
import type { LiveOptions } from './live.js';
import { RAW_ONLY_ENV } from './dataplane.js';
import { DEFAULT_TOOL_TIMEOUT_MS, formatMs, runToolWithDeadline } from './tool.js';

/**
 * The child runs each tool under the tool timeout itself (and reports a timed-out one in its
 * snapshot); at most a few run one after another, so this bounds the child as a whole.
 */
export function netnsInspectionTimeout(toolTimeoutMs: number): number {
  return 4 * toolTimeoutMs + 30_000;
}

function agentEntry(): { script: string; nodeArgs: string[] } {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) {
    // Running from source (tests): the child needs the TypeScript loader too.
    return { script: fileURLToPath(new URL('../main.ts', import.meta.url)), nodeArgs: ['--import', 'tsx'] };
  }
  return { script: fileURLToPath(new URL('../main.js', import.meta.url)), nodeArgs: [] };
}

export async function inspectNetns(netns: string, opts: LiveOptions): Promise<NodeSnapshot> {
  const { script, nodeArgs } = agentEntry();
  const toolTimeoutMs = opts.toolTimeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  const args = ['netns', 'exec', netns, process.execPath, ...nodeArgs, script, 'snapshot',
    '--node', opts.node, '--cni-conf-dir', opts.cniConfDir, '--cni-bin-dir', opts.cniBinDir, '--tool-timeout', `${toolTimeoutMs}ms`,
    ...(opts.dataplaneUnlessGeneration !== undefined ? ['--dataplane-unless-generation', String(opts.dataplaneUnlessGeneration)] : []),
    ...(opts.proxyFacts === false ? ['--no-proxy-facts'] : []),
    ...(opts.bpfRoot ? ['--bpf-root', opts.bpfRoot] : []), ...(opts.procRoot ? ['--proc-root', opts.procRoot] : []),
    // The child scrapes kube-proxy from inside the namespace, where its loopback is.
    ...(opts.kubeProxy ? ['--kube-proxy-metrics', opts.kubeProxy.url, '--settle', `${opts.kubeProxy.settleMs}ms`, '--kube-proxy-stall', `${opts.kubeProxy.stallMs}ms`] : [])];
  // The child only prints the snapshot: it need not parse the rules it reads (see dataplane.ts).
  const env = { ...process.env, [RAW_ONLY_ENV]: '1' };
  const timeoutMs = netnsInspectionTimeout(toolTimeoutMs);
  const r = await runToolWithDeadline('ip', args, { timeoutMs, env, cwd: process.cwd(), maxBytes: 512 * 1024 * 1024 });
  if (!r.ok) {
    if (r.timedOut) throw new InputError(`netns ${netns}`, `inspection did not finish within ${formatMs(timeoutMs)}; killed`);
    throw new InputError(`netns ${netns}`, `inspection failed: ${r.err.split('\n').pop() || r.err}`);
  }
  try {
    return JSON.parse(r.out) as NodeSnapshot;
  } catch (e) {
    throw new InputError(`netns ${netns}`, `inspection returned invalid JSON: ${(e as Error).message}`);
  }
}
