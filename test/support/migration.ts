// What the migration tests share: a lab node captured with a fixture CNI family, and a small
// cluster (objects as `kubectl get … -o json` gives them) and fingerprints built per case.
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LabNode } from '../lab/lab.js';
import { runProgram } from './processes.js';
import type { NodeFingerprint } from '../../agent/fingerprint.js';
import type { KubeObject } from '../../common/cluster.js';

export const CNI_FIX = new URL('../fixtures/cni/', import.meta.url).pathname;

/** An uplink with a default route, so the fingerprint finds the underlay. */
export const UPLINK = { uplinkAddress: '10.250.0.11/24', routes: ['default via 10.250.0.1 dev eth0'] };

/** Captures a lab node as a bundle and gives it the CNI config of a fixture family. */
export async function captureWithCni(lab: LabNode, dir: string, cni: string, extraArgs: readonly string[] = []): Promise<string> {
  const r = await runProgram('agent', ['capture', '--out', dir, '--netns', lab.netns, '--node', lab.nodeName, '--cni-conf-dir', join(CNI_FIX, cni, 'net.d'), '--cni-bin-dir', join(dir, 'no-bin'), ...extraArgs]);
  if (r.code !== 0) throw new Error(r.stderr);
  rmSync(join(dir, 'cni'), { recursive: true, force: true });
  cpSync(join(CNI_FIX, cni, 'net.d'), join(dir, 'cni'), { recursive: true });
  cpSync(join(CNI_FIX, cni, 'cni-bin.txt'), join(dir, 'cni-bin.txt'));
  return dir;
}

export function node(name: string, podCIDRs: string[], ip: string, providerID = `azure:///subscriptions/x/${name}`): KubeObject {
  return { kind: 'Node', apiVersion: 'v1', metadata: { name }, spec: { podCIDRs, providerID }, status: { addresses: [{ type: 'InternalIP', address: ip }] } };
}

export function pod(ns: string, name: string, nodeName: string, extra: Record<string, unknown> = {}): KubeObject {
  return { kind: 'Pod', apiVersion: 'v1', metadata: { namespace: ns, name }, spec: { nodeName, containers: [{ name: 'c', image: 'app:1' }], ...extra }, status: { phase: 'Running' } };
}

/** Two nodes, a pod on each, one Service. */
export const base = (): KubeObject[] => [
  node('n1', ['10.244.1.0/24'], '10.240.0.4'), node('n2', ['10.244.2.0/24'], '10.240.0.5'),
  pod('shop', 'web-1', 'n1'), pod('shop', 'web-2', 'n2'),
  { kind: 'Service', apiVersion: 'v1', metadata: { namespace: 'shop', name: 'web' }, spec: { clusterIPs: ['10.0.0.10'], ipFamilies: ['IPv4'] } },
];

/** Egress with an ipBlock except and a named port: a policy that asks a lot of a CNI. */
export const DENY_EGRESS_POLICY: KubeObject = {
  kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', metadata: { namespace: 'shop', name: 'deny-egress' },
  spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ port: 'http' }] }] },
};

export const KUBE_PROXY_DAEMONSET: KubeObject = {
  kind: 'DaemonSet', apiVersion: 'apps/v1', metadata: { namespace: 'kube-system', name: 'kube-proxy' },
  spec: { template: { spec: { containers: [{ name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.31.0' }] } } },
};

/** A kubenet-like node's fingerprint; each case changes what it is about. */
export const fp = (over: Partial<NodeFingerprint['dataPath']> = {}, extra: Partial<NodeFingerprint> = {}): NodeFingerprint => ({
  node: 'n1', cni: { family: 'bridge', mainType: 'bridge', file: '10-bridge.conflist', specVersion: '1.0.0', binaries: [] },
  ipam: 'host-local (node pod CIDR)', dataPath: { kind: 'bridge', device: 'cbr0', mtu: 1500, underlayMtu: 1500, underlayDevice: 'eth0', underlayAddress: '10.240.0.4', ...over },
  podCidrSource: 'node spec.podCIDRs', podCidrs: [], masquerade: { rules: 1, excludedDestinations: ['10.244.0.0/16'] }, proxyMode: 'iptables',
  ruleCounts: {}, bridgeNfCallNeeded: true, bridgeNfCallIptables: '1', hostPortMapping: true, ipFamilies: [4], kernel: '6.1.0', modules: ['vxlan', 'br_netfilter'], ...extra,
});
