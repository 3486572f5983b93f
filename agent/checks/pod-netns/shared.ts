// Principle (the Kubernetes network model): all containers of a pod share one network
// namespace — they reach each other over localhost and the pod has one IP. The kubelet
// creates the namespace with the pod sandbox (the pause container) and every container
// joins it; a hostNetwork pod's containers use the node's own. A container whose
// processes sit in another namespace cannot be reached on the pod IP nor reach its
// siblings on localhost: a runtime or CNI fault, or a process that switched namespaces.
import type { CheckDefinition, CheckResult } from '../types.js';
import { netnsName, noNodePods, nothingRunning, podViews } from './pod-view.js';

export const podNetnsSharedCheck: CheckDefinition = {
  id: 'pod-netns.shared',
  title: "Every container of a pod runs in the pod's one network namespace (the node's for hostNetwork pods)",
  needs: ['pods'],
  needsCluster: true,
  run(snapshot, cluster) {
    const skipped = noNodePods(snapshot, cluster!);
    if (skipped) return skipped;
    const facts = snapshot.pods!;
    const results: CheckResult[] = [];
    for (const v of podViews(snapshot, cluster!)) {
      const found = v.containers.filter((c) => c.found);
      const notFound = v.containers.filter((c) => !c.found).map((c) => c.info.name);
      if (found.length === 0) {
        results.push({
          status: 'skip', severity: 'info', subject: v.subject,
          message: v.containers.length === 0
            ? 'no started container to judge'
            : `no process of its started containers (${notFound.join(', ')}) found under ${facts.procRoot}; not judged`,
          evidence: { containers: notFound },
        });
        continue;
      }
      const expected = v.netns;
      const where = v.netnsSource === 'host' ? "the node's network namespace" : `the pod's network namespace ${netnsName(expected)}`;
      const elsewhere: { container: string; netns: string[]; pids: number[] }[] = [];
      const unreadable: string[] = [];
      for (const c of found) {
        const readable = c.found!.processes.filter((p) => p.netns !== 0);
        if (readable.length === 0) { unreadable.push(c.info.name); continue; }
        const off = readable.filter((p) => p.netns !== expected);
        if (off.length > 0) {
          elsewhere.push({ container: c.info.name, netns: [...new Set(off.map((p) => netnsName(p.netns)))], pids: off.map((p) => p.pid) });
        }
      }
      const evidence = {
        hostNetwork: v.pod.hostNetwork,
        podNetns: netnsName(expected),
        netnsFrom: v.netnsSource,
        ...(v.sandboxID ? { sandbox: v.sandboxID } : {}),
        containers: found.map((c) => ({
          name: c.info.name, kind: c.info.kind, containerID: c.info.containerID,
          netns: [...new Set(c.found!.processes.map((p) => netnsName(p.netns)))],
        })),
        ...(notFound.length ? { notFound } : {}),
        ...(unreadable.length ? { unreadable } : {}),
      };
      if (elsewhere.length > 0) {
        const parts = elsewhere.map((e) => `container ${e.container} is in ${e.netns.join(', ')} (pid ${e.pids.join(', ')})`);
        results.push({
          status: 'fail', severity: 'high', subject: v.subject,
          message: `${parts.join('; ')}, not in ${where}: it cannot reach its sibling containers on localhost nor be reached on the pod IP`,
          evidence: { ...evidence, elsewhere },
        });
        continue;
      }
      if (!v.pod.hostNetwork && facts.hostNetns !== 0 && expected === facts.hostNetns) {
        results.push({
          status: 'fail', severity: 'high', subject: v.subject,
          message: `the pod is not hostNetwork, yet its containers run in the node's network namespace ${netnsName(expected)}: the runtime did not give it a namespace of its own`,
          evidence,
        });
        continue;
      }
      if (unreadable.length === found.length) {
        results.push({
          status: 'skip', severity: 'info', subject: v.subject,
          message: `the network namespaces of its processes are not readable (the agent needs CAP_SYS_PTRACE for /proc/<pid>/ns/net); not judged`,
          evidence,
        });
        continue;
      }
      const names = found.filter((c) => !unreadable.includes(c.info.name)).map((c) => c.info.name);
      results.push({
        status: 'pass', severity: 'info', subject: v.subject,
        message: `${names.length === 1 ? `its container (${names[0]}) runs` : `all ${names.length} containers (${names.join(', ')}) run`} in ${where}${v.netnsSource === 'sandbox' ? ', the sandbox\'s' : ''}`,
        evidence,
      });
    }
    return results.length > 0 ? results : [nothingRunning(snapshot, cluster!)];
  },
};
