// Where the API server is and how to authenticate: a kubeconfig file when given
// (`--kubeconfig`), else the Pod's own ServiceAccount (in-cluster).
// (The agent uses kube/access.ts instead, which does not load the client.)
import { KubeConfig } from '@kubernetes/client-node';
import { UsageError } from '../common/errors.js';
import { inClusterAvailable } from './access.js';

export { inClusterAvailable };

/**
 * Loads a kubeconfig file, or the in-cluster configuration when `path` is undefined.
 * Errors name the flag, so the command line turns them into one clear line.
 */
export function loadKubeConfig(path: string | undefined, flag = '--kubeconfig', root = ''): KubeConfig {
  const kc = new KubeConfig();
  if (path !== undefined) {
    try {
      kc.loadFromFile(path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UsageError(`cannot load ${path}: ${e.code ?? e.message}`, flag);
    }
    if (!kc.getCurrentCluster()) throw new UsageError(`${path} has no current context with a cluster`, flag);
    return kc;
  }
  if (!inClusterAvailable(root)) {
    throw new UsageError('not running in a cluster (no KUBERNETES_SERVICE_HOST or ServiceAccount token): pass a kubeconfig file', flag);
  }
  // The client reads token (again whenever it is rotated), ca.crt and namespace from there.
  kc.loadFromCluster(root);
  return kc;
}
