// Two lab nodes joined as a cluster: each with one pod on its bridge, a veth "underlay"
// between the node namespaces (10.250.7.1 ↔ 10.250.7.2), and a route to the other node's pod
// CIDR via its underlay address. Torn down with the test (the veth goes with the namespaces).
import type { ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { createLabNode, type LabNode } from './lab.js';

export interface TwoNodeLab {
  readonly a: LabNode;
  readonly b: LabNode;
  /** The underlay veth ends, in a's and b's namespace (take one down to cut the underlay). */
  readonly underlayA: string;
  readonly underlayB: string;
}

/** `tag` (one letter) keeps the underlay names of concurrent tests apart. */
export async function createTwoNodeLab(t: ExecutionContext, tag: string): Promise<TwoNodeLab> {
  const a = await createLabNode({ pods: 1, podCIDR: '10.244.1.0/24' });
  t.teardown(() => a.destroy());
  const b = await createLabNode({ pods: 1, podCIDR: '10.244.2.0/24' });
  t.teardown(() => b.destroy());
  const underlayA = `${tag}${process.pid % 100000}a`, underlayB = `${tag}${process.pid % 100000}b`;
  execFileSync('ip', ['link', 'add', underlayA, 'netns', a.netns, 'type', 'veth', 'peer', 'name', underlayB, 'netns', b.netns]);
  await a.exec('ip', ['addr', 'add', '10.250.7.1/24', 'dev', underlayA]);
  await b.exec('ip', ['addr', 'add', '10.250.7.2/24', 'dev', underlayB]);
  await a.exec('ip', ['link', 'set', underlayA, 'up']);
  await b.exec('ip', ['link', 'set', underlayB, 'up']);
  await a.exec('ip', ['route', 'add', '10.244.2.0/24', 'via', '10.250.7.2']);
  await b.exec('ip', ['route', 'add', '10.244.1.0/24', 'via', '10.250.7.1']);
  return { a, b, underlayA, underlayB };
}
