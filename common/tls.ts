// TLS material shared by the collector (serving certificate, reloaded when its files
// change: cert-manager rotates the Secret and the kubelet updates the mounted files) and
// by its clients (the agent and the CLI verify the collector against a CA bundle).
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { UsageError } from './errors.js';
import type { Logger } from './log.js';

type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;
type CaListener = grpc.experimental.CaCertificateUpdateListener;

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, flag);
  }
}

/** A CA bundle (PEM) checked to parse as certificates; errors name the flag. */
export function readCaBundle(file: string, flag: string): Buffer {
  const pem = readPem(file, flag);
  if (!/-----BEGIN CERTIFICATE-----/.test(pem.toString('latin1'))) throw new UsageError(`${file}: no PEM certificate in it`, flag);
  try {
    createSecureContext({ ca: pem });
  } catch (err) {
    throw new UsageError(`${file}: not a valid CA bundle: ${(err as Error).message}`, flag);
  }
  return pem;
}

export interface ServingFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * The collector's serving certificate and key. Read (and checked to be a matching pair) at
 * start; then the files are polled and a changed pair is handed to every listener (the gRPC
 * server through grpc-js's certificate-provider interface, HTTPS servers through
 * setSecureContext). A half-written pair (cert and key not matching yet) is ignored until
 * it becomes whole; the last good pair stays in use.
 */
export class ServingCertificate implements grpc.experimental.CertificateProvider {
  private pair: { certificate: Buffer; privateKey: Buffer };
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly contextListeners = new Set<(opts: SecureContextOptions) => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly files: ServingFiles, private readonly log: Logger, private readonly refreshMs = 30_000) {
    const pair = this.read();
    if (typeof pair === 'string') throw new UsageError(pair, '--tls-cert');
    this.pair = pair;
  }

  /** Starts polling the files (unref'd timer). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.reload(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-reads the files now; true when a new pair was taken. */
  reload(): boolean {
    const pair = this.read();
    if (typeof pair === 'string') {
      this.log.warn('serving certificate not reloaded; keeping the current one', { why: pair });
      return false;
    }
    if (pair.certificate.equals(this.pair.certificate) && pair.privateKey.equals(this.pair.privateKey)) return false;
    this.pair = pair;
    this.log.info('serving certificate reloaded', { cert: this.files.certFile });
    for (const l of this.identityListeners) l(pair);
    for (const l of this.contextListeners) l(this.secureContextOptions());
    return true;
  }

  secureContextOptions(): SecureContextOptions {
    return { cert: this.pair.certificate, key: this.pair.privateKey };
  }

  /** gRPC server credentials that follow this certificate. */
  serverCredentials(): grpc.ServerCredentials {
    // grpc-js's factory passes its first argument on as the identity provider (its
    // parameter names are swapped); no CA provider: no client certificates are asked for.
    return grpc.experimental.createCertificateProviderServerCredentials(this, null, false);
  }

  /** Calls `apply` with the new options whenever the pair changes (HTTPS setSecureContext). */
  onChange(apply: (opts: SecureContextOptions) => void): () => void {
    this.contextListeners.add(apply);
    return () => this.contextListeners.delete(apply);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    // Asynchronously, as grpc-js expects: its server registers its own watcher only after
    // adding this listener, and would miss a synchronous first update (and drop every
    // connection as "credentials not loaded").
    setImmediate(() => {
      if (this.identityListeners.has(listener)) listener(this.pair);
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  addCaCertificateListener(_listener: CaListener): void {
    // This provider serves an identity only.
  }

  removeCaCertificateListener(_listener: CaListener): void {
    // This provider serves an identity only.
  }

  private read(): { certificate: Buffer; privateKey: Buffer } | string {
    let certificate: Buffer;
    let privateKey: Buffer;
    try {
      certificate = readFileSync(this.files.certFile);
    } catch (err) {
      return `cannot read ${this.files.certFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
    try {
      privateKey = readFileSync(this.files.keyFile);
    } catch (err) {
      return `cannot read ${this.files.keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
    try {
      createSecureContext({ cert: certificate, key: privateKey });
    } catch (err) {
      return `${this.files.certFile} and ${this.files.keyFile} are not a matching certificate and key: ${(err as Error).message}`;
    }
    return { certificate, privateKey };
  }
}

/** 127.0.0.0/8, ::1 and localhost: where a plaintext listener only exposes itself to this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}

/** How a client (agent, CLI) reaches the collector. */
export interface ClientTransport {
  /** Plaintext, explicitly asked for (labs, tests on loopback). */
  readonly insecure: boolean;
  /** CA bundle the collector's certificate must chain to; default: the system's roots. */
  readonly ca?: Buffer;
  /** Name to verify in the collector's certificate instead of the address's host. */
  readonly serverName?: string;
}

let ipServerNameWarningQuiet = false;
/**
 * grpc-js passes an IP-address target (127.0.0.1:9443, a port-forward) to TLS as the SNI
 * server name, and Node prints a DEP0123 warning for it on every connection: noise on the
 * CLI's stderr. Only that one warning is dropped; certificate checks are unchanged.
 */
function quietIpServerNameWarning(): void {
  if (ipServerNameWarningQuiet) return;
  ipServerNameWarningQuiet = true;
  const emit = process.emitWarning.bind(process) as (...a: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    if (args.includes('DEP0123') || args.some((a) => typeof a === 'object' && a !== null && (a as { code?: unknown }).code === 'DEP0123')) return;
    emit(...args);
  }) as typeof process.emitWarning;
}

export function channelCredentials(t: ClientTransport): grpc.ChannelCredentials {
  if (t.insecure) return grpc.credentials.createInsecure();
  quietIpServerNameWarning();
  return grpc.credentials.createSsl(t.ca ?? null);
}

export function channelOptions(t: ClientTransport): grpc.ChannelOptions {
  return t.serverName && !t.insecure ? { 'grpc.ssl_target_name_override': t.serverName, 'grpc.default_authority': t.serverName } : {};
}

/** Per-call metadata carrying a bearer token (never logged). */
export function bearerMetadata(token: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return md;
}

/** --insecure / --<caFlag> FILE / --tls-server-name NAME → the transport; errors name the flag. */
export function clientTransport(opts: { insecure: boolean; caFile?: string | undefined; serverName?: string | undefined; caFlag: string }): ClientTransport {
  if (opts.insecure && (opts.caFile || opts.serverName)) throw new UsageError(`cannot be combined with ${opts.caFlag} or --tls-server-name`, '--insecure');
  return {
    insecure: opts.insecure,
    ...(opts.caFile ? { ca: readCaBundle(opts.caFile, opts.caFlag) } : {}),
    ...(opts.serverName ? { serverName: opts.serverName } : {}),
  };
}
