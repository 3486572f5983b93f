// The shape of `nft -j list ruleset` output (libnftables-json(5), JSON schema version 1),
// checked before anything is read from it: `{"nftables": [...]}` where every element is an
// object with exactly one key naming a ruleset object (metainfo, table, chain, rule, set,
// map, element, flowtable, counter, quota, ct helper, limit, ct timeout, ct expectation,
// secmark, synproxy) whose value is an object with that object's identifying fields, and
// every rule's `expr` is a list of one-key statement objects. A document that is not this
// is refused with the JSON path of the first offending value; what a statement means is
// left to nft-json.ts, which keeps statements it does not model verbatim.
import { InputError, quoted } from '../../common/errors.js';
import { describeValue } from '../../common/json-input.js';

type J = Record<string, unknown>;
const isObj = (v: unknown): v is J => typeof v === 'object' && v !== null && !Array.isArray(v);

export const NFT_FAMILIES: readonly string[] = ['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev'];

/** Object types `nft list ruleset` prints, and the fields each must carry as strings. */
const OBJECTS: Readonly<Record<string, readonly string[]>> = {
  metainfo: [],
  table: ['family', 'name'],
  chain: ['family', 'table', 'name'],
  rule: ['family', 'table', 'chain'],
  set: ['family', 'table', 'name'],
  map: ['family', 'table', 'name'],
  element: ['family', 'table', 'name'],
  flowtable: ['family', 'table', 'name'],
  counter: ['family', 'table', 'name'],
  quota: ['family', 'table', 'name'],
  'ct helper': ['family', 'table', 'name'],
  limit: ['family', 'table', 'name'],
  'ct timeout': ['family', 'table', 'name'],
  'ct expectation': ['family', 'table', 'name'],
  secmark: ['family', 'table', 'name'],
  synproxy: ['family', 'table', 'name'],
};

export const SUPPORTED_JSON_SCHEMA_VERSION = 1;

export interface NftItem {
  readonly kind: string;
  readonly o: J;
  /** Index in the top-level `nftables` array. */
  readonly idx: number;
}

/** Validates a parsed document; returns its ruleset objects (metainfo excluded) in order. */
export function nftItems(doc: unknown, file: string): NftItem[] {
  const fail = (path: string, what: string, v: unknown): never => {
    throw new InputError(file, `${path}: expected ${what}, got ${describeValue(v)}`);
  };
  if (!isObj(doc)) fail('(top level)', 'an object with an "nftables" list (the output of nft -j list ruleset)', doc);
  const list = (doc as J)['nftables'];
  if (!Array.isArray(list)) fail('nftables', 'a list (the output of nft -j list ruleset)', list);
  const out: NftItem[] = [];
  (list as unknown[]).forEach((item, idx) => {
    const at = `nftables[${idx}]`;
    if (!isObj(item)) fail(at, `an object with one key (${Object.keys(OBJECTS).join(', ')})`, item);
    const keys = Object.keys(item as J);
    if (keys.length !== 1) throw new InputError(file, `${at}: expected an object with exactly one key naming a ruleset object, got ${keys.length === 0 ? 'none' : `the keys ${keys.map((k) => JSON.stringify(k)).join(', ')}`}`);
    const kind = keys[0]!;
    const required = OBJECTS[kind];
    if (!required) throw new InputError(file, `${at}: unknown ruleset object ${quoted(kind)} (expected one of ${Object.keys(OBJECTS).join(', ')})`);
    const o = (item as J)[kind];
    if (!isObj(o)) fail(`${at}.${kind}`, `an object${required.length ? ` with ${required.join(', ')}` : ''}`, o);
    const obj = o as J;
    for (const f of required) if (typeof obj[f] !== 'string') fail(`${at}.${kind}.${f}`, 'a string', obj[f]);
    if (required.includes('family') && !NFT_FAMILIES.includes(obj['family'] as string)) fail(`${at}.${kind}.family`, `one of ${NFT_FAMILIES.join(', ')}`, obj['family']);
    if (obj['handle'] !== undefined && !isHandle(obj['handle'])) fail(`${at}.${kind}.handle`, 'a non-negative integer', obj['handle']);
    switch (kind) {
      case 'metainfo': {
        const v = obj['json_schema_version'];
        if (v !== undefined && v !== SUPPORTED_JSON_SCHEMA_VERSION) fail(`${at}.metainfo.json_schema_version`, `${SUPPORTED_JSON_SCHEMA_VERSION} (the libnftables JSON schema this reads)`, v);
        return;
      }
      case 'chain':
        checkChain(obj, `${at}.chain`, fail);
        break;
      case 'rule':
        checkRule(obj, `${at}.rule`, fail);
        break;
      case 'set': case 'map':
        checkSet(obj, `${at}.${kind}`, kind === 'map', fail);
        break;
      default:
        break;
    }
    out.push({ kind, o: obj, idx });
  });
  return out;
}

type Fail = (path: string, what: string, v: unknown) => never;

function isHandle(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function optional(o: J, key: string, path: string, ok: (v: unknown) => boolean, what: string, fail: Fail): void {
  if (o[key] !== undefined && !ok(o[key])) fail(`${path}.${key}`, what, o[key]);
}

const isStr = (v: unknown): boolean => typeof v === 'string';
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);
const isStrOrStrs = (v: unknown): boolean => typeof v === 'string' || (Array.isArray(v) && v.length > 0 && v.every(isStr));

function checkChain(o: J, path: string, fail: Fail): void {
  optional(o, 'type', path, isStr, 'a string', fail);
  optional(o, 'hook', path, isStr, 'a string', fail);
  optional(o, 'prio', path, isInt, 'an integer', fail);
  optional(o, 'policy', path, (v) => v === 'accept' || v === 'drop', 'accept or drop', fail);
  // A base chain names all of type, hook and priority; a regular chain none of them.
  if (o['hook'] !== undefined && o['type'] === undefined) fail(`${path}.type`, 'a chain type (a base chain with a hook has one)', o['type']);
}

function checkRule(o: J, path: string, fail: Fail): void {
  const expr = o['expr'];
  if (!Array.isArray(expr)) fail(`${path}.expr`, 'a list of statements', expr);
  (expr as unknown[]).forEach((s, i) => {
    const at = `${path}.expr[${i}]`;
    if (!isObj(s) || Object.keys(s).length !== 1) fail(at, 'a statement (an object with one key)', s);
    const [kind] = Object.keys(s as J);
    const v = (s as J)[kind!];
    switch (kind) {
      case 'match':
        if (!isObj(v)) fail(`${at}.match`, 'an object with op, left and right', v);
        if (typeof (v as J)['op'] !== 'string') fail(`${at}.match.op`, 'an operator string', (v as J)['op']);
        if ((v as J)['left'] === undefined) fail(`${at}.match.left`, 'an expression', undefined);
        if ((v as J)['right'] === undefined) fail(`${at}.match.right`, 'an expression', undefined);
        break;
      case 'jump': case 'goto':
        if (!isObj(v) || typeof (v as J)['target'] !== 'string') fail(`${at}.${kind}`, 'an object with a "target" chain name', v);
        break;
      default:
        break;
    }
  });
  optional(o, 'comment', path, isStr, 'a string', fail);
}

function checkSet(o: J, path: string, isMap: boolean, fail: Fail): void {
  // A type is a name, a concatenation (a list of names), or a `typeof` expression (an object).
  const isType = (v: unknown): boolean => isStrOrStrs(v) || isObj(v);
  if (!isType(o['type'])) fail(`${path}.type`, 'a type name or a list of them', o['type']);
  if (isMap && !isType(o['map'])) fail(`${path}.map`, 'the type of the mapped values', o['map']);
  optional(o, 'flags', path, (v) => isStr(v) || (Array.isArray(v) && v.every(isStr)), 'a flag or a list of flags', fail);
  optional(o, 'elem', path, Array.isArray, 'a list of elements', fail);
  optional(o, 'timeout', path, isInt, 'an integer (seconds)', fail);
  if (isMap && Array.isArray(o['elem'])) {
    (o['elem'] as unknown[]).forEach((e, i) => {
      if (!Array.isArray(e) || e.length !== 2) fail(`${path}.elem[${i}]`, 'a [key, value] pair', e);
    });
  }
}
