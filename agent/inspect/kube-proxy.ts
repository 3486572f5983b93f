// The kubeProxy facet: what kube-proxy says about its own progress, from its /metrics
// (`--kube-proxy-metrics`, default http://127.0.0.1:10249/metrics; the agent is hostNetwork).
// kube-proxy sets `kubeproxy_sync_proxy_rules_last_timestamp_seconds` when a sync succeeds
// and counts changes it has received but not yet programmed in the `*_changes_pending`
// gauges — exactly what is needed to tell "still converging" from "wrong". An unreachable
// or malformed endpoint is not an error: the facet says why (`unavailable`) and the checks
// fall back to the settle window. In a bundle the scrape is kube-proxy-metrics.txt.
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePromText, type PromFamily } from '../../common/prom-text.js';

export const KUBE_PROXY_METRICS_FILE = 'kube-proxy-metrics.txt';
export const DEFAULT_KUBE_PROXY_METRICS = 'http://127.0.0.1:10249/metrics';
export const DEFAULT_SETTLE_MS = 30_000;
export const DEFAULT_STALL_MS = 5 * 60_000;
/** kube-proxy's /metrics is a few tens of KiB; anything far larger is not kube-proxy. */
export const SCRAPE_MAX_BYTES = 4 * 1024 * 1024;
export const SCRAPE_TIMEOUT_MS = 2000;

/** The metric names read (declared once). */
export const KP = {
  lastSync: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds',
  lastQueued: 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds',
  endpointsPending: 'kubeproxy_sync_proxy_rules_endpoint_changes_pending',
  servicesPending: 'kubeproxy_sync_proxy_rules_service_changes_pending',
  syncDuration: 'kubeproxy_sync_proxy_rules_duration_seconds',
  processStart: 'process_start_time_seconds',
} as const;

/** The values kube-proxy reported, as read from one scrape. */
export interface KubeProxyMetrics {
  /** RFC 3339 time of the scrape (the bundle's capture time for a bundle). */
  readonly scrapedAt: string;
  /**
   * Epoch seconds of the last successful sync (the newest of the per-IP-family series: a
   * dual-stack kube-proxy resyncs only the family a change concerns, so the other family's
   * timestamp says nothing about it); absent before the first. A family that is stuck shows
   * in unsyncedSinceSeconds / unsyncedLastSyncSeconds.
   */
  readonly lastSyncSeconds?: number;
  readonly lastQueuedSeconds?: number;
  /**
   * Epoch seconds of the earliest sync request (`*_last_queued_timestamp_seconds`) newer than
   * its IP family's last successful sync: kube-proxy has been asked to program a change and
   * has not managed to since. kube-proxy zeroes the `*_changes_pending` gauges when a sync
   * *starts*, also one that then fails, so this is the signal that survives a failing sync
   * (kube-proxy's own /healthz judges the same way). Absent when every family is synced.
   */
  readonly unsyncedSinceSeconds?: number;
  /** That family's last successful sync (0 when it never synced). */
  readonly unsyncedLastSyncSeconds?: number;
  /** Changes received but not yet programmed (summed over series); absent when kube-proxy does not export the gauge. */
  readonly endpointChangesPending?: number;
  readonly serviceChangesPending?: number;
  /** The sync duration histogram's totals: how long a sync takes on this node. */
  readonly syncDuration?: { readonly count: number; readonly sumSeconds: number };
  readonly processStartSeconds?: number;
}

export interface KubeProxyFacts {
  /** Where the scrape came from: the URL, or the bundle file. */
  readonly source: string;
  /**
   * The judgement windows (--settle, --kube-proxy-stall). They travel with the scrape because
   * they qualify it, and because checks see only (snapshot, cluster): a scrape says what
   * kube-proxy had done; the windows say how long a change may take before it is wrong.
   */
  readonly settleMs: number;
  readonly stallMs: number;
  /** The parsed values, or why there are none. */
  readonly metrics: KubeProxyMetrics | { readonly unavailable: string };
  /** The scrape as served, so `capture` writes it verbatim (absent when unavailable). */
  readonly text?: string;
  /**
   * When this scrape did not answer: the time (RFC 3339) of the last one that did, in this
   * agent's run. Only a running agent remembers it (rememberKubeProxyAnswer); a one-off scan
   * or a bundle cannot tell a kube-proxy that stopped from one that was never reachable.
   */
  readonly lastAnsweredAt?: string;
}

export interface KubeProxyOptions {
  readonly url: string;
  readonly settleMs: number;
  readonly stallMs: number;
}

export const isAvailable = (m: KubeProxyFacts['metrics']): m is KubeProxyMetrics => !('unavailable' in m);

const values = (f: PromFamily | undefined, sampleName: string): number[] =>
  (f?.samples ?? []).filter((s) => s.name === sampleName && !Number.isNaN(s.value)).map((s) => s.value);

/** Reads kube-proxy's values from a parsed exposition. Pure. */
export function kubeProxyMetricsFrom(families: ReadonlyMap<string, PromFamily>, scrapedAt: string): KubeProxyMetrics {
  const one = (name: string, combine: (xs: number[]) => number): number | undefined => {
    const xs = values(families.get(name), name);
    return xs.length > 0 ? combine(xs) : undefined;
  };
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const min = (xs: number[]): number => Math.min(...xs);
  // A gauge that was never set reads 0: kube-proxy has not synced yet.
  const lastSync = one(KP.lastSync, (xs) => Math.max(...xs));
  const lastQueued = one(KP.lastQueued, min);
  const endpoints = one(KP.endpointsPending, sum);
  const services = one(KP.servicesPending, sum);
  const hist = families.get(KP.syncDuration);
  const count = values(hist, `${KP.syncDuration}_count`);
  const total = values(hist, `${KP.syncDuration}_sum`);
  const started = one(KP.processStart, min);
  // Per IP family (the `ip_family` label): a sync queued after that family's last success.
  const family = (x: { labels: Readonly<Record<string, string>> }): string => x.labels['ip_family'] ?? '';
  const synced = new Map((families.get(KP.lastSync)?.samples ?? []).filter((x) => x.name === KP.lastSync && !Number.isNaN(x.value)).map((x) => [family(x), x.value] as const));
  let unsynced: number | undefined;
  let unsyncedLast: number | undefined;
  for (const q of families.get(KP.lastQueued)?.samples ?? []) {
    if (q.name !== KP.lastQueued || Number.isNaN(q.value) || q.value <= 0) continue;
    const last = synced.get(family(q)) ?? 0;
    if (q.value > last && (unsynced === undefined || q.value < unsynced)) { unsynced = q.value; unsyncedLast = last; }
  }
  return {
    scrapedAt,
    ...(lastSync !== undefined && lastSync > 0 ? { lastSyncSeconds: lastSync } : {}),
    ...(lastQueued !== undefined && lastQueued > 0 ? { lastQueuedSeconds: lastQueued } : {}),
    ...(unsynced !== undefined ? { unsyncedSinceSeconds: unsynced, unsyncedLastSyncSeconds: unsyncedLast ?? 0 } : {}),
    ...(endpoints !== undefined ? { endpointChangesPending: endpoints } : {}),
    ...(services !== undefined ? { serviceChangesPending: services } : {}),
    ...(count.length > 0 && total.length > 0 ? { syncDuration: { count: sum(count), sumSeconds: Math.round(sum(total) * 1e6) / 1e6 } } : {}),
    ...(started !== undefined ? { processStartSeconds: started } : {}),
  };
}

/** A scrape as facts: parsed, or `unavailable` naming the line that does not parse. */
export function kubeProxyFactsFromText(text: string, source: string, scrapedAt: string, opts: Omit<KubeProxyOptions, 'url'>): KubeProxyFacts {
  const windows = { source, settleMs: opts.settleMs, stallMs: opts.stallMs };
  let metrics: KubeProxyMetrics;
  try {
    metrics = kubeProxyMetricsFrom(parsePromText(text, source), scrapedAt);
  } catch (err) {
    return { ...windows, metrics: { unavailable: `not a Prometheus exposition: ${(err as Error).message}` } };
  }
  if (metrics.lastSyncSeconds === undefined && metrics.endpointChangesPending === undefined && metrics.serviceChangesPending === undefined && !text.includes(KP.lastSync)) {
    return { ...windows, metrics: { unavailable: `${source} serves no kubeproxy_sync_proxy_rules_* metrics (not kube-proxy?)` }, text };
  }
  return { ...windows, metrics, text };
}

/** GET with a short timeout and a size cap; resolves to the body or the reason there is none. */
export function fetchMetricsText(url: string, timeoutMs = SCRAPE_TIMEOUT_MS, maxBytes = SCRAPE_MAX_BYTES): Promise<{ text: string } | { unavailable: string }> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.resolve({ unavailable: `invalid URL "${url}"` });
  }
  const request = parsed.protocol === 'https:' ? httpsRequest : parsed.protocol === 'http:' ? httpRequest : undefined;
  if (!request) return Promise.resolve({ unavailable: `unsupported URL scheme "${parsed.protocol}" in ${url}` });
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: { text: string } | { unavailable: string }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = request(parsed, { method: 'GET', headers: { accept: 'text/plain;version=0.0.4' } }, (res) => {
      if (res.statusCode !== 200) { done({ unavailable: `${url} answered HTTP ${res.statusCode}` }); return; }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) { done({ unavailable: `${url} sent more than ${maxBytes} bytes` }); return; }
        chunks.push(c);
      });
      res.on('end', () => done({ text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => done({ unavailable: `${url}: ${e.message}` }));
    });
    const timer = setTimeout(() => done({ unavailable: `${url} did not answer within ${timeoutMs} ms` }), timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => done({ unavailable: `${url}: ${e.code ?? e.message}` }));
    req.end();
  });
}

/**
 * The running agent's memory of kube-proxy answering, carried from scan to scan: a scrape that
 * answers is remembered; one that does not is given the last answer's time, so the check can
 * tell a kube-proxy that stopped (it answered, then went silent for longer than the stall
 * window) from one that was never reachable at --kube-proxy-metrics. Pure.
 */
export function rememberKubeProxyAnswer(facts: KubeProxyFacts | undefined, lastAnsweredAt: string | undefined): { facts: KubeProxyFacts | undefined; lastAnsweredAt: string | undefined } {
  if (!facts) return { facts, lastAnsweredAt };
  if (isAvailable(facts.metrics)) return { facts, lastAnsweredAt: facts.metrics.scrapedAt };
  return { facts: lastAnsweredAt !== undefined ? { ...facts, lastAnsweredAt } : facts, lastAnsweredAt };
}

/** Scrapes kube-proxy from the caller's network namespace. */
export async function scrapeKubeProxy(opts: KubeProxyOptions, now = (): Date => new Date()): Promise<KubeProxyFacts> {
  const r = await fetchMetricsText(opts.url);
  if ('unavailable' in r) return { source: opts.url, settleMs: opts.settleMs, stallMs: opts.stallMs, metrics: r };
  return kubeProxyFactsFromText(r.text, opts.url, now().toISOString(), opts);
}

// Inside another network namespace the socket must be opened from there. A plain-JS child
// (`ip netns exec NS node -e …`, no TypeScript loader) keeps that cheap enough to poll.
const NETNS_FETCH = `
const [url, timeoutMs, maxBytes] = process.argv.slice(1);
const mod = url.startsWith('https:') ? require('node:https') : require('node:http');
const req = mod.get(url, { timeout: Number(timeoutMs) }, (res) => {
  if (res.statusCode !== 200) { process.stderr.write(url + ' answered HTTP ' + res.statusCode); process.exit(3); }
  let size = 0; const chunks = [];
  res.on('data', (c) => { size += c.length; if (size > Number(maxBytes)) { process.stderr.write(url + ' sent more than ' + maxBytes + ' bytes'); process.exit(3); } chunks.push(c); });
  res.on('end', () => { process.stdout.write(Buffer.concat(chunks)); });
});
req.on('timeout', () => { process.stderr.write(url + ' did not answer within ' + timeoutMs + ' ms'); process.exit(3); });
req.on('error', (e) => { process.stderr.write(url + ': ' + (e.code || e.message)); process.exit(3); });
`;

/** fetchMetricsText, from inside network namespace `netns`. */
export function fetchMetricsTextInNetns(netns: string, url: string, timeoutMs = SCRAPE_TIMEOUT_MS, maxBytes = SCRAPE_MAX_BYTES): Promise<{ text: string } | { unavailable: string }> {
  return new Promise((resolve) => {
    const args = ['netns', 'exec', netns, process.execPath, '-e', NETNS_FETCH, url, String(timeoutMs), String(maxBytes)];
    execFile('ip', args, { maxBuffer: maxBytes + 1024, timeout: timeoutMs + 3000 }, (err, stdout, stderr) => {
      if (err) resolve({ unavailable: String(stderr).trim() || `netns ${netns}: ${err.message}` });
      else resolve({ text: stdout });
    });
  });
}

export function readKubeProxyBundle(
  dir: string, read: (dir: string, name: string) => string | undefined, capturedAt: string, opts: Omit<KubeProxyOptions, 'url'>,
): { kubeProxy?: KubeProxyFacts } {
  const text = read(dir, KUBE_PROXY_METRICS_FILE);
  if (text === undefined) return {};
  const source = join(dir, KUBE_PROXY_METRICS_FILE);
  // A bundle is input the user gave: a malformed file is an error naming its line.
  parsePromText(text, source);
  return { kubeProxy: kubeProxyFactsFromText(text, source, capturedAt, opts) };
}

export function writeKubeProxyBundle(dir: string, facts: KubeProxyFacts | undefined): string[] {
  if (facts?.text === undefined) return [];
  writeFileSync(join(dir, KUBE_PROXY_METRICS_FILE), facts.text);
  return [KUBE_PROXY_METRICS_FILE];
}

/** kube-proxy's last successful sync (epoch ms) — the rescan policy's cheap poll. */
export async function kubeProxyLastSyncMs(url: string, netns?: string): Promise<number | undefined> {
  const r = netns ? await fetchMetricsTextInNetns(netns, url) : await fetchMetricsText(url);
  if ('unavailable' in r) return undefined;
  try {
    const s = kubeProxyMetricsFrom(parsePromText(r.text, url), new Date().toISOString()).lastSyncSeconds;
    return s !== undefined ? s * 1000 : undefined;
  } catch {
    return undefined;
  }
}
