// Every PromQL expression the shipped alerts and dashboard use, read from the manifests
// themselves, so the tests (promtool here, a real Prometheus in the end-to-end test) run
// exactly what is deployed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../support/processes.js';

export const MONITORING_DIR = join(ROOT, 'manifests', 'monitoring');

export interface ManifestQuery {
  /** `alert NetconformPodToPodNAT` or `panel "Report age" A`. */
  readonly source: string;
  readonly expr: string;
  /**
   * The expression without a trailing threshold comparison (`… > 300`): what must return
   * series whenever the metrics exist, firing or not.
   */
  readonly base: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const TRAILING_COMPARISON = /\s*(==|!=|>=|<=|>|<)\s*-?[0-9.]+\s*$/;

export function baseOf(expr: string): string {
  return expr.replace(TRAILING_COMPARISON, '').trim();
}

/** The PrometheusRule's `spec` (a Prometheus rule file), as promtool reads it. */
export function ruleFileSpec(): Obj {
  const rule = parse(readFileSync(join(MONITORING_DIR, 'prometheusrule.yaml'), 'utf8')) as Obj;
  if (!isObj(rule['spec'])) throw new Error('prometheusrule.yaml has no spec');
  return rule['spec'];
}

export function alertQueries(): ManifestQuery[] {
  const out: ManifestQuery[] = [];
  for (const g of (ruleFileSpec()['groups'] as Obj[]) ?? []) {
    for (const r of (g['rules'] as Obj[]) ?? []) {
      const expr = String(r['expr']);
      out.push({ source: `alert ${String(r['alert'] ?? r['record'])}`, expr, base: baseOf(expr) });
    }
  }
  return out;
}

export function dashboard(): Obj {
  return JSON.parse(readFileSync(join(MONITORING_DIR, 'netconform-dashboard.json'), 'utf8')) as Obj;
}

export function dashboardQueries(): ManifestQuery[] {
  const out: ManifestQuery[] = [];
  const walk = (panels: unknown): void => {
    if (!Array.isArray(panels)) return;
    for (const p of panels.filter(isObj)) {
      for (const t of Array.isArray(p['targets']) ? p['targets'].filter(isObj) : []) {
        const expr = String(t['expr']);
        out.push({ source: `panel "${String(p['title'])}" ${String(t['refId'])}`, expr, base: baseOf(expr) });
      }
      walk(p['panels']);
    }
  };
  walk(dashboard()['panels']);
  return out;
}

/** Alerts and dashboard together. */
export function manifestQueries(): ManifestQuery[] {
  return [...alertQueries(), ...dashboardQueries()];
}
