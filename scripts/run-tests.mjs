// Runs the ava suite with the TAP reporter, passes its output through, and ends with the
// one line CI reads: "N passed, N failed, N skipped". Extra args go to ava (file filters).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const avaArgs = ['ava', '--tap', ...process.argv.slice(2)];
if (process.env.CI) avaArgs.push('--concurrency', '2');
// Every temporary file the tests and the programs they start make goes under one private
// directory (TMPDIR), removed when the run ends however it ends: the suite leaves nothing in
// /tmp even when a test fails before its own teardown.
const runTmp = mkdtempSync(join(tmpdir(), 'netconform-tests-'));
const removeRunTmp = () => rmSync(runTmp, { recursive: true, force: true });
process.on('exit', removeRunTmp);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { child.kill(sig); });
const child = spawn('npx', avaArgs, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TMPDIR: runTmp } });
let passed = 0, failed = 0, skipped = 0, todo = 0;
const rl = createInterface({ input: child.stdout });
rl.on('line', (line) => {
  process.stdout.write(line + '\n');
  if (/^ok \d+/.test(line)) {
    if (/# SKIP/i.test(line)) skipped++;
    else if (/# TODO/i.test(line)) todo++;
    else passed++;
  } else if (/^not ok \d+/.test(line)) {
    if (/# TODO/i.test(line)) todo++;
    else failed++;
  }
});
child.on('close', (code) => {
  // tsx keeps its compile cache there (tsx-<uid>): not something a test left.
  const left = readdirSync(runTmp).filter((e) => !/^tsx-\d+$/.test(e));
  if (left.length > 0) process.stderr.write(`temporary entries left by tests (removed now): ${left.length} (${left.slice(0, 8).join(', ')}${left.length > 8 ? ', …' : ''})\n`);
  removeRunTmp();
  // A crash outside any test (an uncaught exception in a file) makes ava exit non-zero
  // without a "not ok" line: count it so the summary never reads green.
  if (code !== 0 && failed === 0) failed = 1;
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
