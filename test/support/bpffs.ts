// A private bpffs for tests that pin real BPF maps (Cilium's LB maps): mounted on a fresh
// temp dir, unmounted and removed afterwards, so nothing outlives the test.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function sh(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

/** A private bpffs instance with `tc/globals` made, for the duration of `fn`. */
export async function withBpffs<T>(fn: (root: string) => Promise<T>): Promise<T> {
  const root = mkdtempSync(join(tmpdir(), `nc-bpffs-${process.pid}-`));
  let mounted = false;
  try {
    await sh('mount', ['-t', 'bpf', 'bpf', root]);
    mounted = true;
    mkdirSync(join(root, 'tc', 'globals'), { recursive: true });
    return await fn(root);
  } finally {
    // Unmounting the instance drops its pins; the maps go with their last reference.
    if (mounted) await sh('umount', [root]);
    rmSync(root, { recursive: true, force: true });
  }
}
