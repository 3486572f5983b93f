// `migrate check --collector`: the collector's cluster view and every node's latest
// fingerprint (QueryService.MigrationInventory), in place of --cluster/--kubeconfig and
// --from bundles. The report is then built exactly as offline, so both give the same JSON.
import type { MigrationInventoryRequest } from '../gen/proto/netconform/v1/MigrationInventoryRequest.js';
import type { MigrationInventoryResponse__Output } from '../gen/proto/netconform/v1/MigrationInventoryResponse.js';
import { UsageError } from '../common/errors.js';
import type { NodeFingerprint } from '../agent/fingerprint.js';
import type { ClusterInventory } from '../migrate/inventory.js';
import { parseFingerprintJson, parseInventoryJson } from '../migrate/collector-input.js';
import { queryClient, unary, type CollectorConnection } from './collector-client.js';

export interface CollectorMigrationInputs {
  /** undefined: the collector watches no cluster (no --kubeconfig, not in a cluster, no --cluster). */
  readonly inventory: ClusterInventory | undefined;
  /** Sorted by node name. */
  readonly nodes: readonly NodeFingerprint[];
  /** When the collector accepted the oldest of those fingerprints (RFC 3339). */
  readonly oldestReportedAt: string;
}

export async function migrationInputsFromCollector(address: string, conn: CollectorConnection): Promise<CollectorMigrationInputs> {
  const client = queryClient(address, conn);
  let res: MigrationInventoryResponse__Output;
  try {
    res = await unary<MigrationInventoryRequest, MigrationInventoryResponse__Output>(client, address, client.MigrationInventory, {}, 30_000);
  } finally {
    client.close();
  }
  if (res.fingerprints.length === 0) {
    throw new UsageError(`the collector at ${address} has no node fingerprints yet: agents send one with every scan; wait for their first reports (netconform nodes lists who reported)`, '--collector');
  }
  const nodes = res.fingerprints
    .map((f) => parseFingerprintJson(f.fingerprintJson, `collector ${address}: fingerprint of node ${f.node}`))
    .sort((a, b) => a.node.localeCompare(b.node));
  const oldestReportedAt = res.fingerprints.map((f) => f.reportedAt).sort()[0] ?? '';
  const inventory = res.inventoryJson ? parseInventoryJson(res.inventoryJson, `collector ${address}: cluster inventory`) : undefined;
  return { inventory, nodes, oldestReportedAt };
}
