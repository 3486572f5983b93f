// Which kube-proxy mode(s) are programmed on the node, judged from the rule model: iptables
// (nat KUBE-SERVICES dispatching to KUBE-SVC/SVL/EXT/FW chains), nftables (`ip kube-proxy`
// table with Service map entries) or IPVS (virtual servers). Feeds the report's proxyMode
// and the service-routing.mode check.
import type { NodeSnapshot } from '../snapshot.js';
import { dataplaneOf, type Dataplane } from './load.js';
import type { Ruleset } from './model.js';
import { detectOtherDataplane, type OtherDataplaneKind } from './ebpf.js';

export type ProxyMode = 'iptables' | 'ipvs' | 'nftables' | OtherDataplaneKind | 'none' | 'unknown';
export type ProgrammedMode = 'iptables' | 'ipvs' | 'nftables';

export interface ModeFacts {
  /** Modes whose rules exist at all. */
  readonly present: readonly ProgrammedMode[];
  /** Modes whose rules catch Service traffic (dispatch to endpoints). */
  readonly catching: readonly ProgrammedMode[];
  /** Per mode, a short count people can check (`12 Service dispatch rules`). */
  readonly detail: Readonly<Partial<Record<ProgrammedMode, string>>>;
}

const SERVICE_CHAIN = /^KUBE-(SVC|SVL|EXT|FW)-/;

function iptablesDispatch(rs: Ruleset | undefined): { present: boolean; dispatch: number } {
  const nat = rs?.tables.find((t) => t.name === 'nat');
  if (!nat) return { present: false, dispatch: 0 };
  let dispatch = 0;
  for (const chainName of ['KUBE-SERVICES', 'KUBE-NODEPORTS']) {
    for (const r of nat.chains.get(chainName)?.rules ?? []) {
      if ((r.verdict.kind === 'jump' || r.verdict.kind === 'goto') && SERVICE_CHAIN.test(r.verdict.target)) dispatch++;
    }
  }
  let svcChains = 0;
  for (const name of nat.chains.keys()) if (name.startsWith('KUBE-SVC-') || name.startsWith('KUBE-SVL-')) svcChains++;
  return { present: dispatch > 0 || svcChains > 0, dispatch };
}

/**
 * One per rule model: the model of a dump is reused while the rules do not change (the run
 * loop's idle scans), and the walk over every nat chain cost about a third of such a scan at
 * 1,000 Services, asked for by the mode check, the report's proxy mode and the fingerprint.
 */
const modeFactsOf = new WeakMap<Dataplane, ModeFacts>();

export function modeFacts(dp: Dataplane): ModeFacts {
  let f = modeFactsOf.get(dp);
  if (!f) modeFactsOf.set(dp, (f = computeModeFacts(dp)));
  return f;
}

function computeModeFacts(dp: Dataplane): ModeFacts {
  const present: ProgrammedMode[] = [];
  const catching: ProgrammedMode[] = [];
  const detail: Partial<Record<ProgrammedMode, string>> = {};
  const v4 = iptablesDispatch(dp.iptables);
  const v6 = iptablesDispatch(dp.ip6tables);
  if (v4.present || v6.present) {
    present.push('iptables');
    detail.iptables = `${v4.dispatch + v6.dispatch} Service dispatch rules in nat KUBE-SERVICES/KUBE-NODEPORTS`;
    if (v4.dispatch + v6.dispatch > 0) catching.push('iptables');
  }
  const kp = dp.nftables?.tables.filter((t) => t.name === 'ip kube-proxy' || t.name === 'ip6 kube-proxy') ?? [];
  if (kp.length > 0) {
    present.push('nftables');
    let elements = 0;
    for (const t of kp) elements += (t.sets.get('service-ips')?.elements.length ?? 0) + (t.sets.get('service-nodeports')?.elements.length ?? 0);
    detail.nftables = `${elements} elements in @service-ips/@service-nodeports`;
    if (elements > 0) catching.push('nftables');
  }
  if (dp.ipvs && dp.ipvs.length > 0) {
    present.push('ipvs');
    catching.push('ipvs');
    detail.ipvs = `${dp.ipvs.length} IPVS virtual servers`;
  }
  return { present, catching, detail };
}

/**
 * Chains only kube-proxy's iptables mode makes (IPVS mode and kubelet make others): once
 * nftables mode routes the Services, any of them still present is a leftover of the switch
 * (kube-proxy cleans other modes' rules at start-up; a failed or skipped cleanup leaves them).
 */
const IPTABLES_MODE_CHAIN = /^KUBE-(SERVICES|NODEPORTS|EXTERNAL-SERVICES|FORWARD|PROXY-FIREWALL|PROXY-CANARY|POSTROUTING|MARK-MASQ|SVC-.*|SVL-.*|SEP-.*|EXT-.*|FW-.*)$/;

const leftoversOf = new WeakMap<Dataplane, readonly string[]>();

/** iptables-mode chains per `table/chain` name on a node whose Services nftables routes; [] otherwise. */
export function leftoverIptablesChains(dp: Dataplane, f: ModeFacts = modeFacts(dp)): readonly string[] {
  if (!(f.catching.length === 1 && f.catching[0] === 'nftables')) return [];
  // Per rule model, as modeFacts (f is that model's, whoever passed it).
  let out = leftoversOf.get(dp);
  if (!out) leftoversOf.set(dp, (out = iptablesModeChains(dp)));
  return out;
}

function iptablesModeChains(dp: Dataplane): string[] {
  const out: string[] = [];
  for (const rs of [dp.iptables, dp.ip6tables]) {
    for (const t of rs?.tables ?? []) for (const c of t.chains.keys()) if (IPTABLES_MODE_CHAIN.test(c)) out.push(`${rs!.backend}${rs === dp.ip6tables ? ' (IPv6)' : ''} ${t.name} ${c}`);
  }
  return out;
}

export function detectProxyMode(snapshot: NodeSnapshot): ProxyMode {
  let dp: Dataplane | undefined;
  try {
    dp = dataplaneOf(snapshot);
  } catch {
    return 'unknown'; // a parse error is reported by the checks, with file and line
  }
  // Without kube-proxy rules catching Service traffic, another dataplane may route Services
  // (Cilium's kube-proxy replacement, Calico eBPF, …): name it rather than report "none".
  const f = dp ? modeFacts(dp) : undefined;
  if (f && f.catching.length > 0) return f.catching[0]!;
  const other = detectOtherDataplane(snapshot);
  if (other) return other.kind;
  if (!f) return 'unknown';
  return f.present[0] ?? 'none';
}
