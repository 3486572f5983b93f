// Turns a snapshot's raw dataplane facts into the rule model once per snapshot (the four
// service-routing checks share it), choosing the iptables backend kube-proxy writes to.
import { InputError } from '../../common/errors.js';
import type { NodeSnapshot } from '../snapshot.js';
import type { DataplaneFacts } from './facts.js';
import { parseIptablesSave, kubeProxyChainCount } from './iptables-save.js';
import { parseNftDoc, parseNftJson } from './nft-json.js';
import { parseIpsetSave } from './ipset.js';
import { parseIpvsadm } from './ipvs.js';
import type { IpvsVirtualServer, NamedSet, Ruleset, Table } from './model.js';

export interface Dataplane {
  /** The IPv4 iptables backend in use (the one holding kube-proxy's chains). */
  readonly iptables?: Ruleset;
  readonly ip6tables?: Ruleset;
  /** Both iptables backends hold kube-proxy chains (stale rules from a backend switch). */
  readonly bothIptablesBackends: boolean;
  /** KUBE-* chains per IPv4 iptables backend (evidence when both hold some). */
  readonly kubeChains: { readonly 'iptables-nft': number; readonly 'iptables-legacy': number };
  /** Native nftables tables (iptables-nft's own tables excluded). */
  readonly nftables?: Ruleset;
  readonly ipsets: ReadonlyMap<string, NamedSet>;
  readonly ipvs?: readonly IpvsVirtualServer[];
}

const cache = new WeakMap<DataplaneFacts, Dataplane>();

/** Rule sets parsed while the live read streamed them in, by the facts' iptables pair. */
const PARSED = new WeakMap<object, { readonly nft?: Ruleset; readonly legacy?: Ruleset }>();

/** Records rule sets already parsed from a facts pair's text, so loading does not parse it again. */
export function attachParsedIptables(pair: object, parsed: { readonly nft?: Ruleset; readonly legacy?: Ruleset }): void {
  PARSED.set(pair, parsed);
}

/** `nft -j` documents the live read already parsed, by the facts object holding their text. */
const NFT_DOCS = new WeakMap<DataplaneFacts, unknown>();

/**
 * Records the parsed document behind `facts.nftJson`, so loading does not parse that text a
 * second time (14 MB at 10k Services). Taken once: the document is garbage after loading.
 */
export function attachParsedNft(facts: DataplaneFacts, doc: unknown): void {
  NFT_DOCS.set(facts, doc);
}

/** The parsed dataplane of a snapshot, or undefined when it has no dataplane facet. */
export function dataplaneOf(snapshot: NodeSnapshot): Dataplane | undefined {
  const facts = snapshot.dataplane;
  if (!facts) return undefined;
  let dp = cache.get(facts);
  if (!dp) {
    dp = loadDataplane(facts, snapshot.source);
    cache.set(facts, dp);
  }
  return dp;
}

/** Whether a pair holds iptables-nft output, without reading (joining) a streamed text. */
function hasNftText(pair: DataplaneFacts['iptables']): boolean {
  if (!pair) return false;
  const d = Object.getOwnPropertyDescriptor(pair, 'nft');
  return d !== undefined && (d.get !== undefined || d.value !== undefined);
}

/**
 * What a parse error names: the bundle file, or live the tool that printed the text (the
 * same text under another name would send people looking for a file that is not there).
 */
const SOURCE_NAMES = {
  bundle: { 'iptables-nft': 'iptables-save.txt', 'iptables-legacy': 'iptables-legacy-save.txt', 'ip6tables-nft': 'ip6tables-save.txt', 'ip6tables-legacy': 'ip6tables-legacy-save.txt', nft: 'nft.json', ipset: 'ipset-save.txt', ipvsadm: 'ipvsadm.txt' },
  live: { 'iptables-nft': 'iptables-nft-save', 'iptables-legacy': 'iptables-legacy-save', 'ip6tables-nft': 'ip6tables-nft-save', 'ip6tables-legacy': 'ip6tables-legacy-save', nft: 'nft -j list ruleset', ipset: 'ipset save', ipvsadm: 'ipvsadm -Sn' },
} as const;
type SourceNames = (typeof SOURCE_NAMES)[keyof typeof SOURCE_NAMES];

function pickBackend(pair: DataplaneFacts['iptables'], family: 4 | 6, names: { nft: string; legacy: string }): { rs?: Ruleset; both: boolean; nNft: number; nLegacy: number } {
  if (!pair) return { both: false, nNft: 0, nLegacy: 0 };
  // A live read parsed the text as it streamed in (and then `pair.nft` is not even joined).
  const pre = PARSED.get(pair);
  const nft = pre?.nft ?? (pair.nft !== undefined ? parseIptablesSave(pair.nft, { backend: 'iptables-nft', family, file: names.nft }) : undefined);
  const legacy = pre?.legacy ?? (pair.legacy !== undefined ? parseIptablesSave(pair.legacy, { backend: 'iptables-legacy', family, file: names.legacy }) : undefined);
  const nNft = nft ? kubeProxyChainCount(nft) : 0;
  const nLegacy = legacy ? kubeProxyChainCount(legacy) : 0;
  const both = nNft > 0 && nLegacy > 0;
  if (legacy && nLegacy > nNft) return { rs: legacy, both, nNft, nLegacy };
  if (nft) return { rs: nft, both, nNft, nLegacy };
  return legacy ? { rs: legacy, both, nNft, nLegacy } : { both, nNft, nLegacy };
}

/**
 * Parses the facts. Throws an InputError naming the source when one does not parse, or when a
 * tool timed out while reading them: rules half read are not judged (no false fail).
 */
export function loadDataplane(facts: DataplaneFacts, source: 'live' | 'bundle' = 'bundle'): Dataplane {
  if (facts.failed && facts.failed.length > 0) {
    throw new InputError(facts.failed.map((f) => f.tool).join(', '), facts.failed[0]!.reason);
  }
  const names: SourceNames = SOURCE_NAMES[source];
  const v4 = pickBackend(facts.iptables, 4, { nft: names['iptables-nft'], legacy: names['iptables-legacy'] });
  const v6 = pickBackend(facts.ip6tables, 6, { nft: names['ip6tables-nft'], legacy: names['ip6tables-legacy'] });
  const nftOpts = { file: names.nft, skipXtablesTables: hasNftText(facts.iptables) || hasNftText(facts.ip6tables) };
  // The live read parsed the tables' JSON once already; a bundle's text is parsed here.
  const doc = NFT_DOCS.get(facts);
  NFT_DOCS.delete(facts);
  const nftables = facts.nftJson === undefined ? undefined : doc !== undefined ? parseNftDoc(doc, nftOpts) : parseNftJson(facts.nftJson, nftOpts);
  return {
    ...(v4.rs ? { iptables: v4.rs } : {}),
    ...(v6.rs ? { ip6tables: v6.rs } : {}),
    bothIptablesBackends: v4.both || v6.both,
    kubeChains: { 'iptables-nft': v4.nNft, 'iptables-legacy': v4.nLegacy },
    ...(nftables ? { nftables } : {}),
    ipsets: facts.ipsetSave !== undefined ? parseIpsetSave(facts.ipsetSave, names.ipset) : new Map(),
    ...(facts.ipvsadm !== undefined ? { ipvs: parseIpvsadm(facts.ipvsadm, names.ipvsadm) } : {}),
  };
}

/** Every table the kernel evaluates for packets of a family. */
export function tablesFor(dp: Dataplane, family: 4 | 6): Table[] {
  const out: Table[] = [];
  const ipt = family === 4 ? dp.iptables : dp.ip6tables;
  if (ipt) out.push(...ipt.tables);
  if (dp.nftables) out.push(...dp.nftables.tables.filter((t) => t.family === family || t.name.startsWith('inet ')));
  return out;
}
