// Makes a fresh Debian machine ready to run netconform's demo and tests: the Debian
// packages it shells out to, and the npm dependencies. Says exactly what is missing
// when it cannot install it itself (not root, no apt-get).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** command → Debian package that provides it. */
export const NEEDED = {
  ip: 'iproute2',
  iptables: 'iptables',
  'iptables-legacy': 'iptables',
  nft: 'nftables',
  ipset: 'ipset',
  ipvsadm: 'ipvsadm',
  bpftool: 'bpftool',
  python3: 'python3', // test/support/btf-map.py: creates BTF-carrying maps (raw bpf(2))
  conntrack: 'conntrack',
  // test/steady-scan.test.ts: which processes an idle scan starts, traced from outside.
  strace: 'strace',
  ping: 'iputils-ping',
  openssl: 'openssl',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  sysctl: 'procps',
  // The migration report's HTML is rendered in a real headless browser by the tests.
  chromium: 'chromium',
};

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
    || existsSync(`/usr/sbin/${cmd}`) || existsSync(`/sbin/${cmd}`);
}

export function ensureDebianPackages(commands = Object.keys(NEEDED)) {
  const missing = [...new Set(commands.filter((c) => !have(c)).map((c) => NEEDED[c]))];
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !have('apt-get')) {
    console.error(`netconform needs these Debian packages: ${missing.join(' ')}\n  install them with: sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(2);
  }
  console.error(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
}

export function ensureNodeModules() {
  const lock = readFileSync(`${root}/package-lock.json`);
  const stamp = `${root}/node_modules/.netconform-lock-hash`;
  const hash = createHash('sha256').update(lock).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  // A fresh `npm ci` (as CI runs before `npm test`) leaves node_modules/.package-lock.json
  // newer than the lock file: trust it instead of installing twice.
  const installed = `${root}/node_modules/.package-lock.json`;
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(`${root}/package-lock.json`).mtimeMs) {
    writeFileSync(stamp, hash);
    return;
  }
  console.error('installing npm dependencies (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  writeFileSync(stamp, hash);
}

/**
 * Builds (or finds in its cache) the real Kubernetes components with scripts/k8s-bins.sh and
 * returns the directory it prints last. Needs Go (on the project's machines from the start).
 */
export function ensureK8sBinaries() {
  if (!have('go') && !existsSync('/usr/local/go/bin/go')) {
    console.error('netconform\'s tests run the real etcd, kube-apiserver and kube-proxy, built from Go modules: install Go 1.26 (https://go.dev/doc/install) and run again');
    process.exit(2);
  }
  const out = execFileSync('bash', [`${root}/scripts/k8s-bins.sh`], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop();
}

export function requireRoot(what) {
  if (process.getuid?.() !== 0) {
    console.error(`${what} builds network namespaces and needs root: run it as root (sudo -E npm run …)`);
    process.exit(2);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensureDebianPackages();
  ensureNodeModules();
}
