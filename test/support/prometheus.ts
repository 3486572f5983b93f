// A real Prometheus (Debian package) on loopback, scraping targets the test names and
// evaluating the rule files it is given (scrape and evaluation interval 1 s).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './processes.js';
import { freePort } from './net.js';

export const JOB = 'netconform-collector';

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface QueryResult {
  readonly status: string;
  readonly resultType: string;
  /** The samples of a vector result (a scalar or string result is wrapped as one sample). */
  readonly result: PromSample[];
  readonly error?: string;
  readonly warnings?: string[];
}

export interface PromRule {
  readonly name: string;
  readonly type: 'alerting' | 'recording';
  readonly query: string;
  readonly health: string;
  readonly lastError?: string;
  readonly state?: string;
}

export interface PromAlert {
  readonly labels: Record<string, string>;
  readonly state: string;
  readonly value: string;
}

export interface Prometheus {
  readonly url: string;
  /** An instant query at the current time (GET /api/v1/query). */
  query(expr: string): Promise<QueryResult>;
  /** Every rule of every loaded group (GET /api/v1/rules). */
  rules(): Promise<PromRule[]>;
  /** Pending and firing alerts (GET /api/v1/alerts). */
  alerts(): Promise<PromAlert[]>;
  /** Resolves once every target has been scraped successfully at least `scrapes` times. */
  waitForScrape(scrapes?: number): Promise<void>;
  stderr(): string;
  stop(): Promise<void>;
}


interface ApiBody<T> {
  readonly status: string;
  readonly data?: T;
  readonly error?: string;
  readonly errorType?: string;
  readonly warnings?: string[];
}

export async function startPrometheus(targets: readonly string[], ruleFiles: readonly string[] = []): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'nc-prom-'));
  // Another process may take the port between freePort() and Prometheus binding it: retry.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(dir, await freePort(), targets, ruleFiles);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test(String(err))) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

async function launch(dir: string, port: number, targets: readonly string[], ruleFiles: readonly string[]): Promise<Prometheus> {
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    ...(ruleFiles.length ? ['rule_files:', ...ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)] : []),
    'scrape_configs:',
    `  - job_name: ${JOB}`,
    '    static_configs:',
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`,
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config + '\n');
  const child: ChildProcess = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && !spawnError) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  try {
    await eventually(async () => {
      if (spawnError) throw new Error(`cannot start prometheus (Debian package "prometheus"): ${spawnError.message}`);
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${stderr.slice(-2000)}`);
      const res = await fetch(`${url}/-/ready`);
      return res.ok || undefined;
    }, 30_000, 'prometheus to be ready');
  } catch (err) {
    await stop();
    throw new Error(`${String(err)}\n${stderr.slice(-2000)}`);
  }

  const api = async <T>(path: string): Promise<ApiBody<T>> => {
    const res = await fetch(`${url}${path}`);
    return (await res.json()) as ApiBody<T>;
  };
  const query: Prometheus['query'] = async (expr) => {
    const body = await api<{ resultType: string; result: unknown }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    const type = body.data?.resultType ?? '';
    const raw = body.data?.result;
    const result: PromSample[] = type === 'vector' && Array.isArray(raw) ? (raw as PromSample[])
      : (type === 'scalar' || type === 'string') && Array.isArray(raw) ? [{ metric: {}, value: raw as [number, string] }]
        : [];
    return {
      status: body.status, resultType: type, result,
      ...(body.error ? { error: `${body.errorType ?? ''}: ${body.error}` } : {}),
      ...(body.warnings?.length ? { warnings: body.warnings } : {}),
    };
  };
  return {
    url,
    query,
    async rules() {
      const body = await api<{ groups: { rules: PromRule[] }[] }>('/api/v1/rules');
      if (body.status !== 'success') throw new Error(`/api/v1/rules: ${body.error ?? body.status}`);
      return (body.data?.groups ?? []).flatMap((g) => g.rules);
    },
    async alerts() {
      const body = await api<{ alerts: PromAlert[] }>('/api/v1/alerts');
      if (body.status !== 'success') throw new Error(`/api/v1/alerts: ${body.error ?? body.status}`);
      return body.data?.alerts ?? [];
    },
    async waitForScrape(scrapes = 1) {
      // up{} gets one sample per scrape; count them over a window longer than the test.
      await eventually(async () => {
        const r = await query(`count_over_time(up{job="${JOB}"}[10m]) >= ${scrapes} and on (instance) up{job="${JOB}"} == 1`);
        return r.result.length === targets.length ? true : undefined;
      }, 30_000 + scrapes * 2_000, `${scrapes} successful scrape(s) of every target`);
    },
    stderr: () => stderr,
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
