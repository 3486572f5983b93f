// The probe's peers from the API server: it lists and watches only the probe pods (by label,
// in its own namespace) and the probe Service (by name) — what its namespaced Role allows
// (get/list/watch pods and services), nothing cluster-wide. Every change hands the current
// peer set to `onPeers`: each running probe pod with an IP and a node, the Service's
// ClusterIP and port, and the node addresses the pods' hostIPs reveal (to classify a source
// rewritten to a node's address without reading Nodes), and — when the probe Service is of
// type NodePort — its TCP nodePort and externalTrafficPolicy (the NodePort path).
import type { KubeAccess } from '../../kube/rest.js';
import type { Logger } from '../../common/log.js';
import { Reflector } from '../../kube/reflector.js';
import { resourceKindsNamed } from '../../kube/kinds.js';
import type { ProbePeer } from './peers.js';
import type { ExternalTrafficPolicy } from './judge.js';

export const PROBE_LABEL_SELECTOR = 'app.kubernetes.io/name=netconform-probe';
export const PROBE_SERVICE_NAME = 'netconform-probe';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const at = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((cur, k) => (isObj(cur) ? cur[k] : undefined), o);

export interface ApiPeerSet {
  readonly peers: readonly ProbePeer[];
  /** The probe Service's ClusterIP:port, when it has one. */
  readonly service?: { readonly ip: string; readonly port: number };
  /** The probe Service's TCP nodePort, when it is of type NodePort (or LoadBalancer). */
  readonly nodePort?: { readonly port: number; readonly externalTrafficPolicy: ExternalTrafficPolicy };
  /** Node name → its address, from the probe pods' status.hostIP. */
  readonly nodeAddresses: ReadonlyMap<string, readonly string[]>;
}

/** The pod's container port named "echo" (the DaemonSet declares it), if any. */
function echoPortOf(o: Obj): number | undefined {
  const containers = at(o, 'spec', 'containers');
  for (const c of Array.isArray(containers) ? containers : []) {
    const ports = at(c, 'ports');
    for (const p of Array.isArray(ports) ? ports : []) if (at(p, 'name') === 'echo' && typeof at(p, 'containerPort') === 'number') return at(p, 'containerPort') as number;
  }
  return undefined;
}

/** Only what peer selection needs of a probe pod (the rest of a Pod is never kept). */
function trimPod(o: Obj): Obj {
  return {
    kind: 'Pod', apiVersion: 'v1',
    metadata: { name: at(o, 'metadata', 'name'), namespace: at(o, 'metadata', 'namespace'), uid: at(o, 'metadata', 'uid') },
    spec: { nodeName: at(o, 'spec', 'nodeName'), echoPort: echoPortOf(o) },
    status: { podIP: at(o, 'status', 'podIP'), hostIP: at(o, 'status', 'hostIP'), phase: at(o, 'status', 'phase') },
  };
}

/** The peer set from the (trimmed) probe pods and the probe Service as the API shows them; `port`: the echo port of pods that name none. Pure. */
export function peerSetOf(pods: Iterable<Obj>, services: Iterable<Obj>, port: number): ApiPeerSet {
  const peers: ProbePeer[] = [];
  const nodeAddresses = new Map<string, string[]>();
  for (const p of pods) {
    const name = at(p, 'metadata', 'name'), node = at(p, 'spec', 'nodeName'), ip = at(p, 'status', 'podIP'), host = at(p, 'status', 'hostIP');
    if (typeof node === 'string' && typeof host === 'string' && host && !(nodeAddresses.get(node) ?? []).includes(host)) nodeAddresses.set(node, [...(nodeAddresses.get(node) ?? []), host]);
    // A pod not yet running (no IP) or finishing is no peer.
    if (typeof name !== 'string' || typeof node !== 'string' || typeof ip !== 'string' || !ip || at(p, 'status', 'phase') !== 'Running') continue;
    const echo = at(p, 'spec', 'echoPort');
    peers.push({ name, node, ip, port: typeof echo === 'number' ? echo : port });
  }
  let service: ApiPeerSet['service'];
  let nodePort: ApiPeerSet['nodePort'];
  for (const s of services) {
    const ip = at(s, 'spec', 'clusterIP');
    const ports = at(s, 'spec', 'ports');
    const first = Array.isArray(ports) ? (ports as unknown[]).find((x) => at(x, 'protocol') === undefined || at(x, 'protocol') === 'TCP') : undefined;
    const sp = at(first, 'port');
    if (typeof ip === 'string' && ip && ip !== 'None' && typeof sp === 'number') service = { ip, port: sp };
    const np = at(first, 'nodePort');
    if ((at(s, 'spec', 'type') === 'NodePort' || at(s, 'spec', 'type') === 'LoadBalancer') && typeof np === 'number' && np > 0) {
      nodePort = { port: np, externalTrafficPolicy: at(s, 'spec', 'externalTrafficPolicy') === 'Local' ? 'Local' : 'Cluster' };
    }
  }
  peers.sort((a, b) => a.name.localeCompare(b.name));
  return { peers, nodeAddresses, ...(service ? { service } : {}), ...(nodePort ? { nodePort } : {}) };
}

export class ApiPeerSource {
  private readonly pods: Reflector;
  private readonly services: Reflector;
  private synced = 0;

  constructor(opts: { kubeConfig: KubeAccess; namespace: string; port: number; log: Logger; onPeers: (set: ApiPeerSet) => void; labelSelector?: string; serviceName?: string }) {
    const [podKind, serviceKind] = [resourceKindsNamed(['Pod'])[0]!, resourceKindsNamed(['Service'])[0]!];
    const changed = (): void => {
      if (this.synced < 2) return;
      opts.onPeers(peerSetOf(this.pods.objects(), this.services.objects(), opts.port));
    };
    const onSynced = (): void => {
      this.synced++;
      changed();
    };
    this.pods = new Reflector({
      kubeConfig: opts.kubeConfig, kind: podKind, logger: opts.log, namespace: opts.namespace,
      labelSelector: opts.labelSelector ?? PROBE_LABEL_SELECTOR, trim: trimPod, onChange: changed, onSynced,
    });
    this.services = new Reflector({
      kubeConfig: opts.kubeConfig, kind: serviceKind, logger: opts.log, namespace: opts.namespace,
      fieldSelector: `metadata.name=${opts.serviceName ?? PROBE_SERVICE_NAME}`, onChange: changed, onSynced,
    });
  }

  start(): void {
    this.pods.start();
    this.services.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.pods.stop(), this.services.stop()]);
  }
}
