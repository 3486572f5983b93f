// The probe mesh's shared vocabulary, declared once for the probe (which counts) and the
// collector (which exports): the check id, the paths, the results, the mismatch kinds and
// the RTT histogram's bucket bounds. Every label value a probe metric can carry is in one of
// these lists, so the collector's series stay bounded whatever a probe sends.

export const NO_NAT_OBSERVED = 'no-nat.observed';

/** pod: to a probe pod on another node; node-local: on the own node; service: through the probe Service. */
export const PROBE_PATHS = ['pod', 'node-local', 'service', 'nodeport'] as const;
export type ProbePathLabel = (typeof PROBE_PATHS)[number];

export const PROBE_RESULTS = ['ok', 'mismatch', 'timeout', 'error'] as const;
export type ProbeResultLabel = (typeof PROBE_RESULTS)[number];

/** What a rewritten source was (agent/probe/classify.ts SourceKind without 'preserved'). */
export const MISMATCH_KINDS = ['sender-node', 'gateway', 'other-node', 'unknown'] as const;
export type MismatchKind = (typeof MISMATCH_KINDS)[number];

/**
 * Upper bounds (seconds) of netconform_probe_rtt_seconds. A probe counts into these buckets
 * and sends the cumulative counts; the collector exports them as they are (same bounds).
 * From 0.25 ms (same node) to the 2 s default timeout and beyond.
 */
export const PROBE_RTT_BUCKETS: readonly number[] = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const isProbePath = (v: string): v is ProbePathLabel => (PROBE_PATHS as readonly string[]).includes(v);
export const isProbeResult = (v: string): v is ProbeResultLabel => (PROBE_RESULTS as readonly string[]).includes(v);
export const isMismatchKind = (v: string): v is MismatchKind => (MISMATCH_KINDS as readonly string[]).includes(v);

/** netconform_probe_cni_pair_attempts_total's result: a peer's probes answered, rewritten, or not answered. */
export const CNI_PAIR_RESULTS = ['ok', 'mismatch', 'failed'] as const;
export type CniPairResult = (typeof CNI_PAIR_RESULTS)[number];

/** Every probe metric's name, declared once (the collector exports them; dashboards and tests read them). */
export const PROBE_METRICS = {
  attempts: 'netconform_probe_attempts_total',
  mismatches: 'netconform_probe_source_mismatch_total',
  rtt: 'netconform_probe_rtt_seconds',
  breaks: 'netconform_probe_connection_breaks_total',
  longestGap: 'netconform_probe_longest_gap_seconds',
  cniPairs: 'netconform_probe_cni_pair_attempts_total',
} as const;
