// The probe's echo: whoever connects (TCP) or sends a datagram (UDP) gets back one JSON line
// with the source address and port this pod saw — the one fact the network model promises
// about (a receiving pod sees the sender's real pod IP). Nothing else is read or answered.
import { createServer, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';

export interface EchoServers {
  readonly tcpPort: number;
  readonly udpPort: number;
  close(): Promise<void>;
}

/** `by`: the answering pod's IP, so a prober can tell it reached itself through the Service (hairpin). */
export const seenLine = (address: string, port: number, by = ''): string => JSON.stringify({ src: address.replace(/^::ffff:/, ''), port, ...(by ? { by } : {}) }) + '\n';

export async function startEcho(host: string, port: number, selfIp = ''): Promise<EchoServers> {
  const sockets = new Set<Socket>();
  const tcp: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.setTimeout(5000, () => s.destroy());
    // Heartbeats (connection-disruption mode) are echoed with the source seen each time.
    s.on('data', () => s.write(seenLine(s.remoteAddress ?? '', s.remotePort ?? 0, selfIp)));
    s.write(seenLine(s.remoteAddress ?? '', s.remotePort ?? 0, selfIp));
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, host, () => resolve());
  });
  const tcpPort = (tcp.address() as { port: number }).port;
  const udp: UdpSocket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  udp.on('message', (_msg, rinfo) => udp.send(seenLine(rinfo.address, rinfo.port, selfIp), rinfo.port, rinfo.address));
  udp.on('error', () => undefined);
  await new Promise<void>((resolve) => udp.bind(tcpPort, host, () => resolve()));
  return {
    tcpPort, udpPort: tcpPort,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
      await new Promise<void>((r) => udp.close(() => r()));
    },
  };
}
