// A QueryService client for the CLI, with a deadline so a missing collector is a clear
// error instead of a hang.
import * as grpc from '@grpc/grpc-js';
import { loadContract, MAX_MESSAGE_BYTES } from '../common/proto.js';
import { UsageError } from '../common/errors.js';
import type { QueryServiceClient } from '../gen/proto/netconform/v1/QueryService.js';

export const DEFAULT_COLLECTOR = '127.0.0.1:9443';

export function collectorAddress(flag: string | undefined): string {
  return flag ?? process.env['NETCONFORM_COLLECTOR'] ?? DEFAULT_COLLECTOR;
}

export function queryClient(address: string): QueryServiceClient {
  const contract = loadContract();
  return new contract.QueryService(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  });
}

/** Calls a unary method with a deadline; turns UNAVAILABLE into a message naming the address. */
export function unary<Req, Res>(
  client: QueryServiceClient,
  address: string,
  call: (req: Req, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => unknown,
  req: Req,
  timeoutMs = 5000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    call.call(client, req, { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) {
        const why = err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED
          ? `cannot reach the collector at ${address} (${grpc.status[err.code]}); is it running? (--collector or $NETCONFORM_COLLECTOR)`
          : `collector at ${address}: ${err.details || err.message}`;
        reject(new UsageError(why));
      } else resolve(res as Res);
    });
  });
}
