// The collector's refusals, declared once. Reasons are a fixed set (never a user, node or message).
import { Counter, type Registry } from 'prom-client';

/** Why an agent stream was ended or refused. */
export const STREAM_REJECT_REASONS = [
  'no_token', 'invalid_token', 'review_failed', 'not_agent', 'no_node', 'no_pod', 'wrong_node', 'wrong_role', 'wrong_pod_ip', 'too_many_streams', 'superseded',
] as const;
export type StreamRejectReason = (typeof STREAM_REJECT_REASONS)[number];

/** Why a query or a /metrics request was refused. */
export const REQUEST_REJECT_REASONS = ['no_token', 'invalid_token', 'review_failed', 'forbidden'] as const;
export type RequestRejectReason = (typeof REQUEST_REJECT_REASONS)[number];

export class TrustMetrics {
  readonly rejectedStreams: Counter<'reason'>;
  readonly rejectedRequests: Counter<'api' | 'reason'>;
  readonly reportsRateLimited: Counter<string>;
  readonly reportsTruncated: Counter<string>;
  readonly oversizedMessages: Counter<string>;

  constructor(registry: Registry) {
    this.rejectedStreams = new Counter({
      name: 'netconform_collector_rejected_streams_total',
      help: 'Agent streams refused or ended by the collector, by reason (authentication, node binding, limits).',
      labelNames: ['reason'], registers: [registry],
    });
    this.rejectedRequests = new Counter({
      name: 'netconform_collector_rejected_requests_total',
      help: 'Queries (api="query") and /metrics scrapes (api="metrics") refused, by reason.',
      labelNames: ['api', 'reason'], registers: [registry],
    });
    this.reportsRateLimited = new Counter({
      name: 'netconform_collector_reports_rate_limited_total',
      help: 'Reports dropped by the per-stream rate limit (a newer report of the same stream replaced them).',
      registers: [registry],
    });
    this.reportsTruncated = new Counter({
      name: 'netconform_collector_reports_truncated_total',
      help: 'Reports with more findings than --max-findings-per-report, stored truncated.',
      registers: [registry],
    });
    this.oversizedMessages = new Counter({
      name: 'netconform_collector_oversized_messages_total',
      help: 'gRPC calls ended with RESOURCE_EXHAUSTED because a message was above the collector\'s receive limit (16 MiB).',
      registers: [registry],
    });
    for (const reason of STREAM_REJECT_REASONS) this.rejectedStreams.inc({ reason }, 0);
    for (const api of ['query', 'metrics']) for (const reason of REQUEST_REJECT_REASONS) this.rejectedRequests.inc({ api, reason }, 0);
  }
}
