// `netconform nodes` and `netconform findings`: read the collector's QueryService.
import type { Command } from './main.js';

export const nodesCommand: Command = {
  summary: 'list nodes, whether their agent is connected, and their check counts',
  async run() {
    return 0;
  },
};

export const findingsCommand: Command = {
  summary: 'list current non-passing findings (filters: --node, --check, --status)',
  async run() {
    return 0;
  },
};
