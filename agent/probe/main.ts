#!/usr/bin/env node
// netconform-probe: `netconform-agent probe` with an entry point of its own, for the probe
// DaemonSet. The agent's entry point loads every check, inspector and parser before it reads
// its command line — 63 MB RSS for `--help` against 46 MB for this one (Node alone: 40 MB) —
// and a probe pod on every node needs none of them.
import { runMain } from '../../common/cli.js';
import { probeCommand } from './command.js';

runMain('netconform-probe', probeCommand);
