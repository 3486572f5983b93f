// The collector's answer to MigrationInventory is JSON made by another process (possibly
// another version): each document is checked for the fields `migrationCheck` reads before
// it is trusted, and a wrong one is an InputError naming the node or the inventory.
import { InputError } from '../common/errors.js';
import type { NodeFingerprint } from '../agent/fingerprint.js';
import type { ClusterInventory } from './inventory.js';

interface Shape {
  readonly [field: string]: 'string' | 'number' | 'boolean' | 'array' | 'object' | Shape;
}

const FINGERPRINT_SHAPE: Shape = {
  node: 'string',
  cni: { family: 'string', mainType: 'string', file: 'string', specVersion: 'string', binaries: 'array' },
  ipam: 'string',
  dataPath: { kind: 'string', device: 'string', mtu: 'number', underlayMtu: 'number', underlayDevice: 'string', underlayAddress: 'string' },
  podCidrSource: 'string', podCidrs: 'array',
  masquerade: { rules: 'number', excludedDestinations: 'array' },
  proxyMode: 'string', ruleCounts: 'object', bridgeNfCallNeeded: 'boolean', bridgeNfCallIptables: 'string',
  hostPortMapping: 'boolean', ipFamilies: 'array', kernel: 'string', modules: 'array',
};

const INVENTORY_SHAPE: Shape = {
  nodes: 'array', podsPerNode: 'object', maxPodsOnANode: 'number', serviceClusterIPs: 'array', dualStack: 'boolean',
  networkPolicies: 'array', hostPortPods: 'array', hostNetworkPods: 'array', localTrafficServices: 'array', dataPathDaemonSets: 'array',
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first field that does not have its shape's type, as `dataPath.mtu: expected number`. */
function mismatch(v: unknown, shape: Shape, path: string): string | undefined {
  if (!isObj(v)) return `${path || 'document'}: expected an object`;
  for (const [key, want] of Object.entries(shape)) {
    const at = path ? `${path}.${key}` : key;
    const got = v[key];
    if (typeof want === 'object') {
      const inner = mismatch(got, want, at);
      if (inner) return inner;
    } else if (want === 'array' ? !Array.isArray(got) : want === 'object' ? !isObj(got) : typeof got !== want) {
      return `${at}: expected ${want}, got ${got === undefined ? 'nothing' : Array.isArray(got) ? 'array' : typeof got}`;
    }
  }
  return undefined;
}

function parseShaped(text: string, shape: Shape, source: string): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InputError(source, `not JSON: ${(err as Error).message}`);
  }
  const wrong = mismatch(v, shape, '');
  if (wrong) throw new InputError(source, wrong);
  return v;
}

export function parseFingerprintJson(text: string, source: string): NodeFingerprint {
  return parseShaped(text, FINGERPRINT_SHAPE, source) as NodeFingerprint;
}

export function parseInventoryJson(text: string, source: string): ClusterInventory {
  return parseShaped(text, INVENTORY_SHAPE, source) as ClusterInventory;
}
