// One list of each kind, parsed once: the cluster context for a single `scan --kubeconfig`.
// It is the watcher's first step without the watch, through the same parser.
import { parseClusterObjects, type ClusterContext, type ClusterOptions } from '../common/cluster.js';
import { collectionPath, resourceKindsNamed, trimObject } from './kinds.js';
import { AGENT_WATCHES } from './agent-watch.js';
import { loadKubeAccess } from './access.js';
import { listAll, statusCodeOf } from './rest.js';

/**
 * What `agent scan` reads: what the agent watches, plus Pods — exactly what the agent's
 * ClusterRole grants, so a scan with the agent's own ServiceAccount works. (Namespaces were
 * listed too once, which no agent check reads and the role does not grant: the real API
 * server refused the whole scan with 403.)
 */
export const AGENT_KINDS: readonly string[] = [...AGENT_WATCHES.map((w) => w.kind), 'Pod'];

export interface LoadClusterOptions extends ClusterOptions {
  /** Kinds to list (default AGENT_KINDS). */
  readonly kinds?: readonly string[];
}

/**
 * Lists every kind once through `kubeconfigPath` (in-cluster when undefined) and builds the
 * ClusterContext. Optional kinds that the server does not serve are left out; any other
 * failure rejects with an error that names the resource path.
 */
export async function loadClusterFromApi(kubeconfigPath: string | undefined, opts: LoadClusterOptions = {}): Promise<ClusterContext> {
  const kc = await loadKubeAccess(kubeconfigPath);
  const kinds = resourceKindsNamed(opts.kinds ?? AGENT_KINDS);
  const lists = await Promise.all(
    kinds.map(async (k) => {
      try {
        const list = await listAll(kc, collectionPath(k));
        return list.items.map((item) => (typeof item === 'object' && item !== null && !Array.isArray(item) ? trimObject(k, item as Record<string, unknown>) : item));
      } catch (err) {
        if (k.optional && statusCodeOf(err) === 404) return [];
        throw err;
      }
    }),
  );
  const { kinds: _kinds, ...clusterOpts } = opts;
  return parseClusterObjects(lists.flat(), clusterOpts);
}
