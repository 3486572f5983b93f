// A kube-proxy /metrics stand-in for tests: the realistic scrape in
// test/fixtures/kube-proxy/metrics.txt with its three sync gauges rewritten, served over
// real HTTP — on host loopback, or inside a lab namespace by a tiny `node -e` server.
import { readFileSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const FIXTURE = readFileSync(new URL('../fixtures/kube-proxy/metrics.txt', import.meta.url), 'utf8');

export interface SyncState {
  /** Epoch ms of the last successful sync. */
  readonly lastSyncMs: number;
  readonly endpointsPending: number;
  readonly servicesPending: number;
}

/** The fixture with the sync gauges set (test data generation; the agent parses it properly). */
export function kubeProxyMetricsText(s: SyncState): string {
  const set: Record<string, string> = {
    kubeproxy_sync_proxy_rules_last_timestamp_seconds: String(s.lastSyncMs / 1000),
    kubeproxy_sync_proxy_rules_endpoint_changes_pending: String(s.endpointsPending),
    kubeproxy_sync_proxy_rules_service_changes_pending: String(s.servicesPending),
  };
  const lines = FIXTURE.split('\n').map((l) => {
    const name = l.split(' ')[0]!;
    return !l.startsWith('#') && set[name] !== undefined ? `${name} ${set[name]}` : l;
  });
  return lines.join('\n');
}

/** Serves `text()` on 127.0.0.1 of the test's own namespace. */
export async function serveOnHost(text: () => string): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    n++;
    if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/metrics`, requests: () => n, close: () => new Promise((r) => server.close(() => r())) };
}

const NETNS_SERVER = `
const fs = require('node:fs');
const [file, port] = process.argv.slice(1);
require('node:http').createServer((req, res) => {
  if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(fs.readFileSync(file));
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\\n'));
`;

/** Serves the file's current content on 127.0.0.1:port inside `netns`; stop() kills it. */
export async function serveInNetns(netns: string, file: string, port: number): Promise<{ url: string; write: (text: string) => void; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', NETNS_SERVER, file, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`metrics server in ${netns} exited ${code}: ${err}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    write: (text) => writeFileSync(file, text),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
