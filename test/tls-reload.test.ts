// Certificate rotation without a restart (cert-manager renews the Secret, the kubelet updates
// the mounted files): a real collector process polls its files (--tls-reload) and both
// listeners — gRPC and HTTPS — serve the new certificate; a half-written pair is ignored
// and the last good one stays in use.
import test from 'ava';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { issueServingCertificate, makePki } from './support/pki.js';
import { eventually, startCollectorProcess } from './support/processes.js';

/** The SHA-256 fingerprint of the certificate a TLS listener presents, verified against `ca`. */
function servedFingerprint(port: number, ca: string, alpn?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca: readFileSync(ca), ...(alpn ? { ALPNProtocols: [alpn] } : {}) }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

const fingerprintOf = (certFile: string): string => new X509Certificate(readFileSync(certFile)).fingerprint256;

test('a rotated serving certificate is picked up by the gRPC and HTTPS listeners; a half-written pair is not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nc-tls-reload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makePki(dir, 'first');
  const next = issueServingCertificate(dir, pki, 'second');
  const certFile = join(dir, 'tls.crt'), keyFile = join(dir, 'tls.key');
  copyFileSync(pki.cert, certFile);
  copyFileSync(pki.key, keyFile);
  // No API server at all: certificate rotation does not involve authentication, which the
  // trust tests prove against the real kube-apiserver (--auth none keeps TLS on).
  const collector = await startCollectorProcess(['--tls-cert', certFile, '--tls-key', keyFile, '--tls-reload', '300ms', '--auth', 'none', '--no-kube']);
  t.teardown(() => collector.stop('SIGKILL'));

  const first = fingerprintOf(pki.cert), second = fingerprintOf(next.cert);
  t.not(first, second);
  t.is(await servedFingerprint(collector.grpcPort, pki.ca, 'h2'), first);
  t.is(await servedFingerprint(collector.httpPort, pki.ca), first);

  // The new certificate arrives before its key: not a pair, so nothing changes.
  copyFileSync(next.cert, certFile);
  await collector.waitForLog((l) => l.msg === 'serving certificate not reloaded; keeping the current one', 10_000, 'the half-written pair to be noticed');
  t.is(await servedFingerprint(collector.grpcPort, pki.ca, 'h2'), first);
  t.is(await servedFingerprint(collector.httpPort, pki.ca), first);

  copyFileSync(next.key, keyFile);
  await collector.waitForLog((l) => l.msg === 'serving certificate reloaded', 10_000, 'the new pair to be loaded');
  t.is(await eventually(async () => ((await servedFingerprint(collector.grpcPort, pki.ca, 'h2')) === second ? second : undefined), 10_000, 'gRPC to serve the new certificate'), second);
  t.is(await servedFingerprint(collector.httpPort, pki.ca), second);
  const health = await fetchHealth(collector.httpPort, pki.ca);
  t.is(health, 200, 'the collector is healthy over the new certificate (its own gRPC probe included)');
});

function fetchHealth(port: number, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', ca: readFileSync(ca) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}
