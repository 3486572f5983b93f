// Where the API server is and how to authenticate: a kubeconfig file when given
// (`--kubeconfig`), else the Pod's own ServiceAccount (in-cluster).
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { UsageError } from '../common/errors.js';

const SERVICEACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * True inside a Pod that has an API server address and a mounted ServiceAccount token.
 * `root` prefixes the token path (tests build a Pod's filesystem under a temporary dir).
 */
export function inClusterAvailable(root = ''): boolean {
  return Boolean(process.env['KUBERNETES_SERVICE_HOST']) && existsSync(root + SERVICEACCOUNT_TOKEN);
}

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
