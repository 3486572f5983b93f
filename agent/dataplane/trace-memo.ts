// Per-Service incremental re-judging (issue #23 §1): when the rules changed, only the Service
// ports whose traces read something that changed are traced again. One endpoint change
// rewrites one Service's chain (kube-proxy's KUBE-SVC-*/KUBE-SEP-* or service-*/endpoint-*),
// so it costs one trace, not 10,000; a change in a chain every trace walks (KUBE-SERVICES,
// PREROUTING) or in the node's addresses or base chains still re-traces everything.
//
// A trace is a pure function of its packet and of the rules it read. The memo keeps, per
// packet, the compact result of one Service trace and the chains and sets the trace read
// (tracer.ts `deps`). When the run loop has a new dump it carries the memo over
// (carryTraceMemo): every chain and set a kept trace read is compared with its namesake in
// the new dump — as text for kube-proxy's packed chains, rule by rule otherwise — and the
// traces that read one that differs or is gone are dropped. What the memo cannot see it does
// not keep: a trace that ended unknown or filtered after DNAT is traced every time, and a
// change of tables, base chains (a new chain every packet walks) or local addresses — the
// memo's frame — starts an empty memo. Verdicts therefore equal a scan from scratch
// (test/trace-memo.test.ts checks that over random sequences of rule and context changes).
// The memo holds detached copies of the strings it keeps: slices of a dump's text would keep
// the whole old dump alive.
import { PackedChain } from './iptables-packed.js';
import type { Dataplane } from './load.js';
import { tablesFor } from './load.js';
import type { Chain, NamedSet, Rule, Table } from './model.js';
import type { TraceDeps } from './tracer.js';

/** What a Service trace found, without the rules it walked (read again from a fresh trace when evidence needs them). */
export interface MemoObservation {
  readonly targets: ReadonlyMap<string, number>;
  readonly rejected: number;
  readonly dropped: number;
  readonly unrouted: number;
  readonly affinity: boolean;
}

/** A MemoObservation as kept: targets and their shares side by side (no pair arrays, no boxed numbers). */
interface KeptObservation {
  readonly targets: readonly string[];
  readonly shares: Float64Array;
  readonly rejected: number;
  readonly dropped: number;
  readonly unrouted: number;
  readonly affinity: boolean;
}

interface Entry {
  readonly obs: KeptObservation;
  /** Ids (DepTable) of the chains and sets the trace read. */
  readonly deps: Int32Array;
}

/** A chain or set a kept trace read, by table (undefined: an ipset). */
interface Dep {
  readonly kind: 'chain' | 'set';
  readonly table: string | undefined;
  readonly name: string;
}

export interface MemoStats {
  /** Traces answered from the memo, and traces run (and kept when they could be). */
  hits: number;
  misses: number;
}

/**
 * The chains and sets kept traces read, numbered. Shared by a memo and the memos carried from
 * it (a carry renumbers nothing); rebuilt when most of it is no longer read by any kept trace.
 * At 10,000 Services it holds ~110,000 names: one detached string each, under one map per
 * kind and table.
 */
class DepTable {
  private readonly groups = new Map<string, { readonly table: string | undefined; readonly byName: Map<string, number> }>();
  readonly list: Dep[] = [];

  id(kind: Dep['kind'], table: string | undefined, name: string): number {
    const key = `${kind} ${table ?? ''}`;
    let group = this.groups.get(key);
    if (!group) this.groups.set(detach(key), (group = { table: table === undefined ? undefined : detach(table), byName: new Map() }));
    let id = group.byName.get(name);
    if (id === undefined) {
      id = this.list.length;
      const own = detach(name);
      this.list.push({ kind, table: group.table, name: own });
      group.byName.set(own, id);
    }
    return id;
  }
}

/**
 * A copy of `s` that shares no memory with the string it came from. Chain names and
 * addresses are slices of a dump's text (or concatenations of such slices); kept as they are,
 * one of them would keep that whole old dump alive. JSON.parse builds a new flat string (a
 * slice of a fresh concatenation would add a 32-byte wrapper to each).
 */
function detach(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

export class TraceMemo {
  private readonly entries = new Map<string, Entry>();
  readonly stats: MemoStats = { hits: 0, misses: 0 };

  /** `bases` and `local`: the memo's frame (basesOf, localOf); a trace kept here holds only under them. */
  constructor(readonly bases: string, readonly local: string, private deps = new DepTable()) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): MemoObservation | undefined {
    const e = this.entries.get(key);
    if (!e) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    const o = e.obs;
    return { targets: new Map(o.targets.map((t, i) => [t, o.shares[i]!])), rejected: o.rejected, dropped: o.dropped, unrouted: o.unrouted, affinity: o.affinity };
  }

  put(key: string, obs: MemoObservation, deps: TraceDeps): void {
    const ids = new Int32Array(deps.chains.size + deps.sets.size);
    let k = 0;
    for (const [chain, table] of deps.chains) ids[k++] = this.deps.id('chain', tableKey(table), chain.name);
    for (const [set, table] of deps.sets) ids[k++] = this.deps.id('set', table ? tableKey(table) : undefined, set.name);
    const kept: KeptObservation = {
      targets: [...obs.targets.keys()].map(detach), shares: Float64Array.from(obs.targets.values()),
      rejected: obs.rejected, dropped: obs.dropped, unrouted: obs.unrouted, affinity: obs.affinity,
    };
    this.entries.set(detach(key), { obs: kept, deps: ids });
  }

  /** The entries whose dependencies `changed` spares, in a new memo for the next dump. */
  carry(changed: (d: Dep) => boolean): { memo: TraceMemo; kept: number; dropped: number } {
    const gone = this.deps.list.map(changed);
    const kept: [string, Entry][] = [];
    let used = 0;
    for (const e of this.entries) {
      if (e[1].deps.some((id) => gone[id])) continue;
      kept.push(e);
      used += e[1].deps.length;
    }
    // Dependencies no kept trace reads (endpoint chains of rewritten Services) accumulate:
    // renumber when they are most of the table.
    const compact = this.deps.list.length > 1024 && this.deps.list.length > 2 * used;
    const next = new TraceMemo(this.bases, this.local, compact ? new DepTable() : this.deps);
    for (const [key, e] of kept) {
      const deps = compact ? e.deps.map((id) => { const d = this.deps.list[id]!; return next.deps.id(d.kind, d.table, d.name); }) : e.deps;
      next.entries.set(key, { obs: e.obs, deps });
    }
    return { memo: next, kept: kept.length, dropped: this.entries.size - kept.length };
  }

  /** Every dependency of the traces kept (carryTraceMemo compares each once). */
  get dependencies(): readonly Dep[] {
    return this.deps.list;
  }
}

const MEMOS = new WeakMap<Dataplane, TraceMemo>();

/** The key a table has in every dump: backend, family and name. */
function tableKey(t: Table): string {
  return `${t.backend}/${t.family}/${t.name}`;
}

function allTables(dp: Dataplane): Table[] {
  return [...tablesFor(dp, 4), ...tablesFor(dp, 6)];
}

const BASES = new WeakMap<Dataplane, string>();

/** What every trace of a dump depends on: its tables and their base chains (hook, priority, policy). */
function basesOf(dp: Dataplane): string {
  let bases = BASES.get(dp);
  if (bases === undefined) {
    const parts: string[] = [];
    for (const t of allTables(dp)) {
      parts.push(tableKey(t));
      for (const c of t.chains.values()) if (c.base) parts.push(`${c.name} ${c.base.hook} ${c.base.priority} ${c.base.type} ${c.base.policy}`);
    }
    BASES.set(dp, (bases = parts.join('\n')));
  }
  return bases;
}

/** The node's own addresses as every trace reads them (addrtype LOCAL, routing to input). */
function localOf(localAddresses: readonly string[]): string {
  return [...localAddresses].sort().join(' ');
}

/** Dataplanes whose Service traces are kept: the run loop's (a one-off scan would only pay for it). */
const KEEP = new WeakSet<Dataplane>();

/** Keep this dataplane's Service traces, to carry them to the next dump (agent/steady-scan.ts). */
export function keepTraces(dp: Dataplane): void {
  KEEP.add(dp);
}

/**
 * The memo of a dataplane's Service traces for these local addresses (a new one when they
 * differ), or undefined when its traces are not kept.
 */
export function memoFor(dp: Dataplane, localAddresses: readonly string[]): TraceMemo | undefined {
  let memo = MEMOS.get(dp);
  if (!memo && !KEEP.has(dp)) return undefined;
  const bases = basesOf(dp);
  const local = localOf(localAddresses);
  if (!memo || memo.bases !== bases || memo.local !== local) MEMOS.set(dp, (memo = new TraceMemo(bases, local)));
  return memo;
}

export interface CarryResult {
  /** Traces carried to the new dump, and dropped because something they read changed. */
  readonly kept: number;
  readonly dropped: number;
  /** Dependencies compared, and how many differed or were gone. */
  readonly compared: number;
  readonly changed: number;
}

/**
 * Hands `from`'s Service traces that still hold to `to` (a later dump of the same node), so
 * its checks trace only what changed. Undefined when there was nothing to carry.
 */
export function carryTraceMemo(from: Dataplane, to: Dataplane): CarryResult | undefined {
  const memo = MEMOS.get(from);
  if (!memo || memo.size === 0 || from === to) return undefined;
  KEEP.add(to);
  // New tables or base chains: every trace may walk them (local addresses are checked when the checks ask, memoFor).
  if (basesOf(to) !== memo.bases) return { kept: 0, dropped: memo.size, compared: 0, changed: 0 };
  const oldTables = new Map(allTables(from).map((t) => [tableKey(t), t]));
  const newTables = new Map(allTables(to).map((t) => [tableKey(t), t]));
  let changed = 0;
  const differs = (d: Dep): boolean => {
    const diff = d.table === undefined
      ? !sameSet(from.ipsets.get(d.name), to.ipsets.get(d.name))
      : d.kind === 'set'
        ? !sameSet(oldTables.get(d.table)?.sets.get(d.name), newTables.get(d.table)?.sets.get(d.name))
        : !sameChain(oldTables.get(d.table)?.chains.get(d.name), newTables.get(d.table)?.chains.get(d.name), !d.table.startsWith('nftables/'));
    if (diff) changed++;
    return diff;
  };
  const compared = memo.dependencies.length;
  const { memo: next, kept, dropped } = memo.carry(differs);
  MEMOS.set(to, next);
  return { kept, dropped, compared, changed };
}

/** JSON of model values (IPv6 prefixes hold bigints). */
function modelJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}

/**
 * An iptables rule is its iptables-save line: the reader builds the same rule from the same
 * line (its jump targets are chains the dump declares, or the restore would have failed). An
 * nft rule's text is rendered for people, so its parsed form is compared as well.
 */
function sameRule(a: Rule, b: Rule, textDecides: boolean): boolean {
  return a.text === b.text && (textDecides || modelJson([a.matches, a.actions, a.verdict]) === modelJson([b.matches, b.actions, b.verdict]));
}

function sameChain(a: Chain | undefined, b: Chain | undefined, textDecides: boolean): boolean {
  if (!a || !b) return false;
  if (a instanceof PackedChain && b instanceof PackedChain && a.packed && b.packed) return a.sameText(b);
  if (modelJson((a as Chain).base ?? null) !== modelJson((b as Chain).base ?? null)) return false;
  const ra = a.rules;
  const rb = b.rules;
  if (ra.length !== rb.length) return false;
  for (let i = 0; i < ra.length; i++) if (!sameRule(ra[i]!, rb[i]!, textDecides)) return false;
  return true;
}

function sameSet(a: NamedSet | undefined, b: NamedSet | undefined): boolean {
  if (!a || !b) return false;
  if (a.dynamic !== b.dynamic || a.isMap !== b.isMap || a.type.join() !== b.type.join() || a.elements.length !== b.elements.length) return false;
  if (a.dynamic) return true; // a fresh client is in none: the tracer never reads its elements
  for (let i = 0; i < a.elements.length; i++) if (modelJson(a.elements[i]) !== modelJson(b.elements[i])) return false;
  return true;
}
