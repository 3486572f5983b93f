// The network between a node and the API server, as a plain TCP relay on loopback that a
// test can cut: every open connection (watches included) is destroyed and new ones are
// refused until restore(). TLS runs end to end through it (the relay never sees a byte in
// clear), so the client still verifies the real API server's certificate for 127.0.0.1.
import { connect, createServer, type Server, type Socket } from 'node:net';

export class ApiLink {
  private readonly sockets = new Set<Socket>();
  private up = true;
  /** Connections refused while cut. */
  refused = 0;

  private constructor(private readonly server: Server, readonly port: number) {}

  /** Relays 127.0.0.1:<new port> to 127.0.0.1:targetPort. */
  static async open(targetPort: number): Promise<ApiLink> {
    let link: ApiLink | undefined;
    const server = createServer((client) => {
      if (!link?.up) {
        link!.refused++;
        client.destroy();
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        link.sockets.add(s);
        s.on('close', () => link!.sockets.delete(s));
        s.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    link = new ApiLink(server, (server.address() as { port: number }).port);
    return link;
  }

  /** https://127.0.0.1:PORT: where a kubeconfig points to go through the link. */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Cuts the link: open connections die mid-stream, new ones are refused. */
  cut(): void {
    this.up = false;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.up = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
