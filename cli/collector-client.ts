// A QueryService client for the CLI, with a deadline so a missing collector is a clear
// error instead of a hang. The collector is reached over TLS (verified against --ca, or the
// system's roots) with the caller's Kubernetes token; --insecure is for labs on loopback.
import * as grpc from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { loadContract, MAX_MESSAGE_BYTES } from '../common/proto.js';
import { UsageError } from '../common/errors.js';
import type { Options, Parsed } from '../common/cli.js';
import { bool, str } from '../common/cli.js';
import { channelCredentials, channelOptions, clientTransport, type ClientTransport } from '../common/tls.js';
import { POD_TOKEN_PATH, readTokenFile } from '../common/token.js';
import type { QueryServiceClient } from '../gen/proto/netconform/v1/QueryService.js';

export const DEFAULT_COLLECTOR = '127.0.0.1:9443';

export function collectorAddress(flag: string | undefined): string {
  return flag ?? process.env['NETCONFORM_COLLECTOR'] ?? DEFAULT_COLLECTOR;
}

export const CONNECTION_FLAGS = {
  ca: { type: 'string' },
  'tls-server-name': { type: 'string' },
  'token-file': { type: 'string' },
  insecure: { type: 'boolean' },
} as const satisfies Options;

export const CONNECTION_HELP = `  --ca FILE               CA bundle the collector's certificate must chain to (default $NETCONFORM_CA, else the system's roots)
  --tls-server-name NAME  name to verify in the collector's certificate (e.g. netconform-collector.netconform.svc behind a port-forward)
  --token-file FILE       bearer token to send (default: the kubeconfig user's token, else the Pod's ServiceAccount token)
  --insecure              plaintext (labs on loopback); a token is sent only with --token-file
`;

export interface CollectorConnection {
  readonly transport: ClientTransport;
  /** `Bearer …`, never printed. */
  readonly authorization?: string;
}

/** The kubeconfig user's bearer token, however the kubeconfig gets it (token, token file, exec plugin). */
async function kubeconfigAuthorization(file: string): Promise<string | undefined> {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new UsageError(`cannot load ${file}: ${(err as Error).message.split('\n')[0]}`, '--kubeconfig');
  }
  if (!kc.getCurrentUser()) return undefined;
  const opts: { headers?: Record<string, string> } = { headers: {} };
  await kc.applyToHTTPSOptions(opts);
  const auth = opts.headers?.['Authorization'] ?? opts.headers?.['authorization'];
  return typeof auth === 'string' && /^Bearer\s+\S+/.test(auth) ? auth : undefined;
}

export async function connectionFromFlags(p: Parsed, kubeconfigFlag?: string): Promise<CollectorConnection> {
  const insecure = bool(p, 'insecure');
  const caFile = str(p, 'ca') ?? (insecure ? undefined : process.env['NETCONFORM_CA']);
  const transport = clientTransport({ insecure, caFile, serverName: str(p, 'tls-server-name'), caFlag: '--ca' });
  const tokenFile = str(p, 'token-file');
  if (tokenFile) return { transport, authorization: `Bearer ${readTokenFile(tokenFile)}` };
  if (insecure) return { transport };
  const kubeconfig = kubeconfigFlag ?? process.env['KUBECONFIG']?.split(':')[0] ?? join(homedir(), '.kube', 'config');
  if (existsSync(kubeconfig)) {
    const authorization = await kubeconfigAuthorization(kubeconfig);
    if (authorization) return { transport, authorization };
  }
  if (existsSync(POD_TOKEN_PATH)) return { transport, authorization: `Bearer ${readTokenFile(POD_TOKEN_PATH)}` };
  return { transport };
}

/** Adds the caller's token to every call (also over explicit plaintext, where call credentials are refused). */
function authorizationInterceptor(authorization: string): grpc.Interceptor {
  return (options, next) => new grpc.InterceptingCall(next(options), {
    start(metadata, listener, nextStart) {
      metadata.set('authorization', authorization);
      nextStart(metadata, listener);
    },
  });
}

export function clientOptions(conn: CollectorConnection): grpc.ClientOptions {
  return {
    ...channelOptions(conn.transport),
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    ...(conn.authorization ? { interceptors: [authorizationInterceptor(conn.authorization)] } : {}),
  };
}

export function queryClient(address: string, conn: CollectorConnection): QueryServiceClient {
  const contract = loadContract();
  return new contract.QueryService(address, channelCredentials(conn.transport), clientOptions(conn));
}

/** One line for a failed call: unreachable, refused (token, RBAC), or what the collector said. */
export function callError(err: grpc.ServiceError, address: string): UsageError {
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
    return new UsageError(`cannot reach the collector at ${address} (${grpc.status[err.code]}); is it running? (--collector or $NETCONFORM_COLLECTOR)${/certificate|SSL|TLS|handshake/i.test(err.details) ? `: ${err.details}` : ''}`);
  }
  if (err.code === grpc.status.UNAUTHENTICATED) return new UsageError(`collector at ${address} refused the credentials (UNAUTHENTICATED): ${err.details} (--token-file, or a kubeconfig user with a token)`);
  if (err.code === grpc.status.PERMISSION_DENIED) return new UsageError(`collector at ${address}: PERMISSION_DENIED: ${err.details} (bind the ClusterRole netconform-reader)`);
  return new UsageError(`collector at ${address}: ${err.details || err.message}`);
}

/** Calls a unary method with a deadline; turns failures into one line naming the address. */
export function unary<Req, Res>(
  client: QueryServiceClient,
  address: string,
  call: (req: Req, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => unknown,
  req: Req,
  timeoutMs = 5000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    call.call(client, req, { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) reject(callError(err, address));
      else resolve(res as Res);
    });
  });
}
