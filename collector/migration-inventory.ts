// What `netconform migrate check --collector` asks the collector for: its own view of the
// cluster (migrate/inventory.ts ClusterInventory, from its Kubernetes watch or --cluster
// file) and every node's latest fingerprint (agent reports, kept in the store). The
// inventory is built when asked, at most once per watch context: queries are rare, and the
// watch cache already holds every object it needs.
import type { KubeObject } from '../common/cluster.js';
import { clusterInventory, type ClusterInventory } from '../migrate/inventory.js';

/** The collector's watch has not listed every kind yet: an inventory now would be partial. */
export class InventoryNotReadyError extends Error {
  override readonly name = 'InventoryNotReadyError';
}

/** Where the collector's cluster view comes from; `undefined` from inventory(): no cluster. */
export interface MigrationInventorySource {
  inventory(): ClusterInventory | undefined;
}

export const NO_CLUSTER: MigrationInventorySource = { inventory: () => undefined };

/** A fixed set of objects (`--cluster FILE`): built once. */
export function fileInventorySource(objects: readonly KubeObject[]): MigrationInventorySource {
  const inv = clusterInventory(objects);
  return { inventory: () => inv };
}

/** The part of ClusterWatcher this needs (kube/watcher.ts). */
export interface WatchedObjects {
  readonly synced: boolean;
  status(): { readonly version: number };
  objects(): KubeObject[];
}

/** The collector's Kubernetes watch: rebuilt only when the watch emitted a new context. */
export function watchInventorySource(watch: () => WatchedObjects | undefined): MigrationInventorySource {
  let cached: { version: number; inventory: ClusterInventory } | undefined;
  return {
    inventory() {
      const w = watch();
      if (!w || !w.synced) throw new InventoryNotReadyError('the collector\'s Kubernetes watch has not listed every kind yet; try again in a moment');
      const version = w.status().version;
      if (cached?.version !== version) cached = { version, inventory: clusterInventory(w.objects()) };
      return cached.inventory;
    },
  };
}
