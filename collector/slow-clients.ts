// Protection of the collector's HTTP(S) listeners (the audit webhook, /metrics) against slow
// and greedy clients: a peer that opens connections and then sends its TLS handshake or its
// headers a byte at a time (slowloris) would otherwise hold a socket for Node's defaults
// (2 min handshake, 60 s headers, checked only every 30 s) and, thousands at once, starve the
// API server's audit batches and Prometheus' scrapes. Every refusal is counted by listener and
// reason; reasons are a fixed set.
import type { Server as HttpServer, ServerOptions } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../common/log.js';

export const HTTP_REFUSAL_REASONS = ['handshake_timeout', 'tls_error', 'request_timeout', 'too_many_connections', 'bad_request'] as const;
export type HttpRefusalReason = (typeof HTTP_REFUSAL_REASONS)[number];

export const HTTP_REFUSALS_METRIC = 'netconform_collector_http_refused_total';

export interface ListenerLimits {
  /** From connection (after TLS) to the end of the request headers. */
  readonly headersTimeoutMs: number;
  /** From connection to the end of the request body. */
  readonly requestTimeoutMs: number;
  /** TLS handshakes that take longer are cut. */
  readonly handshakeTimeoutMs: number;
  /** Connections beyond this are closed at once. */
  readonly maxConnections: number;
}

export const DEFAULT_LISTENER_LIMITS: ListenerLimits = {
  headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, handshakeTimeoutMs: 10_000, maxConnections: 1024,
};

/** Options for http(s).createServer: timeouts enforced within a second, not Node's 30 s sweep. */
export function listenerServerOptions(limits: ListenerLimits): ServerOptions & { handshakeTimeout: number } {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    handshakeTimeout: limits.handshakeTimeoutMs,
  };
}

/** The one counter, shared by every guarded listener on a registry. */
function refusalCounter(registry: Registry): Counter<'listener' | 'reason'> {
  const existing = registry.getSingleMetric(HTTP_REFUSALS_METRIC);
  if (existing) return existing as Counter<'listener' | 'reason'>;
  return new Counter({
    name: HTTP_REFUSALS_METRIC,
    help: 'Connections and requests the collector\'s HTTP listeners refused before any handler ran: slow TLS handshakes or requests (slow clients), connections above the limit, malformed HTTP.',
    labelNames: ['listener', 'reason'], registers: [registry],
  });
}

/**
 * Applies the connection limit and counts every refusal of `server` (created with
 * listenerServerOptions). `listener` names it in the metric: `audit` or `http`.
 */
export function guardListener(server: HttpServer | HttpsServer, listener: string, limits: ListenerLimits, registry: Registry, log: Logger): void {
  const refused = refusalCounter(registry);
  for (const reason of HTTP_REFUSAL_REASONS) refused.inc({ listener, reason }, 0);
  server.maxConnections = limits.maxConnections;
  // Logged at most once a minute per reason: a flood must not become a log flood.
  const lastLogged = new Map<HttpRefusalReason, number>();
  const count = (reason: HttpRefusalReason, peer: string | undefined, err?: string): void => {
    refused.inc({ listener, reason });
    const now = Date.now();
    if (now - (lastLogged.get(reason) ?? 0) < 60_000) return;
    lastLogged.set(reason, now);
    log.warn('http client refused', { listener, reason, peer, ...(err ? { err } : {}), note: 'further refusals for this reason are counted, not logged, for a minute' });
  };
  server.on('drop', (data?: { remoteAddress?: string }) => count('too_many_connections', data?.remoteAddress));
  // https.Server re-emits its TLS errors (handshake timeouts among them) as clientError.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? '';
    if (code === 'ECONNRESET' || code === 'EPIPE') {
      socket.destroy(); // the client went away: nothing refused
      return;
    }
    if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) {
      count(code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake_timeout' : 'tls_error', socket.remoteAddress, err.message);
      socket.destroy();
      return;
    }
    const timeout = code === 'ERR_HTTP_REQUEST_TIMEOUT';
    count(timeout ? 'request_timeout' : 'bad_request', socket.remoteAddress, err.message);
    if (socket.writable && !socket.writableEnded) {
      socket.end(timeout ? 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    }
    socket.destroy();
  });
}
