// Makes loopback services of the test process (the fake API server, the collector) reachable
// from inside a network namespace the test made, without any address or route on the host:
// a small relay process inside the namespace listens on 127.0.0.1 at the same port and
// forwards each connection over a Unix socket (filesystem paths cross namespaces) to the
// test process, which connects it to the real listener on the host's loopback. Programs in
// the namespace then use the very same addresses (kubeconfig, --collector) as on the host.
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';

const RELAY_SCRIPT = `
const net = require('node:net');
const pairs = JSON.parse(process.argv[1]);
let ready = 0;
for (const { port, path } of pairs) {
  const srv = net.createServer((c) => {
    const u = net.connect(path);
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  srv.listen(port, '127.0.0.1', () => { if (++ready === pairs.length) process.stdout.write('ready\\n'); });
}
`;

export interface NetnsRelay {
  stop(): Promise<void>;
}

export async function relayIntoNetns(netns: string, ports: readonly number[], dir: string): Promise<NetnsRelay> {
  const servers: Server[] = [];
  const open = new Set<import('node:net').Socket>();
  const pairs: Array<{ port: number; path: string }> = [];
  for (const port of ports) {
    const path = join(dir, `relay-${netns}-${port}.sock`);
    const srv = createServer((c) => {
      const up = createConnection({ host: '127.0.0.1', port });
      for (const s of [c, up]) {
        open.add(s);
        s.on('close', () => open.delete(s));
      }
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(path, () => resolve());
    });
    servers.push(srv);
    pairs.push({ port, path });
  }
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', RELAY_SCRIPT, JSON.stringify(pairs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => void (d.toString().includes('ready') && resolve()));
    child.on('exit', (code) => reject(new Error(`relay in ${netns} exited ${code}: ${err}`)));
  });
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGKILL');
        await gone;
      }
      for (const s of open) s.destroy();
      // Closing a Unix-socket server removes its file.
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
