// The garbage-collection policy of the agent and the collector, set before anything else is
// loaded (both main.ts files import this first). After each full collection V8 lets the old
// generation grow to a multiple of what survived (up to 4x) before collecting again.
// - The agent: a scan allocates much that dies soon (the cluster file's JSON, the rule
//   dump's parse, one trace per Service port) on top of ~100 MB that lives at 10k Services,
//   so by default its RSS peaked at about three times its live heap. Growing 10 % per
//   collection keeps the peak near the live size: at 10k Services 12-15 full collections per
//   scan instead of 2-4 (+0.3-0.7 s of main-thread marking, mostly hidden by concurrent
//   marking) for 70-80 MB less peak RSS (README "Performance").
// - The collector: every report decoded from thousands of agents' streams is garbage a
//   moment later, and with the default growth the heap held as much dead data as live
//   (41-72 KB of heap per agent at 5,000 agents, of 92-98 KB RSS); the same policy keeps its
//   heap near what the connections and the registry hold (docs/memory.md).
import { setFlagsFromString } from 'node:v8';

/** Old-generation growth allowed after a full collection, in percent of what survived it. */
export const HEAP_GROWING_PERCENT = 10;

setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
