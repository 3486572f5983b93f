// Connection-disruption mode (CNI migrations, node reboots, link flaps): long-lived TCP
// connections to peer probe pods' echoes, each sending a heartbeat line at a steady rate and
// expecting the echo's answer line back. A connection that errors, closes, or goes without
// an answer for `breakAfterMs` is a break: it is destroyed (counted once) and reopened after
// a jittered backoff. The longest gap is the longest time any connection went without an
// answer, across its breaks and reconnects — how long a workload's connection would have
// stalled. Only the peers it is given are ever dialled.
import { connect, type Socket } from 'node:net';
import type { ProbePeer } from './peers.js';

export interface ConnectionOptions {
  readonly heartbeatMs: number;
  readonly breakAfterMs: number;
  /** Reconnect backoff bounds (full jitter). */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  readonly now?: () => number;
}

export interface ConnectionFigures {
  readonly open: number;
  readonly breaks: number;
  readonly longestGapSeconds: number;
}

class Heartbeat {
  socket: Socket | undefined;
  lastAnswerMs: number;
  connected = false;
  openedAtMs = 0;
  attempt = 0;
  timer: NodeJS.Timeout | undefined;
  constructor(readonly peer: ProbePeer, now: number) {
    this.lastAnswerMs = now;
  }
}

export class ConnectionMesh {
  private links: Heartbeat[];
  private breaks = 0;
  private longestGapMs = 0;
  private tick: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(peers: readonly ProbePeer[], private readonly opts: ConnectionOptions) {
    this.now = opts.now ?? Date.now;
    this.links = peers.map((p) => new Heartbeat(p, this.now()));
  }

  start(): void {
    for (const l of this.links) this.open(l);
    // One timer for every connection: heartbeats go out together, checks run together.
    this.tick = setInterval(() => this.beat(), this.opts.heartbeatMs);
  }

  /** New peers (the API's view changed): links to peers gone are closed (no break), new ones opened. */
  setPeers(peers: readonly ProbePeer[]): void {
    const key = (p: ProbePeer): string => `${p.name}\u0000${p.ip}:${p.port}`;
    const wanted = new Set(peers.map(key));
    for (const l of this.links) {
      if (wanted.has(key(l.peer))) continue;
      if (l.timer) clearTimeout(l.timer);
      const s = l.socket;
      l.socket = undefined;
      l.connected = false;
      s?.destroy();
    }
    const kept = this.links.filter((l) => wanted.has(key(l.peer)));
    const have = new Set(kept.map((l) => key(l.peer)));
    const added = peers.filter((p) => !have.has(key(p))).map((p) => new Heartbeat(p, this.now()));
    this.links = [...kept, ...added];
    if (this.tick) for (const l of added) this.open(l);
  }

  figures(): ConnectionFigures {
    const now = this.now();
    // A gap still open counts too: a connection silent right now is a stall right now.
    const current = Math.max(0, ...this.links.map((l) => now - l.lastAnswerMs));
    return {
      open: this.links.filter((l) => l.connected).length,
      breaks: this.breaks,
      longestGapSeconds: Math.max(this.longestGapMs, this.links.length ? current : 0) / 1000,
    };
  }

  stop(): void {
    this.stopped = true;
    if (this.tick) clearInterval(this.tick);
    for (const l of this.links) {
      if (l.timer) clearTimeout(l.timer);
      l.socket?.destroy();
    }
  }

  private open(l: Heartbeat): void {
    if (this.stopped) return;
    const s = connect({ host: l.peer.ip, port: l.peer.port });
    l.socket = s;
    l.openedAtMs = this.now();
    s.setNoDelay(true);
    s.setEncoding('utf8');
    let buf = '';
    s.on('connect', () => {
      l.connected = true;
    });
    s.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        buf = buf.slice(nl + 1);
        this.answered(l);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      if (l.socket !== s) return;
      this.broken(l);
    });
  }

  private answered(l: Heartbeat): void {
    const now = this.now();
    this.longestGapMs = Math.max(this.longestGapMs, now - l.lastAnswerMs);
    l.lastAnswerMs = now;
    l.attempt = 0;
  }

  private beat(): void {
    const now = this.now();
    for (const l of this.links) {
      if (l.connected && l.socket && now - l.lastAnswerMs > this.opts.breakAfterMs) {
        const s = l.socket;
        l.socket = undefined;
        s.destroy();
        this.broken(l);
      } else if (l.connected && l.socket?.writable) {
        l.socket.write('hb\n');
      } else if (!l.connected && l.socket && now - l.openedAtMs > this.opts.breakAfterMs) {
        // A connect still unanswered (SYNs lost while the path is down): retry sooner than
        // the kernel's SYN backoff would, so the gap measures the outage, not the backoff.
        const s = l.socket;
        l.socket = undefined;
        s.destroy();
        this.broken(l);
      }
    }
  }

  /** Counts one break (a connection that had been up) and schedules the reconnect. */
  private broken(l: Heartbeat): void {
    if (l.connected) this.breaks++;
    l.connected = false;
    l.socket = undefined;
    if (this.stopped) return;
    const min = this.opts.reconnectMinMs ?? 200;
    // Capped at the break threshold by default: a path that comes back is found within about
    // one more break-after, so the gap measures the outage rather than the backoff.
    const cap = Math.max(min, Math.min(this.opts.reconnectMaxMs ?? this.opts.breakAfterMs, min * 2 ** Math.min(l.attempt++, 10)));
    l.timer = setTimeout(() => this.open(l), min + Math.round(Math.random() * (cap - min)));
  }
}
