// `--audit-log FILE`: replays a JSON-lines audit log, as kube-apiserver's log backend writes
// it (one Event per line), through the same ingest path as the webhook. Events are stored
// in batches; dedupe on auditID + stage makes a second replay of the same file a no-op.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { InputError } from '../../common/errors.js';
import type { AuditIngest } from './ingest.js';
import type { PsaMetrics } from './metrics.js';

export interface ReplayResult {
  readonly lines: number;
  readonly inserted: number;
  readonly duplicates: number;
  readonly rejected: number;
  /** The first few problems, with their line numbers. */
  readonly errors: readonly string[];
}

export async function replayAuditLog(file: string, ingest: AuditIngest, metrics: PsaMetrics, batchSize = 1000, signal?: AbortSignal): Promise<ReplayResult> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err: NodeJS.ErrnoException) => reject(new InputError(file, `cannot read audit log: ${err.code ?? err.message}`)));
  });
  await opened;
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let lines = 0, inserted = 0, duplicates = 0, rejected = 0;
  const errors: string[] = [];
  let batch: unknown[] = [];
  let batchLines: number[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    const r = ingest.ingest(batch, 'log');
    inserted += r.inserted;
    duplicates += r.duplicates;
    rejected += r.rejected.length;
    for (const x of r.rejected) if (errors.length < 10) errors.push(`${file}:${batchLines[x.index]}: ${x.message}`);
    batch = [];
    batchLines = [];
  };
  for await (const line of rl) {
    if (signal?.aborted) break;
    lines++;
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      rejected++;
      metrics.reject('invalid_json');
      if (errors.length < 10) errors.push(`${file}:${lines}: not JSON: ${(err as Error).message}`);
      continue;
    }
    batch.push(v);
    batchLines.push(lines);
    if (batch.length >= batchSize) flush();
  }
  if (!signal?.aborted) flush();
  rl.close();
  stream.destroy();
  return { lines, inserted, duplicates, rejected, errors };
}
