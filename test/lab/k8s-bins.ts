// Where the real Kubernetes components are: the directory scripts/k8s-bins.sh prints on its
// last line (it builds what its cache lacks). `npm test` runs it once and passes the directory
// on as NETCONFORM_K8S_BIN; a test file run alone with ava asks the script itself.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// From test/lab/ in the checkout, or dist/test/lab/ when compiled (the demo).
const script = [new URL('../../scripts/k8s-bins.sh', import.meta.url), new URL('../../../scripts/k8s-bins.sh', import.meta.url)]
  .map((u) => fileURLToPath(u)).find((p) => existsSync(p)) ?? fileURLToPath(new URL('../../scripts/k8s-bins.sh', import.meta.url));
let cached: string | undefined;

/** The directory holding etcd, kube-apiserver, kubectl, kube-proxy, helm, cni/ and versions/. */
export function k8sBinDir(): string {
  if (cached) return cached;
  let dir = process.env.NETCONFORM_K8S_BIN;
  if (!dir) {
    const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    dir = out.trim().split('\n').pop() ?? '';
  }
  if (!existsSync(`${dir}/kube-apiserver`)) throw new Error(`no kube-apiserver in ${dir} (run scripts/k8s-bins.sh)`);
  cached = dir;
  return dir;
}

/**
 * The directory of binaries already built, without building anything: NETCONFORM_K8S_BIN, or
 * the newest set in the build script's cache; undefined when there is none (the demo then runs
 * without a control plane).
 */
export function builtK8sBinDir(): string | undefined {
  const env = process.env.NETCONFORM_K8S_BIN;
  if (env) return existsSync(join(env, 'kube-apiserver')) ? env : undefined;
  const sets = join(process.env.NETCONFORM_K8S_CACHE ?? join(homedir(), '.cache/netconform/k8s'), 'bin');
  let names: string[];
  try { names = readdirSync(sets); } catch { return undefined; }
  const complete = names.map((n) => join(sets, n)).filter((d) => existsSync(join(d, 'kube-apiserver')) && existsSync(join(d, 'etcd')));
  complete.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return complete[0];
}

export interface K8sVersions {
  readonly kubernetes: string;
  readonly kubernetesOld: string;
  readonly etcd: string;
  readonly cniPlugins: string;
  readonly helm: string;
}

/** The versions the directory holds (its versions.env, written by the build script). */
export function k8sVersions(): K8sVersions {
  const env = Object.fromEntries(readFileSync(`${k8sBinDir()}/versions.env`, 'utf8').trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
  return {
    kubernetes: env.KUBERNETES_VERSION!,
    kubernetesOld: env.KUBERNETES_OLD_VERSION!,
    etcd: env.ETCD_VERSION!,
    cniPlugins: env.CNI_PLUGINS_VERSION!,
    helm: env.HELM_VERSION!,
  };
}

/** Path of one binary, e.g. k8sBin('kubectl'), k8sBin('cni/bridge'), k8sBin('versions/v1.35.4/kube-proxy'). */
export function k8sBin(name: string): string {
  return `${k8sBinDir()}/${name}`;
}
