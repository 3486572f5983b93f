// Small network helpers the tests share: a free loopback port, and an HTTPS GET against a
// collector listener with its test CA and a bearer token.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (another process may still take it before use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET https://127.0.0.1:port/path, verifying the server against `ca`, with `token` as bearer when given. */
export function httpsGet(port: number, path: string, ca: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca: readFileSync(ca), headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
