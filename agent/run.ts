// The agent's long-running loop: scan, report, repeat. Filled in with the reporter.
import type { ClusterContext } from '../common/cluster.js';
import type { LogLevel } from '../common/log.js';
import type { NodeSnapshot } from './snapshot.js';

export interface AgentRunOptions {
  readonly collector: string;
  readonly intervalText: string;
  readonly node: string;
  readonly logLevel: LogLevel;
  readonly inspect: () => Promise<NodeSnapshot>;
  readonly localCluster: ClusterContext | undefined;
}

export async function runAgent(_opts: AgentRunOptions): Promise<number> {
  return 0;
}
