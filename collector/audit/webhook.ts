// The audit webhook: kube-apiserver's webhook backend POSTs an audit.k8s.io/v1 EventList
// (up to 400 events per batch by default) and retries on ANY error, so the answers are:
//   200  the batch is committed to the store (duplicates included: retries count once)
//   400  the body is not JSON or not an EventList (with a message saying what is wrong)
//   405  not POST;  413  body above --audit-max-body;  415  not application/json
//   500  only when the store cannot write: the API server should retry that batch
// A bad event inside a good batch is counted and skipped, never a 4xx/5xx for the rest.
// HTTPS with --audit-tls-cert/--audit-tls-key; --audit-client-ca requires (and verifies)
// the API server's client certificate; plain HTTP only with --audit-insecure.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../common/log.js';
import { UsageError } from '../../common/errors.js';
import { eventListItems } from './event.js';
import type { AuditIngest, IngestResult } from './ingest.js';
import type { PsaMetrics } from './metrics.js';
import type { Registry } from 'prom-client';
import { DEFAULT_LISTENER_LIMITS, guardListener, listenerServerOptions, type ListenerLimits } from '../slow-clients.js';

export const DEFAULT_AUDIT_PATH = '/audit/webhook';
export const DEFAULT_AUDIT_MAX_BODY = 12 * 1024 * 1024;

export interface AuditWebhookOptions {
  readonly listen: { host: string; port: number };
  readonly path?: string;
  readonly maxBodyBytes?: number;
  /** PEM files. Required unless `insecure`. */
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** PEM CA bundle: when set, clients must present a certificate it signed. */
  readonly clientCA?: string;
  readonly insecure?: boolean;
  readonly ingest: AuditIngest;
  readonly metrics: PsaMetrics;
  /** Where slow-client refusals are counted (collector/slow-clients.ts). */
  readonly registry: Registry;
  readonly limits?: ListenerLimits;
  readonly log: Logger;
}

export interface AuditWebhook {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, flag);
  }
}

function reply(res: ServerResponse, code: number, body: Record<string, unknown>, close = false): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body) + '\n';
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...(close ? { Connection: 'close' } : {}) });
  res.end(text);
}

/** Reads the body up to `max` bytes; undefined (and the request drained) when above. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
  });
}

export async function startAuditWebhook(opts: AuditWebhookOptions): Promise<AuditWebhook> {
  const { ingest, metrics, log } = opts;
  const path = opts.path ?? DEFAULT_AUDIT_PATH;
  const max = opts.maxBodyBytes ?? DEFAULT_AUDIT_MAX_BODY;
  if (!path.startsWith('/')) throw new UsageError(`"${path}" must start with /`, '--audit-path');

  /**
   * Parses and validates a body and hands its events to the store. Synchronous on purpose:
   * nothing of the parsed body stays reachable once this returns (the records extracted from
   * it are all the store needs). A batch waits for its commit while the next ones are parsed,
   * and a parsed body kept alive that long is copied by every young-generation GC and then
   * promoted to the old generation, which made GC a large part of ingest.
   */
  const startIngest = (body: Buffer): { code: number; body: Record<string, unknown> } | { events: number; stored: Promise<IngestResult> } => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      metrics.reject('invalid_json');
      return { code: 400, body: { error: `body is not JSON: ${(err as Error).message}` } };
    }
    const list = eventListItems(parsed);
    if (!list.ok) {
      metrics.reject('not_event_list');
      return { code: 400, body: { error: `not an audit.k8s.io/v1 EventList: ${list.message}` } };
    }
    return { events: list.items.length, stored: ingest.ingestGrouped(list.items, 'webhook') };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = (req.url ?? '/').split('?')[0]!;
    if (url !== path) return reply(res, 404, { error: `not found; the audit webhook is at ${path}` });
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return reply(res, 405, { error: 'use POST' });
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      req.resume();
      return reply(res, 415, { error: `Content-Type must be application/json, got "${type || 'none'}"` });
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > max) {
      metrics.reject('body_too_large');
      // Do not read a body we refuse; close so the client does not keep sending it.
      return reply(res, 413, { error: `body of ${declared} bytes is above the limit of ${max} (--audit-max-body)` }, true);
    }
    const body = await readBody(req, max);
    if (body === undefined) {
      metrics.reject('body_too_large');
      return reply(res, 413, { error: `body is above the limit of ${max} bytes (--audit-max-body)` }, true);
    }
    const started = startIngest(body);
    if ('code' in started) return reply(res, started.code, started.body);
    const { events, stored } = started;
    let result;
    try {
      result = await stored;
    } catch (err) {
      // The store could not commit: nothing of this batch is acknowledged, the API server retries.
      log.error('audit batch not stored', { err: err instanceof Error ? err.message : String(err), events });
      return reply(res, 500, { error: 'the batch could not be stored; retry' });
    }
    reply(res, 200, {
      stored: result.inserted, duplicates: result.duplicates, rejected: result.rejected.length,
      ...(result.rejected.length ? { errors: result.rejected.slice(0, 10).map((r) => `items[${r.index}]: ${r.message}`) } : {}),
    });
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      log.error('audit webhook handler failed', { err: err instanceof Error ? err.message : String(err) });
      reply(res, 500, { error: 'internal error' });
    });
  };

  const limits = opts.limits ?? DEFAULT_LISTENER_LIMITS;
  // Keep-alive for the API server's next batches; idle sockets still count toward maxConnections.
  const serverOptions = listenerServerOptions(limits);
  let server: Server;
  if (opts.insecure) {
    server = createHttpServer(serverOptions, listener);
  } else {
    if (!opts.tlsCert || !opts.tlsKey) throw new UsageError('--audit-tls-cert and --audit-tls-key are required (or --audit-insecure for plain HTTP)', '--audit-listen');
    server = createHttpsServer({
      ...serverOptions,
      cert: readPem(opts.tlsCert, '--audit-tls-cert'),
      key: readPem(opts.tlsKey, '--audit-tls-key'),
      ...(opts.clientCA ? { ca: readPem(opts.clientCA, '--audit-client-ca'), requestCert: true, rejectUnauthorized: true } : {}),
      minVersion: 'TLSv1.2',
    }, listener);
  }
  guardListener(server, 'audit', limits, opts.registry, log);
  // The API server's request timeout is 30 s; keep connections for its next batches.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new UsageError(`${opts.listen.host}:${opts.listen.port}: ${err.message}`, '--audit-listen')));
    server.listen(opts.listen.port, opts.listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
  const url = `${opts.insecure ? 'http' : 'https'}://${host}:${port}${path}`;
  log.info('audit webhook listening', { url, port, mtls: Boolean(opts.clientCA), maxBody: max, headersTimeoutMs: limits.headersTimeoutMs, maxConnections: limits.maxConnections });
  return {
    port, url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
