import test from 'ava';
import { summarize, worstStatus } from '../common/findings.js';
import { parseDuration } from '../common/duration.js';

test('a check summary counts each status and takes the worst', (t) => {
  const s = summarize('x.y', [
    { check: 'x.y', status: 'pass', severity: 'info', subject: 'a', message: 'ok' },
    { check: 'x.y', status: 'warn', severity: 'low', subject: 'b', message: 'hm' },
    { check: 'x.y', status: 'fail', severity: 'high', subject: 'c', message: 'bad' },
  ]);
  t.deepEqual(s, { id: 'x.y', status: 'fail', passed: 1, failed: 1, warned: 1, skipped: 0, errored: 0 });
  t.is(worstStatus([]), 'skip');
  t.is(worstStatus(['pass', 'skip']), 'skip');
});

test('durations parse the way Kubernetes users write them', (t) => {
  t.is(parseDuration('30s'), 30_000);
  t.is(parseDuration('1h30m'), 5_400_000);
  t.is(parseDuration('30d'), 30 * 86_400_000);
  t.throws(() => parseDuration('30'), { message: /invalid duration "30"/ });
  t.throws(() => parseDuration('5x', '--interval'), { message: /^--interval: invalid duration/ });
});
