// The agent's garbage-collection policy, set before anything else is loaded (main.ts imports
// this first). After each full collection V8 lets the old generation grow to a multiple of
// what survived (up to 4x) before collecting again. A scan allocates much that dies soon (the
// cluster file's JSON, the rule dump's parse, one trace per Service port) on top of ~100 MB
// that lives at 10k Services, so by default its RSS peaked at about three times its live
// heap. Growing 10 % per collection keeps the peak near the live size: at 10k Services 12-15
// full collections per scan instead of 2-4 (+0.3-0.7 s of main-thread marking, mostly hidden
// by concurrent marking) for 70-80 MB less peak RSS (docs/performance.md).
import { setFlagsFromString } from 'node:v8';

/** Old-generation growth allowed after a full collection, in percent of what survived it. */
export const HEAP_GROWING_PERCENT = 10;

setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
