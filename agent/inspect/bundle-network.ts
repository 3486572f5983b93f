// The node-network part of a bundle: links, addresses, routes and CNI files. Kept apart
// from bundle.ts (which also carries the dataplane dumps) so each side edits its own file.
//   ip-link.json + ip-addr.json → links   (both needed: a link without its addresses would
//                                          read as "no gateway address", which is not known)
//   ip-route.json               → routes
//   cni/ + cni-bin.txt          → cni     (cni-bin.txt alone is not enough: no config to judge)
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { bundleWriter } from './bundle-writer.js';
import { join } from 'node:path';
import type { NodeSnapshot } from '../snapshot.js';
import { formatCniBinText, parseCniBinText, readCniConfDir, type CniFacts } from './cni.js';
import { parseIpLinks, parseIpRoutes, renderIpAddrJson, renderIpLinkJson, renderIpRouteJson } from './ip-json.js';
import type { LinkFacts, RouteFacts } from './network.js';

export const NETWORK_BUNDLE_FILES = {
  links: 'ip-link.json',
  addrs: 'ip-addr.json',
  routes: 'ip-route.json',
  cniDir: 'cni',
  cniBin: 'cni-bin.txt',
} as const;

export interface NetworkBundleFacets {
  links?: LinkFacts[];
  routes?: RouteFacts[];
  cni?: CniFacts;
}

export function readNetworkBundle(dir: string, readFile: (dir: string, name: string) => string | undefined): NetworkBundleFacets {
  const F = NETWORK_BUNDLE_FILES;
  const out: NetworkBundleFacets = {};
  const linkText = readFile(dir, F.links);
  const addrText = readFile(dir, F.addrs);
  if (linkText !== undefined && addrText !== undefined) {
    out.links = parseIpLinks(linkText, join(dir, F.links), addrText, join(dir, F.addrs));
  }
  const routeText = readFile(dir, F.routes);
  if (routeText !== undefined) out.routes = parseIpRoutes(routeText, join(dir, F.routes));
  const cniDir = join(dir, F.cniDir);
  if (existsSync(cniDir) && statSync(cniDir).isDirectory()) {
    const binText = readFile(dir, F.cniBin);
    out.cni = { confDir: cniDir, files: readCniConfDir(cniDir), ...(binText !== undefined ? { binaries: parseCniBinText(binText) } : {}) };
  }
  return out;
}

/** Writes the snapshot's network facets in the bundle formats; returns the names written. */
export function writeNetworkBundle(dir: string, snapshot: NodeSnapshot): string[] {
  const F = NETWORK_BUNDLE_FILES;
  const { put, written } = bundleWriter(dir);
  if (snapshot.links) {
    put(F.links, renderIpLinkJson(snapshot.links));
    put(F.addrs, renderIpAddrJson(snapshot.links));
  }
  if (snapshot.routes) put(F.routes, renderIpRouteJson(snapshot.routes));
  if (snapshot.cni) {
    mkdirSync(join(dir, F.cniDir), { recursive: true });
    for (const f of snapshot.cni.files) writeFileSync(join(dir, F.cniDir, f.name), f.text);
    written.push(`${F.cniDir}/`);
    if (snapshot.cni.binaries) put(F.cniBin, formatCniBinText(snapshot.cni.binaries));
  }
  return written;
}
