// One probe: connect to a peer's echo (TCP, or a UDP datagram), read the source address it
// saw, time the round trip. Time-limited; never sent anywhere but the peer asked for.
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';

export interface ProbeAnswer {
  readonly ok: boolean;
  /** Source the peer saw ('' when no answer). */
  readonly seen: string;
  readonly rttMs: number;
  readonly error?: string;
  /** The answering pod's IP, when its echo says ('' for older echoes). */
  readonly by?: string;
}

function parseSeen(line: string): { seen: string; by: string } {
  const v = JSON.parse(line) as { src?: unknown; by?: unknown };
  if (typeof v.src !== 'string') throw new Error('answer without src');
  return { seen: v.src, by: typeof v.by === 'string' ? v.by : '' };
}

export function probeTcp(ip: string, port: number, timeoutMs: number, localAddress?: string): Promise<ProbeAnswer> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const s = connect({ host: ip, port, ...(localAddress ? { localAddress } : {}) });
    let buf = '';
    const done = (a: ProbeAnswer): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(a);
    };
    const rtt = (): number => Number(process.hrtime.bigint() - started) / 1e6;
    const timer = setTimeout(() => done({ ok: false, seen: '', rttMs: rtt(), error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        done({ ok: true, ...parseSeen(buf.slice(0, nl)), rttMs: rtt() });
      } catch (err) {
        done({ ok: false, seen: '', rttMs: rtt(), error: (err as Error).message });
      }
    });
    s.on('error', (err) => done({ ok: false, seen: '', rttMs: rtt(), error: err.message }));
  });
}

export function probeUdp(ip: string, port: number, timeoutMs: number): Promise<ProbeAnswer> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const sock = createSocket(ip.includes(':') ? 'udp6' : 'udp4');
    const rtt = (): number => Number(process.hrtime.bigint() - started) / 1e6;
    const done = (a: ProbeAnswer): void => {
      clearTimeout(timer);
      sock.close();
      resolve(a);
    };
    const timer = setTimeout(() => done({ ok: false, seen: '', rttMs: rtt(), error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    sock.on('message', (msg) => {
      try {
        done({ ok: true, ...parseSeen(msg.toString('utf8').trim()), rttMs: rtt() });
      } catch (err) {
        done({ ok: false, seen: '', rttMs: rtt(), error: (err as Error).message });
      }
    });
    sock.on('error', (err) => done({ ok: false, seen: '', rttMs: rtt(), error: err.message }));
    sock.send('probe', port, ip);
  });
}
