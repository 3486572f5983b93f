// Inspecting another network namespace (a lab node, or a debug session on a host): the
// kernel answers netlink and /proc/sys for the caller's namespace, so the agent runs a copy
// of itself inside the target (`ip netns exec`) and reads back the snapshot as JSON.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../common/errors.js';
import type { NodeSnapshot } from '../snapshot.js';
import type { LiveOptions } from './live.js';
import { RAW_ONLY_ENV } from './dataplane.js';

function agentEntry(): { script: string; nodeArgs: string[] } {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) {
    // Running from source (tests): the child needs the TypeScript loader too.
    return { script: fileURLToPath(new URL('../main.ts', import.meta.url)), nodeArgs: ['--import', 'tsx'] };
  }
  return { script: fileURLToPath(new URL('../main.js', import.meta.url)), nodeArgs: [] };
}

export function inspectNetns(netns: string, opts: LiveOptions): Promise<NodeSnapshot> {
  const { script, nodeArgs } = agentEntry();
  const args = ['netns', 'exec', netns, process.execPath, ...nodeArgs, script, 'snapshot',
    '--node', opts.node, '--cni-conf-dir', opts.cniConfDir, '--cni-bin-dir', opts.cniBinDir,
    // The child scrapes kube-proxy from inside the namespace, where its loopback is.
    ...(opts.kubeProxy ? ['--kube-proxy-metrics', opts.kubeProxy.url, '--settle', `${opts.kubeProxy.settleMs}ms`, '--kube-proxy-stall', `${opts.kubeProxy.stallMs}ms`] : [])];
  return new Promise((resolve, reject) => {
    // The child only prints the snapshot: it need not parse the rules it reads (see dataplane.ts).
    const env = { ...process.env, [RAW_ONLY_ENV]: '1' };
    execFile('ip', args, { maxBuffer: 512 * 1024 * 1024, cwd: process.cwd(), env }, (err, stdout, stderr) => {
      if (err) {
        reject(new InputError(`netns ${netns}`, `inspection failed: ${stderr.trim().split('\n').pop() || err.message}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as NodeSnapshot);
      } catch (e) {
        reject(new InputError(`netns ${netns}`, `inspection returned invalid JSON: ${(e as Error).message}`));
      }
    });
  });
}
