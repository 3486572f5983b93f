// tsc does not set the executable bit; npm's bin links need it when run from a checkout.
import { chmodSync, readFileSync } from 'node:fs';
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
for (const path of Object.values(pkg.bin)) chmodSync(new URL(`../${path}`, import.meta.url), 0o755);
