// Retention: old audit events and closed finding history are pruned in the background, in
// small transactions with a yield between them, so neither the webhook nor the agent
// stream waits behind one long delete.
import type { Logger } from '../../common/log.js';
import type { AuditEventStore } from './audit-events.js';
import type { Store } from './store.js';

export interface Retention {
  /** Runs one full prune now (also what the timer does); resolves with what was removed. */
  pruneNow(nowMs?: number): Promise<{ events: number; history: number }>;
  stop(): void;
}

export function startRetention(deps: {
  store: Store;
  events: AuditEventStore;
  retentionMs: number;
  log: Logger;
  intervalMs?: number;
  chunk?: number;
}): Retention {
  const { store, events, retentionMs, log } = deps;
  const chunk = deps.chunk ?? 5000;
  const intervalMs = deps.intervalMs ?? Math.min(3_600_000, Math.max(10_000, retentionMs / 100));
  const pruneHistory = store.db.prepare(`DELETE FROM finding_history WHERE id IN
    (SELECT id FROM finding_history WHERE closed_at IS NOT NULL AND closed_at < ? LIMIT ?)`);
  let running: Promise<{ events: number; history: number }> | undefined;
  let stopped = false;
  const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

  const pruneNow = (nowMs = Date.now()): Promise<{ events: number; history: number }> => {
    if (running) return running;
    running = (async () => {
      const cutoff = nowMs - retentionMs;
      let ev = 0, hist = 0;
      for (;;) {
        if (stopped) break;
        const n = events.pruneOlderThan(cutoff, chunk);
        ev += n;
        if (n < chunk) break;
        await yieldNow();
      }
      const cutoffIso = new Date(cutoff).toISOString();
      for (;;) {
        if (stopped) break;
        const n = pruneHistory.run(cutoffIso, chunk).changes;
        hist += n;
        if (n < chunk) break;
        await yieldNow();
      }
      if (ev || hist) log.info('retention pruned the store', { events: ev, history: hist, olderThan: cutoffIso });
      return { events: ev, history: hist };
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => {
    pruneNow().catch((err: unknown) => log.error('retention prune failed', { err: err instanceof Error ? err.message : String(err) }));
  }, intervalMs);
  timer.unref();
  // One pass shortly after start-up, off the start-up path.
  const first = setTimeout(() => void pruneNow().catch(() => undefined), 1000);
  first.unref();
  return {
    pruneNow,
    stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(first);
    },
  };
}
