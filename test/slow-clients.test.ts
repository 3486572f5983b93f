// Slow and greedy clients against a real collector process: connections that never start
// their TLS handshake, connections that send their headers a byte at a time, and more
// connections than --audit-max-connections. They are cut (408 for the slow headers) and
// counted by reason, the webhook still takes a real batch afterwards, and /metrics (another
// listener of the same process) answers within a second all along.
import test from 'ava';
import { rmSync, readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { eventList, makeTls, podEvent, post } from './fixtures/audit/helpers.js';
import { eventually, sample, startCollectorProcess } from './support/processes.js';

const SLOW_HEADERS = 60;
const SILENT = 20;
const LATE = 30;
const MAX_CONNECTIONS = 100;

interface Watched {
  readonly socket: Socket;
  closed: boolean;
  received: string;
}

function watch(socket: Socket): Watched {
  const w: Watched = { socket, closed: false, received: '' };
  socket.on('data', (d: Buffer) => (w.received += d.toString()));
  socket.on('error', () => undefined);
  socket.on('close', () => (w.closed = true));
  return w;
}

/** GET /metrics with a hard 1 s limit: resolves with the body or rejects. */
async function scrapeWithin1s(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(1000) });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

test('slow TLS handshakes, byte-by-byte headers and excess connections are cut and counted while /metrics keeps answering', async (t) => {
  const tls = makeTls();
  t.teardown(() => rmSync(tls.dir, { recursive: true, force: true }));
  const collector = await startCollectorProcess([
    '--audit-listen', '127.0.0.1:0', '--audit-tls-cert', tls.serverCert, '--audit-tls-key', tls.serverKey,
    '--audit-header-timeout', '3s', '--audit-max-connections', String(MAX_CONNECTIONS),
  ]);
  t.teardown(() => collector.stop('SIGKILL'));
  const listening = await collector.waitForLog((l) => l.msg === 'audit webhook listening', 30_000, 'the audit webhook');
  const auditPort = Number(listening['port']);
  t.is(listening['headersTimeoutMs'], 3000);
  t.is(listening['maxConnections'], MAX_CONNECTIONS);

  const sockets: Watched[] = [];
  t.teardown(() => {
    for (const w of sockets) w.socket.destroy();
  });
  // Handshaken connections that then trickle their request headers, a byte every 250 ms.
  const header = 'POST /audit/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n';
  const slow = await Promise.all(Array.from({ length: SLOW_HEADERS }, () => new Promise<Watched>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: auditPort, ca: readFileSync(tls.caCert) }, () => {
      let i = 0;
      const timer = setInterval(() => {
        if (s.destroyed || i >= header.length) return clearInterval(timer);
        s.write(header[i++]!);
      }, 250);
      s.on('close', () => clearInterval(timer));
      resolve(w);
    });
    const w = watch(s);
    s.once('error', reject);
  })));
  sockets.push(...slow);
  const openRaw = (n: number): Promise<Watched[]> => Promise.all(Array.from({ length: n }, () => new Promise<Watched>((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port: auditPort }, () => resolve(w));
    const w = watch(s);
  })));
  // Connections that never send a ClientHello, then more than the limit leaves room for.
  const silent = await openRaw(SILENT);
  sockets.push(...silent);
  const late = await openRaw(LATE);
  sockets.push(...late);

  // While they hold their sockets, the other listener answers promptly.
  for (let i = 0; i < 8; i++) {
    await t.notThrowsAsync(scrapeWithin1s(collector.httpPort), `scrape ${i} within 1 s`);
    await new Promise((r) => setTimeout(r, 250));
  }

  await eventually(() => (sockets.every((w) => w.closed) ? true : undefined), 30_000, 'every hostile connection closed by the collector');
  t.deepEqual(slow.filter((w) => !w.received.startsWith('HTTP/1.1 408 Request Timeout')).length, 0, 'slow header senders get 408');

  const m = await scrapeWithin1s(collector.httpPort);
  const refused = (listener: string, reason: string): number | undefined => sample(m, 'netconform_collector_http_refused_total', { listener, reason });
  t.deepEqual(
    ['request_timeout', 'handshake_timeout', 'too_many_connections', 'tls_error', 'bad_request'].map((r) => refused('audit', r)),
    [SLOW_HEADERS, MAX_CONNECTIONS - SLOW_HEADERS, SLOW_HEADERS + SILENT + LATE - MAX_CONNECTIONS, 0, 0],
  );
  t.deepEqual(['request_timeout', 'handshake_timeout', 'too_many_connections', 'tls_error', 'bad_request'].map((r) => refused('http', r)), [0, 0, 0, 0, 0]);

  // The API server's next batch goes through.
  const ok = await post(listening['url'] as string, eventList([podEvent('slow-1')]), { tls });
  t.is(ok.status, 200, ok.body);
  t.is(sample(await scrapeWithin1s(collector.httpPort), 'netconform_audit_events_received_total', { source: 'webhook' }), 1);
  // One warning per reason, not one per connection.
  t.is(collector.stderr().split('\n').filter((l) => l.includes('"http client refused"')).length, 3);
});
