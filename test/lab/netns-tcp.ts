// TCP endpoints inside lab network namespaces for tests that watch a connection survive or
// break: an echo server, and a client that holds its connection open (as a long-lived node
// process would) once the echo came back. Both are killed when the test ends.
import { spawn, type ChildProcess } from 'node:child_process';

type Teardown = { teardown(fn: () => void): void };

/** An echo server in `netns` on `port`; resolves once listening. */
export function echoServer(t: Teardown, netns: string, port: number): Promise<void> {
  const script = `require('node:net').createServer(s=>s.pipe(s)).listen(${port},()=>process.stdout.write('listening\\n'))`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('listening')) resolve(); });
    child.on('exit', (code) => reject(new Error(`server in ${netns} exited ${code}`)));
  });
}

/** A TCP client in `netns` that connects, gets its echo and holds the connection open until killed. */
export function heldConnection(t: Teardown, netns: string, host: string, port: number): Promise<ChildProcess> {
  const script = `const s=require('node:net').connect(${port},${JSON.stringify(host)},()=>s.write('x'));s.once('data',()=>process.stdout.write('connected\\n'));s.on('error',e=>{process.stderr.write(e.message);process.exit(3)});setTimeout(()=>{},600000)`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    child.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('connected')) resolve(child); });
    child.on('exit', (code) => reject(new Error(`client in ${netns} to ${host}:${port} exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`client in ${netns} to ${host}:${port} got no echo within 10 s: ${err}`)), 10_000);
  });
}
