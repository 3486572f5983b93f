// Loads the wire contract at run time. Types come from gen/proto (generated from the same
// .proto files), so the two cannot drift.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import type { ProtoGrpcType } from '../gen/proto/netconform.js';

function protoRoot(): string {
  // Source (common/) and compiled (dist/common/) layouts both find the repo's proto/.
  for (const rel of ['../proto', '../../proto']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}/netconform/v1/netconform.proto`)) return dir;
  }
  throw new Error('proto/netconform/v1/netconform.proto not found next to the program');
}

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cached: ProtoGrpcType['netconform']['v1'] | undefined;

export function loadContract(): ProtoGrpcType['netconform']['v1'] {
  if (cached) return cached;
  const root = protoRoot();
  const def = protoLoader.loadSync('netconform/v1/netconform.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [root] });
  cached = (grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType).netconform.v1;
  return cached;
}

/** Bounded messages: a collector must not be made to buffer unbounded data per agent. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
