// The audit.k8s.io/v1 Event as kube-apiserver's webhook and log backends write it, narrowed
// from unknown JSON to what the collector records: identity (auditID + stage, the dedupe
// key), the request (verb, objectRef, user, response code, times) and, for pods, what Pod
// Security Admission said (enforce-policy, audit-violations, exempt, error annotations and
// an enforce denial in the 403 status). Pure: validation returns reasons, never throws.
import { parseAuditViolations, parseEnforceDenial, type PodSecurityViolations } from './violations.js';

/** Why an event (or a whole body) was refused; a bounded set, used as a metric label. */
export type RejectReason = 'invalid_json' | 'not_event_list' | 'not_an_object' | 'missing_field' | 'invalid_field' | 'body_too_large';

export const AUDIT_API_VERSIONS: readonly string[] = ['audit.k8s.io/v1', 'audit.k8s.io/v1beta1'];

/** Annotation key prefixes PSA writes under: the in-tree plugin and the out-of-tree webhook. */
export const PSA_ANNOTATION_PREFIXES: readonly string[] = [
  'pod-security.kubernetes.io/',
  'pod-security-webhook.kubernetes.io/',
  'advisory.pod-security-webhook.kubernetes.io/',
];

export type NameSource = 'objectRef' | 'responseObject' | 'requestObject' | 'generateName' | 'owner' | '';

export interface PsaFacts {
  /** `<level>:<version>` as written, e.g. `restricted:latest`. */
  readonly enforcePolicy: string;
  readonly auditViolations: (PodSecurityViolations & { readonly raw: string }) | undefined;
  /** `namespace`, `user` or `runtimeClass`. */
  readonly exempt: string;
  readonly error: string;
  /** A 403 with `violates PodSecurity "…"` in its status message. */
  readonly denial: (PodSecurityViolations & { readonly raw: string }) | undefined;
}

export interface AuditRecord {
  readonly auditID: string;
  readonly stage: string;
  readonly verb: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  readonly nameSource: NameSource;
  /** The user PSA judged: the impersonated user when there is one. */
  readonly user: string;
  /** 0 when the event has no responseStatus (RequestReceived). */
  readonly responseCode: number;
  /** stageTimestamp (ms since epoch); requestReceivedTimestamp when absent. */
  readonly timeMs: number;
  /** PSA facts for pod create/update events at ResponseComplete that carry any. */
  readonly psa: PsaFacts | undefined;
}

export type EventResult = { readonly ok: true; readonly record: AuditRecord } | { readonly ok: false; readonly reason: RejectReason; readonly message: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const optStr = (o: Obj | undefined, k: string): string | undefined => {
  const v = o?.[k];
  return typeof v === 'string' ? v : undefined;
};

/** The items of an EventList body, or a message saying why the body is not one. */
export function eventListItems(body: unknown): { ok: true; items: readonly unknown[] } | { ok: false; message: string } {
  if (!isObj(body)) return { ok: false, message: 'body is not a JSON object (expected an audit.k8s.io/v1 EventList)' };
  const kind = body['kind'];
  if (kind !== 'EventList') return { ok: false, message: `kind is ${JSON.stringify(kind ?? null)}, expected "EventList"` };
  const apiVersion = body['apiVersion'];
  if (typeof apiVersion !== 'string' || !AUDIT_API_VERSIONS.includes(apiVersion)) {
    return { ok: false, message: `apiVersion is ${JSON.stringify(apiVersion ?? null)}, expected one of ${AUDIT_API_VERSIONS.join(', ')}` };
  }
  const items = body['items'];
  if (items === undefined || items === null) return { ok: true, items: [] };
  if (!Array.isArray(items)) return { ok: false, message: 'items is not an array' };
  return { ok: true, items };
}

function timeMs(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

/** Full annotation keys per PSA key, built once (no string concatenation per event). */
const PSA_KEYS: ReadonlyMap<string, readonly string[]> = new Map(
  ['enforce-policy', 'audit-violations', 'exempt', 'error'].map((k) => [k, PSA_ANNOTATION_PREFIXES.map((p) => p + k)]),
);

function psaAnnotation(annotations: Obj | undefined, key: string): string {
  if (!annotations) return '';
  for (const full of PSA_KEYS.get(key)!) {
    const v = annotations[full];
    if (typeof v === 'string') return v;
  }
  return '';
}

function metadataOf(o: unknown): Obj | undefined {
  return isObj(o) && isObj(o['metadata']) ? o['metadata'] : undefined;
}

/** Pod name; generateName pods have none in objectRef (kubernetes/kubernetes#100466). */
function podName(objectRef: Obj | undefined, event: Obj): { name: string; source: NameSource } {
  const ref = optStr(objectRef, 'name');
  if (ref) return { name: ref, source: 'objectRef' };
  const resp = optStr(metadataOf(event['responseObject']), 'name');
  if (resp) return { name: resp, source: 'responseObject' };
  const reqMeta = metadataOf(event['requestObject']);
  const req = optStr(reqMeta, 'name');
  if (req) return { name: req, source: 'requestObject' };
  const gen = optStr(reqMeta, 'generateName');
  if (gen) return { name: gen, source: 'generateName' };
  const owners = reqMeta?.['ownerReferences'];
  if (Array.isArray(owners)) {
    const owner = owners.find((o): o is Obj => isObj(o) && o['controller'] === true) ?? owners.find(isObj);
    if (owner && typeof owner['kind'] === 'string' && typeof owner['name'] === 'string') {
      return { name: `${owner['kind']}/${owner['name']}`, source: 'owner' };
    }
  }
  return { name: '', source: '' };
}

const POD_VERBS = new Set(['create', 'update', 'patch']);

/**
 * Replicas of one workload produce identical annotation texts (container names, not pod
 * names, appear in them), so parsed results are memoised; bounded, cleared when full.
 */
const PARSE_CACHE_MAX = 4096;
const auditCache = new Map<string, PodSecurityViolations | undefined>();
const denialCache = new Map<string, PodSecurityViolations | undefined>();
function memo(cache: Map<string, PodSecurityViolations | undefined>, text: string, parse: (t: string) => PodSecurityViolations | undefined): PodSecurityViolations | undefined {
  if (cache.has(text)) return cache.get(text);
  const v = parse(text);
  if (cache.size >= PARSE_CACHE_MAX) cache.clear();
  cache.set(text, v);
  return v;
}

/** Validates one event and extracts what the collector records. */
export function parseAuditEvent(item: unknown): EventResult {
  if (!isObj(item)) return { ok: false, reason: 'not_an_object', message: 'event is not a JSON object' };
  const auditID = item['auditID'];
  const stage = item['stage'];
  if (typeof auditID !== 'string' || auditID === '') return { ok: false, reason: 'missing_field', message: 'event has no auditID' };
  if (typeof stage !== 'string' || stage === '') return { ok: false, reason: 'missing_field', message: `event ${auditID} has no stage` };
  if (auditID.length > 256 || stage.length > 64) return { ok: false, reason: 'invalid_field', message: 'auditID or stage too long' };
  const objectRef = item['objectRef'] === undefined ? undefined : item['objectRef'];
  if (objectRef !== undefined && !isObj(objectRef)) return { ok: false, reason: 'invalid_field', message: `event ${auditID}: objectRef is not an object` };
  const annotations = item['annotations'];
  if (annotations !== undefined && annotations !== null && !isObj(annotations)) {
    return { ok: false, reason: 'invalid_field', message: `event ${auditID}: annotations is not an object` };
  }
  const ann = isObj(annotations) ? annotations : undefined;
  const status = isObj(item['responseStatus']) ? item['responseStatus'] : undefined;
  const codeValue = status?.['code'];
  if (codeValue !== undefined && (typeof codeValue !== 'number' || !Number.isInteger(codeValue))) {
    return { ok: false, reason: 'invalid_field', message: `event ${auditID}: responseStatus.code is not an integer` };
  }
  const t = timeMs(item['stageTimestamp']) ?? timeMs(item['requestReceivedTimestamp']);
  if (t === undefined) return { ok: false, reason: 'invalid_field', message: `event ${auditID}: no valid stageTimestamp or requestReceivedTimestamp` };

  const verb = typeof item['verb'] === 'string' ? item['verb'] : '';
  const resource = optStr(objectRef, 'resource') ?? '';
  const subresource = optStr(objectRef, 'subresource') ?? '';
  const namespace = optStr(objectRef, 'namespace') ?? '';
  const userObj = isObj(item['user']) ? item['user'] : undefined;
  const imp = isObj(item['impersonatedUser']) ? item['impersonatedUser'] : undefined;
  const user = optStr(imp, 'username') ?? optStr(userObj, 'username') ?? '';
  const responseCode = typeof codeValue === 'number' ? codeValue : 0;

  const isPodWrite = resource === 'pods' && (optStr(objectRef, 'apiGroup') ?? '') === '' && POD_VERBS.has(verb) && stage === 'ResponseComplete';
  const { name, source } = isPodWrite ? podName(objectRef, item) : { name: optStr(objectRef, 'name') ?? '', source: 'objectRef' as NameSource };

  let psa: PsaFacts | undefined;
  if (isPodWrite) {
    const enforcePolicy = psaAnnotation(ann, 'enforce-policy');
    const auditText = psaAnnotation(ann, 'audit-violations');
    const exempt = psaAnnotation(ann, 'exempt');
    const error = psaAnnotation(ann, 'error');
    const message = optStr(status, 'message') ?? '';
    const deniedFacts = responseCode === 403 ? memo(denialCache, message, parseEnforceDenial) : undefined;
    const auditFacts = auditText ? memo(auditCache, auditText, parseAuditViolations) : undefined;
    if (enforcePolicy || auditText || exempt || error || deniedFacts) {
      psa = {
        enforcePolicy,
        // An audit-violations value that does not parse is still kept, verbatim, as unknown.
        auditViolations: auditText
          ? (auditFacts ? { level: auditFacts.level, version: auditFacts.version, controls: auditFacts.controls, raw: auditText } : { level: 'unknown', version: 'unknown', controls: [], raw: auditText })
          : undefined,
        exempt,
        error,
        denial: deniedFacts ? { level: deniedFacts.level, version: deniedFacts.version, controls: deniedFacts.controls, raw: message } : undefined,
      };
    }
  }
  return {
    ok: true,
    record: { auditID, stage, verb, resource, subresource, namespace, name, nameSource: source, user, responseCode, timeMs: t, psa },
  };
}
