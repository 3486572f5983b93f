// The collector's trust flags (TLS, authentication, stream limits), parsed in one place so
// collector/main.ts only spreads them in.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Options, Parsed } from '../../common/cli.js';
import { bool, choice, str } from '../../common/cli.js';
import { UsageError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { parseDuration } from '../../common/duration.js';
import { ServingCertificate } from '../../common/tls.js';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from '../limits.js';
import { DEFAULT_AGENT_SERVICE_ACCOUNT, DEFAULT_PROBE_SERVICE_ACCOUNT, parseServiceAccount } from './node-identity.js';
import { KubeAccess, OPEN_ACCESS, type CollectorAccess } from './access.js';
import type { TrustMetrics } from './metrics.js';

export const TRUST_FLAGS = {
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-reload': { type: 'string' },
  insecure: { type: 'boolean' },
  auth: { type: 'string' },
  'agent-service-account': { type: 'string' },
  'probe-service-account': { type: 'string' },
  'max-agent-streams': { type: 'string' },
  'max-reports-per-minute': { type: 'string' },
  'max-findings-per-report': { type: 'string' },
} as const satisfies Options;

export const TRUST_HELP = `
Transport and trust:
  --tls-cert FILE           serving certificate (PEM) for the gRPC and HTTP listeners
  --tls-key FILE            its key (PEM); both files are re-read when they change
  --tls-reload DURATION     how often the certificate files are checked for changes (default 30s)
  --insecure                plaintext gRPC and HTTP, no authentication (labs, tests, demo on loopback)
  --auth kubernetes|none    kubernetes (default with TLS): agents prove their node with a projected
                            token (TokenReview), readers need RBAC get on findings/podsecurity.netconform.io
                            and /metrics (SubjectAccessReview); none (default with --insecure)
  --agent-service-account NS:NAME  the agents' ServiceAccount (default ${DEFAULT_AGENT_SERVICE_ACCOUNT.namespace}:${DEFAULT_AGENT_SERVICE_ACCOUNT.name})
  --probe-service-account NS:NAME  the probe pods' ServiceAccount (default ${DEFAULT_PROBE_SERVICE_ACCOUNT.namespace}:${DEFAULT_PROBE_SERVICE_ACCOUNT.name});
                            a probe's stream is bound to its node too and may report only no-nat.observed
  --max-agent-streams N     agent and probe streams open at once (default ${DEFAULT_STREAM_LIMITS.maxStreams})
  --max-reports-per-minute N  reports per stream per minute, also the burst (default ${DEFAULT_STREAM_LIMITS.reportsPerMinute})
  --max-findings-per-report N  findings kept of one report (default ${DEFAULT_STREAM_LIMITS.maxFindingsPerReport})
`;

function positiveInt(p: Parsed, flag: string, fallback: number): number {
  const v = str(p, flag);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`"${v}" is not a positive whole number`, `--${flag}`);
  return Number(v);
}

export interface TrustSettings {
  readonly tls?: ServingCertificate;
  readonly auth: 'kubernetes' | 'none';
  readonly limits: StreamLimits;
  /** Builds the gatekeeper once the metrics registry exists. */
  access(metrics: TrustMetrics): CollectorAccess;
}

/**
 * Reads the trust flags. `kubeConfig` is called only when authentication is on (it loads
 * --kubeconfig or the in-cluster ServiceAccount, and throws a usage error when neither exists).
 */
export function trustSettings(p: Parsed, kubeConfig: () => KubeConfig, log: Logger): TrustSettings {
  const cert = str(p, 'tls-cert');
  const key = str(p, 'tls-key');
  const insecure = bool(p, 'insecure');
  if (insecure && (cert || key)) throw new UsageError('cannot be combined with --tls-cert/--tls-key', '--insecure');
  if (!insecure && (!cert || !key)) {
    throw new UsageError('the collector serves TLS: give --tls-cert FILE and --tls-key FILE (or --insecure for a lab on loopback)', cert ? '--tls-key' : '--tls-cert');
  }
  const auth = choice(str(p, 'auth'), ['kubernetes', 'none'] as const, '--auth', insecure ? 'none' : 'kubernetes');
  const saText = str(p, 'agent-service-account');
  const sa = saText === undefined ? DEFAULT_AGENT_SERVICE_ACCOUNT : parseServiceAccount(saText);
  if (!sa) throw new UsageError(`"${saText}" is not NAMESPACE:NAME`, '--agent-service-account');
  const probeText = str(p, 'probe-service-account');
  const probeSa = probeText === undefined ? DEFAULT_PROBE_SERVICE_ACCOUNT : parseServiceAccount(probeText);
  if (!probeSa) throw new UsageError(`"${probeText}" is not NAMESPACE:NAME`, '--probe-service-account');
  const limits: StreamLimits = {
    maxStreams: positiveInt(p, 'max-agent-streams', DEFAULT_STREAM_LIMITS.maxStreams),
    reportsPerMinute: positiveInt(p, 'max-reports-per-minute', DEFAULT_STREAM_LIMITS.reportsPerMinute),
    maxFindingsPerReport: positiveInt(p, 'max-findings-per-report', DEFAULT_STREAM_LIMITS.maxFindingsPerReport),
  };
  const reloadMs = parseDuration(str(p, 'tls-reload') ?? '30s', '--tls-reload');
  const tls = cert && key ? new ServingCertificate({ certFile: cert, keyFile: key }, log.child({ part: 'tls' }), reloadMs) : undefined;
  const kc = auth === 'kubernetes' ? kubeConfig() : undefined;
  if (auth === 'none' && !insecure) log.warn('--auth none: anyone who reaches the collector may report for any node and read everything');
  return {
    ...(tls ? { tls } : {}), auth, limits,
    access: (metrics) => (kc ? new KubeAccess({ kubeConfig: kc, agentServiceAccount: sa, probeServiceAccount: probeSa, metrics, log: log.child({ part: 'auth' }) }) : OPEN_ACCESS),
  };
}
