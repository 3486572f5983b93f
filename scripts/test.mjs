// `npm test`: prepares the machine (Debian packages, npm ci, generated wire types) and
// runs the whole suite; ends with the "N passed, N failed" line.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureDebianPackages, ensureK8sBinaries, ensureNodeModules, requireRoot } from './ensure-deps.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
requireRoot('The test suite');
ensureDebianPackages();
ensureNodeModules();
// The real control plane, kube-proxy, CNI plugins and helm the tests run (built once, cached).
process.env.NETCONFORM_K8S_BIN = ensureK8sBinaries();
execFileSync(process.execPath, [`${root}/scripts/gen-proto-types.mjs`], { cwd: root, stdio: 'inherit' });
await import('./run-tests.mjs');
