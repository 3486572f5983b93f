// Bounds on what one agent stream may cost the collector. Each report is a store commit
// and a metrics update, so a stream gets a token bucket: a burst of `perMinute` reports,
// refilled at perMinute/60 per second. A report over the limit is not lost state: the
// newest one waits until the bucket has a token (one waiting report per stream, bounded
// memory); an older waiting one it replaces is dropped and counted. A report is a node's
// whole state, so the collector still ends up with the latest.

export interface StreamLimits {
  /** Reports per minute per stream (also the burst). */
  readonly reportsPerMinute: number;
  /** Findings kept of one report; the rest are dropped and the report counted as truncated. */
  readonly maxFindingsPerReport: number;
  /**
   * Agent and probe streams open at once (authenticated or still being authenticated): two
   * per node with the probe mesh, so the default leaves 5,000 nodes twice their streams for
   * reconnects whose old stream has not closed yet.
   */
  readonly maxStreams: number;
}

/**
 * A fingerprint is a few hundred bytes to a few KB (its longest parts are the CNI binaries
 * and kernel modules); one larger than this is not kept, so 5,000 nodes' fingerprints stay
 * within a few tens of MB of the collector's memory and store.
 */
export const MAX_FINGERPRINT_BYTES = 64 * 1024;

export const DEFAULT_STREAM_LIMITS: StreamLimits = { reportsPerMinute: 30, maxFindingsPerReport: 20_000, maxStreams: 20_000 };

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly capacity: number, private readonly perMs: number, private readonly now: () => number = Date.now) {
    this.tokens = capacity;
    this.last = now();
  }

  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until one token is available. */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + (t - this.last) * this.perMs);
    this.last = t;
  }
}

export class ReportThrottle {
  private readonly bucket: TokenBucket;
  private waiting: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(perMinute: number, private readonly onDropped: () => void, now: () => number = Date.now) {
    this.bucket = new TokenBucket(perMinute, perMinute / 60_000, now);
  }

  /** Runs `apply` now if the bucket allows, else keeps it as the one waiting report. */
  offer(apply: () => void): void {
    if (!this.waiting && this.bucket.take()) {
      apply();
      return;
    }
    if (this.waiting) this.onDropped();
    this.waiting = apply;
    if (!this.timer) this.schedule();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting = undefined;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const next = this.waiting;
      if (!next) return;
      if (this.bucket.take()) {
        this.waiting = undefined;
        next();
      } else {
        this.schedule();
      }
    }, Math.max(1, this.bucket.waitMs()));
    this.timer.unref();
  }
}
