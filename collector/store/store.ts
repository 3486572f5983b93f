// The collector's embedded SQLite database (better-sqlite3): opened once, migrated at
// start-up, shared by the report sink, the audit event store and the retention pruner.
//
// Durability: WAL with synchronous=FULL. In WAL mode NORMAL already survives a process
// crash (SIGKILL) — the WAL is in the OS page cache — but a power loss or kernel panic can
// roll back the last commits, and both an agent's Ack and an API server's 200 promise the
// data is kept. FULL fsyncs the WAL at every commit; the cost is one fsync per transaction,
// and every write path here commits a whole batch or report in one transaction.
// Webhook audit batches are written by AuditEventStore's writer thread on its own
// connection (audit-writer.ts): same guarantee (the WAL is fdatasync'd before any 200),
// but the sync runs off the event loop and covers every batch committed before it.
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { migrate } from './migrations.js';

export const DEFAULT_DB_PATH = './netconform.db';

export interface Store {
  readonly db: Db;
  /** The file, or `:memory:`. */
  readonly path: string;
  readonly schemaVersion: number;
  /** Runs `hook` first when the store closes (threads holding their own connections). */
  onClose(hook: () => void): void;
  close(): void;
}

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(readonly path: string, reason: string) {
    super(`--db ${path}: ${reason}`);
  }
}

export function openStore(path: string = DEFAULT_DB_PATH): Store {
  let db: Db;
  try {
    if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new Database(path);
  } catch (err) {
    throw new StoreError(path, `cannot open: ${(err as Error).message}`);
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    // Keep the WAL from growing without bound under a steady write load.
    db.pragma('wal_autocheckpoint = 1000');
    db.pragma('foreign_keys = OFF');
    const { to } = migrate(db);
    let closed = false;
    const hooks: (() => void)[] = [];
    return {
      db, path, schemaVersion: to,
      onClose(hook) {
        hooks.push(hook);
      },
      close() {
        if (closed) return;
        closed = true;
        try {
          for (const h of hooks) h();
        } catch {
          // A thread that will not stop must not keep the database open.
        }
        try {
          db.pragma('wal_checkpoint(TRUNCATE)');
        } finally {
          db.close();
        }
      },
    };
  } catch (err) {
    db.close();
    throw new StoreError(path, (err as Error).message);
  }
}
