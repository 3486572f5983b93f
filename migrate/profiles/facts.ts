// Shorthands for the profile tables: every fact names the page it comes from.
import type { Fact, PolicyFeature } from '../profile.js';

export const yes = (source: string): Fact<boolean> => ({ value: true, source });
export const no = (source: string): Fact<boolean> => ({ value: false, source });
export const num = (value: number, source: string): Fact<number> => ({ value, source });
export const text = (value: string, source: string): Fact<string> => ({ value, source });
export const check = <T>(source: string, note: string): Fact<T> => ({ value: 'check', source, note });

/** Every NetworkPolicy feature the same: a plugin that implements the Kubernetes API fully, or none. */
export function allFeatures(f: Fact<boolean>): Record<PolicyFeature, Fact<boolean>> {
  return { egress: f, ipBlockExcept: f, namedPorts: f, endPort: f, namespaceAndPodSelector: f };
}

export const K8S_NETWORK_PLUGINS = 'https://kubernetes.io/docs/concepts/extend-kubernetes/compute-storage-net/network-plugins/';
export const K8S_NETWORK_POLICY = 'https://kubernetes.io/docs/concepts/services-networking/network-policies/';
