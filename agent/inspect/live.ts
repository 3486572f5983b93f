// Reads the node the agent runs on (its own network namespace).
import type { NodeSnapshot } from '../snapshot.js';
import { readSysctlsLive } from './sysctl.js';

export interface LiveOptions {
  readonly node: string;
  readonly cniConfDir: string;
  readonly cniBinDir: string;
  readonly procSys?: string;
}

export async function inspectLive(opts: LiveOptions, now = new Date()): Promise<NodeSnapshot> {
  return {
    node: opts.node,
    capturedAt: now.toISOString(),
    source: 'live',
    sysctls: readSysctlsLive(opts.procSys),
  };
}
