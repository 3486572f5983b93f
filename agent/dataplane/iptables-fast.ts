// The kube-proxy fast path: reads the rule shapes iptables-save prints for kube-proxy
// without tokenising. test/iptables-fast-path.test.ts and bench/dataplane.ts check it builds
// exactly what the general reader builds.
import type { Action, Rule, Table, Verdict } from './model.js';
import { CONTINUE, NO_ACTIONS, protoName } from './model.js';
import { addrMatch, type Interner, moduleMatchesInterned, plainTarget, type RuleHead, SCRATCH } from './iptables-intern.js';
import { targetVerdict } from './iptables-modules.js';
import type { ModOpt } from './iptables-tokenize.js';

const FAST_MODULE_OPTS = new Set(['--comment', '--dport', '--sport', '--mode', '--probability']);

/**
 * The rule shapes iptables-save prints for kube-proxy, read without tokenising: core `-s`,
 * `-d`, `-p`; `-m comment|tcp|udp|sctp|statistic` with their usual options; `-j TARGET`
 * alone or with DNAT `--to-destination` / MARK `--set-xmark`. It builds the very objects
 * the general reader builds (same helpers, same interning keys); anything else (negation,
 * escapes, other options, double spaces, a bad address) returns undefined and the general
 * reader takes the line, errors included. bench/dataplane.ts checks both agree on 10k Services.
 */
export function fastRule(rest: string, head: RuleHead, table: Table, intern: Interner): Rule | undefined {
  const matches = SCRATCH;
  matches.length = 0;
  let verdict: Verdict = CONTINUE;
  let actions: Action[] | undefined;
  const n = rest.length;
  let pos = 0;
  /** End of the space-delimited word at `at` (-1 when empty). */
  const wordEnd = (at: number): number => {
    if (at >= n || rest.charCodeAt(at) === 32) return -1;
    const sp = rest.indexOf(' ', at);
    return sp < 0 ? n : sp;
  };
  while (pos < n) {
    const oe = wordEnd(pos);
    if (oe !== pos + 2 || rest.charCodeAt(pos) !== 45 /* - */) return undefined;
    const opt = rest.charCodeAt(pos + 1);
    const vs = oe + 1;
    const ve = wordEnd(vs);
    if (ve < 0) return undefined;
    const v = rest.slice(vs, ve);
    if (v.charCodeAt(0) === 34 /* " */ || v.charCodeAt(0) === 45 /* - */ || v === '!') return undefined;
    pos = ve + 1;
    switch (opt) {
      case 115: case 100: { // -s -d
        const m = addrMatch(intern, v, opt === 115, false);
        if (typeof m === 'string') return undefined;
        matches.push(m);
        break;
      }
      case 112: { // -p
        const key = `p${v}`;
        let m = intern.simple.get(key);
        if (!m) intern.put(intern.simple, key, (m = { kind: 'proto', proto: protoName(v), neg: false }));
        matches.push(m);
        break;
      }
      case 109: { // -m MOD [--opt value]…
        if (v !== 'comment' && v !== 'tcp' && v !== 'udp' && v !== 'sctp' && v !== 'statistic') return undefined;
        const first = pos;
        const opts: ModOpt[] = [];
        let last = -1;
        while (pos < n && rest.charCodeAt(pos) === 45 && rest.charCodeAt(pos + 1) === 45) {
          const ne = wordEnd(pos);
          if (ne < 0) return undefined;
          const name = rest.slice(pos, ne);
          if (!FAST_MODULE_OPTS.has(name)) return undefined;
          const as = ne + 1;
          let ae: number;
          let value: string;
          if (rest.charCodeAt(as) === 34 /* " */) {
            // A quoted value without escapes: up to the next quote, which must end the word.
            const q = rest.indexOf('"', as + 1);
            if (q < 0 || (q + 1 < n && rest.charCodeAt(q + 1) !== 32)) return undefined;
            value = rest.slice(as + 1, q);
            if (value.indexOf('\\') >= 0) return undefined;
            ae = q + 1;
          } else {
            ae = wordEnd(as);
            if (ae < 0) return undefined;
            value = rest.slice(as, ae);
            const c0 = value.charCodeAt(0);
            if (c0 === 45 /* - */ || c0 === 33 /* ! */) return undefined;
          }
          opts.push({ name, neg: false, values: [value] });
          last = ae;
          pos = ae + 1;
        }
        const ms = moduleMatchesInterned(intern, v, false, last < 0 ? '' : rest.slice(first, last), () => opts);
        for (let k = 0; k < ms.length; k++) matches.push(ms[k]!);
        break;
      }
      case 106: { // -j TARGET [--to-destination X | --set-xmark X]
        if (pos >= n) {
          const tv = plainTarget(intern, table, v, false);
          verdict = tv.verdict;
          if (tv.action) (actions ??= []).push(tv.action);
          break;
        }
        const ne = wordEnd(pos);
        if (ne < 0) return undefined;
        const name = rest.slice(pos, ne);
        if (!((v === 'DNAT' && name === '--to-destination') || (v === 'MARK' && name === '--set-xmark'))) return undefined;
        const ae = wordEnd(ne + 1);
        if (ae !== n) return undefined; // exactly one value, then the end of the rule
        const value = rest.slice(ne + 1, ae);
        if (value.charCodeAt(0) === 34 || value.charCodeAt(0) === 45) return undefined;
        pos = n;
        const tv = targetVerdict(v, [{ name, neg: false, values: [value] }], false, table.chains);
        verdict = tv.verdict;
        if (tv.action) (actions ??= []).push(tv.action);
        break;
      }
      default:
        return undefined;
    }
  }
  return {
    table: head.table, chain: head.chain, index: head.index, text: head.text, line: head.line,
    matches: intern.list(matches), actions: actions ?? NO_ACTIONS, verdict,
  };
}
