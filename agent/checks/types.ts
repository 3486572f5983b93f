// A check is a pure function of a NodeSnapshot and the ClusterContext: no I/O, no clock.
import type { Finding } from '../../common/findings.js';
import type { ClusterContext } from '../../common/cluster.js';
import type { Facet, NodeSnapshot } from '../snapshot.js';

/** A check's verdict on one subject; the scanner adds the check id. */
export type CheckResult = Omit<Finding, 'check'>;

export interface CheckDefinition {
  /** Stable id `area.name`; never renamed once released (dashboards and alerts key on it). */
  readonly id: string;
  /** One line: the principle this check proves. */
  readonly title: string;
  /** Snapshot facets the check cannot run without; any missing → one `skip` result. */
  readonly needs: readonly Facet[];
  /** Needs the ClusterContext (nodes, services); without it → one `skip` result. */
  readonly needsCluster?: boolean;
  run(snapshot: NodeSnapshot, cluster: ClusterContext | undefined): readonly CheckResult[];
}
