import test from 'ava';
import { createLabNode, listNetns, run } from './lab/lab.js';

test.serial('a lab node builds a bridge with pods that reach each other, and leaves nothing behind', async (t) => {
  const before = await listNetns(true);
  const lab = await createLabNode({ pods: 2 });
  t.teardown(() => lab.destroy());
  const during = await listNetns(true);
  t.true(during.includes(lab.netns));
  t.is(during.length, before.length + 3);

  const link = JSON.parse(await lab.exec('ip', ['-j', '-d', 'link', 'show', 'cbr0'])) as Array<{ operstate: string; linkinfo: { info_kind: string } }>;
  t.is(link[0]!.linkinfo.info_kind, 'bridge');
  const addr = await lab.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', 'cbr0']);
  t.regex(addr, /inet 10\.244\.1\.1\/24/);
  t.is((await lab.exec('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim(), '1');
  // Traffic between two pods of the lab node, inside namespaces this test made.
  const ping = await lab.execPod(0, 'ping', ['-c', '1', '-W', '2', lab.pods[1]!.ip]).catch((e: Error) => e.message);
  t.regex(ping, /1 received|1 packets received/);

  await lab.destroy();
  t.deepEqual(await listNetns(true), before);
  // The host namespace holds none of the lab's links.
  t.notRegex(await run('ip', ['-o', 'link']), new RegExp(lab.pods[0]!.hostVeth));
});

test.serial('a lab that fails half way through removes what it already made', async (t) => {
  const before = await listNetns(true);
  await t.throwsAsync(createLabNode({ pods: 1, routes: ['10.99.0.0/24 via 203.0.113.1'] }));
  t.deepEqual(await listNetns(true), before);
});

test.serial('stale-lab cleanup removes only labs whose creating process is gone', async (t) => {
  const { cleanupStaleLabs, labCreatorPid } = await import('./lab/lab.js');
  // The pid is read back whole, also when its base-36 form holds an 'x' (8673 is "6ox"; read
  // up to an 'x' it was pid 240, whose labs the cleanup then thought stale).
  t.is(labCreatorPid('nclab-6ox-5a3-wo'), 8673);
  t.is(labCreatorPid('other-6ox-1'), undefined);
  const mine = await createLabNode({ pods: 0 });
  t.teardown(() => mine.destroy());
  // A lab "left" by a process that cannot exist (pid 2^22+1 is above the kernel's pid_max).
  const orphan = `nclab-${(4194305).toString(36)}-1aa`;
  await run('ip', ['netns', 'add', orphan]);
  t.teardown(() => run('ip', ['netns', 'del', orphan]).catch(() => undefined));
  t.is(labCreatorPid(`${mine.netns}-wo`), process.pid);
  const removed = await cleanupStaleLabs();
  t.true(removed.includes(orphan));
  t.false(removed.includes(mine.netns));
  t.true((await listNetns()).includes(mine.netns));
});
