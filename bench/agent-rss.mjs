// Loaded into the agent by bench/dataplane.ts (`node --import`): prints the agent process's
// own peak RSS at exit. GNU time's figure is the largest of the agent and the tools it ran
// (`nft -j` itself peaks at ~400 MB at 10k Services), so both are reported.
import process from 'node:process';
process.on('exit', () => process.stderr.write(`AGENT_MAXRSS_KB=${process.resourceUsage().maxRSS}\n`));
