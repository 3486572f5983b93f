// The audit event writer thread: webhook batches are inserted and committed on a worker
// thread with its own SQLite connection to the same (WAL) database file, so the fsync of
// each commit and the B-tree work of 400 inserts never stop the collector's event loop —
// which meanwhile reads and parses the next batches. Group commit happens here: batches
// that queue up while a transaction runs are committed together, in one transaction, and
// each is answered only after that commit is on disk.
// Durability: the writer commits with synchronous=NORMAL and then fdatasyncs the WAL file
// itself, asynchronously (libuv's thread pool), before it answers: an acknowledged batch is
// on disk exactly as with synchronous=FULL — it survives power loss, not only SIGKILL — but
// the writer inserts the next batches while the disk syncs, and one fdatasync covers every
// commit made before it (group commit for the fsync too).
// WAL checkpoints run on a second connection in a third thread, so copying pages back to
// the database file (and its two fsyncs) holds up neither the event loop nor the writer.
//
// The threads run plain JavaScript (an eval'd CommonJS source), so the same code works
// under tsx and from dist/ without a loader.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** One batch as the writer receives it: `rows` holds `n` rows of `width` values each, flat. */
export interface WriterBatch {
  readonly rows: unknown[];
  readonly n: number;
}

interface Pending {
  readonly resolve: (fresh: Uint8Array) => void;
  readonly reject: (err: Error) => void;
  /** When the batch was handed to the thread (health: a wedged writer leaves old batches). */
  readonly sinceMs: number;
}

const WRITER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const { path, insertSql, width, role } = workerData;
const db = new Database(path);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = FULL');
if (role === 'checkpointer') {
  // Checkpoints only: PASSIVE never blocks the writer; a full one lets the writer restart the WAL.
  parentPort.on('message', (m) => {
    if (m.close) { db.close(); Atomics.store(m.done, 0, 1); Atomics.notify(m.done, 0); process.exit(0); }
    let r;
    try { r = db.pragma('wal_checkpoint(PASSIVE)')[0]; } catch (err) { r = { error: String(err && err.message || err) }; }
    parentPort.postMessage(r);
  });
} else {
  // Commits do not fsync here (synchronous=NORMAL): the WAL is fdatasync'd by syncWal below,
  // asynchronously, and no batch is answered before the fdatasync that follows its commit.
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 0');
  const fs = require('node:fs');
  const nodePath = require('node:path');
  const walPath = path + '-wal';
  let walFd = -1;
  let walIno = -1;
  // The WAL exists (WAL mode, connection open); make its directory entry durable once.
  const dirFd = fs.openSync(nodePath.dirname(nodePath.resolve(path)), 'r');
  try { fs.fsyncSync(dirFd); } finally { fs.closeSync(dirFd); }
  const walFile = () => {
    const ino = fs.statSync(walPath).ino;
    if (walFd >= 0 && ino === walIno) return walFd;
    if (walFd >= 0) fs.closeSync(walFd);
    walFd = fs.openSync(walPath, 'r');
    walIno = fs.fstatSync(walFd).ino;
    return walFd;
  };
  // Answers waiting for an fdatasync; one fdatasync covers every commit before it.
  let unsynced = [];
  let syncing = false;
  const syncWal = () => {
    if (syncing || unsynced.length === 0) return;
    syncing = true;
    const answers = unsynced;
    unsynced = [];
    let fd;
    try { fd = walFile(); } catch (err) { return done(answers, err); }
    fs.fdatasync(fd, (err) => done(answers, err));
  };
  const done = (answers, err) => {
    syncing = false;
    for (const a of answers) {
      if (err) parentPort.postMessage({ id: a.id, error: 'fdatasync of the WAL failed: ' + String(err.message || err) });
      else parentPort.postMessage({ id: a.id, fresh: a.fresh }, [a.fresh.buffer]);
    }
    syncWal();
  };
  const insert = db.prepare(insertSql);
  let queue = [];
  let scheduled = false;
  const commit = db.transaction((batches) => batches.map((b) => {
    const fresh = new Uint8Array(b.n);
    const rows = b.rows;
    const args = new Array(width);
    for (let i = 0; i < b.n; i++) {
      const o = i * width;
      for (let k = 0; k < width; k++) args[k] = rows[o + k];
      if (insert.run(args).changes !== 0) fresh[i] = 1;
    }
    return fresh;
  }));
  const flush = () => {
    scheduled = false;
    const group = queue;
    queue = [];
    if (checkpointAfter) {
      // The WAL outgrew the background checkpoints (they never catch up with a writer that
      // never pauses): one here, between two commits, lets the next commit restart the WAL.
      checkpointAfter = false;
      try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
    }
    if (group.length === 0) return;
    try {
      const fresh = commit(group.map((g) => g.batch));
      group.forEach((g, i) => unsynced.push({ id: g.id, fresh: fresh[i] }));
      syncWal();
    } catch (err) {
      const message = String(err && err.message || err);
      for (const g of group) parentPort.postMessage({ id: g.id, error: message });
    }
  };
  let checkpointAfter = false;
  parentPort.on('message', (m) => {
    if (m.close) {
      if (queue.length) flush();
      // Pending answers are dropped with the thread (the main side fails them); their data is committed.
      if (unsynced.length) try { fs.fdatasyncSync(walFile()); } catch {}
      db.close(); Atomics.store(m.done, 0, 1); Atomics.notify(m.done, 0); process.exit(0);
    }
    if (m.checkpoint) { checkpointAfter = true; if (!scheduled) { scheduled = true; setImmediate(flush); } return; }
    queue.push(m);
    if (!scheduled) { scheduled = true; setImmediate(flush); }
  });
}
`;

/** Rows written between two background checkpoints (some 3 MiB of WAL). */
const CHECKPOINT_EVERY_ROWS = 4000;
/** A WAL longer than this (pages, 64 MiB at 4 KiB) gets a checkpoint on the writer itself. */
const WAL_LIMIT_PAGES = 16_384;

export class AuditWriter {
  private writer: Worker | undefined;
  private checkpointer: Worker | undefined;
  private checkpointing = false;
  private rowsSinceCheckpoint = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(private readonly path: string, private readonly insertSql: string, private readonly width: number) {}

  private start(): Worker {
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    const data = { path: this.path, insertSql: this.insertSql, width: this.width, sqlite };
    const w = new Worker(WRITER_SOURCE, { eval: true, workerData: { ...data, role: 'writer' } });
    w.on('message', (m: { id: number; fresh?: Uint8Array; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) w.unref();
      if (m.fresh) p.resolve(m.fresh);
      else p.reject(new Error(m.error ?? 'audit writer failed'));
    });
    const fail = (err: Error): void => {
      if (this.writer === w) this.writer = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`audit writer thread exited (${code})`)));
    w.unref();
    this.writer = w;
    const c = new Worker(WRITER_SOURCE, { eval: true, workerData: { ...data, role: 'checkpointer' } });
    c.on('message', (r: { log?: number }) => {
      this.checkpointing = false;
      if ((r.log ?? 0) > WAL_LIMIT_PAGES && this.writer) this.writer.postMessage({ checkpoint: true });
    });
    c.on('error', () => {
      this.checkpointing = false;
      if (this.checkpointer === c) this.checkpointer = undefined;
    });
    c.unref();
    this.checkpointer = c;
    return w;
  }

  /** Inserts one batch (committed, with its fsync, when this resolves); 1 per row that was new. */
  insert(batch: WriterBatch): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const w = this.writer ?? this.start();
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (fresh) => {
          this.rowsSinceCheckpoint += batch.n;
          this.maybeCheckpoint();
          resolve(fresh);
        },
        reject,
        sinceMs: Date.now(),
      });
      w.ref();
      w.postMessage({ id, batch });
    });
  }

  /** Age of the oldest batch the writer thread has not committed yet (0 when none). */
  backlogAgeMs(now = Date.now()): number {
    let oldest = now;
    for (const p of this.pending.values()) if (p.sinceMs < oldest) oldest = p.sinceMs;
    return now - oldest;
  }

  private maybeCheckpoint(): void {
    if (this.checkpointing || !this.checkpointer || this.rowsSinceCheckpoint < CHECKPOINT_EVERY_ROWS) return;
    this.rowsSinceCheckpoint = 0;
    this.checkpointing = true;
    this.checkpointer.postMessage({});
  }

  /** Stops both threads, waiting (briefly, synchronously) until their connections are closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of [this.writer, this.checkpointer]) {
      if (!w) continue;
      const done = new Int32Array(new SharedArrayBuffer(4));
      w.postMessage({ close: true, done });
      Atomics.wait(done, 0, 0, 10_000);
    }
    for (const p of this.pending.values()) p.reject(new Error('the store is closed'));
    this.pending.clear();
    this.writer = undefined;
    this.checkpointer = undefined;
  }
}
