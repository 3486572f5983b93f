// The collector's HTTP side: /metrics, /healthz, /readyz, plus routes other inputs add
// (the audit webhook has its own listener; see the audit module).
// With TLS, /metrics needs a bearer token allowed `get` on the non-resource URL /metrics
// (see collector/auth/authorize.ts); /healthz and /readyz stay open for the kubelet's probes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/log.js';
import type { HealthChecks } from './health.js';
import { DEFAULT_LISTENER_LIMITS, guardListener, listenerServerOptions } from './slow-clients.js';

export type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Refuses a request (status and a one-line reason) or lets it through (undefined). */
export type RequestGuard = (req: IncomingMessage) => Promise<{ status: number; message: string } | undefined>;

export function createHttpServer(deps: {
  registry: Registry; ready: () => boolean; log: Logger; routes?: Record<string, Route>;
  /** Serve HTTPS with this certificate (update it with setSecureContext). */
  tls?: SecureContextOptions;
  /** Checked before /metrics answers. */
  metricsGuard?: RequestGuard;
  /** /healthz probes (collector/health.ts). */
  health?: HealthChecks;
}): Server {
  const { registry, ready, log } = deps;
  const routes: Record<string, Route> = {
    '/metrics': async (req, res) => {
      const refusal = await deps.metricsGuard?.(req);
      if (refusal) {
        res.writeHead(refusal.status, { 'Content-Type': 'text/plain', ...(refusal.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}) });
        res.end(`${refusal.message}\n`);
        return;
      }
      const body = await registry.metrics();
      res.writeHead(200, { 'Content-Type': registry.contentType });
      res.end(body);
    },
    '/healthz': async (_req, res) => {
      const r = deps.health ? await deps.health.run() : { ok: true, lines: [] };
      if (!r.ok) log.warn('health check failed', { failing: r.lines.filter((l) => l.startsWith('FAIL')) });
      res.writeHead(r.ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end([r.ok ? 'ok' : 'unhealthy', ...r.lines].join('\n') + '\n');
    },
    '/readyz': (_req, res) => {
      const ok = ready();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(ok ? 'ready\n' : 'not ready\n');
    },
    ...deps.routes,
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[path];
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    Promise.resolve(route(req, res)).catch((err: unknown) => {
      log.error('http handler failed', { path, err: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
  // Prometheus scrapes and the kubelet's probes must get through while slow clients hold sockets.
  const options = listenerServerOptions(DEFAULT_LISTENER_LIMITS);
  const server = deps.tls ? createHttpsServer({ ...options, ...deps.tls }, handler) : createServer(options, handler);
  guardListener(server, 'http', DEFAULT_LISTENER_LIMITS, registry, log);
  return server;
}
