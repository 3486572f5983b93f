import { UsageError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses Go-style durations as Kubernetes users write them: `30s`, `5m`, `1h30m`, `30d`. */
export function parseDuration(text: string, flag?: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (text.length === 0 || matched !== text.length) {
    throw new UsageError(`invalid duration "${text}" (use forms like 500ms, 30s, 5m, 1h, 30d)`, flag);
  }
  return total;
}
