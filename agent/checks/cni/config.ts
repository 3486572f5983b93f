// Principle (seed, CNI): the container runtime sets up every pod's network by running the
// plugins of one network configuration — the lexicographically first valid file in the CNI
// conf dir — with binaries from the CNI bin dir. So that file must be valid per the CNI spec,
// every plugin it names must exist as a binary, and its IPAM range must be the node's pod CIDR.
// Files that sort later, or fail to parse, are silently ignored by the runtime: a stale .conf
// left behind by an old CNI shadows the new .conflist.
import { formatCidr, parseCidr, sameCidr } from '../../../common/cidr.js';
import type { CheckDefinition, CheckResult } from '../types.js';
import { analyzeCniDir, cniProfile, ipamCidrs, type CniFileAnalysis } from './conflist.js';
import { specPodCidrs } from '../pod-network/node-network.js';

/** Subject when there is no file to name. */
export const CNI_DIR_SUBJECT = 'cni-conf-dir';

function where(f: Extract<CniFileAnalysis, { kind: 'invalid' }>): string {
  return f.line !== undefined ? ` (line ${f.line}${f.column !== undefined ? `, column ${f.column}` : ''})` : '';
}

export const cniConfigCheck: CheckDefinition = {
  id: 'cni.config',
  title: 'The active CNI config is valid, its plugins are installed and its IPAM matches the pod CIDR',
  needs: ['cni'],
  run(snapshot, cluster) {
    const facts = snapshot.cni!;
    const { files, active } = analyzeCniDir(facts);
    const results: CheckResult[] = [];
    const candidates = files.filter((f) => f.kind !== 'not-config');

    if (!active) {
      if (candidates.length === 0) {
        return [{
          status: 'fail', severity: 'critical', subject: CNI_DIR_SUBJECT,
          message: `no CNI config (.conf, .conflist, .json) in the CNI conf dir${files.length ? ` (only ${files.map((f) => f.file).join(', ')})` : ''}: the kubelet reports NetworkPluginNotReady and no pod gets a network — install the CNI (kubenet needs none, but was removed in Kubernetes 1.24)`,
          evidence: { files: files.map((f) => f.file) },
        }];
      }
      for (const f of candidates) {
        if (f.kind !== 'invalid') continue;
        results.push({
          status: 'fail', severity: 'critical', subject: f.file,
          message: `${f.file} is not a valid CNI config: ${f.problem}${where(f)} — and no other file is, so no pod gets a network`,
          evidence: { problem: f.problem, ...(f.line !== undefined ? { line: f.line, column: f.column } : {}) },
        });
      }
      return results;
    }

    // The active config.
    const profile = cniProfile(active.config);
    const cfg = active.config;
    results.push({
      status: 'pass', severity: 'info', subject: active.file,
      message: `${active.file} is the active CNI config: ${profile.family} (network "${cfg.name}", cniVersion ${cfg.cniVersion ?? 'unset'}, plugins ${profile.types.join(', ')})`,
      evidence: { family: profile.family, plugins: profile.types, bridge: profile.bridge ?? null, capabilities: profile.capabilities, ipam: profile.ipam ?? null },
    });
    for (const w of active.warnings) {
      results.push({ status: 'warn', severity: 'low', subject: active.file, message: `${active.file}: ${w}` });
    }

    // Binaries.
    if (facts.binaries === undefined) {
      results.push({
        status: 'warn', severity: 'low', subject: active.file,
        message: `cannot tell whether the plugins of ${active.file} are installed: the CNI bin dir was not read (mount /opt/cni/bin, or add cni-bin.txt to the bundle)`,
        evidence: { required: profile.requiredBinaries },
      });
    } else {
      const missing = profile.requiredBinaries.filter((b) => !facts.binaries!.includes(b));
      if (missing.length > 0) {
        results.push({
          status: 'fail', severity: 'critical', subject: active.file,
          message: `${active.file} needs plugin binar${missing.length === 1 ? 'y' : 'ies'} ${missing.join(', ')}, missing from the CNI bin dir: every pod sandbox fails with "failed to find plugin" — install the CNI plugins (or the ${profile.family} DaemonSet's install step)`,
          evidence: { missing, required: profile.requiredBinaries, present: facts.binaries },
        });
      } else {
        results.push({ status: 'pass', severity: 'info', subject: active.file, message: `all plugin binaries of ${active.file} are installed (${profile.requiredBinaries.join(', ')})` });
      }
    }

    // IPAM range vs the node's pod CIDR.
    const spec = specPodCidrs(snapshot, cluster);
    const ranges = ipamCidrs(profile.ipam);
    const bad = (profile.ipam?.subnets ?? []).filter((s) => parseCidr(s) === undefined);
    if (bad.length > 0) {
      results.push({ status: 'fail', severity: 'high', subject: active.file, message: `${active.file} has IPAM subnet${bad.length === 1 ? '' : 's'} that are not CIDRs: ${bad.join(', ')}`, evidence: { subnets: bad } });
    }
    if (ranges.length > 0 && spec.length > 0) {
      const mismatched = ranges.filter((r) => !spec.some((s) => sameCidr(s, r)));
      const specText = spec.map(formatCidr).join(', ');
      if (mismatched.length > 0) {
        results.push({
          status: 'fail', severity: 'high', subject: active.file,
          message: `IPAM range ${mismatched.map(formatCidr).join(', ')} in ${active.file} does not match the node's pod CIDR ${specText}: pods get addresses that other nodes own or that nothing routes here — regenerate the config from spec.podCIDR (or use "subnet": "usePodCidr")`,
          evidence: { ipam: ranges.map(formatCidr), podCIDRs: spec.map(formatCidr) },
        });
      } else {
        results.push({ status: 'pass', severity: 'info', subject: active.file, message: `IPAM range ${ranges.map(formatCidr).join(', ')} matches the node's pod CIDR` });
      }
    } else if (ranges.length > 0) {
      results.push({ status: 'pass', severity: 'info', subject: active.file, message: `IPAM range ${ranges.map(formatCidr).join(', ')} (the Node's spec.podCIDR is not known to compare: pass --cluster)` });
    }

    // Files the runtime ignores.
    const activeIndex = files.indexOf(active);
    for (const [i, f] of files.entries()) {
      if (f === active) continue;
      if (f.kind === 'invalid') {
        results.push({
          status: 'warn', severity: 'medium', subject: f.file,
          message: `${f.file} is ignored: ${f.problem}${where(f)}${i < activeIndex ? ` — it sorts before ${active.file}, and containerd refuses the whole directory when a broken file comes first` : ''}; fix or remove it`,
          evidence: { problem: f.problem, active: active.file },
        });
      } else if (f.kind === 'valid') {
        const staleConf = f.config.format === 'conflist' && active.config.format === 'conf';
        results.push({
          status: 'warn', severity: staleConf ? 'high' : 'low', subject: f.file,
          message: staleConf
            ? `${f.file} (${cniProfile(f.config).family}) is ignored: the older single-plugin ${active.file} sorts first and shadows it — remove ${active.file} if ${f.file} is the CNI you installed`
            : `${f.file} (${cniProfile(f.config).family}) is ignored: ${active.file} sorts first — remove it if it is left over from another CNI`,
          evidence: { active: active.file, ignoredFamily: cniProfile(f.config).family },
        });
      } else if (f.looksLikeConfig) {
        results.push({
          status: 'warn', severity: 'low', subject: f.file,
          message: `${f.file} is ignored: runtimes read only .conf, .conflist and .json files — remove it, or rename it if it was meant to be used`,
        });
      }
    }
    return results;
  },
};

