// A cluster file (`kubectl get … -o yaml|json`) read strictly: every document, or every
// element of a top-level list or of a `kind: List`, must be a Kubernetes object (a mapping
// with a kind and metadata.name), and the fields the node checks read from Nodes,
// Services, EndpointSlices, Namespaces and ServiceCIDRs must have the API's types. Anything
// else is an InputError naming the file, the line (YAML) and the path of the offending value,
// because a file read as "nothing there" would silently skip every cluster check.
import { createRequire } from 'node:module';
import type { Node as YamlNode } from 'yaml';
import { InputError } from './errors.js';
import { MAX_JSON_DEPTH as MAX_DEPTH, describeValue, nestsDeeperThan, parseJsonInput } from './json-input.js';
import type { KubeObject } from './cluster.js';

/** An object of the file and where it was found. */
export interface LocatedObject {
  readonly object: KubeObject;
  /** JSON path of the object in its document: `items[3]`, `[0]`, or '' for a whole document. */
  readonly path: string;
  /** 1-based line of the object (YAML only; JSON is located by path). */
  readonly line?: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Splits documents into located objects (Lists and top-level lists flattened). */
export function readClusterDocuments(text: string, file: string): LocatedObject[] {
  const trimmed = text.trimStart();
  const found = trimmed.startsWith('{') || trimmed.startsWith('[') ? locateJson(text, file) : locateYaml(text, file);
  if (found === undefined) throw new InputError(file, 'no Kubernetes objects in it (expected the output of kubectl get … -o yaml or -o json)');
  return found;
}

function locateJson(text: string, file: string): LocatedObject[] {
  const v = parseJsonInput(text, file);
  const out: LocatedObject[] = [];
  const top: [unknown, string][] = Array.isArray(v) ? v.map((x, i) => [x, `[${i}]`]) : [[v, '']];
  for (const [doc, path] of top) {
    const obj = asObject(doc, file, path, undefined);
    const items = listItems(obj, file, path, undefined);
    if (!items) out.push({ object: obj, path });
    else items.forEach((item, i) => out.push({ object: asItem(item, obj, file, `${path}${path ? '.' : ''}items[${i}]`, undefined), path: `${path}${path ? '.' : ''}items[${i}]` }));
  }
  return out;
}

/** undefined when the text holds no document at all (empty, or only comments). */
function locateYaml(text: string, file: string): LocatedObject[] | undefined {
  // Required on use: the YAML parser adds ~0.2 s to every agent start, and cluster files are mostly JSON.
  const { LineCounter, isMap, isSeq, parseAllDocuments } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  // The YAML parser takes seconds on thousands of nested flow collections, and time quadratic
  // in the length of some long lines (fuzzing: 20 s for one line of 378k quotes): refuse first.
  const long = longLine(text, MAX_YAML_LINE);
  if (long !== undefined) throw new InputError(file, `a line longer than ${MAX_YAML_LINE / 1024} KiB; not kubectl YAML output (for such objects use kubectl get -o json)`, long);
  // The YAML parser takes seconds on thousands of nested flow collections: refuse them first.
  const deep = flowDepthExceeds(text, MAX_DEPTH);
  if (deep !== undefined) throw new InputError(file, `nested deeper than ${MAX_DEPTH} levels; not the output it should be`, deep);
  const lineCounter = new LineCounter();
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, { lineCounter });
  } catch (err) {
    // The parser recurses per nesting level (`- - - - …`): a stack overflow is nesting no kubectl output has.
    if (err instanceof RangeError) throw new InputError(file, `nested too deeply to read; not kubectl output`);
    throw err;
  }
  const lineOf = (n: unknown): number | undefined => {
    const range = (n as YamlNode | null)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  const out: LocatedObject[] = [];
  let docIndex = 0;
  let any = false;
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    docIndex++;
    const e = doc.errors[0];
    if (e) throw new InputError(file, `invalid YAML: ${e.message.split('\n')[0]}`, e.linePos?.[0]?.line, e.linePos?.[0]?.col);
    let v: unknown;
    try {
      v = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // Excessive aliases (a "billion laughs" file) or nesting too deep to convert.
      throw new InputError(file, `unusable YAML in document ${docIndex}: ${(err as Error).message.split('\n')[0]}`, lineOf(doc.contents));
    }
    if (v === null || v === undefined) continue; // an empty document (`---` at the end)
    any = true;
    if (nestsDeeperThan(v, MAX_DEPTH)) throw new InputError(file, `nested deeper than ${MAX_DEPTH} levels; not the output it should be`, lineOf(doc.contents));
    const prefix = docs.length > 1 ? `document ${docIndex}` : '';
    const join = (p: string): string => (prefix && p ? `${prefix} ${p}` : prefix || p);
    if (Array.isArray(v)) {
      const seq = isSeq(doc.contents) ? doc.contents.items : [];
      v.forEach((x, i) => pushDoc(x, join(`[${i}]`), lineOf(seq[i])));
    } else {
      pushDoc(v, join(''), lineOf(doc.contents));
    }

    function pushDoc(value: unknown, path: string, line: number | undefined): void {
      const obj = asObject(value, file, path, line);
      const items = listItems(obj, file, path, line);
      if (!items) { out.push({ object: obj, path, ...(line !== undefined ? { line } : {}) }); return; }
      const node = isSeq(doc.contents) ? undefined : doc.contents;
      const seqNode = isMap(node) ? node.get('items', true) : undefined;
      const itemNodes = isSeq(seqNode) ? seqNode.items : [];
      items.forEach((item, i) => {
        const p = `${path}${path ? '.' : ''}items[${i}]`;
        const l = lineOf(itemNodes[i]) ?? line;
        out.push({ object: asItem(item, obj, file, p, l), path: p, ...(l !== undefined ? { line: l } : {}) });
      });
    }
  }
  return any ? out : undefined;
}

/** YAML lines longer than this are refused (JSON input has no such limit). */
const MAX_YAML_LINE = 64 * 1024;

function longLine(text: string, max: number): number | undefined {
  let line = 1, start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    if (end - start > max) return line;
    if (nl < 0) return undefined;
    start = nl + 1;
    line++;
  }
}

/** The line where `[`/`{` nesting (outside quotes) first exceeds `max`, else undefined. */
function flowDepthExceeds(text: string, max: number): number | undefined {
  let depth = 0, line = 1, quote = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) { line++; quote = 0; continue; }
    if (quote !== 0) { if (c === quote) quote = 0; continue; }
    if (c === 34 || c === 39) quote = c;
    else if (c === 91 || c === 123) { if (++depth > max) return line; }
    else if ((c === 93 || c === 125) && depth > 0) depth--;
  }
  return undefined;
}

const at = (path: string): string => (path ? `${path}: ` : '');

function asObject(v: unknown, file: string, path: string, line: number | undefined): Obj {
  if (!isObj(v)) throw new InputError(file, `${at(path)}expected a Kubernetes object (a mapping with apiVersion, kind and metadata), got ${describeValue(v)}`, line);
  if (typeof v['kind'] !== 'string' || v['kind'] === '') throw new InputError(file, `${at(path)}expected a Kubernetes object: "kind" must be a non-empty string, got ${describeValue(v['kind'])}`, line);
  // apiVersion is not required: hand-written manifests given to `psa check` may leave it out.
  if (v['apiVersion'] !== undefined && typeof v['apiVersion'] !== 'string') throw new InputError(file, `${at(path)}expected a Kubernetes object: "apiVersion" must be a string, got ${describeValue(v['apiVersion'])}`, line);
  return v;
}

/** The items of a `kind: List` / `*List`, or undefined for a plain object. */
function listItems(o: Obj, file: string, path: string, line: number | undefined): unknown[] | undefined {
  const kind = o['kind'] as string;
  if (kind !== 'List' && !kind.endsWith('List')) return undefined;
  const items = o['items'];
  if (items === null || items === undefined) return []; // `kubectl get` of nothing prints `items: []`
  if (!Array.isArray(items)) throw new InputError(file, `${at(path)}${kind}.items must be a list, got ${describeValue(items)}`, line);
  return items;
}

/** An item of a List: an object; a typed list's items (`NodeList`) may leave out their kind. */
function asItem(v: unknown, list: Obj, file: string, path: string, line: number | undefined): KubeObject {
  const listKind = list['kind'] as string;
  if (!isObj(v)) throw new InputError(file, `${path}: expected a Kubernetes object (a mapping with kind and metadata), got ${describeValue(v)}`, line);
  if (v['kind'] === undefined && listKind !== 'List') return { ...v, kind: listKind.replace(/List$/, '') } as KubeObject;
  if (typeof v['kind'] !== 'string' || v['kind'] === '') throw new InputError(file, `${path}: "kind" must be a non-empty string, got ${describeValue(v['kind'])}`, line);
  return v as KubeObject;
}

// ---- the shape of the kinds the node checks read ------------------------------------------

/** A value at a path that is not what the API would have written. */
class ShapeError extends Error {}

type Is = (v: unknown) => boolean;
const isStr: Is = (v) => typeof v === 'string';
const isStrOrNull: Is = (v) => v === null || typeof v === 'string';
const isBoolOrNull: Is = (v) => v === null || typeof v === 'boolean';
const isInt = (lo: number, hi: number): Is => (v) => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
const isPort = isInt(1, 65535);
const oneOf = (...values: string[]): Is => (v) => typeof v === 'string' && values.includes(v);

function want(o: Obj, key: string, path: string, is: Is, what: string, required = false): void {
  const v = o[key];
  if (v === undefined || (v === null && !required)) {
    if (required) throw new ShapeError(`${path}${key}: expected ${what}, got nothing`);
    return;
  }
  if (!is(v)) throw new ShapeError(`${path}${key}: expected ${what}, got ${describeValue(v)}`);
}

/** An optional mapping at `key` (null counts as absent, as the API omits empty fields). */
function mapping(o: Obj, key: string, path: string): Obj | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new ShapeError(`${path}${key}: expected a mapping, got ${describeValue(v)}`);
  return v;
}

/** An optional list of mappings at `key`. */
function mappings(o: Obj, key: string, path: string): Obj[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ShapeError(`${path}${key}: expected a list, got ${describeValue(v)}`);
  return v.map((x, i) => {
    if (!isObj(x)) throw new ShapeError(`${path}${key}[${i}]: expected a mapping, got ${describeValue(x)}`);
    return x;
  });
}

function strings(o: Obj, key: string, path: string): void {
  const v = o[key];
  if (v === undefined || v === null) return;
  if (!Array.isArray(v)) throw new ShapeError(`${path}${key}: expected a list of strings, got ${describeValue(v)}`);
  v.forEach((x, i) => { if (typeof x !== 'string') throw new ShapeError(`${path}${key}[${i}]: expected a string, got ${describeValue(x)}`); });
}

function stringMap(o: Obj, key: string, path: string): void {
  const m = mapping(o, key, path);
  if (m) for (const [k, v] of Object.entries(m)) if (typeof v !== 'string') throw new ShapeError(`${path}${key}.${k}: expected a string, got ${describeValue(v)}`);
}

const PROTOCOL = oneOf('TCP', 'UDP', 'SCTP');
/** A resource quantity as the API prints a pod count: a number or its decimal string. */
const isCount: Is = (v) => isInt(0, Number.MAX_SAFE_INTEGER)(v) || (typeof v === 'string' && /^\d+$/.test(v));

function checkNode(o: Obj): void {
  const spec = mapping(o, 'spec', '');
  if (spec) { want(spec, 'podCIDR', 'spec.', isStr, 'a string'); strings(spec, 'podCIDRs', 'spec.'); }
  const status = mapping(o, 'status', '');
  if (!status) return;
  mappings(status, 'addresses', 'status.').forEach((a, i) => {
    want(a, 'type', `status.addresses[${i}].`, isStr, 'a string', true);
    want(a, 'address', `status.addresses[${i}].`, isStr, 'a string', true);
  });
  for (const key of ['capacity', 'allocatable']) {
    const m = mapping(status, key, 'status.');
    if (m) want(m, 'pods', `status.${key}.`, isCount, 'a pod count');
  }
}

function checkService(o: Obj): void {
  const spec = mapping(o, 'spec', '') ?? {};
  want(spec, 'type', 'spec.', oneOf('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'), 'one of ClusterIP, NodePort, LoadBalancer, ExternalName');
  want(spec, 'clusterIP', 'spec.', isStr, 'a string');
  strings(spec, 'clusterIPs', 'spec.');
  strings(spec, 'externalIPs', 'spec.');
  want(spec, 'externalTrafficPolicy', 'spec.', oneOf('Cluster', 'Local'), 'Cluster or Local');
  want(spec, 'internalTrafficPolicy', 'spec.', oneOf('Cluster', 'Local'), 'Cluster or Local');
  want(spec, 'sessionAffinity', 'spec.', oneOf('None', 'ClientIP'), 'None or ClientIP');
  const affinity = mapping(spec, 'sessionAffinityConfig', 'spec.');
  const clientIP = affinity ? mapping(affinity, 'clientIP', 'spec.sessionAffinityConfig.') : undefined;
  if (clientIP) want(clientIP, 'timeoutSeconds', 'spec.sessionAffinityConfig.clientIP.', isInt(0, 86400), 'an integer 0..86400');
  stringMap(spec, 'selector', 'spec.');
  mappings(spec, 'ports', 'spec.').forEach((p, i) => {
    const at = `spec.ports[${i}].`;
    want(p, 'port', at, isPort, 'an integer 1..65535', true);
    want(p, 'protocol', at, PROTOCOL, 'TCP, UDP or SCTP');
    want(p, 'nodePort', at, isInt(0, 65535), 'an integer 0..65535');
    want(p, 'name', at, isStr, 'a string');
  });
  const status = mapping(o, 'status', '');
  const lb = status ? mapping(status, 'loadBalancer', 'status.') : undefined;
  if (lb) mappings(lb, 'ingress', 'status.loadBalancer.').forEach((g, i) => want(g, 'ip', `status.loadBalancer.ingress[${i}].`, isStr, 'a string'));
}

function checkEndpointSlice(o: Obj): void {
  mappings(o, 'ports', '').forEach((p, i) => {
    want(p, 'name', `ports[${i}].`, isStrOrNull, 'a string');
    want(p, 'port', `ports[${i}].`, isPort, 'an integer 1..65535');
    want(p, 'protocol', `ports[${i}].`, PROTOCOL, 'TCP, UDP or SCTP');
  });
  mappings(o, 'endpoints', '').forEach((e, i) => {
    const at = `endpoints[${i}].`;
    if (e['addresses'] === undefined || e['addresses'] === null) throw new ShapeError(`${at}addresses: expected a list of strings, got nothing`);
    strings(e, 'addresses', at);
    want(e, 'nodeName', at, isStr, 'a string');
    want(e, 'zone', at, isStr, 'a string');
    const cond = mapping(e, 'conditions', at);
    if (cond) for (const k of ['ready', 'serving', 'terminating']) want(cond, k, `${at}conditions.`, isBoolOrNull, 'true or false');
    mapping(e, 'hints', at);
  });
}

function checkServiceCIDR(o: Obj): void {
  const spec = mapping(o, 'spec', '');
  if (spec) strings(spec, 'cidrs', 'spec.');
}

const SHAPES: Readonly<Record<string, (o: Obj) => void>> = {
  Node: checkNode, Service: checkService, EndpointSlice: checkEndpointSlice, ServiceCIDR: checkServiceCIDR, Namespace: () => undefined,
};

/**
 * Checks one located object: metadata.name (and namespace, labels) always, the fields the
 * node checks read for the kinds in SHAPES. Throws an InputError naming file, line and path.
 */
export function checkClusterObject(lo: LocatedObject, file: string): void {
  const o = lo.object as Obj;
  const kind = o['kind'] as string;
  const meta = o['metadata'];
  const who = (): string => {
    const m = isObj(meta) ? meta : {};
    const ns = typeof m['namespace'] === 'string' ? `${m['namespace']}/` : '';
    return `${lo.path ? `${lo.path} ` : ''}(${kind}${typeof m['name'] === 'string' ? ` ${ns}${m['name']}` : ''})`;
  };
  try {
    if (!isObj(meta)) throw new ShapeError(`metadata: expected a mapping with a name, got ${describeValue(meta)}`);
    want(meta, 'name', 'metadata.', (v) => typeof v === 'string' && v !== '', 'a non-empty string', true);
    want(meta, 'namespace', 'metadata.', isStr, 'a string');
    stringMap(meta, 'labels', 'metadata.');
    stringMap(meta, 'annotations', 'metadata.');
    SHAPES[kind]?.(o);
  } catch (err) {
    if (err instanceof ShapeError) throw new InputError(file, `${who()}: ${err.message}`, lo.line);
    throw err;
  }
}
