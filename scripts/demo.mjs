// `npm run demo`: prepares the machine (Debian packages, npm ci, build) and runs the lab demo.
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureDebianPackages, ensureNodeModules, requireRoot } from './ensure-deps.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
requireRoot('The demo');
ensureDebianPackages(['ip', 'iptables', 'nft', 'ipset', 'sysctl']);
ensureNodeModules();
console.error('building (npm run build)');
execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
const child = spawn(process.execPath, [`${root}/dist/demo/main.js`, ...process.argv.slice(2)], { stdio: 'inherit' });
// The demo handles Ctrl-C itself (it cleans up the lab): pass the signal on and wait for it.
process.on('SIGINT', () => child.kill('SIGINT'));
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code) => process.exit(code ?? 1));
