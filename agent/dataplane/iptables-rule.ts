// The general iptables rule reader: tokenises one rule and reads it as core options,
// `-m module` + its options and `-j target` + its options (iptables-modules.ts says what they
// mean). Any rule iptables-save or kube-proxy's restore input can hold; errors name the line.
import type { Action, Rule, Table, Verdict } from './model.js';
import { CONTINUE, NO_ACTIONS, protoName } from './model.js';
import { addrMatch, type Interner, moduleMatchesInterned, plainTarget, type RuleHead, SCRATCH } from './iptables-intern.js';
import { targetVerdict } from './iptables-modules.js';
import { RuleReader, tokenize } from './iptables-tokenize.js';
import { quoted } from '../../common/errors.js';

/** Reads one rule (the text after `-A CHAIN `); `file` and `lineNo` for errors. */
export function parseRuleGeneral(rest: string, head: RuleHead, file: string, lineNo: number, table: Table, intern: Interner): Rule {
  const chains = table.chains;
  const tokens = tokenize(rest);
  const r = new RuleReader(tokens, file, lineNo);
  const matches = SCRATCH;
  matches.length = 0;
  let verdict: Verdict = CONTINUE;
  let actions: Action[] | undefined;
  let neg = false;
  let lastModule: string | undefined;
  let implicitModule: string | undefined;
  const modules = (mod: string, initialNeg: boolean): void => {
    const first = r.i + 1;
    const o = r.moduleOpts(initialNeg);
    const ms = moduleMatchesInterned(intern, mod, initialNeg, r.i >= first ? rest.slice(tokens[first]!.start, tokens[r.i]!.end) : '', () => o);
    for (let k = 0; k < ms.length; k++) matches.push(ms[k]!);
  };
  for (; r.i < tokens.length; r.i++) {
    const t = tokens[r.i]!;
    const tx = t.text;
    if (tx === '!' && !t.quoted) { neg = true; continue; }
    switch (tx) {
      case '-s': case '--source': case '-d': case '--destination': {
        const v = r.value();
        const m = addrMatch(intern, v, tx === '-s' || tx === '--source', neg);
        if (typeof m === 'string') return r.bad(`${quoted(m)} is not an address or prefix`);
        matches.push(m);
        break;
      }
      case '-p': case '--protocol': case '-i': case '--in-interface': case '-o': case '--out-interface': {
        const v = r.value();
        const c = tx === '-p' || tx === '--protocol' ? 'p' : tx === '-i' || tx === '--in-interface' ? 'i' : 'o';
        const key = `${neg ? '!' : ''}${c}${v}`;
        let m = intern.simple.get(key);
        if (!m) {
          m = c === 'p' ? { kind: 'proto', proto: protoName(v), neg } : { kind: 'iface', dir: c === 'i' ? 'in' : 'out', name: v, neg };
          intern.put(intern.simple, key, m);
        }
        matches.push(m);
        // `-p tcp --dport 22` loads the protocol's match implicitly.
        if (c === 'p' && m.kind === 'proto' && !neg && (m.proto === 'tcp' || m.proto === 'udp' || m.proto === 'sctp')) implicitModule = m.proto;
        break;
      }
      case '-m': case '--match': {
        lastModule = r.value();
        modules(lastModule, false);
        break;
      }
      case '-j': case '--jump': case '-g': case '--goto': {
        const target = r.value();
        const isGoto = tx === '-g' || tx === '--goto';
        const first = r.i + 1;
        const o = r.moduleOpts();
        const tv = o.length === 0 && r.i < first ? plainTarget(intern, table, target, isGoto) : targetVerdict(target, o, isGoto, chains);
        if ((tv.verdict.kind === 'jump' || tv.verdict.kind === 'goto') && o.length > 0) {
          // Options make `-j NAME` an extension target to iptables: with no such extension it
          // is a chain or nothing (iptables-restore: "Couldn't load target"), never both.
          const verb = isGoto ? 'goes' : 'jumps';
          if (!chains.has(target)) r.bad(`rule in chain ${quoted(head.chain)} ${verb} to chain ${quoted(target)}, which table ${quoted(table.name)} does not declare`);
          r.bad(`rule in chain ${quoted(head.chain)} ${verb} to chain ${quoted(target)} with ${quoted(rest.slice(tokens[first]!.start, tokens[r.i]!.end))}, but a jump to a chain takes no options`);
        }
        verdict = tv.verdict;
        if (tv.action) (actions ??= []).push(tv.action);
        break;
      }
      case '-f': case '--fragment':
        matches.push({ kind: 'unknown', text: `${neg ? '! ' : ''}-f` });
        break;
      case '-c': case '--set-counters':
        r.i += 2;
        break;
      default:
        // kube-proxy's restore input interleaves core options between a module and its
        // options (`-m tcp -p tcp -d X --dport 80`): a stray `--opt` belongs to the last module.
        if (tx.startsWith('--') && (lastModule ?? implicitModule) !== undefined) {
          r.i--;
          modules((lastModule ?? implicitModule)!, neg);
        } else {
          r.bad(`unexpected ${quoted(tx)} in rule`);
        }
    }
    neg = false;
  }
  return {
    table: head.table, chain: head.chain, index: head.index, text: head.text, line: head.line,
    matches: intern.list(matches), actions: actions ?? NO_ACTIONS, verdict,
  };
}
