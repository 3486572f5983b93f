// When to rescan after the cluster context changes. Scanning at once races kube-proxy (it
// has not programmed the change yet), so the agent waits until kube-proxy's last successful
// sync is at or past the change — polling its metrics cheaply — or until the settle window,
// counted from the first change not yet scanned, ends. Further changes while waiting move
// the target, not the deadline, so a steady stream of changes still gets scanned.
export interface RescanWait {
  /** The first and the latest change not yet scanned (epoch ms, agent clock). */
  readonly firstChangeMs: number;
  readonly lastChangeMs: number;
}

export type RescanDecision =
  | { readonly action: 'scan'; readonly why: string }
  | { readonly action: 'wait'; readonly ms: number };

export const RESCAN_POLL_MS = 1500;

/** Pure: what to do now, given kube-proxy's last sync (epoch ms; undefined when unknown). */
export function decideRescan(wait: RescanWait, nowMs: number, settleMs: number, lastSyncMs: number | undefined, pollMs = RESCAN_POLL_MS): RescanDecision {
  if (lastSyncMs !== undefined && lastSyncMs >= wait.lastChangeMs) return { action: 'scan', why: 'kube-proxy synced after the cluster context changed' };
  const deadline = wait.firstChangeMs + settleMs;
  if (nowMs >= deadline) return { action: 'scan', why: 'settle window after the cluster context change ended' };
  return { action: 'wait', ms: Math.max(1, Math.min(pollMs, deadline - nowMs)) };
}

export interface RescanSchedulerOptions {
  readonly settleMs: number;
  readonly pollMs?: number;
  /** kube-proxy's last successful sync in epoch ms, or undefined when its metrics cannot tell. */
  readonly lastSync: () => Promise<number | undefined>;
  readonly scan: (why: string) => void;
  readonly now?: () => number;
}

/** Runs decideRescan on a timer: one scan per burst of context changes. */
export class RescanScheduler {
  private wait: RescanWait | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;

  constructor(private readonly opts: RescanSchedulerOptions) {}

  /** Called when the cluster context changed at `changedAtMs`. */
  scheduleAfterContextChange(changedAtMs: number): void {
    if (this.stopped) return;
    this.wait = this.wait
      ? { firstChangeMs: this.wait.firstChangeMs, lastChangeMs: Math.max(this.wait.lastChangeMs, changedAtMs) }
      : { firstChangeMs: changedAtMs, lastChangeMs: changedAtMs };
    if (!this.timer && !this.probing) void this.step();
  }

  /** A change is waiting for its scan. */
  get pending(): boolean { return this.wait !== undefined; }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async step(): Promise<void> {
    this.timer = undefined;
    if (this.stopped || !this.wait) return;
    this.probing = true;
    let lastSync: number | undefined;
    try {
      lastSync = await this.opts.lastSync();
    } catch {
      lastSync = undefined; // metrics unreachable: the settle window decides
    } finally {
      this.probing = false;
    }
    if (this.stopped || !this.wait) return;
    const d = decideRescan(this.wait, (this.opts.now ?? Date.now)(), this.opts.settleMs, lastSync, this.opts.pollMs);
    if (d.action === 'scan') {
      this.wait = undefined;
      this.opts.scan(d.why);
      return;
    }
    this.timer = setTimeout(() => void this.step(), d.ms);
  }
}
