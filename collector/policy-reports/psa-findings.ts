// What a namespace's PolicyReport says about Pod Security: the psa.namespace-labels lint of
// its labels, and what admission recorded (audit violations warn, enforce denials fail), one
// result per control and mode, counted over the reporting window. Pure: the writer feeds it
// the tracker's lints and the store's control counts.
import type { Finding } from '../../common/findings.js';
import type { NamespaceLint } from '../psa-labels/lint.js';
import type { ControlCount } from '../store/audit-events.js';

/** Check id of recorded Pod Security Admission results (docs/checks.md). */
export const PSA_ADMISSION_CHECK = 'psa.admission';

export function namespaceFindings(lints: readonly NamespaceLint[], controls: readonly ControlCount[], window: string): Map<string, Finding[]> {
  const out = new Map<string, Finding[]>();
  const add = (ns: string, f: Finding): void => {
    let list = out.get(ns);
    if (!list) out.set(ns, (list = []));
    list.push(f);
  };
  for (const l of lints) if (!l.exempt) add(l.namespace, l.finding);
  for (const c of controls) {
    const enforce = c.mode === 'enforce';
    const what = enforce ? 'denied' : 'admitted in violation of';
    add(c.namespace, {
      check: PSA_ADMISSION_CHECK,
      status: enforce ? 'fail' : 'warn',
      severity: enforce ? 'high' : 'medium',
      subject: `${c.namespace}/${c.control}`,
      message: `${c.count} pod ${c.count === 1 ? 'request' : 'requests'} ${what} ${c.level} control ${c.control} (${c.mode}) in the last ${window}: ${c.reason}`,
      evidence: { mode: c.mode, level: c.level, control: c.control, count: c.count },
    });
  }
  return out;
}
