// `netconform psa whatif`: before changing a namespace's Pod Security label, show what the
// proposed level:version would reject there — per namespace, grouped by workload — and the
// labels we recommend, from a cluster file or from the API server.
import { readFileSync } from 'node:fs';
import { bool, parseFlags, str } from '../common/cli.js';
import { parseClusterObjects, parseClusterText, type ClusterContext } from '../common/cluster.js';
import { EXIT_FINDINGS, EXIT_OK, InputError, UsageError } from '../common/errors.js';
import { renderTable } from '../common/table.js';
import { loadClusterFromApi } from '../kube/load.js';
import { LEVEL_LABEL, VERSION_LABEL } from '../psa/namespace-labels.js';
import { whatIf, type WhatIfReport } from '../psa/whatif.js';
import { PSA_FLAG_HELP } from './psa-check.js';
import { PSA_EVAL_FLAGS, readPsaEvalFlags } from '../psa/flags.js';
import type { Command } from './command.js';
import { CONNECTION_FLAGS, connectionFromFlags, queryClient, unary, type CollectorConnection } from './collector-client.js';
import type { PsaWhatIfRequest } from '../gen/proto/netconform/v1/PsaWhatIfRequest.js';
import type { PsaWhatIfResponse__Output } from '../gen/proto/netconform/v1/PsaWhatIfResponse.js';

const HELP = `Usage: netconform psa whatif --level L [--version V] [--namespace N] [--cluster FILE | --kubeconfig FILE]

For each namespace: its Pod Security labels today, which pods and workload templates the
proposed level would reject (grouped by the workload that owns them, with the API server's
message), and a recommended label set — the strictest level that rejects nothing, pinned to
a version, with audit and warn one level stricter.

  --cluster FILE              output of kubectl get namespaces,pods,deployments,replicasets,statefulsets,
                              daemonsets,jobs,cronjobs,replicationcontrollers -A -o yaml ("-" for stdin)
  --kubeconfig FILE           read the same from the API server (default: in-cluster)
  --collector HOST:PORT       ask a running collector, over the pods it watches
  --namespace N               only this namespace
${PSA_FLAG_HELP}

Exit codes: 0 nothing would be rejected, 1 something would, 2 usage or unreadable input.
`;

/** Kinds whatif lists from the API server. */
const WHATIF_KINDS = ['Namespace', 'Pod', 'ReplicationController', 'Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'];

function readCluster(file: string): ClusterContext {
  const shown = file === '-' ? '<stdin>' : file;
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(shown, `cannot read cluster file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseClusterObjects(parseClusterText(text, shown));
}

export function formatWhatIfTable(report: WhatIfReport): string {
  const out: string[] = [];
  out.push(`proposed ${report.proposed.level}:${report.proposed.version}` +
    (report.proposed.level === 'privileged' ? '' : ` (evaluated as policy ${report.proposed.evaluatedVersion})`) +
    `; recommendations pinned to ${report.pinnedVersion}\n`);
  for (const ns of report.namespaces) {
    out.push(`\nnamespace ${ns.namespace}\n`);
    out.push(`  labels now   enforce=${ns.current.enforce} audit=${ns.current.audit} warn=${ns.current.warn}\n`);
    for (const e of ns.labelErrors) out.push(`  label error  ${e.message}\n`);
    out.push(`  ${ns.proposed} would reject ${ns.rejectedPods} of ${ns.pods} pods, ${ns.rejectedWorkloads} of ${ns.workloads} workloads\n`);
    if (ns.rejected.length > 0) {
      const rows: string[][] = [];
      for (const w of ns.rejected) {
        w.rejections.forEach((r, i) => {
          const what = [r.pods > 0 ? `${r.pods} pod${r.pods === 1 ? '' : 's'}` : '', r.template ? 'template' : ''].filter(Boolean).join(' + ');
          const text = r.message.slice(r.message.indexOf(': ') + 2);
          rows.push(i === 0 ? [`${w.kind}/${w.name}`, `${w.rejectedPods}/${w.pods}`, what, text] : ['', '', what, text]);
        });
      }
      out.push(renderTable(['WORKLOAD', 'PODS', 'REJECTED', 'WHY'], rows, 50).trimEnd().replace(/^/gm, '  ') + '\n');
    }
    const rec = ns.recommended;
    const pair = (mode: 'enforce' | 'audit' | 'warn'): string => `${mode}=${rec[LEVEL_LABEL[mode]]}:${rec[VERSION_LABEL[mode]]}`;
    out.push(`  recommended  ${pair('enforce')} ${pair('audit')} ${pair('warn')}\n`);
    out.push(`               kubectl label --overwrite ns ${ns.namespace} ${Object.entries(rec).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
  }
  for (const u of report.unreadable) out.push(`\nunreadable ${u.kind} ${u.namespace}/${u.name}: ${u.error}\n`);
  return out.join('');
}

/** The collector's what-if over the pods it watches (same report, same rendering). */
async function whatIfFromCollector(address: string, conn: CollectorConnection, level: string, version: string, namespace: string): Promise<WhatIfReport> {
  const client = queryClient(address, conn);
  try {
    const res = await unary<PsaWhatIfRequest, PsaWhatIfResponse__Output>(client, address, client.PsaWhatIf, { level, version, namespace }, 30_000);
    if (!res.clusterKnown) throw new UsageError(`the collector at ${address} watches no cluster (start it with --kubeconfig, in a cluster, or with --cluster)`, '--collector');
    return JSON.parse(res.reportJson) as WhatIfReport;
  } finally {
    client.close();
  }
}

export const psaWhatifCommand: Command = {
  summary: 'what a stricter Pod Security label would reject, per namespace and workload',
  async run(argv) {
    const p = parseFlags(argv, {
      ...PSA_EVAL_FLAGS,
      namespace: { type: 'string', short: 'n' },
      cluster: { type: 'string' },
      kubeconfig: { type: 'string' },
      collector: { type: 'string' },
      ...CONNECTION_FLAGS,
    });
    if (bool(p, 'help')) {
      process.stdout.write(HELP);
      return EXIT_OK;
    }
    const { level, version, kubernetesMinor, output } = readPsaEvalFlags(p);
    const file = str(p, 'cluster');
    const sources = ['cluster', 'kubeconfig', 'collector'].filter((f) => str(p, f) !== undefined);
    if (sources.length > 1) throw new UsageError(`${sources.map((f) => `--${f}`).join(' and ')} cannot be combined: choose one source`);
    const namespace = str(p, 'namespace');
    let report: WhatIfReport;
    if (str(p, 'collector') !== undefined) {
      report = await whatIfFromCollector(str(p, 'collector')!, await connectionFromFlags(p), str(p, 'level')!, str(p, 'version') ?? '', namespace ?? '');
    } else {
      const cluster = file !== undefined
        ? readCluster(file)
        : await loadClusterFromApi(str(p, 'kubeconfig') ?? process.env['KUBECONFIG'], { kinds: WHATIF_KINDS });
      report = whatIf(
        { namespaces: cluster.namespaces, objects: cluster.workloads },
        { level, version, kubernetesMinor, ...(namespace !== undefined ? { namespace } : {}) },
      );
    }
    if (namespace !== undefined && report.namespaces.length === 0) {
      process.stderr.write(`netconform psa whatif: namespace "${namespace}" has no Namespace object and no pods or workloads in the input\n`);
    }
    process.stdout.write(output === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatWhatIfTable(report));
    return report.namespaces.some((n) => n.rejected.length > 0) ? EXIT_FINDINGS : EXIT_OK;
  },
};
