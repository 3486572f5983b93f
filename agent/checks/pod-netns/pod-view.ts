// Joins the node's Pods (cluster context) with what the node's /proc says about them (the
// `pods` facet): for every Running pod, its started containers with their processes, and
// the pod's own network namespace — the host's for hostNetwork pods, else the sandbox's
// (the pod's cgroup child that no container status claims: the pause container), else the
// namespace most of its containers share. Pods not Running and containers not started are
// left out: they are not judged.
import type { ClusterContext } from '../../../common/cluster.js';
import type { PodContainerInfo, PodInfo } from '../../../common/node-pods.js';
import type { ContainerProcesses, PodProcessFacts } from '../../inspect/pod-processes.js';
import type { NodeSnapshot } from '../../snapshot.js';
import type { CheckResult } from '../types.js';

export interface JudgedContainer {
  readonly info: PodContainerInfo;
  /** Its processes on this node; undefined when none were found (a restart in between?). */
  readonly found?: ContainerProcesses;
}

export interface PodView {
  readonly pod: PodInfo;
  readonly subject: string;
  /** Started containers and sidecars (regular init containers have finished by Running). */
  readonly containers: readonly JudgedContainer[];
  /** The pod's namespace inode; 0 when no process of the pod was found or readable. */
  readonly netns: number;
  readonly netnsSource: 'host' | 'sandbox' | 'containers' | 'unknown';
  readonly sandboxID?: string;
}

export const netnsName = (inode: number): string => (inode === 0 ? 'net:[unreadable]' : `net:[${inode}]`);

/** The Running pods of this node, joined with their processes. */
export function podViews(snapshot: NodeSnapshot, cluster: ClusterContext): PodView[] {
  const facts = snapshot.pods!;
  const byPod = new Map<string, ContainerProcesses[]>();
  for (const c of facts.containers) {
    let l = byPod.get(c.podUID);
    if (!l) byPod.set(c.podUID, (l = []));
    l.push(c);
  }
  const views: PodView[] = [];
  for (const pod of cluster.nodePods ?? []) {
    if (pod.nodeName !== snapshot.node || pod.phase !== 'Running') continue;
    const cgroups = byPod.get(pod.nodeUID ?? pod.uid) ?? byPod.get(pod.uid) ?? [];
    const claimed = new Set(pod.containers.map((c) => c.containerID).filter(Boolean));
    const containers = pod.containers
      .filter((c) => c.kind !== 'init' && c.started && c.containerID !== '')
      .map((info) => {
        const found = cgroups.find((g) => g.containerID === info.containerID);
        return found ? { info, found } : { info };
      });
    const sandboxes = cgroups.filter((g) => !claimed.has(g.containerID) && g.processes.length > 0);
    views.push({ pod, subject: `${pod.namespace}/${pod.name}`, containers, ...podNetns(pod, facts, containers, sandboxes) });
  }
  return views;
}

function podNetns(pod: PodInfo, facts: PodProcessFacts, containers: readonly JudgedContainer[], sandboxes: readonly ContainerProcesses[]):
  Pick<PodView, 'netns' | 'netnsSource' | 'sandboxID'> {
  if (pod.hostNetwork && facts.hostNetns !== 0) return { netns: facts.hostNetns, netnsSource: 'host' };
  // The pause container holds the namespace; a pod has one sandbox (two only briefly, while
  // the kubelet replaces a dead one — then the namespace is not settled: fall through).
  const sandboxNs = new Set(sandboxes.flatMap((s) => s.processes.map((p) => p.netns)).filter((n) => n !== 0));
  if (sandboxes.length === 1 && sandboxNs.size === 1) return { netns: [...sandboxNs][0]!, netnsSource: 'sandbox', sandboxID: sandboxes[0]!.containerID };
  // No readable sandbox (a runtime without pause processes): the namespace most containers
  // are in, the first container's on a tie.
  const votes = new Map<number, number>();
  for (const c of containers) {
    const first = c.found?.processes.find((p) => p.netns !== 0);
    if (first) votes.set(first.netns, (votes.get(first.netns) ?? 0) + 1);
  }
  let best = 0, bestVotes = 0;
  for (const [ns, v] of votes) if (v > bestVotes) { best = ns; bestVotes = v; }
  return best === 0 ? { netns: 0, netnsSource: 'unknown' } : { netns: best, netnsSource: 'containers' };
}

/** The skip a check returns when the context does not say which pods run on this node. */
export function noNodePods(snapshot: NodeSnapshot, cluster: ClusterContext): CheckResult[] | undefined {
  if (cluster.nodePods !== undefined) return undefined;
  return [{
    status: 'skip', severity: 'info', subject: snapshot.node,
    message: `skipped: the cluster context does not list the pods of ${snapshot.node} (pass --cluster FILE with its Pods, or --kubeconfig)`,
  }];
}

/** The single skip when no pod on the node is Running (nothing to judge). */
export function nothingRunning(snapshot: NodeSnapshot, cluster: ClusterContext): CheckResult {
  const here = (cluster.nodePods ?? []).filter((p) => p.nodeName === snapshot.node);
  return {
    status: 'skip', severity: 'info', subject: snapshot.node,
    message: `no Running pod on ${snapshot.node} to judge (${here.length} pod${here.length === 1 ? '' : 's'} of this node in the cluster context)`,
  };
}
