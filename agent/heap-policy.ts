// The agent's garbage-collection policy: the shared one (common/heap-policy.ts), and a young
// generation that stays at its initial size. V8 doubles the young generation's semi-spaces
// (up to 16 MB each, 3 of them) while a scan allocates fast, and never gives them back: at 50
// Services the agent then held ~12 MB between scans for a scan that lasts a second or two
// (89 → 79 MB RSS, docs/memory.md). `--max-semi-space-size` works only on node's command
// line; the growth factor is read at every growth, so setting it here keeps the semi-spaces
// at their initial 1 MB.
import '../common/heap-policy.js';
import { setFlagsFromString } from 'node:v8';

/** How much the young generation may grow when it fills: 1, not at all. */
export const SEMI_SPACE_GROWTH_FACTOR = 1;

setFlagsFromString(`--semi-space-growth-factor=${SEMI_SPACE_GROWTH_FACTOR}`);

