// Principle (the Kubernetes network model): the containers of a pod share one network
// namespace, so they share its ports — two containers cannot both bind 8080/TCP. Two
// containers that declare the same containerPort and protocol cannot both be serving it
// (fail). A declared containerPort that nothing in the pod's namespace listens on, once
// the container has had time to start (a grace period from its start), is documentation
// of a dead port: Services and probes aimed at it fail (warn).
// Sidecars (init containers with restartPolicy: Always) run beside the regular containers
// and count; regular init containers have exited before the others start and do not.
// SCTP ports are not read from /proc and not judged for listening.
import type { DeclaredPort, PodContainerInfo } from '../../../common/node-pods.js';
import type { CheckDefinition, CheckResult } from '../types.js';
import { netnsName, noNodePods, nothingRunning, podViews, type PodView } from './pod-view.js';

/** How long a container may take to start listening before a dead port is reported. */
export const LISTEN_GRACE_SECONDS = 120;

export const podNetnsPortConflictCheck: CheckDefinition = {
  id: 'pod-netns.port-conflict',
  title: 'No two containers of a pod declare the same port, and every declared port is listened on',
  needs: ['pods'],
  needsCluster: true,
  run(snapshot, cluster) {
    const skipped = noNodePods(snapshot, cluster!);
    if (skipped) return skipped;
    const now = Date.parse(snapshot.capturedAt);
    const results: CheckResult[] = [];
    for (const v of podViews(snapshot, cluster!)) {
      const before = results.length;
      results.push(...conflicts(v));
      results.push(...deadPorts(v, snapshot.pods!.netns, now));
      if (results.length === before) {
        const declared = v.pod.containers.filter(concurrent).flatMap((c) => c.ports.map((p) => `${c.name} ${portName(p)}`));
        results.push({
          status: 'pass', severity: 'info', subject: v.subject,
          message: declared.length === 0
            ? 'no container declares a port'
            : `${declared.length} declared port${declared.length === 1 ? '' : 's'}, none declared twice${judgedListening(v, snapshot.pods!.netns, now) ? ', each listened on' : ''}`,
          evidence: { declared },
        });
      }
    }
    return results.length > 0 ? results : [nothingRunning(snapshot, cluster!)];
  },
};

const portName = (p: DeclaredPort): string => `${p.containerPort}/${p.protocol}`;
/** Containers that run at the same time as the others: regular ones and sidecars. */
const concurrent = (c: PodContainerInfo): boolean => c.kind !== 'init';

function conflicts(v: PodView): CheckResult[] {
  const byPort = new Map<string, string[]>();
  for (const c of v.pod.containers.filter(concurrent)) {
    for (const p of c.ports) {
      const key = portName(p);
      const list = byPort.get(key) ?? [];
      if (!list.includes(c.name)) list.push(c.name);
      byPort.set(key, list);
    }
  }
  const out: CheckResult[] = [];
  for (const [port, names] of byPort) {
    if (names.length < 2) continue;
    out.push({
      status: 'fail', severity: 'medium', subject: v.subject,
      message: `containers ${names.join(' and ')} both declare containerPort ${port}; in the pod's shared network namespace only one of them can bind it`,
      evidence: { port, containers: names },
    });
  }
  return out;
}

function listeningSet(v: PodView, netns: readonly { inode: number; listening: readonly { protocol: string; port: number }[] }[]): Set<string> | undefined {
  if (v.netns === 0) return undefined;
  const ns = netns.find((n) => n.inode === v.netns);
  return ns ? new Set(ns.listening.map((s) => `${s.port}/${s.protocol}`)) : undefined;
}

/** Seconds the container has been running (from its startedAt, else the pod's start). */
function runningSeconds(v: PodView, c: PodContainerInfo, now: number): number | undefined {
  const t = Date.parse(c.startedAt ?? v.pod.startTime ?? '');
  return Number.isNaN(t) || Number.isNaN(now) ? undefined : (now - t) / 1000;
}

function judgedListening(v: PodView, netns: Parameters<typeof listeningSet>[1], now: number): boolean {
  return listeningSet(v, netns) !== undefined && v.containers.every((c) => (runningSeconds(v, c.info, now) ?? 0) >= LISTEN_GRACE_SECONDS);
}

function deadPorts(v: PodView, netns: Parameters<typeof listeningSet>[1], now: number): CheckResult[] {
  const listening = listeningSet(v, netns);
  if (!listening) return [];
  const out: CheckResult[] = [];
  for (const { info } of v.containers) {
    const up = runningSeconds(v, info, now);
    if (up === undefined || up < LISTEN_GRACE_SECONDS) continue;
    for (const p of info.ports) {
      if (p.protocol === 'SCTP' || listening.has(portName(p))) continue;
      out.push({
        status: 'warn', severity: 'low', subject: v.subject,
        message: `container ${info.name} declares containerPort ${portName(p)}${p.name ? ` (${p.name})` : ''} but nothing in ${v.netnsSource === 'host' ? "the node's network namespace" : `the pod's network namespace ${netnsName(v.netns)}`} listens on it, ${Math.floor(up)} s after it started`,
        evidence: { container: info.name, port: portName(p), podNetns: netnsName(v.netns), runningSeconds: Math.floor(up), graceSeconds: LISTEN_GRACE_SECONDS },
      });
    }
  }
  return out;
}
