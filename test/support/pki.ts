// Test certificates made here with openssl (EC P-256, valid one day): a CA and serving
// certificates it signs for 127.0.0.1 and the collector's in-cluster name.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

export interface Pki {
  readonly ca: string;
  readonly caKey: string;
  readonly cert: string;
  readonly key: string;
}

/** Another serving certificate from the same CA, written as `${name}.crt` / `${name}.key`. */
export function issueServingCertificate(dir: string, ca: { ca: string; caKey: string }, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=netconform-collector']);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:netconform-collector.netconform.svc\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', csr, '-CA', ca.ca, '-CAkey', ca.caKey, '-CAcreateserial', '-days', '1', '-out', cert, '-extfile', ext]);
  return { cert, key };
}

/** A CA (`${name}-ca.crt`) and a server certificate it signed (`${name}.crt`). */
export function makePki(dir: string, name: string): Pki {
  const ca = join(dir, `${name}-ca.crt`);
  const caKey = join(dir, `${name}-ca.key`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-keyout', caKey, '-out', ca, '-subj', `/CN=${name} test CA`]);
  return { ca, caKey, ...issueServingCertificate(dir, { ca, caKey }, name) };
}
