// The kube-proxy fast path (iptables-fast.ts), with kube-proxy's chains packed as text
// (iptables-packed.ts), must build exactly the rule model the general reader builds. Parses
// a dump both ways and names the first difference; used by test/iptables-fast-path.test.ts
// and bench/dataplane.ts (at 10k Services).
import { parseIptablesSave } from '../iptables-save.js';
import type { Ruleset } from '../model.js';

const json = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

export function ruleCount(rs: Ruleset): number {
  return rs.tables.reduce((n, t) => n + [...t.chains.values()].reduce((m, c) => m + c.rules.length, 0), 0);
}

/** The first difference between the fast and the general reading of `text` (undefined: none), and the rule count. */
export function fastPathDifference(text: string, family: 4 | 6 = 4): { difference?: string; rules: number } {
  const opts = { backend: 'iptables-nft' as const, family, file: 'dump' };
  // The reference reads every rule with the general reader into plain rule lists; the
  // default reading (fast path, kube-proxy's chains packed as text) must read back the same.
  const general = parseIptablesSave(text, { ...opts, fastPath: false, packChains: false });
  const fast = parseIptablesSave(text, opts);
  const rules = ruleCount(general);
  if (fast.tables.length !== general.tables.length) return { difference: `${fast.tables.length} tables, general ${general.tables.length}`, rules };
  for (const t of general.tables) {
    const ft = fast.tables.find((x) => x.name === t.name);
    if (!ft || ft.chains.size !== t.chains.size) return { difference: `table ${t.name} differs`, rules };
    for (const [name, c] of t.chains) {
      const fc = ft.chains.get(name);
      // Each list read once: a packed chain (iptables-packed.ts) reads its text on every read.
      const cr = c.rules, fr = fc?.rules;
      if (!fc || !fr || json(fc.base) !== json(c.base) || fr.length !== cr.length) return { difference: `chain ${name} differs`, rules };
      for (let i = 0; i < cr.length; i++) {
        const a = json(cr[i]), b = json(fr[i]);
        if (a !== b) return { difference: `${name} rule ${i + 1} differs:\n${a}\n${b}`, rules };
      }
    }
  }
  return { rules };
}
