// Where a running agent's cluster context comes from, chosen by flags: the API server
// (in-cluster by default when running as a Pod, or `--kubeconfig FILE`), listed and
// watched by the agent itself; a `--cluster FILE` (fixed, no watch: labs and offline);
// or nothing (the Service and node checks then skip and say why).
import type { KubeAccess } from '../kube/rest.js';
import type { ClusterContext } from '../common/cluster.js';
import type { Logger } from '../common/log.js';
import { AgentClusterWatch, type AgentClusterWatchOptions, type ContextUpdate } from '../kube/agent-watch.js';
import { NodePodWatch } from '../kube/node-pods.js';
import { NO_CHANGES } from '../kube/incremental-context.js';

export type ClusterOrigin = 'api' | 'file' | 'none';

export interface ClusterSource {
  readonly origin: ClusterOrigin;
  /** The latest context; undefined before the first one (or without a source). */
  current(): ClusterContext | undefined;
  /** Starts; `onChange` hears every coalesced change, the first complete context included. */
  start(onChange: (ctx: ClusterContext, update: ContextUpdate) => void): void;
  stop(): Promise<void>;
}

/** A context known up front (a file) or none at all: nothing to watch. */
export function staticClusterSource(ctx: ClusterContext | undefined): ClusterSource {
  return {
    origin: ctx ? 'file' : 'none',
    current: () => ctx,
    start: () => undefined,
    stop: () => Promise.resolve(),
  };
}

export interface ApiClusterSourceOptions extends Omit<AgentClusterWatchOptions, 'onChange' | 'kubeConfig' | 'logger'> {
  readonly kubeConfig: KubeAccess;
  readonly logger: Logger;
}

/**
 * The API server's list + watch, applied incrementally (kube/agent-watch.ts), with this
 * node's Pods from their own node-scoped watch (kube/node-pods.ts) as `nodePods`.
 */
export function apiClusterSource(opts: ApiClusterSourceOptions): ClusterSource & { readonly watch: () => AgentClusterWatch | undefined } {
  let watch: AgentClusterWatch | undefined;
  let pods: NodePodWatch | undefined;
  const current = (): ClusterContext | undefined => {
    const ctx = watch?.current();
    if (!ctx) return undefined;
    const nodePods = pods?.pods();
    return nodePods ? { ...ctx, nodePods } : ctx;
  };
  return {
    origin: 'api',
    current,
    watch: () => watch,
    start(onChange) {
      if (watch) return;
      watch = new AgentClusterWatch({ ...opts, logger: opts.logger.child({ input: 'kube' }), onChange: (_ctx, update) => onChange(current()!, update) });
      pods = new NodePodWatch({
        kubeConfig: opts.kubeConfig, node: opts.node, logger: opts.logger.child({ input: 'kube' }),
        // A pod change is a context change with no Service or Node in it; before the first
        // full context it waits (the first scan waits for that context anyway).
        onChange: () => {
          const ctx = current();
          if (ctx) onChange(ctx, { initial: false, changes: NO_CHANGES });
        },
      });
      watch.start();
      pods.start();
    },
    async stop() {
      await Promise.all([watch?.stop(), pods?.stop()]);
    },
  };
}
