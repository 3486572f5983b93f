// Puts an authorization check in front of every unary handler of a gRPC service: the
// method runs only once the caller's token is reviewed and the access check allowed it.
import * as grpc from '@grpc/grpc-js';
import type { AccessCheck } from './authorize.js';
import { metadataAuthorization, type CollectorAccess } from './access.js';

export function guardUnaryHandlers(
  handlers: grpc.UntypedServiceImplementation,
  checkFor: (method: string) => AccessCheck,
  access: CollectorAccess,
): grpc.UntypedServiceImplementation {
  if (!access.enforcing) return handlers;
  const out: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) {
    const check = checkFor(method);
    const unary = handler as grpc.handleUnaryCall<unknown, unknown>;
    out[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      access.authorize(metadataAuthorization(call.metadata), check, 'query').then(
        (refusal) => {
          if (refusal) callback({ code: refusal.code, details: refusal.details });
          else unary(call, callback);
        },
        (err: unknown) => callback({ code: grpc.status.INTERNAL, details: `authorization failed: ${(err as Error).message}` }),
      );
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  return out;
}
