// What /healthz answers: the collector is alive when each of its parts can still do its job,
// not merely when the process runs. A part registers a probe; a probe that throws or says
// not-ok fails the whole answer (503) with one line per failing part, so a liveness probe
// restarts a wedged collector instead of leaving agents' reports unacknowledged.
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
export interface HealthResult {
  readonly ok: boolean;
  readonly detail: string;
}

export type HealthProbe = () => HealthResult | Promise<HealthResult>;

export class HealthChecks {
  private readonly probes = new Map<string, HealthProbe>();

  add(name: string, probe: HealthProbe): void {
    this.probes.set(name, probe);
  }

  /** Runs every probe, each bounded by timeoutMs (a probe that hangs counts as failed). */
  async run(timeoutMs = 2000): Promise<{ ok: boolean; lines: string[] }> {
    const lines: string[] = [];
    let ok = true;
    for (const [name, probe] of this.probes) {
      let r: HealthResult;
      try {
        r = await withTimeout(Promise.resolve().then(probe), timeoutMs, name);
      } catch (err) {
        r = { ok: false, detail: err instanceof Error ? err.message : String(err) };
      }
      if (!r.ok) ok = false;
      lines.push(`${r.ok ? 'ok' : 'FAIL'} ${name}: ${r.detail}`);
    }
    return { ok, lines };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, name: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} did not answer within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e instanceof Error ? e : new Error(String(e))); });
  });
}

/**
 * The gRPC listener answers: an HTTP/2 client preface (inside TLS when the listener speaks
 * it) gets the server's SETTINGS back from the collector's own event loop. A bare TCP
 * connect would prove nothing: the kernel accepts into the backlog of a wedged process.
 */
export function grpcListenerProbe(host: string, port: number, timeoutMs = 1000, tls = false): HealthProbe {
  return () => new Promise<HealthResult>((resolve) => {
    const target = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
    // Over TLS the handshake and the server's SETTINGS both come from the collector's loop;
    // the probe checks liveness, not identity, so it does not verify the certificate.
    const socket = tls
      ? tlsConnect({ host: target, port, ALPNProtocols: ['h2'], rejectUnauthorized: false })
      : connect({ host: target, port });
    const done = (r: HealthResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, detail: `no answer on ${target}:${port} within ${timeoutMs} ms` }), timeoutMs);
    socket.once(tls ? 'secureConnect' : 'connect', () => socket.write(H2_PREFACE));
    socket.once('data', () => done({ ok: true, detail: `answers on ${target}:${port}` }));
    socket.once('error', (err) => done({ ok: false, detail: `${target}:${port}: ${err.message}` }));
  });
}

/** The HTTP/2 connection preface and an empty SETTINGS frame (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
