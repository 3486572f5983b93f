// Pod Security in the demo: the namespaces of the demo's cluster — one labelled the way the
// seed advises (enforce=baseline, audit and warn restricted, versions pinned), one that breaks
// it (enforce only, at "latest") — and the audit event the API server sends when it admits a
// pod that violates its namespace's audit level. The event's annotations are what Pod Security
// admission writes: the pod is evaluated here with netconform's own evaluator, so the demo
// posts the very sentence a real API server would.
import { aggregateDetail, evaluate } from '../psa/evaluate.js';
import { readPod } from '../psa/pod.js';
import type { ControlPlane } from '../test/lab/control-plane.js';

const PSA = 'pod-security.kubernetes.io';
export const PSA_VERSION = 'v1.37';

export function demoNamespaces(): Record<string, unknown>[] {
  const ns = (name: string, labels: Record<string, string>): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } });
  return [
    ns('payments', { [`${PSA}/enforce`]: 'baseline', [`${PSA}/enforce-version`]: PSA_VERSION, [`${PSA}/audit`]: 'restricted', [`${PSA}/audit-version`]: PSA_VERSION, [`${PSA}/warn`]: 'restricted', [`${PSA}/warn-version`]: PSA_VERSION }),
    // Breaks the practice: no pinned version (latest moves on upgrade), no audit or warn level.
    ns('shop', { [`${PSA}/enforce`]: 'baseline' }),
  ];
}

/** A pod that baseline admits and restricted would not: it runs as root with default privileges. */
export function violatingPod(node: string): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'report-5d8f7', namespace: 'payments', uid: '6f1c2a34-0b7e-4d0c-9a51-2f3e4d5c6b7a' },
    spec: { nodeName: node, containers: [{ name: 'report', image: 'payments/report:2.3' }] },
    status: { phase: 'Running' },
  };
}

/** The audit EventList the API server posts to its webhook after creating `pod` (batch of one). */
export function podCreateAuditEvents(pod: Record<string, unknown>): string {
  const meta = pod['metadata'] as { name: string; namespace: string };
  const e = evaluate(readPod(pod['metadata'], pod['spec']), 'restricted', Number(PSA_VERSION.slice(3)));
  const at = new Date().toISOString();
  const event = {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: `demo-${Date.now()}`, stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${meta.namespace}/pods`, verb: 'create',
    user: { username: 'system:serviceaccount:kube-system:job-controller', groups: ['system:serviceaccounts', 'system:authenticated'] },
    sourceIPs: ['192.168.50.1'], userAgent: 'kube-controller-manager/v1.37.2',
    objectRef: { resource: 'pods', namespace: meta.namespace, name: meta.name, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 201 },
    requestReceivedTimestamp: at, stageTimestamp: at,
    annotations: {
      'authorization.k8s.io/decision': 'allow',
      [`${PSA}/enforce-policy`]: `baseline:${PSA_VERSION}`,
      // The library's audit and warn wording: "would violate", where enforce says "violates".
      ...(e.allowed ? {} : { [`${PSA}/audit-violations`]: `would violate PodSecurity "restricted:${PSA_VERSION}": ${aggregateDetail(e.violations)}` }),
    },
  };
  return JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [event] });
}

/**
 * The same story through the real kube-apiserver: its namespaces labelled as above, and the
 * violating pod created through real admission (baseline admits it, the restricted audit level
 * records it), so the API server's own audit webhook posts the event to the collector.
 */
export async function admitThroughApiServer(cp: ControlPlane, node: string): Promise<void> {
  for (const ns of demoNamespaces()) {
    const meta = ns['metadata'] as { name: string; labels: Record<string, string> };
    await cp.createNamespace(meta.name, meta.labels);
  }
  const pod = violatingPod(node);
  const { uid: _uid, ...metadata } = pod['metadata'] as Record<string, unknown>;
  await cp.create({ apiVersion: 'v1', kind: 'Pod', metadata, spec: pod['spec'] });
}
