// `netconform psa check`: evaluate Pods and workload templates in files against a Pod
// Security level and version, offline, with the API server's own messages.
import { readFileSync } from 'node:fs';
import { bool, parseFlags } from '../common/cli.js';
import { flattenObjects, parseClusterText } from '../common/cluster.js';
import { EXIT_FINDINGS, EXIT_OK, InputError, UsageError } from '../common/errors.js';
import { renderTable } from '../common/table.js';
import { DEFAULT_KUBERNETES_MINOR, evaluate, resolveVersion, violationMessage } from '../psa/evaluate.js';
import { PodReadError } from '../psa/pod.js';
import { formatVersion, type Violation } from '../psa/types.js';
import { podSubject } from '../psa/workload.js';
import type { Command } from './command.js';

import { PSA_EVAL_FLAGS, readPsaEvalFlags } from '../psa/flags.js';

export const PSA_FLAG_HELP = `  --level L                   privileged | baseline | restricted (required)
  --version V                 policy version: latest (default) or v1.N, as in the namespace label
  --kubernetes-version 1.N    the cluster's version; resolves "latest" (default 1.${DEFAULT_KUBERNETES_MINOR}, the newest policy known)
  --output table|json         output format (default table)`;

const HELP = `Usage: netconform psa check --level L [--version V] [--kubernetes-version 1.N] [--output table|json] FILE...

Evaluates every Pod, and the pod template of every Deployment, ReplicaSet, StatefulSet,
DaemonSet, Job, CronJob, ReplicationController and PodTemplate, in the files (YAML or JSON,
multi-document, kind: List; "-" reads stdin) as the API server's PodSecurity admission would.

${PSA_FLAG_HELP}

Exit codes: 0 all allowed, 1 any rejected, 2 usage or unreadable input.
`;

export interface CheckResult {
  readonly file: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly allowed: boolean;
  readonly violations: readonly Violation[];
  /** The API server's sentence (`violates PodSecurity "…": …`); null when allowed. */
  readonly message: string | null;
}

function readInput(file: string): string {
  try {
    return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(file === '-' ? '<stdin>' : file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function describe(o: unknown, index: number): string {
  const obj = (typeof o === 'object' && o !== null ? o : {}) as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const kind = typeof obj.kind === 'string' ? obj.kind : 'object';
  const name = typeof obj.metadata?.name === 'string' ? obj.metadata.name : `#${index + 1}`;
  const ns = typeof obj.metadata?.namespace === 'string' ? `${obj.metadata.namespace}/` : '';
  return `${kind} ${ns}${name}`;
}

export const psaCheckCommand: Command = {
  summary: 'evaluate pods and workload templates in files against a Pod Security level',
  async run(argv) {
    const p = parseFlags(argv, PSA_EVAL_FLAGS, true);
    if (bool(p, 'help')) {
      process.stdout.write(HELP);
      return EXIT_OK;
    }
    const { level, version, kubernetesMinor, output } = readPsaEvalFlags(p);
    if (p.positionals.length === 0) throw new UsageError('name at least one file (or - for stdin)');

    const results: CheckResult[] = [];
    let skipped = 0;
    for (const file of p.positionals) {
      const shown = file === '-' ? '<stdin>' : file;
      const objects = flattenObjects(parseClusterText(readInput(file), shown));
      objects.forEach((o, i) => {
        let subject;
        try {
          subject = podSubject(o);
        } catch (err) {
          if (err instanceof PodReadError) throw new InputError(shown, `${describe(o, i)}: ${err.message}`);
          throw err;
        }
        if (!subject) {
          skipped++;
          return;
        }
        const e = evaluate(subject.pod, level, version, { kubernetesMinor });
        results.push({
          file: shown,
          kind: subject.kind,
          namespace: subject.namespace,
          name: subject.name,
          allowed: e.allowed,
          violations: e.violations,
          message: violationMessage(e) ?? null,
        });
      });
    }

    const rejected = results.filter((r) => !r.allowed).length;
    if (output === 'json') {
      process.stdout.write(JSON.stringify({ results }, null, 2) + '\n');
    } else {
      const rows: string[][] = [];
      for (const r of results) {
        const subject = `${r.namespace ? r.namespace + '/' : ''}${r.name}`;
        if (r.allowed) {
          rows.push([r.kind, subject, 'yes', '']);
          continue;
        }
        r.violations.forEach((v, i) => {
          const text = v.detail ? `${v.reason} (${v.detail})` : v.reason;
          rows.push(i === 0 ? [r.kind, subject, 'no', text] : ['', '', '', text]);
        });
      }
      const evaluated = level === 'privileged' ? '' : ` (policy v1.${resolveVersion(version, kubernetesMinor)} on Kubernetes 1.${kubernetesMinor})`;
      process.stdout.write(renderTable(['KIND', 'NAMESPACE/NAME', 'ALLOWED', 'VIOLATIONS'], rows, 60));
      process.stdout.write(`\n${results.length} evaluated at ${level}:${formatVersion(version)}${evaluated}: ${results.length - rejected} allowed, ${rejected} rejected${skipped ? `; ${skipped} other objects ignored` : ''}\n`);
    }
    if (results.length === 0) process.stderr.write('netconform psa check: no Pod or workload objects found in the input\n');
    return rejected > 0 ? EXIT_FINDINGS : EXIT_OK;
  },
};
