// The agent's health signal: a small JSON file rewritten (atomically) after each completed
// scan and each report the collector acknowledged, read by `netconform-agent health` in the
// DaemonSet's probes. Liveness asks "is the scan loop still turning?"; readiness also asks
// "do reports reach the collector?" — so a collector outage makes agents unready (visible in
// `kubectl get ds`) without restarting them, which would fix nothing.
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../common/log.js';

export const DEFAULT_HEALTH_FILE = '/run/netconform/agent-health.json';

export interface AgentHealthState {
  readonly pid: number;
  readonly startedAt: string;
  readonly lastScanAt?: string;
  readonly lastAckAt?: string;
  readonly lastScanError?: string;
}

export class HealthFile {
  private state: AgentHealthState;
  private warned = false;

  constructor(private readonly path: string, private readonly log: Logger, now = new Date()) {
    this.state = { pid: process.pid, startedAt: now.toISOString() };
    this.write();
  }

  scanCompleted(now = new Date()): void {
    const { lastScanError: _e, ...rest } = this.state;
    this.state = { ...rest, lastScanAt: now.toISOString() };
    this.write();
  }

  scanFailed(message: string): void {
    this.state = { ...this.state, lastScanError: message.slice(0, 300) };
    this.write();
  }

  reportAcked(now = new Date()): void {
    this.state = { ...this.state, lastAckAt: now.toISOString() };
    this.write();
  }

  private write(): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(this.state) + '\n');
      renameSync(tmp, this.path); // readers never see half a file
    } catch (err) {
      if (this.warned) return;
      this.warned = true; // once: a read-only /run must not flood the log every scan
      this.log.warn('cannot write the health file; the health probe will fail', { file: this.path, err: err instanceof Error ? err.message : String(err) });
    }
  }
}

export interface HealthVerdict {
  readonly ok: boolean;
  readonly message: string;
}

/** Judges a health state: a scan (and, with requireAck, an Ack) within maxAgeMs, or still starting up. */
export function judgeHealth(state: AgentHealthState, nowMs: number, maxAgeMs: number, requireAck: boolean): HealthVerdict {
  const age = (iso: string | undefined): number | undefined => (iso === undefined ? undefined : nowMs - Date.parse(iso));
  const sec = (ms: number): string => `${Math.round(ms / 1000)}s`;
  const started = age(state.startedAt) ?? Infinity;
  const scan = age(state.lastScanAt);
  const ack = age(state.lastAckAt);
  const limit = sec(maxAgeMs);
  if (scan === undefined ? started > maxAgeMs : scan > maxAgeMs) {
    const last = scan === undefined ? `no scan completed since the start ${sec(started)} ago` : `last scan completed ${sec(scan)} ago`;
    return { ok: false, message: `unhealthy: ${last} (limit ${limit})${state.lastScanError ? `; last error: ${state.lastScanError}` : ''}` };
  }
  if (requireAck && (ack === undefined ? started > maxAgeMs : ack > maxAgeMs)) {
    const last = ack === undefined ? `no report acknowledged since the start ${sec(started)} ago` : `last report acknowledged ${sec(ack)} ago`;
    return { ok: false, message: `not ready: ${last} (limit ${limit}); is the collector reachable?` };
  }
  return { ok: true, message: `ok: ${scan === undefined ? 'starting' : `last scan ${sec(scan)} ago`}${ack === undefined ? '' : `, last ack ${sec(ack)} ago`}` };
}

/** Reads the file a running agent writes; an absent or unreadable file is unhealthy. */
export function readHealthFile(path: string): AgentHealthState {
  const text = readFileSync(path, 'utf8');
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null || typeof (v as { startedAt?: unknown }).startedAt !== 'string') {
    throw new Error(`${path}: not an agent health file (no startedAt)`);
  }
  return v as AgentHealthState;
}
