// pods.json in a bundle: the `pods` facet exactly as the live inspection found it (processes
// by pod and container, their network namespaces, each namespace's listening sockets), so a
// bug report carries it and `scan --from` judges it like a live node.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../common/errors.js';
import { jsonSyntaxError } from '../../common/json-input.js';
import type { PodProcessFacts } from './pod-processes.js';

export const PODS_BUNDLE_FILE = 'pods.json';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function readPodsBundle(dir: string, readFile: (dir: string, name: string) => string | undefined): { pods?: PodProcessFacts } {
  const text = readFile(dir, PODS_BUNDLE_FILE);
  if (text === undefined) return {};
  const file = join(dir, PODS_BUNDLE_FILE);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    const e = jsonSyntaxError(text, err);
    throw new InputError(file, e.reason, e.line, e.column);
  }
  return { pods: validatePodFacts(v, file) };
}

export function writePodsBundle(dir: string, pods: PodProcessFacts | undefined): string[] {
  if (!pods) return [];
  writeFileSync(join(dir, PODS_BUNDLE_FILE), JSON.stringify(pods, null, 2) + '\n');
  return [PODS_BUNDLE_FILE];
}

/** Checks the shape field by field; an error names the first bad field's path. */
export function validatePodFacts(v: unknown, file: string): PodProcessFacts {
  const bad = (field: string, want: string): never => { throw new InputError(file, `field ${field}: expected ${want}`); };
  const num = (o: Obj, k: string, at: string): void => { if (typeof o[k] !== 'number' || !Number.isInteger(o[k])) bad(`${at}.${k}`, 'an integer'); };
  const str = (o: Obj, k: string, at: string): void => { if (typeof o[k] !== 'string') bad(`${at}.${k}`, 'a string'); };
  const list = (o: Obj, k: string, at: string): Obj[] => {
    const a = o[k];
    if (!Array.isArray(a)) return bad(`${at}.${k}`, 'an array');
    return a.map((x, i) => (isObj(x) ? x : bad(`${at}.${k}[${i}]`, 'an object')));
  };
  if (!isObj(v)) return bad('(top level)', 'an object');
  str(v, 'procRoot', '');
  num(v, 'hostNetns', '');
  num(v, 'unreadableNetns', '');
  list(v, 'containers', '').forEach((c, i) => {
    const at = `containers[${i}]`;
    for (const k of ['podUID', 'containerID', 'runtime']) str(c, k, at);
    if (c['driver'] !== 'cgroupfs' && c['driver'] !== 'systemd') bad(`${at}.driver`, '"cgroupfs" or "systemd"');
    list(c, 'processes', at).forEach((p, j) => { num(p, 'pid', `${at}.processes[${j}]`); num(p, 'netns', `${at}.processes[${j}]`); });
  });
  list(v, 'netns', '').forEach((n, i) => {
    const at = `netns[${i}]`;
    num(n, 'inode', at);
    num(n, 'readVia', at);
    list(n, 'listening', at).forEach((s, j) => {
      const sat = `${at}.listening[${j}]`;
      if (s['protocol'] !== 'TCP' && s['protocol'] !== 'UDP') bad(`${sat}.protocol`, '"TCP" or "UDP"');
      if (s['family'] !== 4 && s['family'] !== 6) bad(`${sat}.family`, '4 or 6');
      str(s, 'address', sat);
      num(s, 'port', sat);
    });
  });
  return v as unknown as PodProcessFacts;
}
