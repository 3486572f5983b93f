// A bundle is a directory of standard tool output (see DESIGN.md), so any node can be
// checked without the agent installed. Every file is optional: a missing one leaves its
// facet absent and the checks that need it skip. A malformed one is an InputError.
import { existsSync, readFileSync, statSync, mkdirSync } from 'node:fs';
import { bundleWriter } from './bundle-writer.js';
import { join } from 'node:path';
import { InputError } from '../../common/errors.js';
import type { NodeSnapshot } from '../snapshot.js';
import { formatSysctlText, parseSysctlText } from './sysctl.js';
import { readNetworkBundle, writeNetworkBundle } from './bundle-network.js';
import { readDataplaneBundle, writeDataplaneBundle } from './dataplane.js';
import { MODULES_FILE, formatModulesText, parseModulesText } from './kernel-modules.js';
import { readBpfBundle, writeBpfBundle } from './bpf.js';
import { readPodsBundle, writePodsBundle } from './bundle-pods.js';
import { readProxyHostBundle, writeProxyHostBundle } from './proxy-host.js';
import { DEFAULT_SETTLE_MS, DEFAULT_STALL_MS, readKubeProxyBundle, writeKubeProxyBundle } from './kube-proxy.js';

export const BUNDLE_FILES = {
  node: 'node.txt',
  capturedAt: 'captured-at.txt',
  sysctl: 'sysctl.txt',
} as const;

export function readBundleFile(dir: string, name: string): string | undefined {
  const path = join(dir, name);
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(path, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function readBundle(
  dir: string, nodeOverride?: string, windows: { readonly settleMs: number; readonly stallMs: number } = { settleMs: DEFAULT_SETTLE_MS, stallMs: DEFAULT_STALL_MS },
): NodeSnapshot {
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    throw new InputError(dir, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'bundle directory does not exist' : `cannot read bundle directory: ${(err as Error).message}`);
  }
  if (!st.isDirectory()) throw new InputError(dir, 'not a directory (--from takes a bundle directory written by `netconform-agent capture`)');

  const nodeText = readBundleFile(dir, BUNDLE_FILES.node)?.trim();
  const capturedAt = readBundleFile(dir, BUNDLE_FILES.capturedAt)?.trim() || st.mtime.toISOString();
  const sysctlText = readBundleFile(dir, BUNDLE_FILES.sysctl);
  const modulesText = readBundleFile(dir, MODULES_FILE);
  return {
    node: nodeOverride || nodeText || 'unknown-node',
    capturedAt,
    source: 'bundle',
    ...(sysctlText !== undefined ? { sysctls: parseSysctlText(sysctlText, join(dir, BUNDLE_FILES.sysctl)) } : {}),
    ...readNetworkBundle(dir, readBundleFile),
    ...readDataplaneBundle(dir, readBundleFile),
    ...(modulesText !== undefined ? { kernelModules: parseModulesText(modulesText) } : {}),
    ...readBpfBundle(dir, readBundleFile),
    ...readPodsBundle(dir, readBundleFile),
    ...readKubeProxyBundle(dir, readBundleFile, capturedAt, windows),
    ...readProxyHostBundle(dir, readBundleFile),
  };
}

/** Writes a snapshot's facets as bundle files (the inverse of readBundle). */
export function writeBundle(dir: string, snapshot: NodeSnapshot): string[] {
  mkdirSync(dir, { recursive: true });
  const { put, written } = bundleWriter(dir);
  put(BUNDLE_FILES.node, snapshot.node + '\n');
  put(BUNDLE_FILES.capturedAt, snapshot.capturedAt + '\n');
  if (snapshot.sysctls) put(BUNDLE_FILES.sysctl, formatSysctlText(snapshot.sysctls));
  written.push(...writeNetworkBundle(dir, snapshot));
  written.push(...writeDataplaneBundle(dir, snapshot.dataplane));
  if (snapshot.kernelModules) put(MODULES_FILE, formatModulesText(snapshot.kernelModules));
  written.push(...writeBpfBundle(dir, snapshot.bpf));
  written.push(...writePodsBundle(dir, snapshot.pods));
  written.push(...writeKubeProxyBundle(dir, snapshot.kubeProxy));
  written.push(...writeProxyHostBundle(dir, snapshot));
  return written;
}
