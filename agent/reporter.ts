// Streams reports to the collector over one long-lived gRPC stream. The collector may be
// away at any time: the reporter reconnects with exponential backoff and full jitter,
// and on every (re)connect sends Hello and then its latest report again, so a collector
// that restarted learns the node's state without waiting for the next scan. The stream
// carries reports one way and Acks/ScanNow back; the cluster context is not on it (the
// agent watches the API server itself, agent/cluster-source.ts).
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { loadContract, MAX_MESSAGE_BYTES } from '../common/proto.js';
import { reportToWire, type ReportInput } from '../common/wire.js';
import type { Logger } from '../common/log.js';
import type { AgentMessage } from '../gen/proto/netconform/v1/AgentMessage.js';
import type { ProbeReport } from '../gen/proto/netconform/v1/ProbeReport.js';
import type { CollectorMessage__Output } from '../gen/proto/netconform/v1/CollectorMessage.js';
import type { AgentServiceClient } from '../gen/proto/netconform/v1/AgentService.js';
import { bearerMetadata, channelCredentials, channelOptions, type ClientTransport } from '../common/tls.js';

/** How the reporter reaches the collector and proves its node. */
export interface ReporterConnection {
  readonly transport: ClientTransport;
  /** Read on every (re)connect: the kubelet rotates the projected token in place. */
  readonly token?: () => string;
  /** A probe pod's stream (agent/probe/command.ts): Hello says role "probe" and its pod IP. */
  readonly probe?: { readonly podIp: string };
}

export interface ReporterEvents {
  onScanNow?(reason: string): void;
  onAck?(sequence: number): void;
  onConnected?(): void;
}

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000 };

/** Full jitter: a random delay in [0, min(max, initial·2^attempt)], never below 100 ms. */
export function backoffDelay(attempt: number, b: Backoff, random = Math.random): number {
  const cap = Math.min(b.maxMs, b.initialMs * 2 ** Math.min(attempt, 20));
  return Math.max(100, Math.round(random() * cap));
}

export class Reporter {
  readonly bootId = randomUUID();
  private readonly client: AgentServiceClient;
  private call: grpc.ClientDuplexStream<AgentMessage, CollectorMessage__Output> | undefined;
  /** The latest message (an agent's report or a probe's cumulative report), resent on reconnect. */
  private latest: AgentMessage | undefined;
  private sequence = 0;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private connectedOnce = false;

  constructor(
    private readonly address: string,
    private readonly node: string,
    private readonly version: string,
    private readonly log: Logger,
    private readonly events: ReporterEvents = {},
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
    private readonly connection: ReporterConnection = { transport: { insecure: true } },
    /** More channel options (bench/collector.ts: `grpc.use_local_subchannel_pool`, one connection per agent). */
    extraChannelOptions: grpc.ChannelOptions = {},
  ) {
    const contract = loadContract();
    this.client = new contract.AgentService(address, channelCredentials(connection.transport), {
      ...channelOptions(connection.transport),
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      // The reporter does its own backoff; keep the channel's reconnects short.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 5_000,
      ...extraChannelOptions,
    });
  }

  start(): void {
    this.connect();
  }

  /** Queues a new report: numbered, remembered as the latest, sent if connected. */
  submit(report: Omit<ReportInput, 'sequence' | 'bootId'>): number {
    this.sequence++;
    this.latest = { report: reportToWire({ ...report, sequence: this.sequence, bootId: this.bootId }) };
    this.sendLatest();
    return this.sequence;
  }

  /** A probe's report: numbered and sent like an agent's (its counters are cumulative, so resending is harmless). */
  submitProbe(report: Omit<ProbeReport, 'sequence' | 'bootId'>): number {
    this.sequence++;
    this.latest = { probeReport: { ...report, sequence: String(this.sequence), bootId: this.bootId } };
    this.sendLatest();
    return this.sequence;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const call = this.call;
    this.call = undefined;
    if (call) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        call.once('status', () => {
          clearTimeout(t);
          resolve();
        });
        call.end();
      });
      call.cancel();
    }
    this.client.close();
  }

  private sendLatest(): void {
    if (!this.call || !this.latest) return;
    this.call.write(this.latest);
  }

  private connect(): void {
    if (this.stopped) return;
    let token: string | undefined;
    try {
      token = this.connection.token?.();
    } catch (err) {
      // An unreadable token file is retried like an unreachable collector (the kubelet may not have written it yet).
      const delay = backoffDelay(this.attempt++, this.backoff);
      this.log.warn('cannot read the token; retrying', { err: (err as Error).message, retryInMs: delay });
      this.timer = setTimeout(() => this.connect(), delay);
      return;
    }
    const call = this.client.Connect(bearerMetadata(token));
    this.call = call;
    let healthy = false;
    call.on('data', (msg: CollectorMessage__Output) => {
      if (!healthy) {
        // First answer from the collector: the stream really works, reset the backoff.
        healthy = true;
        this.attempt = 0;
      }
      this.handle(msg);
    });
    call.on('metadata', () => {
      if (!this.connectedOnce) this.log.info('connected to collector', { collector: this.address });
      else this.log.info('reconnected to collector', { collector: this.address });
      this.connectedOnce = true;
      this.attempt = 0;
      this.events.onConnected?.();
    });
    // 'error' always comes with a status; one handler for both paths.
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => {
      if (this.call !== call) return;
      this.call = undefined;
      if (this.stopped) return;
      const delay = backoffDelay(this.attempt++, this.backoff);
      this.log.warn('collector stream closed; retrying', { collector: this.address, code: grpc.status[status.code], detail: status.details, retryInMs: delay });
      this.timer = setTimeout(() => this.connect(), delay);
    });
    const probe = this.connection.probe;
    call.write({ hello: { node: this.node, agentVersion: this.version, capabilities: ['report'], bootId: this.bootId, ...(probe ? { role: 'probe', podIp: probe.podIp } : {}) } });
    this.sendLatest();
  }

  private handle(msg: CollectorMessage__Output): void {
    if (msg.ack) {
      this.events.onAck?.(Number(msg.ack.sequence));
    } else if (msg.scanNow) {
      this.events.onScanNow?.(msg.scanNow.reason);
    }
  }
}
