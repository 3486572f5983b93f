// Holds the latest ClusterContext and pushes it to every connected agent: on connect,
// and on change (the source coalesces). Large contexts go out in bounded chunks.
import type { ClusterContext } from '../common/cluster.js';
import { contextToChunks } from '../common/wire.js';
import type { ClusterContextChunk } from '../gen/proto/netconform/v1/ClusterContextChunk.js';

export type ContextListener = (chunks: readonly ClusterContextChunk[], version: number) => void;

export class ContextHub {
  private version = 0;
  private chunks: ClusterContextChunk[] | undefined;
  private context: ClusterContext | undefined;
  private readonly listeners = new Set<ContextListener>();

  publish(ctx: ClusterContext): number {
    this.version++;
    this.context = ctx;
    this.chunks = contextToChunks(ctx, this.version);
    for (const l of this.listeners) l(this.chunks, this.version);
    return this.version;
  }

  current(): { context: ClusterContext; chunks: readonly ClusterContextChunk[]; version: number } | undefined {
    return this.context && this.chunks ? { context: this.context, chunks: this.chunks, version: this.version } : undefined;
  }

  subscribe(listener: ContextListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
